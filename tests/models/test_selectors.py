"""Selectors must not care about the order of the tokens they read (cross-attention is a set
operation); the model must care, through positional embeddings and the sync tokens' positions."""

import torch

from avsync.models import create
from avsync.models.selectors import Selectors


def test_selectors_are_invariant_to_token_order():
    sel = Selectors(n=4, dim=32, heads=4, layers=2, mlp_ratio=2.0, dropout=0.0).eval()
    tokens = torch.randn(2, 50, 32)
    perm = torch.randperm(50)
    out, w = sel(tokens, need_weights=True)
    out_p, w_p = sel(tokens[:, perm], need_weights=True)
    assert torch.allclose(out, out_p, atol=1e-5)
    assert torch.allclose(w[..., perm], w_p, atol=1e-6)  # the weights follow their tokens


def test_selectors_depend_on_their_queries():
    sel = Selectors(n=4, dim=32, heads=4, layers=2, mlp_ratio=2.0, dropout=0.0).eval()
    tokens = torch.randn(1, 50, 32)
    out, _ = sel(tokens)
    assert not torch.allclose(out[:, 0], out[:, 1], atol=1e-3)  # each query selects something else


def test_positions_make_token_order_matter():
    model = create("sparsesync-tiny", duration_sec=2.0).eval()
    grid = model.feature_grid(50, 64, 64, 32000)["visual"]
    feats = torch.randn(1, *grid, model.config.d_model)
    pos = model.v_pos(grid)
    perm = torch.randperm(feats[0].numel() // model.config.d_model)
    with torch.no_grad():
        ref, _ = model.v_sel((feats + pos).flatten(1, 3))
        same, _ = model.v_sel((feats + pos).flatten(1, 3)[:, perm])  # tokens keep their positions
        moved, _ = model.v_sel(feats.flatten(1, 3)[:, perm] + pos.flatten(0, 2))  # content moved in time/space
    assert torch.allclose(ref, same, atol=1e-5)
    assert not torch.allclose(ref, moved, atol=1e-3)


def test_sync_transformer_knows_which_selector_is_which():
    model = create("sparsesync-tiny", duration_sec=2.0).eval()
    n, d = model.config.n_selectors, model.config.d_model
    x = torch.randn(1, 2 * n + 2, d)
    swapped = x.clone()
    swapped[:, [1, 2]] = x[:, [2, 1]]  # swap two visual selectors' outputs
    with torch.no_grad():
        a = model.head(model.norm(model.sync[0](x + model.sync_pos)[0][:, 0]))
        b = model.head(model.norm(model.sync[0](swapped + model.sync_pos)[0][:, 0]))
    assert not torch.allclose(a, b, atol=1e-4)
