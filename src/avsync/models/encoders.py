"""CNN feature extractors, trained from scratch (nothing is downloaded).

* ``AudioResNet``: ResNet18-style 2D CNN with a 1-channel stem; spectrogram ``(B, 1, F, T)`` ->
  ``(B, f, t, C)`` (total stride 32: a 5 s, 257 x 626 spectrogram gives 9 x 20 x 512).
* ``S3D``: separable 3D Inception network as in S3D (Xie et al. 2018; no feature gating);
  ``(B, 3, T, H, W)`` -> ``(B, t, h, w, 1024)`` with strides (8, 32, 32): 125 x 224 x 224 -> 16 x 7 x 7.
* ``LightVideoCNN``: a small (2+1)D residual CNN for CPU: spatial /4 in the stem, full temporal
  resolution unless a stage asks for temporal stride 2.

Every convolution and pooling has an odd kernel with padding k // 2, so each stride s maps a size n
to ceil(n / s); ``grid()`` uses that to give the output size without running the network.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import nn

from avsync.models.config import ModelConfig


def _bn_relu(layer: nn.Module, channels: int, dims: int) -> list[nn.Module]:
    bn = nn.BatchNorm3d(channels) if dims == 3 else nn.BatchNorm2d(channels)
    return [layer, bn, nn.ReLU(inplace=True)]


class _ChannelsLastPool(nn.Module):
    """Max pooling computed in channels-last memory, returned contiguous: the same numbers as torch's, faster
    on CPU (per batch of 8 default-model windows, the audio stem's pool 17.6 -> 4.6 ms, the visual stem's
    15.1 -> 3.8 ms; S3D's pools 1.6-3.7x)."""

    memory_format: torch.memory_format

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Max pooling of ``(B, C, ...)``."""
        return super().forward(x.contiguous(memory_format=self.memory_format)).contiguous()


class MaxPool2d(_ChannelsLastPool, nn.MaxPool2d):
    """``nn.MaxPool2d`` in channels-last memory (:class:`_ChannelsLastPool`)."""

    memory_format = torch.channels_last


class MaxPool3d(_ChannelsLastPool, nn.MaxPool3d):
    """``nn.MaxPool3d`` in channels-last memory (:class:`_ChannelsLastPool`)."""

    memory_format = torch.channels_last_3d


class TemporalConv3d(nn.Conv3d):
    """A ``k x 1 x 1`` ``nn.Conv3d`` (same weights) computed as a 2D convolution over (time, height * width):
    torch's CPU path for such 3D kernels is its slow unfolding one (the default's visual encoder per batch of 8
    windows 0.108 -> 0.084 s, ``benchmarks/check_parts.py``); the sums run in another order, the logits move by 2e-6."""

    def __init__(self, cin: int, cout: int, k: int, ts: int = 1) -> None:
        super().__init__(cin, cout, (k, 1, 1), (ts, 1, 1), (k // 2, 0, 0), bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C, T, H, W)`` -> ``(B, C_out, ceil(T / ts), H, W)``."""
        h, w = x.shape[-2:]
        y = nn.functional.conv2d(x.flatten(3), self.weight[..., 0], None, self.stride[:2], self.padding[:2])
        return y.unflatten(3, (h, w))


class Encoder(nn.Module):
    """Base of the encoders: ``strides`` lists every downsampling step (one int per axis)."""

    strides: list[tuple[int, ...]]
    out_channels: int

    def grid(self, size: Sequence[int]) -> tuple[int, ...]:
        """Output map size for an input of ``size`` (per axis, channels excluded)."""
        out = list(size)
        for step in self.strides:
            out = [math.ceil(n / s) for n, s in zip(out, step)]
        return tuple(out)


