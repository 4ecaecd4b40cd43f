"""Log records to the page: a logging handler writing into an Output widget, and a one-line status."""

from __future__ import annotations

import html
import logging

import ipywidgets as widgets

__all__ = ["LogPanel", "WidgetLogHandler", "LOGGERS"]

LOGGERS = ("workbench", "dfd_lib")
_LEVEL_COLOURS = {logging.ERROR: "#c62828", logging.WARNING: "#ef6c00", logging.INFO: "#1b5e20"}


class WidgetLogHandler(logging.Handler):
    """Appends formatted records to an Output widget and mirrors the latest one in a status line."""

    def __init__(self, output: widgets.Output, status: widgets.HTML, max_lines: int = 400) -> None:
        super().__init__(logging.INFO)
        self.output, self.status, self.max_lines = output, status, max_lines
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = self.format(record)
            if len(self.output.outputs) >= self.max_lines:
                self.output.outputs = self.output.outputs[-(self.max_lines // 2) :]
            self.output.append_stdout(text + "\n")
            colour = _LEVEL_COLOURS.get(record.levelno, "#424242")
            first = html.escape(record.getMessage().splitlines()[0] if record.getMessage() else "")
            self.status.value = (
                f"<span class='dfd-status dfd-status-{record.levelname.lower()}' "
                f"style='color:{colour}'>{record.levelname.lower()}: {first}</span>"
            )
        except Exception:  # logging's contract: a handler reports its own failure, never raises
            self.handleError(record)


class LogPanel(widgets.VBox):
    """The status line plus a collapsible log; ``attach()`` routes the workbench's and dfd_lib's loggers here."""

    def __init__(self) -> None:
        self.status = widgets.HTML("<span class='dfd-status'>ready</span>")
        self.output = widgets.Output(
            layout=widgets.Layout(max_height="180px", overflow="auto", border="1px solid #ddd")
        )
        self.log_box = widgets.Accordion(children=[self.output], titles=("Log",))
        super().__init__([self.status, self.log_box])
        self.add_class("dfd-log")
        self.handler = WidgetLogHandler(self.output, self.status)

    def attach(self) -> None:
        for name in LOGGERS:
            logger = logging.getLogger(name)
            logger.setLevel(logging.INFO)
            if self.handler not in logger.handlers:
                logger.addHandler(self.handler)

    def detach(self) -> None:
        for name in LOGGERS:
            logging.getLogger(name).removeHandler(self.handler)
