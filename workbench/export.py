"""Export panel: the portal form (generated from the profile), validation, PDF report and export bundle,
with download links that work inside Voila (``data:`` URIs)."""

from __future__ import annotations

import base64
import html
import logging
import mimetypes
from pathlib import Path

import ipywidgets as widgets
from traitlets import Unicode

from dfd_lib.progress import CallbackProgress

from .base import Component, button, reports_errors, styled
from .portal_form import PortalForm
from .state import AppState

__all__ = ["ExportPanel", "download_link", "MAX_DOWNLOAD_BYTES"]

log = logging.getLogger(__name__)

MAX_DOWNLOAD_BYTES = 200 * 1024 * 1024  # larger files are shown by path only


def download_link(path: Path, css_class: str = "dfd-download") -> str:
    """An ``<a download>`` anchor carrying the file as a data: URI (or its path when too large)."""
    size = path.stat().st_size
    if size > MAX_DOWNLOAD_BYTES:
        return (
            f"<span class='{css_class}-too-large'>{html.escape(path.name)} is {size / 1e6:.0f} MB, too large "
            f"to download through the page: take it from {html.escape(str(path))}</span>"
        )
    mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return (
        f"<a class='{css_class}' download='{html.escape(path.name)}' href='data:{mime};base64,{data}' "
        f"style='font-weight:bold'>⬇ {html.escape(path.name)}</a> ({size / 1e3:.0f} kB)"
    )


class ExportPanel(Component):
    """Publishes ``last_output``: the path of the report or bundle written last ('' when none)."""

    last_output = Unicode("")

    def __init__(self, state: AppState) -> None:
        self.state = state
        self._case_id: str | None = None  # the case the downloads and form belong to
        names = state.portal_names()
        self.portal = styled(
            widgets.Dropdown(options=names, value="ncrp" if "ncrp" in names else names[0], description="Portal"),
            "dfd-portal",
        )
        self.profile_note = widgets.HTML()
        self.form = PortalForm()
        self.save_button = button("dfd-save-form", lambda _: self.save(), description="Save form", icon="save")
        self.check_button = button(
            "dfd-check-form", lambda _: self.form.check(), description="Check form", icon="check"
        )
        self.report_button = button(
            "dfd-report", lambda _: self.make_report(), description="PDF report", icon="file-pdf-o", button_style="info"
        )
        self.bundle_button = button(
            "dfd-bundle",
            lambda _: self.make_bundle(),
            description="Export bundle",
            icon="archive",
            button_style="primary",
        )
        self.bar = widgets.IntProgress(value=0, min=0, max=1, description="Progress")
        self.bar_text = widgets.HTML()
        self.downloads = styled(widgets.HTML(), "dfd-downloads")
        self._latest: dict[str, tuple[Path, str]] = {}  # kind of output -> the newest one (offered as a link)
        self._written: list[tuple[Path, str]] = []  # earlier outputs, newest first (named only)
        self.portal.observe(lambda _: self.refresh(), names="value")
        super().__init__(
            [
                self.portal,
                self.profile_note,
                self.form,
                widgets.HBox([self.save_button, self.check_button, self.report_button, self.bundle_button]),
                widgets.HBox([self.bar, self.bar_text]),
                self.downloads,
            ]
        )
        self.add_class("dfd-export")

    def controls(self) -> list[widgets.Widget]:
        return [self.portal, self.save_button, self.check_button, self.report_button, self.bundle_button]

    def freeze(self) -> None:
        super().freeze()
        self.form.freeze()

    def unfreeze(self) -> None:
        super().unfreeze()
        self.form.unfreeze()

    def reset(self) -> None:
        super().reset()
        self._latest, self._written = {}, []
        self.downloads.value = ""
        self.last_output = ""
        self.bar.value = 0

    @reports_errors("loading the portal form")
    def refresh(self) -> None:
        """Rebuild the form for the chosen portal with the case's saved answers (subscribed to 'case'). Another
        case opened: the last case's download links, progress and anonymous choice are cleared first."""
        case_id = None if self.state.case is None else self.state.case.id
        if case_id != self._case_id:
            self.reset()
            self.form.reset()  # the anonymous choice too
            self.bar_text.value = ""
            self._case_id = case_id
        profile = self.state.portal(self.portal.value)
        values = self.state.portal_values(profile.name) if self.state.case is not None else {}
        self.profile_note.value = (
            f"<div style='font-size:12px'><b>{html.escape(profile.title)}</b> "
            f"{html.escape(profile.url)}<br>{html.escape(profile.notes)}</div>"
        )
        self.form.build(profile, values)
        disabled = self.state.case is None
        for w in self.controls()[1:]:
            w.disabled = disabled

    def _progress(self) -> CallbackProgress:
        def update(done: int, total: int | None, desc: str, info: dict) -> None:
            self.bar.max = max(1, total or 1)
            self.bar.value = min(done, self.bar.max)
            self.bar_text.value = html.escape(f"{desc}: {done}/{total if total is not None else '?'}")

        return CallbackProgress(update)

    @reports_errors("saving the portal form")
    def save(self) -> None:
        with self.busy():
            self.state.save_portal_values(self.portal.value, self.form.current())
            self.form.check()

    @reports_errors("writing the report")
    def make_report(self) -> None:
        with self.busy():
            path = self.state.report("pdf", self._progress())
        self._offer(path, "dfd-download-report")

    @reports_errors("exporting the bundle")
    def make_bundle(self) -> None:
        problems = self.form.check()
        if problems:
            raise ValueError(
                f"the {self.portal.value} form is incomplete ({len(problems)} problem(s)); "
                "fix the fields listed under the form"
            )
        with self.busy():
            result = self.state.bundle(
                self.portal.value, self.form.current(), self.form.anonymous.value, self._progress()
            )
        self._offer(Path(result.path), "dfd-download-bundle", f"SHA-256 {result.sha256}")

    def _offer(self, path: Path, css_class: str, note: str = "") -> None:
        """The newest file of its kind as a download link; files written before it are listed by path only, so the
        page never carries more than one report and one bundle (each as a data URI of up to 200 MB)."""
        earlier = self._latest.get(css_class)
        if earlier is not None:
            self._written.insert(0, earlier)
        self._latest[css_class] = (path, note)
        links = [f"<div>{download_link(p, kind)} {html.escape(n)}</div>" for kind, (p, n) in self._latest.items()]
        listed = "".join(f"<li>{html.escape(str(p))} {html.escape(n)}</li>" for p, n in self._written)
        self.downloads.value = "".join(links) + (
            f"<div style='font-size:11px'>written earlier (in the case folder):<ul>{listed}</ul></div>"
            if listed
            else ""
        )
        self.last_output = str(path)
