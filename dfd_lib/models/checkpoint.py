"""Find, verify and load model checkpoints; save new ones with their cards.

Weights are state dicts loaded with ``torch.load(weights_only=True)`` after the file's
SHA-256 has been checked against its card. Nothing is ever downloaded.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Mapping, cast

from ..env import WEIGHTS_DIR_ENV
from ..errors import ModelCardError, ModelCardMismatch, ModelNotFound
from ..media import sha256_file
from .backbones import BACKBONES
from .card import ModelCard

if TYPE_CHECKING:
    import torch

    from .kind import KindHead
    from .novelty import NoveltyModel
    from .onnx_runtime import OnnxClassifier

log = logging.getLogger(__name__)


__all__ = [
    "WEIGHTS_DIR_ENV",
    "LoadedModel",
    "weights_dirs",
    "list_cards",
    "valid_cards",
    "find_card",
    "find_verified_card",
    "load_model",
    "save_checkpoint",
]


@dataclass(frozen=True)
class LoadedModel:
    """A verified model: its card, its weights (checked against the card's SHA-256) and side models.

    The PyTorch module is built when first used (``module``), from the weights file read once and
    checked against the card's SHA-256 in the same bytes: where the card's ONNX export computes the
    scores, only Grad-CAM and training need it, and reading and building it was about 40% of a
    scan's start-up. Without an ONNX export it is built at load.
    """

    card: ModelCard
    card_path: Path
    weights_path: Path  # its SHA-256 was checked at load, and is checked again when the weights are read
    device: str = "cpu"
    novelty: NoveltyModel | None = None  # when the card has novelty statistics
    kind_head: KindHead | None = None  # when the card has one
    onnx: OnnxClassifier | None = None  # when the card names an ONNX export and onnxruntime is installed
    card_sha256: str = ""  # SHA-256 of the card file as loaded (recorded with every finding)
    _built: list = field(default_factory=list, init=False, repr=False, compare=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False, compare=False)

    @property
    def name(self) -> str:
        return self.card.name

    @property
    def sha256(self) -> str:
        return self.card.sha256

    @property
    def module(self) -> torch.nn.Module:
        """The classifier in eval mode, float32 (channels-last on the CPU), built once on first use."""
        with self._lock:
            if not self._built:
                self._built.append(
                    _build_module(self.card, read_verified_state(self.card, self.weights_path), self.device)
                )
            return self._built[0]


def read_verified_state(card: ModelCard, weights: Path) -> dict[str, torch.Tensor]:
    """The weights as float32 tensors: the file read once, its bytes checked against the card's SHA-256 and
    unpickled with ``weights_only=True`` (``ModelCardMismatch`` / ``ModelCardError`` otherwise)."""
    import hashlib
    import io

    import torch

    try:
        data = weights.read_bytes()
    except OSError as exc:
        raise ModelCardError(f"model {card.name}: weights file {weights} could not be read: {exc}") from exc
    _check_sha256(card, weights, hashlib.sha256(data).hexdigest())
    try:
        state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ModelCardError(f"model {card.name}: weights could not be read safely: {exc}") from exc
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ModelCardError(f"model {card.name}: weights file is not a state dict of tensors")
    return {k: (v.float() if v.is_floating_point() else v) for k, v in state.items()}


def _check_sha256(card: ModelCard, weights: Path, actual: str) -> None:
    if actual != card.sha256:
        raise ModelCardMismatch(
            f"model {card.name}: weights file {weights.name} has SHA-256 {actual}, but its card says "
            f"{card.sha256}; the file was altered or does not belong to this card, refusing to load it"
        )


def _build_module(card: ModelCard, state: Mapping[str, torch.Tensor], device: str) -> torch.nn.Module:
    """The card's backbone with ``state`` loaded strictly (``ModelCardError`` when the weights do not fit)."""
    import torch

    module = cast("torch.nn.Module", BACKBONES.get(card.backbone).build(False))  # Backbone.build returns object
    try:
        module.load_state_dict(dict(state), strict=True)
    except RuntimeError as exc:
        raise ModelCardError(f"model {card.name}: weights do not fit backbone {card.backbone}: {exc}") from exc
    module.eval().to(device)
    if device == "cpu":
        module.to(memory_format=torch.channels_last)  # depthwise convolutions: 1.5x faster on the CPU, same outputs
    return module


def weights_dirs(extra: str | os.PathLike | None = None) -> list[Path]:
    """Folders searched for model cards, first match wins.

    ``extra`` (a --weights-dir option), then ``$DFD_WEIGHTS_DIR``, then the ``weights/`` folder
    of the installation this package runs from. Nothing else: a ``weights/`` folder in the current
    directory is never searched unless it is named (``--weights-dir weights``), so a folder where
    the tool happens to be started cannot replace the installed model.
    """
    dirs: list[Path] = []
    if extra:
        dirs.append(Path(extra))
    if os.environ.get(WEIGHTS_DIR_ENV):
        dirs.append(Path(os.environ[WEIGHTS_DIR_ENV]))
    import dfd_lib

    dirs.append(Path(dfd_lib.__file__).resolve().parent.parent / "weights")
    unique: list[Path] = []
    for d in dirs:
        r = d.resolve()
        if r not in unique:
            unique.append(r)
    return unique


def list_cards(weights_dir: str | os.PathLike | None = None) -> list[tuple[Path, ModelCard | ModelCardError]]:
    """Every ``*.json`` card in the search folders, parsed, or the error that made it invalid."""
    out: list[tuple[Path, ModelCard | ModelCardError]] = []
    seen: set[str] = set()
    for d in weights_dirs(weights_dir):
        if not d.is_dir():
            continue
        for path in sorted(d.glob("*.json")):
            try:
                card = ModelCard.read(path)
            except ModelCardError as exc:
                out.append((path, exc))
                continue
            if card.name in seen:
                continue
            seen.add(card.name)
            out.append((path, card))
    return out


def valid_cards(weights_dir: str | os.PathLike | None = None) -> list[tuple[Path, ModelCard]]:
    """The valid cards in search order, the default model's first: the first card marked default, else the first
    valid one (the model a scan without ``--model`` uses)."""
    valid = [(p, c) for p, c in list_cards(weights_dir) if isinstance(c, ModelCard)]
    first = next((pc for pc in valid if pc[1].default), valid[0] if valid else None)
    return sorted(valid, key=lambda pc: pc is not first)  # stable: the rest stay in search order


def find_card(name: str | None = None, weights_dir: str | os.PathLike | None = None) -> tuple[Path, ModelCard]:
    """Locate a card by model name, by path to a card/.pt file, or the default model when name is None."""
    if name and (name.endswith(".json") or name.endswith(".pt")) and Path(name).exists():
        card_path = Path(name).with_suffix(".json")
        return card_path, ModelCard.read(card_path)
    cards = list_cards(weights_dir)
    invalid = [(p, e) for p, e in cards if isinstance(e, ModelCardError)]
    valid = valid_cards(weights_dir)
    if name is None:
        if valid:
            for p, e in invalid:
                log.warning("model card %s is invalid and was passed over: %s", p, e)
            return valid[0]
        raise ModelNotFound(
            "no model installed: no valid model card in "
            + ", ".join(str(d) for d in weights_dirs(weights_dir))
            + "".join(f"; {p} is invalid: {e}" for p, e in invalid)
        )
    # the first card of that name in search order decides: an invalid one is refused, never passed over for a
    # card of the same name further down (an examiner's own copy must not silently become the shipped model)
    for p, c in cards:
        if isinstance(c, ModelCardError):
            if p.stem == name:
                raise ModelCardError(f"model {name!r}: its card {p} is invalid: {c}")
        elif c.name == name:
            return p, c
    known = ", ".join(c.name for _, c in valid) or "none"
    bad = "".join(f"; {p} is invalid: {e}" for p, e in invalid)
    raise ModelNotFound(f"no model named {name!r}; installed: {known}{bad}")


RUNTIMES = ("auto", "torch", "onnx")


def find_verified_card(
    name: str | None = None, weights_dir: str | os.PathLike | None = None
) -> tuple[Path, ModelCard, Path]:
    """(card path, card, weights path) of a model found as :func:`find_card` finds it, once its weights
    file is known to exist and to hash to the card's SHA-256 (``ModelCardError`` / ``ModelCardMismatch``
    otherwise). Nothing is loaded."""
    card_path, card = find_card(name, weights_dir)
    weights = card_path.parent / card.weights_file
    if not weights.is_file():
        raise ModelCardError(f"model {card.name}: weights file {weights} is missing")
    _check_sha256(card, weights, sha256_file(weights))
    return card_path, card, weights


def load_model(
    name: str | None = None, weights_dir: str | os.PathLike | None = None, device: str = "cpu", runtime: str = "auto"
) -> LoadedModel:
    """Load a model by name (or the default), verifying its weights against the card's SHA-256.

    ``runtime``: where scores are computed. ``auto`` uses the card's ONNX export with ONNX Runtime
    on the CPU when both exist (same scores, faster), PyTorch otherwise; ``torch`` always PyTorch;
    ``onnx`` insists on ONNX Runtime. Grad-CAM always uses the PyTorch module.
    """
    if runtime not in RUNTIMES:
        raise ModelCardError(f"unknown runtime {runtime!r}; known: {', '.join(RUNTIMES)}")

    card_path, card, weights = find_verified_card(name, weights_dir)
    BACKBONES.get(card.backbone)  # an unknown backbone is refused here, before anything is read
    sides = {}
    for label, side, loader in (("novelty", card.novelty, "NoveltyModel"), ("kind_head", card.kind_head, "KindHead")):
        if not side:
            continue
        from . import kind, novelty

        path = card_path.parent / side["file"]
        if not path.is_file():
            raise ModelCardError(f"model {card.name}: {label} file {path} is missing")
        cls = getattr(novelty if label == "novelty" else kind, loader)
        sides[label] = cls.load(path, side["sha256"])
    onnx = _onnx_classifier(card, card_path, device, runtime)
    if onnx is not None:
        nov = sides.get("novelty")
        blocks = list(getattr(nov, "blocks", ()))
        if blocks and list(card.onnx.get("block_stats_of", [])) != blocks:
            raise ModelCardError(
                f"model {card.name}: its novelty statistics read blocks {blocks}, its ONNX export gives "
                f"{card.onnx.get('block_stats_of', [])}; export it again (dfd models --export-onnx CARD)"
            )
        sides["onnx"] = onnx
    card_sha = sha256_file(card_path)
    log.info(
        "model %s: card %s (card SHA-256 %s, weights SHA-256 %s)", card.name, card_path.resolve(), card_sha, card.sha256
    )
    loaded = LoadedModel(
        card=card, card_path=card_path, weights_path=weights, device=device, card_sha256=card_sha, **sides
    )
    if loaded.onnx is None:
        loaded.module  # noqa: B018 - PyTorch computes the scores: build it now, so a misfit fails at load
    return loaded


def _onnx_classifier(card: ModelCard, card_path: Path, device: str, runtime: str):
    """The card's ONNX export as an OnnxClassifier, or None where PyTorch computes the scores."""
    if runtime == "torch" or (runtime == "auto" and (not card.onnx or device != "cpu")):
        return None
    if not card.onnx:
        raise ModelCardError(
            f"model {card.name}: the card names no ONNX export (dfd models --export-onnx CARD makes one)"
        )
    try:
        import onnxruntime  # noqa: F401 - optional speed-up
    except ImportError:
        if runtime == "onnx":
            raise ModelCardError("onnxruntime is not installed") from None
        log.info("onnxruntime not installed: model %s runs on PyTorch", card.name)
        return None
    from .onnx_runtime import OnnxClassifier

    return OnnxClassifier(card_path.parent / card.onnx["file"], card.onnx["sha256"])


def save_checkpoint(module, card: ModelCard, out_dir: str | os.PathLike, half: bool = False) -> Path:
    """Write ``<name>.pt`` (state dict, optionally float16) and ``<name>.json`` with the file's SHA-256.

    Returns the card path. The card's ``weights_file`` and ``sha256`` are filled in here.
    """
    state = {
        k: (v.detach().cpu().half() if half and v.is_floating_point() else v.detach().cpu())
        for k, v in module.state_dict().items()
    }
    return save_state(state, card, out_dir)


def save_state(state: Mapping[str, torch.Tensor], card: ModelCard, out_dir: str | os.PathLike) -> Path:
    """Write the state dict ``state`` as ``<card.name>.pt`` and the card, with the file's name and SHA-256 filled
    in, as ``<card.name>.json`` in ``out_dir``; returns the card path."""
    import torch

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    weights = out / f"{card.name}.pt"
    torch.save(dict(state), weights)
    final = replace(card, weights_file=weights.name, sha256=sha256_file(weights))
    card_path = out / f"{card.name}.json"
    final.write(card_path)
    return card_path
