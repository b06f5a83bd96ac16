import pytest
import torch
from torch import nn

from avsync.models import encoders


@pytest.mark.parametrize("ours, theirs, shape", [
    (encoders.MaxPool2d(3, 2, 1), nn.MaxPool2d(3, 2, 1), (2, 8, 33, 50)),
    (encoders.MaxPool3d((1, 3, 3), (1, 2, 2), (0, 1, 1)), nn.MaxPool3d((1, 3, 3), (1, 2, 2), (0, 1, 1)), (2, 8, 7, 16, 16)),
    (encoders.MaxPool3d(3, 1, 1), nn.MaxPool3d(3, 1, 1), (1, 4, 5, 9, 9)),
])
def test_channels_last_pooling_gives_torchs_numbers(ours, theirs, shape):
    """The encoders' pools compute in channels-last memory (faster on CPU) and give torch's values and
    gradients, in contiguous memory as the next layer expects."""
    x = torch.randn(shape, requires_grad=True)
    y, ref = ours(x), theirs(x)
    assert torch.equal(y, ref) and y.is_contiguous()
    g = torch.randn_like(ref)
    assert torch.equal(torch.autograd.grad(y, x, g)[0], torch.autograd.grad(ref, x, g)[0])


def test_encoders_pool_in_channels_last():
    """Every pooling layer of the CNNs is one of the channels-last ones (the default model's speed)."""
    from avsync.models import create

    model = create("sparsesync-tiny")
    pools = [m for m in model.modules() if isinstance(m, (nn.MaxPool2d, nn.MaxPool3d))]
    assert pools and all(type(m) in (encoders.MaxPool2d, encoders.MaxPool3d) for m in pools)


@pytest.mark.parametrize("k, ts, shape", [(3, 1, (2, 8, 9, 5, 6)), (7, 2, (1, 4, 13, 3, 3)), (3, 2, (2, 3, 8, 1, 1))])
def test_temporal_convolution_is_a_conv3d_computed_in_2d(k, ts, shape):
    """TemporalConv3d keeps nn.Conv3d's weights and gives its values and gradients (up to summation order)."""
    torch.manual_seed(0)
    ours = encoders.TemporalConv3d(shape[1], 5, k, ts)
    theirs = nn.Conv3d(shape[1], 5, (k, 1, 1), (ts, 1, 1), (k // 2, 0, 0), bias=False)
    theirs.load_state_dict(ours.state_dict())
    x = torch.randn(shape, requires_grad=True)
    y, ref = ours(x), theirs(x)
    assert y.shape == ref.shape and torch.allclose(y, ref, atol=1e-5)
    g = torch.randn_like(ref)
    (gx, gw), (rx, rw) = (torch.autograd.grad(o, (x, m.weight), g) for o, m in ((y, ours), (ref, theirs)))
    assert torch.allclose(gx, rx, atol=1e-5) and torch.allclose(gw, rw, atol=1e-4)


def test_2plus1d_encoders_use_the_2d_temporal_convolution():
    """Every k x 1 x 1 convolution of the (2+1)D CNNs goes the fast way (the default model's speed)."""
    from avsync.models import create

    for name in ("sparsesync-default-32", "sparsesync-paper"):
        convs = [m for m in create(name).modules() if isinstance(m, nn.Conv3d) and m.kernel_size[1:] == (1, 1)
                 and m.kernel_size[0] > 1]
        assert convs and all(type(m) is encoders.TemporalConv3d for m in convs)
