"""Intake: choose an evidence folder or upload files, run triage in a worker thread with progress and cancel."""

from __future__ import annotations

import html
import logging
import threading
from pathlib import Path
from typing import Any

import ipywidgets as widgets
from traitlets import Bool

from dfd_lib.progress import CallbackProgress

from .base import Component, button, reports_errors, styled, text_box
from .state import UPLOAD_DROPPED_TARGET, AppState, StagedUpload, upload_limit_bytes

__all__ = ["Intake"]

log = logging.getLogger(__name__)


def _comm_manager() -> Any:
    """The kernel's comm manager (a stand-in outside a kernel), None when the comm package offers none."""
    try:
        import comm

        return comm.get_comm_manager()
    except Exception as exc:  # the dropped-upload message is lost, nothing else
        log.warning("no comm manager (%s): a dropped upload will not be reported", exc)
        return None


class Intake(Component):
    """Publishes ``running``: True while a triage runs in the background."""

    running = Bool(False)

    def __init__(self, state: AppState) -> None:
        self.state = state
        self.path = text_box("dfd-evidence-path", "Evidence", "/path/to/evidence folder or file", "460px")
        limit_mb = upload_limit_bytes() / (1 << 20)
        self.upload = styled(
            widgets.FileUpload(
                multiple=True,
                description=f"Upload (≤ {limit_mb:g} MiB)",
                accept="",
                # a button cuts its label at the default button width: let it take the width its words need
                layout=widgets.Layout(width="auto"),
                # the page cannot check sizes before sending: the limit is said here, before the files are chosen
                tooltip=f"files uploaded together may total at most {limit_mb:g} MiB (DFD_UPLOAD_MAX_MB): upload "
                "more in several batches, and a larger file from an evidence folder (its path in the Evidence box)",
            ),
            "dfd-upload",
        )
        self.upload.observe(self._on_upload, names="value")
        # a batch too big for the connection never arrives: the server says so through this comm (workbench.serve)
        self._comms = _comm_manager()
        if self._comms is not None:
            self._comms.register_target(UPLOAD_DROPPED_TARGET, self._on_upload_dropped)
        self.start_button = button(
            "dfd-triage",
            self._on_start,
            description="Triage",
            button_style="primary",
            icon="play",
            tooltip="copy the evidence into the case and analyse it",
        )
        self.cancel_button = button("dfd-cancel", self._on_cancel, description="Cancel", icon="stop", disabled=True)
        self.bar = styled(
            widgets.IntProgress(value=0, min=0, max=1, description="Progress", layout=widgets.Layout(width="460px")),
            "dfd-progress",
        )
        self.progress_text = styled(widgets.HTML(""), "dfd-progress-text")
        # which model card triage scores with; another card (e.g. the fast one) scores every item again, its
        # findings kept beside the first card's
        options = [(c.label, c.name) for c in state.installed_models()]
        if state.model and state.model not in {name for _, name in options}:  # a card path given at start
            options.append((str(state.model), state.model))
        current = state.model or (options[0][1] if options else None)
        self.model_choice = styled(
            widgets.Dropdown(
                options=options,
                value=current,
                description="Model",
                layout=widgets.Layout(width="340px"),
                tooltip="the model card triage scores with; items already scored by another card are scored again",
            ),
            "dfd-model-choice",
        )
        self.model_note = styled(widgets.HTML(self._model_text()), "dfd-model-note")
        self.model_choice.observe(self._on_model, names="value")
        # where the analyses run: this process, or the configured Dask scheduler (with its dashboard link)
        self.dask_info = styled(widgets.HTML(self._dask_text(None) if state.dask_scheduler else ""), "dfd-dask-info")
        self._cancel = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_result: Any = None
        super().__init__(
            [
                widgets.HBox([self.path, self.upload, self.start_button, self.cancel_button]),
                widgets.HBox([self.model_choice, self.model_note]),
                widgets.HBox([self.bar, self.progress_text]),
                self.dask_info,
            ]
        )
        self.add_class("dfd-intake")

    def controls(self) -> list[widgets.Widget]:
        return [self.path, self.upload, self.start_button, self.model_choice]

    def reset(self) -> None:
        super().reset()
        self.path.value = ""
        self.upload.value = ()
        self.bar.value, self.bar.max = 0, 1
        self.progress_text.value = ""

    # -- actions -------------------------------------------------------------------------------
    def _model_text(self) -> str:
        c = self.state.model_choice()
        if c is None and self.state.model:
            return f"<span style='font-size:12px'>the card given at start ({html.escape(str(self.state.model))})</span>"
        if c is None:
            return "<span style='color:#c62828'>no valid model card installed: triage cannot score faces</span>"
        text = f"threshold {c.threshold:.3f}; {html.escape(c.note)}"
        if not c.default:
            text = f"<span style='color:#8a5a00'>not the default model</span>: {text}"
        return f"<span style='font-size:12px'>{text}</span>"

    @reports_errors("choosing the model")
    def _on_model(self, change: dict) -> None:
        self.state.select_model(change["new"])
        self.model_note.value = self._model_text()

    def _paths(self) -> tuple[list[str], list[StagedUpload]]:
        paths = [self.path.value.strip()] if self.path.value.strip() else []
        for p in paths:  # refused here, before anything is staged or started
            self.state.check_evidence_path(p)
        files = [(f["name"], bytes(f["content"])) for f in self.upload.value]
        uploads: list[StagedUpload] = []
        if files:
            uploads = self.state.stage_uploads(files)
            self.upload.value = ()
        return paths, uploads

    @reports_errors("starting triage")
    def _on_start(self, _: widgets.Button) -> None:
        if self.running:
            return
        self.state.require_case()
        paths, uploads = self._paths()
        if not paths and not uploads and self.state.items().empty:
            raise ValueError("give an evidence folder or upload files first")
        self.start(paths, uploads)

    @reports_errors("uploading")
    def _on_upload(self, change: dict) -> None:
        """Refuse, with a message, a batch over the upload limit (it would be refused at Triage anyway)."""
        files = change["new"] or ()
        total = sum(len(f["content"]) for f in files)
        if total > upload_limit_bytes():
            self.upload.value = ()
            raise ValueError(
                f"the {len(files)} file(s) chosen total {total / (1 << 20):.1f} MiB, over the "
                f"{upload_limit_bytes() / (1 << 20):g} MiB one upload may carry (DFD_UPLOAD_MAX_MB): upload them in "
                "smaller batches, or put them in an evidence folder and give its path"
            )

    @reports_errors("uploading")
    def _on_upload_dropped(self, comm: Any, msg: dict) -> None:
        """The server dropped a batch too big for the connection: nothing arrived; say so, and clear the button."""
        # the comm stays registered: closing it would send the page a close for a comm the page never knew
        limit = (msg.get("content", {}).get("data") or {}).get("limit_bytes")
        self.upload.value = ()
        self.upload.send_state("value")  # the page's button still counts the files it tried to send
        over = f" (over {limit / (1 << 20):.0f} MiB)" if isinstance(limit, (int, float)) else ""
        raise ValueError(
            f"the file(s) chosen were too large to send{over} and were not received: one upload may carry "
            f"{upload_limit_bytes() / (1 << 20):g} MiB at most (DFD_UPLOAD_MAX_MB). Upload them in smaller batches, "
            "or put them in an evidence folder and give its path"
        )

    def detach(self) -> None:
        """Stop listening for the server's word on dropped uploads (the workbench is closed)."""
        if self._comms is not None and self._comms.targets.get(UPLOAD_DROPPED_TARGET) == self._on_upload_dropped:
            self._comms.unregister_target(UPLOAD_DROPPED_TARGET, self._on_upload_dropped)

    def start(self, paths: list[str], uploads: list[StagedUpload] | tuple = ()) -> None:
        """Run triage of ``paths`` and ``uploads`` (both may be empty: finishes pending items) in a worker thread."""
        self._cancel.clear()
        self.freeze()
        self.cancel_button.disabled = False
        self.running = True
        self.progress_text.value = "starting (loading the model)..."
        self._thread = threading.Thread(target=self._work, args=(paths, list(uploads)), name="dfd-triage", daemon=True)
        self._thread.start()

    def _on_cancel(self, _: widgets.Button) -> None:
        self._cancel.set()
        self.cancel_button.disabled = True
        self.progress_text.value = "cancelling after the current item..."
        log.info("triage cancel requested")

    def _on_progress(self, done: int, total: int | None, desc: str, info: dict) -> None:
        self.bar.max = max(1, total or 1)
        self.bar.value = min(done, self.bar.max)
        # the result may hold a file name or a message read from the case: text, never markup
        extra = (
            f" — item {html.escape(str(info['item']))}: {html.escape(str(info['result']))}" if "item" in info else ""
        )
        if info.get("worker") not in (None, "-"):
            extra += f" (worker {html.escape(str(info['worker']))})"
        # desc names the model card: text too (a card from elsewhere may name itself anything)
        self.progress_text.value = f"{html.escape(desc)}: {done}/{total if total is not None else '?'}{extra}"

    def _dask_text(self, link: str | None) -> str:
        sched = html.escape(self.state.dask_scheduler or "")
        where = f"Analyses run on the Dask cluster at <code>{sched}</code>"
        if link:
            href = html.escape(link, quote=True)
            return f'{where} — <a href="{href}" target="_blank" rel="noopener">Dask dashboard</a>'
        return where

    def _work(self, paths: list[str], uploads: list[StagedUpload]) -> None:
        try:
            if self.state.dask_scheduler:
                self.progress_text.value = "connecting to the Dask scheduler..."
                self.dask_info.value = self._dask_text(self.state.dask_dashboard_link())
            progress = CallbackProgress(self._on_progress, self._cancel.is_set)
            self.last_result = self.state.triage([Path(p) for p in paths], progress, uploads=uploads)
            a = self.last_result.attrs
            self.progress_text.value = f"done: analysed {a['analysed']}, failed {a['failed']}" + (
                " — cancelled; start again to finish" if a["cancelled"] else ""
            )
        except Exception as exc:  # a worker thread: report to the page, never die silently
            from dfd_lib.errors import DfdError

            log.error("triage failed: %s", exc, exc_info=not isinstance(exc, (DfdError, OSError, ValueError)))
            self.progress_text.value = "<span style='color:#c62828'>triage failed (see log)</span>"
        finally:
            self.cancel_button.disabled = True
            self.unfreeze()
            self.running = False

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the running triage ends (for tests and scripts); True when it has ended."""
        if self._thread is not None:
            self._thread.join(timeout)
        return self._thread is None or not self._thread.is_alive()
