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
