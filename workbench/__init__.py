"""The workbench: ipywidgets components over dfd_lib, assembled by :func:`build_app` for the Voila dashboard.

Each component is a small ``VBox`` subclass publishing one typed traitlet, with ``freeze()``,
``unfreeze()`` and ``reset()``; they share one :class:`AppState` and hold no logic of their own.
"""

from __future__ import annotations

from .app import Workbench, build_app
from .case_bar import CaseBar
from .export import ExportPanel
from .grid import TriageGrid
from .intake import Intake
from .item_view import ItemView
from .portal_form import PortalForm
from .review import ReviewPanel
from .state import AppState

__all__ = [
    "build_app",
    "Workbench",
    "AppState",
    "CaseBar",
    "Intake",
    "TriageGrid",
    "ItemView",
    "ReviewPanel",
    "ExportPanel",
    "PortalForm",
]
