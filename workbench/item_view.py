"""Item view: the picture with face boxes, each face's crop, P(fake) and Grad-CAM overlay (toggle, opacity),
the per-frame score plot and frame picker for videos, and tabs for forensics, metadata and custody."""

from __future__ import annotations

import html
import logging
import threading

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

__all__ = ["ItemView", "MAX_FACES_SHOWN", "GRADCAM_PENDING"]

log = logging.getLogger(__name__)

MAX_FACES_SHOWN = 8
GRADCAM_PENDING = "computing where the model looked…"


class _CamSlot(widgets.VBox):
    """The Grad-CAM place of a face card: a note while the heatmap is computed, then the overlay, or why there is
    none. Its widgets are made when the card is drawn; the worker computing the heatmap only sets their values."""

    def __init__(self) -> None:
        self.note = widgets.HTML(layout=widgets.Layout(width="128px"))
        self.image = styled(
            widgets.Image(format="png", layout=widgets.Layout(width="128px", display="none")), "dfd-gradcam"
        )
        super().__init__([self.note, self.image])

    def pending(self) -> None:
        self.note.value = (
            "<div class='dfd-gradcam-pending' style='font-size:11px;line-height:1.3;color:#1565c0'>"
            f"<span class='dfd-spinner'></span> {html.escape(GRADCAM_PENDING)}</div>"
        )
        self.note.layout.display = "block"
        self.image.layout.display = "none"

    def show(self, picture: bytes) -> None:
        self.image.value = picture
        self.image.layout.display = "block"
        self.note.value = ""
        self.note.layout.display = "none"

    def failed(self, why: str, stored: bytes | None) -> None:
        """No recomputed Grad-CAM (``why``); the overlay stored at triage, if any, in its place."""
        shown = "; the overlay stored at triage is shown" if stored is not None else ""
        self.note.value = (
            "<div class='dfd-gradcam-error' style='font-size:11px;line-height:1.3;color:#c62828'>"
            f"Grad-CAM could not be computed: {html.escape(why)}{shown}</div>"
        )
        self.note.layout.display = "block"
        if stored is not None:
            self.image.value = stored
            self.image.layout.display = "block"
        else:
            self.image.layout.display = "none"


