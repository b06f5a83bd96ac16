"""One SGD step must change every trainable parameter: nothing is disconnected from the loss."""

import pytest
import torch
import torch.nn.functional as F

from avsync.models import create

CASES = {
    "sparsesync-tiny": dict(duration_sec=2.0),
    # the shipped model's knobs: frame differences, 64 ms audio tokens and the correlation head
    "sparsesync-tiny+knobs": dict(duration_sec=2.0, frame_size=32, visual_diff=True, audio_tstrides=[1, 2, 1, 1],
                                  corr_dim=16),
    "sparsesync-paper": dict(duration_sec=0.64, frame_size=32, offset_max_sec=0.4),
    "avst-enc-tiny": dict(duration_sec=1.6, frame_size=32, offset_max_sec=0.8, offset_step_sec=0.4),
    "avst-enc-mp-tiny": dict(duration_sec=1.6, frame_size=32, offset_max_sec=0.8, offset_step_sec=0.4),
    "avst-enc-mp-tiny+knobs": dict(duration_sec=1.6, frame_size=32, offset_max_sec=0.8, offset_step_sec=0.4,
                                   visual_diff=True, audio_tstrides=[1, 2, 1, 1], corr_dim=16),
    "avst-dec-tiny": dict(duration_sec=1.6, frame_size=32, offset_max_sec=0.8, offset_step_sec=0.4),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_one_step_changes_every_parameter(name, make_inputs):
    model = create(name.split("+")[0], **CASES[name]).train()
    c = model.config
    video, audio = make_inputs(c.duration_sec, c.frame_size, batch=2)
    before = {k: p.detach().clone() for k, p in model.named_parameters()}
    loss = F.cross_entropy(model(video, audio).logits, torch.tensor([0, c.grid.num_classes - 1]))
    loss.backward()
    torch.optim.SGD(model.parameters(), lr=0.1).step()
    unchanged = [k for k, p in model.named_parameters() if torch.equal(p, before[k])]
    assert not unchanged, f"parameters not trained: {unchanged}"
