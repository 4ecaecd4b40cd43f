"""Item view: the picture with face boxes, each face's crop, P(fake) and Grad-CAM overlay (toggle, opacity),
the per-frame score plot and frame picker for videos, and tabs for forensics, metadata and custody."""

from __future__ import annotations

import html
import logging

import ipywidgets as widgets
import numpy as np
from traitlets import Int

from dfd_lib.case import FaceDetail, ItemDetail
from dfd_lib.errors import DfdError
from dfd_lib.explain import overlay
from dfd_lib.media import load_image

from .base import Component, reports_errors, styled
from .imaging import (
    draw_boxes,
    fit_png,
    picture_frame,
    placeholder_png,
    png,
    score_colour,
    score_plot_png,
    video_frame,
)
from .state import AppState
from .tables import custody_html, facts_html, forensic_html, history_html, metadata_html

__all__ = ["ItemView", "MAX_FACES_SHOWN"]

log = logging.getLogger(__name__)

MAX_FACES_SHOWN = 8


class ItemView(Component):
    """Publishes ``item_id``: the item on display (None when none).

    ``tabs`` (forensics, metadata, custody and review history) is laid out by the app, below the
    review form, so the form stays near the picture.
    """

    item_id = Int(None, allow_none=True)

    def __init__(self, state: AppState) -> None:
        self.state = state
        self.detail: ItemDetail | None = None
        self._heat: dict[str, np.ndarray | None] = {}
        self._loading = False
        self.facts = styled(widgets.HTML("<i>Open an item from the grid.</i>"), "dfd-facts")
        self.gradcam = styled(
            widgets.Checkbox(
                value=True, description="Grad-CAM overlay", indent=False, layout=widgets.Layout(width="150px")
            ),
            "dfd-gradcam-toggle",
        )
        self.opacity = styled(
            widgets.FloatSlider(
                value=0.5,
                min=0.0,
                max=1.0,
                step=0.05,
                description="Opacity",
                continuous_update=False,
                layout=widgets.Layout(width="300px"),
                style={"description_width": "60px"},
            ),
            "dfd-opacity",
        )
        self.picture = styled(
            widgets.Image(
                format="png",
                layout=widgets.Layout(max_width="380px", max_height="380px", object_fit="contain", display="none"),
            ),
            "dfd-picture",
        )
        self.frame = styled(
            widgets.IntSlider(value=0, min=0, max=0, description="Frame", continuous_update=False), "dfd-frame"
        )
        self.plot = styled(widgets.Image(format="png", layout=widgets.Layout(max_width="640px")), "dfd-score-plot")
        self.video_box = widgets.VBox([self.plot, self.frame], layout=widgets.Layout(display="none"))
        self.faces = widgets.Box(
            layout=widgets.Layout(display="flex", flex_flow="row wrap", max_height="460px", overflow="auto")
        )
        self.forensics = widgets.VBox()
        self.metadata = widgets.HTML()
        self.custody = styled(widgets.HTML(), "dfd-custody-tab")
        self.tabs = widgets.Tab(
            children=[self.forensics, self.metadata, self.custody], titles=("Forensics", "Metadata", "Custody & review")
        )
        self.gradcam.observe(lambda _: self._draw_faces(), names="value")
        self.opacity.observe(lambda _: self._draw_faces(), names="value")
        self.frame.observe(lambda _: None if self._loading else self._draw_frame(), names="value")
        faces_col = widgets.VBox([self.gradcam, self.opacity, self.faces], layout=widgets.Layout(padding="0 0 0 8px"))
        super().__init__([self.facts, widgets.HBox([self.picture, faces_col]), self.video_box])
        self.add_class("dfd-item-view")

    def controls(self) -> list[widgets.Widget]:
        return [self.gradcam, self.opacity, self.frame]

    def reset(self) -> None:
        super().reset()
        self.detail, self._heat = None, {}
        self.facts.value = "<i>Open an item from the grid.</i>"
        self.picture.value = b""
        self.picture.layout.display = "none"
        self.faces.children = ()
        self.forensics.children = ()
        self.metadata.value = self.custody.value = ""
        self.video_box.layout.display = "none"
        self.item_id = None

    # -- loading ---------------------------------------------------------------------------------
    @reports_errors("showing the item")
    def show(self, item_id: int | None) -> None:
        if item_id is None:
            self.reset()
            return
        with self.busy():
            d = self.state.detail(item_id)
            self.detail, self._heat = d, {}
            self.facts.value = facts_html(d)
            # videos, and animated pictures or multi-page TIFFs (their faces carry a frame): a frame picker
            self.video_box.layout.display = "flex" if d.frames else "none"
            if d.frames:
                best = max(range(len(d.frames)), key=lambda i: -1.0 if (s := d.frames[i].score) is None else s)
                self._loading = True
                try:
                    self.frame.max, self.frame.value = len(d.frames) - 1, best
                finally:
                    self._loading = False
            self.forensics.children = self._forensic_widgets(d)
            self.metadata.value = metadata_html(d)
            self.refresh_history()
            self._draw_frame()
        self.item_id = item_id

    @reports_errors("refreshing the item")
    def refresh(self) -> None:
        """After the case's items changed (subscribed to 'items'): the item shown again in full if its findings
        changed (a triage scored it again, or with another model), else only its review history and custody log."""
        if self.detail is None or self.item_id is None:
            return
        now = self.state.detail(self.detail.item_id)
        if (now.model_name, now.model_sha256, now.score, len(now.faces)) != (
            self.detail.model_name,
            self.detail.model_sha256,
            self.detail.score,
            len(self.detail.faces),
        ):
            self.show(self.item_id)
        else:
            self.refresh_history()

    def refresh_history(self) -> None:
        """Reload custody log and review history of the shown item (after a review was saved)."""
        if self.detail is None:
            return
        d = self.detail = self.state.detail(self.detail.item_id)
        self.custody.value = f"<h4>Review history</h4>{history_html(d)}<h4>Custody log</h4>{custody_html(d)}"

    def _forensic_widgets(self, d: ItemDetail) -> tuple[widgets.Widget, ...]:
        if not d.forensics:
            return (widgets.HTML("<i>no forensic analyses recorded for this item</i>"),)
        out: list[widgets.Widget] = []
        for v in d.forensics:
            out.append(widgets.HTML(forensic_html(v)))
            for p in v.maps:
                out.append(widgets.Image(value=fit_png(p), format="png", layout=widgets.Layout(width="320px")))
        return tuple(out)

    # -- drawing ---------------------------------------------------------------------------------
    def _current_frame(self) -> int | None:
        d = self.detail
        if d is None or not d.frames:
            return None
        return d.frames[self.frame.value].index

    @reports_errors("drawing the frame")
    def _draw_frame(self) -> None:
        d = self.detail
        if d is None:
            return
        frame_index = self._current_frame()
        faces = d.faces_in_frame(frame_index)
        try:
            image = (
                video_frame(d.evidence_path, frame_index or 0)
                if d.is_video
                else picture_frame(d.evidence_path, frame_index)
            )
        except DfdError as exc:
            self.picture.value = placeholder_png(f"cannot show: {exc}", 256)
        else:
            boxes = [
                (f.box, f"{i + 1}: {f.score:.2f}", score_colour(f.score, d.threshold))
                for i, f in enumerate(faces[:MAX_FACES_SHOWN])
            ]
            self.picture.value = draw_boxes(image, boxes)
        self.picture.layout.display = "block"
        if d.frames:
            self.plot.value = score_plot_png(
                [f.time_s for f in d.frames], [f.score for f in d.frames], d.threshold, self.frame.value
            )
        self._draw_faces()

    @reports_errors("drawing the faces")
    def _draw_faces(self) -> None:
        d = self.detail
        if d is None:
            return
        self.opacity.disabled = not self.gradcam.value or self.frozen
        faces = d.faces_in_frame(self._current_frame())[:MAX_FACES_SHOWN]
        if not faces:
            self.faces.children = (widgets.HTML(f"<i>no scored face here ({d.status}: {d.message})</i>"),)
            return
        self.faces.children = tuple(self._face_card(i, f) for i, f in enumerate(faces))

    def _face_card(self, i: int, f: FaceDetail) -> widgets.Widget:
        title = widgets.HTML(
            f"<b>face {i + 1}</b>: P(fake) <b class='dfd-face-score'>{f.score:.3f}</b>"
            + ("" if f.frame_index is None else f" (frame {f.frame_index})")
            + (
                ""
                if not f.outside
                else "<br><span class='dfd-outside' style='color:#9e9d24' title='"
                + html.escape("; ".join(f.outside), quote=True)
                + "'>outside the model's experience</span>"
            )
        )
        crop = load_image(f.crop) if f.crop is not None else None
        pictures: list[widgets.Widget] = []
        if crop is not None:
            pictures.append(widgets.Image(value=png(crop), format="png", layout=widgets.Layout(width="128px")))
        if self.gradcam.value:
            cam = self._overlay(f, crop)
            if cam is not None:
                img = widgets.Image(value=cam, format="png", layout=widgets.Layout(width="128px"))
                img.add_class("dfd-gradcam")
                pictures.append(img)
        card = widgets.VBox(
            [title, widgets.HBox(pictures)], layout=widgets.Layout(margin="4px", padding="4px", border="1px solid #ddd")
        )
        card.add_class("dfd-face")
        return card

    def _overlay(self, f: FaceDetail, crop: np.ndarray | None) -> bytes | None:
        """Re-blend the recomputed heatmap at the chosen opacity; fall back to the overlay stored at triage."""
        d = self.detail
        # crop is loaded from f.crop, so f.crop is set whenever crop is
        if crop is not None and f.crop is not None and d is not None and d.model_name and d.model_sha256:
            if f.subject not in self._heat:
                try:
                    self._heat[f.subject] = self.state.heatmap(f.crop, d.model_name, d.model_sha256)
                except DfdError as exc:
                    log.warning(
                        "Grad-CAM of %s cannot be recomputed (%s); showing the overlay stored at triage", f.subject, exc
                    )
                    self._heat[f.subject] = None
            heat = self._heat[f.subject]
            if heat is not None:
                return png(overlay(crop, heat, self.opacity.value))
        if f.gradcam is not None:
            return fit_png(f.gradcam, 160)
        return None
