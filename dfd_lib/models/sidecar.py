"""Side files of a model (statistics and small heads fitted on its features): ``.npz`` arrays beside the
weights, each named with its SHA-256 in the card, loaded only when the hash matches and never with pickle."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import ModelCardMismatch

__all__ = ["save_npz", "load_npz"]


def save_npz(path: str | Path, **arrays) -> None:
    with open(path, "wb") as fh:
        np.savez(fh, **arrays)


def load_npz(path: str | Path, sha256: str, what: str) -> dict[str, np.ndarray]:
    from ..media import sha256_file

    actual = sha256_file(path)
    if actual != sha256:
        raise ModelCardMismatch(f"{what} {Path(path).name} has SHA-256 {actual}, the card says {sha256}; refusing it")
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}
