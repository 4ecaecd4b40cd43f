"""MTCNN's three networks (P-net, R-net, O-net), loaded from the weights that facenet-pytorch ships.

The networks are defined here with facenet-pytorch's layer names, so its state dicts load as they
are, and the weight files are read from the installed package's ``data`` folder without importing
the package: ``import facenet_pytorch`` pulls in torchvision (for its NMS), which pulls in
``torch._dynamo``, 1.4-1.5 s of every command's start-up on this project's 2-core machine, for
nothing the scan uses. Each file must have the SHA-256 of the pinned release (facenet-pytorch
2.5.3) and is read with ``torch.load(..., weights_only=True)``; anything else is refused.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
from pathlib import Path

from .errors import ModelCardError

__all__ = ["MTCNN_WEIGHTS_SHA256", "load_mtcnn_networks", "mtcnn_weights_dir"]

# facenet-pytorch 2.5.3's data/{pnet,rnet,onet}.pt.
MTCNN_WEIGHTS_SHA256 = {
    "pnet": "a2a71925e0b9996a42f63e47efc1ca19043e69558b5c523b978d611dfae49c8f",
    "rnet": "bbb937de72efc9ef83b186c49f5f558467a1d7e3453a8ece0d71a886633f6a86",
    "onet": "165bfbe42940416ccfb977545cf0e976d5bf321f67083ae2aaaa5c764280118d",
}


def mtcnn_weights_dir() -> Path:
    """facenet-pytorch's ``data`` folder, found without importing the package."""
    spec = importlib.util.find_spec("facenet_pytorch")
    if spec is None or not spec.submodule_search_locations:
        raise ModelCardError("the face detector's weights are missing: facenet-pytorch 2.5.3 is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def _networks():
    import torch
    from torch import nn

    class PNet(nn.Module):
        """12 px proposal network, fully convolutional: per 2 px step, face probability and box offsets."""

        def __init__(self) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(3, 10, kernel_size=3)
            self.prelu1 = nn.PReLU(10)
            self.pool1 = nn.MaxPool2d(2, 2, ceil_mode=True)
            self.conv2 = nn.Conv2d(10, 16, kernel_size=3)
            self.prelu2 = nn.PReLU(16)
            self.conv3 = nn.Conv2d(16, 32, kernel_size=3)
            self.prelu3 = nn.PReLU(32)
            self.conv4_1 = nn.Conv2d(32, 2, kernel_size=1)
            self.conv4_2 = nn.Conv2d(32, 4, kernel_size=1)

        def forward(self, x):
            x = self.prelu1(self.conv1(x))
            x = self.pool1(x)
            x = self.prelu3(self.conv3(self.prelu2(self.conv2(x))))
            return self.conv4_2(x), torch.softmax(self.conv4_1(x), dim=1)

    class RNet(nn.Module):
        """24 px refinement network: per candidate, face probability and box offsets."""

        def __init__(self) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(3, 28, kernel_size=3)
            self.prelu1 = nn.PReLU(28)
            self.pool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
            self.conv2 = nn.Conv2d(28, 48, kernel_size=3)
            self.prelu2 = nn.PReLU(48)
            self.pool2 = nn.MaxPool2d(3, 2, ceil_mode=True)
            self.conv3 = nn.Conv2d(48, 64, kernel_size=2)
            self.prelu3 = nn.PReLU(64)
            self.dense4 = nn.Linear(576, 128)
            self.prelu4 = nn.PReLU(128)
            self.dense5_1 = nn.Linear(128, 2)
            self.dense5_2 = nn.Linear(128, 4)

        def forward(self, x):
            x = self.pool1(self.prelu1(self.conv1(x)))
            x = self.pool2(self.prelu2(self.conv2(x)))
            x = self.prelu3(self.conv3(x))
            # The original (Caffe) weights flatten width-major: N x W x H x C.
            x = self.prelu4(self.dense4(x.permute(0, 3, 2, 1).reshape(x.shape[0], -1)))
            return self.dense5_2(x), torch.softmax(self.dense5_1(x), dim=1)

    class ONet(nn.Module):
        """48 px output network: per candidate, box offsets, five landmarks and face probability."""

        def __init__(self) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(3, 32, kernel_size=3)
            self.prelu1 = nn.PReLU(32)
            self.pool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
            self.conv2 = nn.Conv2d(32, 64, kernel_size=3)
            self.prelu2 = nn.PReLU(64)
            self.pool2 = nn.MaxPool2d(3, 2, ceil_mode=True)
            self.conv3 = nn.Conv2d(64, 64, kernel_size=3)
            self.prelu3 = nn.PReLU(64)
            self.pool3 = nn.MaxPool2d(2, 2, ceil_mode=True)
            self.conv4 = nn.Conv2d(64, 128, kernel_size=2)
            self.prelu4 = nn.PReLU(128)
            self.dense5 = nn.Linear(1152, 256)
            self.prelu5 = nn.PReLU(256)
            self.dense6_1 = nn.Linear(256, 2)
            self.dense6_2 = nn.Linear(256, 4)
            self.dense6_3 = nn.Linear(256, 10)

        def forward(self, x):
            x = self.pool1(self.prelu1(self.conv1(x)))
            x = self.pool2(self.prelu2(self.conv2(x)))
            x = self.pool3(self.prelu3(self.conv3(x)))
            x = self.prelu4(self.conv4(x))
            x = self.prelu5(self.dense5(x.permute(0, 3, 2, 1).reshape(x.shape[0], -1)))
            return self.dense6_2(x), self.dense6_3(x), torch.softmax(self.dense6_1(x), dim=1)

    return {"pnet": PNet, "rnet": RNet, "onet": ONet}


def load_mtcnn_networks(device: str = "cpu", weights_dir: Path | None = None):
    """(P-net, R-net, O-net) in eval mode on ``device``, each from its hash-checked weight file."""
    import torch

    folder = mtcnn_weights_dir() if weights_dir is None else Path(weights_dir)
    nets = []
    for name, cls in _networks().items():
        path = folder / f"{name}.pt"
        try:
            data = path.read_bytes()
        except OSError as e:
            raise ModelCardError(f"the face detector's {name} weights cannot be read ({path}): {e}") from e
        digest = hashlib.sha256(data).hexdigest()
        if digest != MTCNN_WEIGHTS_SHA256[name]:
            raise ModelCardError(
                f"the face detector's {name} weights ({path}) have SHA-256 {digest}, not facenet-pytorch 2.5.3's "
                f"{MTCNN_WEIGHTS_SHA256[name]}: refused"
            )
        net = cls()
        net.load_state_dict(torch.load(io.BytesIO(data), map_location="cpu", weights_only=True))
        nets.append(net.to(device).eval())
    return tuple(nets)