class BasicBlock2d(nn.Module):
    """ResNet basic block (two 3x3 convs) with a 1x1 projection when the shape changes."""

    def __init__(self, cin: int, cout: int, stride: int | tuple[int, int]) -> None:
        super().__init__()
        self.body = nn.Sequential(
            *_bn_relu(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), cout, 2),
            nn.Conv2d(cout, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout))
        self.short = nn.Identity() if cin == cout and stride in (1, (1, 1)) else nn.Sequential(
            nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Residual step."""
        return torch.relu(self.body(x) + self.short(x))


class AudioResNet(Encoder):
    """ResNet18-style spectrogram encoder: 7x7/2 stem on 1 channel, 3x3/2 max-pool, 4 stages.
    Stages after the first halve frequency; each stage's time stride is ``tstrides[i]``."""

    def __init__(self, widths: Sequence[int] = (64, 128, 256, 512), blocks: Sequence[int] = (2, 2, 2, 2),
                 tstrides: Sequence[int] = (1, 2, 2, 2)) -> None:
        super().__init__()
        layers: list[nn.Module] = [*_bn_relu(nn.Conv2d(1, widths[0], 7, 2, 3, bias=False), widths[0], 2),
                                   MaxPool2d(3, 2, 1)]
        self.strides = [(2, 2), (2, 2)]
        cin = widths[0]
        for i, (w, n, ts) in enumerate(zip(widths, blocks, tstrides)):
            stride = (1 if i == 0 else 2, ts)
            for j in range(n):
                layers.append(BasicBlock2d(cin, w, stride if j == 0 else 1))
                cin = w
            self.strides.append(stride)
        self.net = nn.Sequential(*layers)
        self.out_channels = cin

    def forward(self, spec: torch.Tensor) -> torch.Tensor:
        """``(B, 1, F, T)`` -> ``(B, f, t, C)``."""
        return self.net(spec).permute(0, 2, 3, 1)


class SepConv3d(nn.Sequential):
    """(2+1)D convolution: spatial 1 x k x k (stride s) then temporal k x 1 x 1 (stride ts), BN + ReLU each."""

    def __init__(self, cin: int, cout: int, k: int, s: int = 1, ts: int = 1, mid: int | None = None) -> None:
        mid = mid or cout
        super().__init__(
            *_bn_relu(nn.Conv3d(cin, mid, (1, k, k), (1, s, s), (0, k // 2, k // 2), bias=False), mid, 3),
            *_bn_relu(TemporalConv3d(mid, cout, k, ts), cout, 3))


def _unit(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(*_bn_relu(nn.Conv3d(cin, cout, 1, bias=False), cout, 3))


class Inception3d(nn.Module):
    """S3D mixed block: 1x1x1 | 1x1x1 -> sep 3 | 1x1x1 -> sep 3 | max-pool 3 -> 1x1x1, concatenated."""

    def __init__(self, cin: int, c0: int, c1: tuple[int, int], c2: tuple[int, int], c3: int) -> None:
        super().__init__()
        self.b0 = _unit(cin, c0)
        self.b1 = nn.Sequential(_unit(cin, c1[0]), SepConv3d(c1[0], c1[1], 3))
        self.b2 = nn.Sequential(_unit(cin, c2[0]), SepConv3d(c2[0], c2[1], 3))
        self.b3 = nn.Sequential(MaxPool3d(3, 1, 1), _unit(cin, c3))
        self.out_channels = c0 + c1[1] + c2[1] + c3

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Concatenate the four branches along channels."""
        return torch.cat([self.b0(x), self.b1(x), self.b2(x), self.b3(x)], 1)


# (c0, (c1 reduce, c1), (c2 reduce, c2), c3) of S3D / I3D's mixed blocks
_S3D_MIXED = {
    "3b": (64, (96, 128), (16, 32), 32), "3c": (128, (128, 192), (32, 96), 64),
    "4b": (192, (96, 208), (16, 48), 64), "4c": (160, (112, 224), (24, 64), 64),
    "4d": (128, (128, 256), (24, 64), 64), "4e": (112, (144, 288), (32, 64), 64),
    "4f": (256, (160, 320), (32, 128), 128), "5b": (256, (160, 320), (32, 128), 128),
    "5c": (384, (192, 384), (48, 128), 128),
}


class S3D(Encoder):
    """S3D video encoder (separable 3D Inception), 1024 output channels, strides (8, 32, 32)."""

    def __init__(self, in_channels: int = 3) -> None:
        super().__init__()
        layers: list[nn.Module] = [SepConv3d(in_channels, 64, 7, s=2, ts=2), MaxPool3d((1, 3, 3), (1, 2, 2), (0, 1, 1)),
                                   _unit(64, 64), SepConv3d(64, 192, 3), MaxPool3d((1, 3, 3), (1, 2, 2), (0, 1, 1))]
        cin = 192
        for name, spec in _S3D_MIXED.items():
            if name in ("4b", "5b"):
                layers.append(MaxPool3d(3, 2, 1))
            block = Inception3d(cin, *spec)
            layers.append(block)
            cin = block.out_channels
        self.net = nn.Sequential(*layers)
        self.strides = [(2, 2, 2), (1, 2, 2), (1, 2, 2), (2, 2, 2), (2, 2, 2)]
        self.out_channels = cin

    def forward(self, video: torch.Tensor) -> torch.Tensor:
        """``(B, 3, T, H, W)`` -> ``(B, t, h, w, 1024)``."""
        return self.net(video).permute(0, 2, 3, 4, 1)


class Block2Plus1d(nn.Module):
    """Residual block of two (2+1)D convolutions; the first may stride in space and/or time."""

    def __init__(self, cin: int, cout: int, s: int, ts: int) -> None:
        super().__init__()
        self.conv1 = SepConv3d(cin, cout, 3, s, ts)
        self.conv2 = nn.Sequential(
            *_bn_relu(nn.Conv3d(cout, cout, (1, 3, 3), 1, (0, 1, 1), bias=False), cout, 3),
            TemporalConv3d(cout, cout, 3), nn.BatchNorm3d(cout))
        self.short = nn.Identity() if cin == cout and s == ts == 1 else nn.Sequential(
            nn.Conv3d(cin, cout, 1, (ts, s, s), bias=False), nn.BatchNorm3d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Residual step."""
        return torch.relu(self.conv2(self.conv1(x)) + self.short(x))


class LightVideoCNN(Encoder):
    """Light (2+1)D residual CNN: 1x5x5/2 conv + 1x3x3/2 max-pool stem (space /4 early), then stages."""

    def __init__(self, widths: Sequence[int], blocks: Sequence[int], sstrides: Sequence[int],
                 tstrides: Sequence[int], in_channels: int = 3) -> None:
        super().__init__()
        layers: list[nn.Module] = [
            *_bn_relu(nn.Conv3d(in_channels, widths[0], (1, 5, 5), (1, 2, 2), (0, 2, 2), bias=False), widths[0], 3),
            MaxPool3d((1, 3, 3), (1, 2, 2), (0, 1, 1))]
        self.strides = [(1, 2, 2), (1, 2, 2)]
        cin = widths[0]
        for w, n, s, ts in zip(widths, blocks, sstrides, tstrides):
            for j in range(n):
                layers.append(Block2Plus1d(cin, w, s if j == 0 else 1, ts if j == 0 else 1))
                cin = w
            self.strides.append((ts, s, s))
        self.net = nn.Sequential(*layers)
        self.out_channels = cin

    def forward(self, video: torch.Tensor) -> torch.Tensor:
        """``(B, 3, T, H, W)`` -> ``(B, t, h, w, C)``."""
        return self.net(video).permute(0, 2, 3, 4, 1)


def build_visual_encoder(config: ModelConfig) -> Encoder:
    """The visual encoder named by ``config.visual_encoder``."""
    channels = 6 if config.visual_diff else 3
    if config.visual_encoder == "s3d":
        return S3D(channels)
    return LightVideoCNN(config.visual_widths, config.visual_blocks, config.visual_sstrides, config.visual_tstrides,
                         channels)


def build_audio_encoder(config: ModelConfig) -> Encoder:
    """The ResNet18-style audio encoder of ``config``."""
    return AudioResNet(config.audio_widths, config.audio_blocks, config.audio_tstrides)