class ItemView(Component):
    """Publishes ``item_id``: the item on display (None when none).

    ``tabs`` (forensics, metadata, custody and review history) is laid out by the app, below the
    review form, so the form stays near the picture.
    """

    item_id = Int(None, allow_none=True)

    def __init__(self, state: AppState) -> None:
        self.state = state
        self.detail: ItemDetail | None = None
        # Grad-CAM heatmaps of the item shown, by face, recomputed in a worker thread (the first takes seconds: the
        # model loads), so that opening an item never waits for them: None when it could not be recomputed
        self._heat: dict[str, np.ndarray | None] = {}
        self._heat_errors: dict[str, str] = {}
        self._computing: set[str] = set()  # faces queued or being computed for the item shown
        self._slots: dict[str, tuple[_CamSlot, FaceDetail, np.ndarray]] = {}  # the faces drawn: slot, face, crop
        self._generation = 0  # bumped when another item is shown: a worker's results for an older one are dropped
        self._lock = threading.RLock()
        self._workers: list[threading.Thread] = []
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
        self._forget_heatmaps()
        self.detail = None
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
            self._forget_heatmaps()
            self.detail = d
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
        with self._lock:
            self._slots = {}
            if not faces:
                self.faces.children = (
                    widgets.HTML(
                        f"<i>no scored face here ({html.escape(str(d.status))}: {html.escape(str(d.message))})</i>"
                    ),
                )
                return
            self.faces.children = tuple(self._face_card(i, f) for i, f in enumerate(faces))
            queued = [
                f
                for f in faces
                if f.subject in self._slots and f.subject not in self._heat and f.subject not in self._computing
            ]
            self._computing.update(f.subject for f in queued)
        if queued:
            worker = threading.Thread(
                target=self._compute_heatmaps, args=(self._generation, d, queued), name="dfd-gradcam", daemon=True
            )
            self._workers = [w for w in self._workers if w.is_alive()] + [worker]
            worker.start()

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
            pictures.extend(self._gradcam(f, crop))
        card = widgets.VBox(
            [title, widgets.HBox(pictures)], layout=widgets.Layout(margin="4px", padding="4px", border="1px solid #ddd")
        )
        card.add_class("dfd-face")
        return card

    def _recomputable(self, f: FaceDetail, crop: np.ndarray | None) -> bool:
        d = self.detail
        # crop is loaded from f.crop, so f.crop is set whenever crop is
        return crop is not None and f.crop is not None and d is not None and bool(d.model_name and d.model_sha256)

    def _gradcam(self, f: FaceDetail, crop: np.ndarray | None) -> list[widgets.Widget]:
        """The face's Grad-CAM: recomputed (re-blended at the chosen opacity), or a note while it is computed (a
        worker is started by _draw_faces), or why it could not be (with the overlay stored at triage, if any)."""
        stored = fit_png(f.gradcam, 160) if f.gradcam is not None else None
        if crop is None or not self._recomputable(f, crop):
            if stored is None:
                return []
            slot = _CamSlot()
            slot.show(stored)
            return [slot]
        slot = _CamSlot()
        self._slots[f.subject] = (slot, f, crop)
        self._fill(f.subject)
        return [slot]

    def _fill(self, subject: str) -> None:
        """Show in a face's slot what is known of its Grad-CAM (called with the lock held)."""
        slot, f, crop = self._slots[subject]
        if subject not in self._heat:
            slot.pending()
            return
        heat = self._heat[subject]
        if heat is not None:
            slot.show(png(overlay(crop, heat, self.opacity.value)))
        else:
            slot.failed(self._heat_errors.get(subject, "unknown error"), fit_png(f.gradcam, 160) if f.gradcam else None)

    def _compute_heatmaps(self, generation: int, d: ItemDetail, faces: list[FaceDetail]) -> None:
        """Worker thread: the Grad-CAM of ``faces`` of item ``d``, each shown in its card as soon as it is known.
        Every face leaves the 'computing' state, whatever happens: with its overlay or with why there is none."""
        left = [f.subject for f in faces]
        try:
            for f in faces:
                with self._lock:
                    if generation != self._generation:
                        return
                    if f.subject not in self._slots:  # no longer shown (another frame, overlay off): not computed
                        self._computing.discard(f.subject)
                        left.remove(f.subject)
                        continue
                heat: np.ndarray | None = None
                error = ""
                try:
                    assert f.crop is not None and d.model_name and d.model_sha256
                    heat = self.state.heatmap(f.crop, d.model_name, d.model_sha256)
                except Exception as exc:  # a worker thread: every failure is shown in the card, never lost
                    error = str(exc) or type(exc).__name__
                    expected = isinstance(exc, (DfdError, OSError, ValueError))
                    log.log(
                        logging.WARNING if expected else logging.ERROR,
                        "Grad-CAM of %s in item %s cannot be recomputed: %s",
                        f.subject,
                        d.item_id,
                        error,
                        exc_info=not expected,
                    )
                with self._lock:
                    if generation != self._generation:
                        return
                    self._store(f.subject, heat, error)
                    left.remove(f.subject)
        finally:
            with self._lock:
                if generation == self._generation:
                    for subject in left:  # stopped early (an error drawing, the thread ending)
                        if subject not in self._heat:
                            self._store(subject, None, "the computation stopped")

    def _store(self, subject: str, heat: np.ndarray | None, error: str) -> None:
        """Record a face's Grad-CAM (or why there is none) and show it (called with the lock held)."""
        self._heat[subject] = heat
        if heat is None:
            self._heat_errors[subject] = error
        self._computing.discard(subject)
        if subject in self._slots:
            try:
                self._fill(subject)
            except Exception as exc:
                log.error("drawing the Grad-CAM of %s failed: %s", subject, exc, exc_info=True)
                self._slots[subject][0].failed(f"it could not be drawn ({exc})", None)

    def _forget_heatmaps(self) -> None:
        """Another item (or none): heatmaps of the one shown before are dropped, its workers' results ignored."""
        with self._lock:
            self._generation += 1
            self._heat, self._heat_errors, self._computing, self._slots = {}, {}, set(), {}

    @property
    def computing(self) -> bool:
        """Whether Grad-CAM heatmaps of the item shown are still being computed."""
        with self._lock:
            return bool(self._computing)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the Grad-CAM heatmaps being computed are shown (for tests and scripts); True when done."""
        for worker in list(self._workers):
            worker.join(timeout)
        return not any(w.is_alive() for w in self._workers)
