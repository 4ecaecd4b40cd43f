"""The classifier exported to ONNX and run with ONNX Runtime on the CPU: same logits and features, about 3x faster.

``export_onnx`` writes the network of a loaded model as one ONNX graph with two outputs, the
logit and the pooled feature vector (the novelty and kind heads read the features), and checks
that ONNX Runtime reproduces PyTorch's outputs; ``attach_onnx`` puts the file beside a model card
and names it there with its SHA-256. At scan time :class:`OnnxClassifier` is used in place of the
PyTorch module when the card names such a file and ``onnxruntime`` is installed; the file is
refused unless its hash matches the card. Grad-CAM always uses the PyTorch module.

Measured on this project's 2-core CPU (EfficientNet-Lite0 at 160 px, one thread, batch 32):
PyTorch 15.1 ms per crop, PyTorch channels-last 9.2-10.2 ms, ONNX Runtime 4.9 ms; largest
difference of a logit 5e-7.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import replace
from pathlib import Path

import numpy as np

from ..errors import ModelCardError, ModelCardMismatch

__all__ = ["OnnxClassifier", "export_onnx", "attach_onnx", "ONNX_MAX_ABS_DIFF"]

ONNX_MAX_ABS_DIFF = 1e-3  # largest accepted difference of a logit between ONNX Runtime and PyTorch
_OPSET = 17


def _logit_and_features(module, blocks: tuple[int, ...] = ()):
    """``module`` wrapped so that its outputs are (logits (N,), pooled features (N, D)) and, with ``blocks``, the
    statistics of those blocks' outputs (N, S) that the novelty statistics read; for export."""
    import torch

    from .novelty import block_stats, feature_blocks, last_linear

    head = last_linear(module)
    stages = feature_blocks(module, blocks) if blocks else []

    class LogitAndFeatures(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = module

        def forward(self, x):
            captured, outs = [], []
            handles = [head.register_forward_pre_hook(lambda _m, inputs: captured.append(inputs[0]))]
            handles += [b.register_forward_hook(lambda _m, _i, out: outs.append(out)) for b in stages]
            try:
                z = self.net(x)
            finally:
                for h in handles:
                    h.remove()
            if stages:
                return z.reshape(-1), captured[0].flatten(1), block_stats(outs)
            return z.reshape(-1), captured[0].flatten(1)

    return LogitAndFeatures().eval()


def _session(data: bytes, threads: int | None = None):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    if threads is None:
        import torch

        threads = torch.get_num_threads()
    opts.intra_op_num_threads = max(1, int(threads))
    opts.inter_op_num_threads = 1
    # No busy-waiting between calls: face detection and decoding run beside the classifier on the same cores.
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(data, opts, providers=["CPUExecutionProvider"])


def export_onnx(module, input_size: int, path: str | Path, seed: int = 0, blocks: tuple[int, ...] = ()) -> dict:
    """Export ``module`` (a loaded classifier) to ``path``; returns the card entry (file, sha256, check). With
    ``blocks`` the graph has a third output, ``block_stats`` (see ``novelty.block_stats``).

    Raises ModelCardError when ONNX Runtime's logits differ from PyTorch's by more than
    ``ONNX_MAX_ABS_DIFF`` on a check batch (the file is then removed).
    """
    import io

    import torch

    from ..media import sha256_file

    path = Path(path)
    wrapper = _logit_and_features(module, blocks)
    names = ["logit", "features"] + (["block_stats"] if blocks else [])
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(8, 3, input_size, input_size, generator=gen)
    buf = io.BytesIO()
    import warnings

    with torch.inference_mode(False), torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # the TorchScript exporter: exact for these CNNs
        torch.onnx.export(
            wrapper,
            (x[:2],),
            buf,  # type: ignore[arg-type]  # a file object is accepted, as the exporter's documentation says
            input_names=["image"],
            output_names=names,
            dynamic_axes={"image": {0: "n"}} | {n: {0: "n"} for n in names},
            opset_version=_OPSET,
            dynamo=False,
        )
        refs = wrapper(x)
    data = buf.getvalue()
    outs = _session(data, 1).run(None, {"image": x.numpy()})
    diff = float(max(np.abs(o - r.numpy()).max() for o, r in zip(outs, refs)))
    if not diff <= ONNX_MAX_ABS_DIFF:
        raise ModelCardError(f"ONNX export differs from PyTorch by {diff:.2e} (limit {ONNX_MAX_ABS_DIFF}); not written")
    path.write_bytes(data)
    import onnxruntime

    return {
        "file": path.name,
        "sha256": sha256_file(path),
        "opset": _OPSET,
        "runtime": "onnxruntime",
        "check_max_abs_diff": diff,
        "outputs": names,
        "block_stats_of": list(blocks),
        "exported_with": {"torch": torch.__version__, "onnxruntime": onnxruntime.__version__},
    }


def attach_onnx(card_path: str | Path) -> Path:
    """Export the model of ``card_path`` beside it as ``<name>.onnx`` and record it in the card; returns the ONNX path."""
    from .card import ModelCard
    from .checkpoint import load_model

    card_path = Path(card_path)
    card = ModelCard.read(card_path)
    loaded = load_model(card.name, card_path.parent, runtime="torch")
    out = card_path.parent / f"{card.name}.onnx"
    # The novelty statistics of block outputs need them from the graph too.
    blocks = tuple(int(b) for b in (card.novelty or {}).get("blocks", ()))
    entry = export_onnx(loaded.module, card.input_size, out, blocks=blocks)
    replace(card, onnx=entry).write(card_path)
    return out


class OnnxClassifier:
    """An ONNX Runtime session for a card's exported classifier; ``run(x)`` -> (logits (N,), features (N, D),
    block statistics (N, S) or None where the graph has no such output).

    The file is read and checked against the card's SHA-256 at once (a mismatch is refused here); ONNX
    Runtime builds its session (30-60 ms of graph optimisation on this CPU) in a background thread, so a
    scan's first face searches overlap it. ``run`` waits for it; a session that could not be built is a
    ``ModelCardError`` there, for every call.
    """

    def __init__(self, path: str | Path, sha256: str, threads: int | None = None) -> None:
        path = Path(path)
        if not path.is_file():
            raise ModelCardError(f"ONNX classifier {path} is missing")
        data = path.read_bytes()  # hashed and loaded from the same bytes
        actual = hashlib.sha256(data).hexdigest()
        if actual != sha256:
            raise ModelCardMismatch(
                f"ONNX classifier {path.name} has SHA-256 {actual}, the card says {sha256}; refusing it"
            )
        self.path = path
        if threads is None:  # read now: a scan changes PyTorch's thread count while it runs
            import torch

            threads = torch.get_num_threads()
        self._built = threading.Event()
        self._session = None
        self._error: BaseException | None = None
        # Not a daemon: a process that exits while ONNX Runtime is still building the session would be killed
        # inside its C++ code (abort, exit status 134); the interpreter waits for it (30-60 ms) instead.
        threading.Thread(target=self._build, args=(data, threads), name="dfd-onnx-session", daemon=False).start()

    def _build(self, data: bytes, threads: int) -> None:
        try:
            self._session = _session(data, threads)
        except BaseException as exc:  # noqa: BLE001 - reported by every run()
            self._error = exc
        finally:
            self._built.set()

    def session(self):
        """The ONNX Runtime session, once built."""
        self._built.wait()
        if self._error is not None:
            raise ModelCardError(
                f"ONNX Runtime could not load the classifier {self.path.name}: {type(self._error).__name__}: {self._error}"
            ) from self._error
        return self._session

    def run(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        outs = self.session().run(None, {"image": np.ascontiguousarray(x, dtype=np.float32)})
        stats = outs[2].reshape(len(x), -1) if len(outs) > 2 else None
        return outs[0].reshape(-1), outs[1].reshape(len(x), -1), stats

    def run_tta(self, x: np.ndarray, tta: str) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """:meth:`run` under a card's test-time augmentation: with ``hflip`` the batch and its mirror images go
        through in one call (1.2x faster than two) and each output is the mean of the two."""
        if tta != "hflip":
            return self.run(x)
        n = len(x)
        z, f, st = self.run(np.concatenate([x, x[..., ::-1]]))
        return (z[:n] + z[n:]) / 2, (f[:n] + f[n:]) / 2, None if st is None else (st[:n] + st[n:]) / 2
