"""The fused LSTM scan (``ops.lstm_scan``) against PyTorch in float64: the forward states and the
gradients of all four inputs, on the LSTM benchmark's shapes and on small ones, with and without
masks, with the upstream gradient on the last ``h`` only (an LSTM without return_sequences) or on
every ``h`` and ``c``. The reference is ``torch.nn.LSTMCell`` (Keras and PyTorch share the gate
order i, f, g, o) fed the precomputed input projection through an identity input kernel, stepped
with Keras's masking rule: a masked step carries both states over."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule.ops import lstm_scan


def _torch_lstm(zx, h0, c0, rk, mask):
    """``[h_t, c_t]`` for every step in float64, by ``nn.LSTMCell`` with ``W_ih = I``."""
    _, t, g = zx.shape
    u = g // 4
    cell = torch.nn.LSTMCell(g, u).double()
    for p in cell.parameters():
        p.requires_grad_(False)
    # z = zx_t + h rk enters through W_ih = I (W_hh = 0, no biases) so that torch's autograd
    # carries the gradients of zx and rk; the cell applies the gates and the state update.
    cell.weight_ih.copy_(torch.eye(g, dtype=torch.float64))
    cell.weight_hh.zero_()
    cell.bias_ih.zero_()
    cell.bias_hh.zero_()
    h, c, out = h0, c0, []
    for s in range(t):
        hn, cn = cell(zx[:, s] + h @ rk, (h, c))
        if mask is not None:
            m = torch.as_tensor(mask[:, s, None])
            hn, cn = torch.where(m, hn, h), torch.where(m, cn, c)
        h, c = hn, cn
        out.append(torch.cat([h, c], dim=-1))
    return torch.stack(out, dim=1)


def _case(b, t, u, masked, upstream, seed=0):
    rng = np.random.default_rng(seed)
    zx = rng.normal(size=(b, t, 4 * u))
    h0, c0 = rng.normal(size=(b, u)), rng.normal(size=(b, u))
    rk = rng.normal(size=(u, 4 * u)) / np.sqrt(u)
    mask = None
    if masked:
        mask = rng.random((b, t)) > 0.3
        mask[0] = False  # a sequence with every step masked
        mask[-1, :2] = False  # leading padding
    g = rng.normal(size=(b, t, 2 * u))
    if upstream == "last_h":
        g[:, :-1] = 0
        g[..., u:] = 0
    return [zx, h0, c0, rk], mask, g


def _ours(args, mask, g, dtype):
    ts = [cr.tensor(a.astype(dtype), requires_grad=True) for a in args]
    out = lstm_scan(*ts, mask)
    grads = cr.grad((out * g.astype(dtype)).sum(), ts)
    return out.numpy(), grads


def _reference(args, mask, g):
    ts = [torch.tensor(a, requires_grad=True) for a in args]
    out = _torch_lstm(*ts, mask)
    (out * torch.tensor(g)).sum().backward()
    return out.detach().numpy(), [t.grad.numpy() for t in ts]


SHAPES = [(64, 20, 64), (5, 7, 3), (3, 1, 2)]


@pytest.mark.parametrize("b,t,u", SHAPES)
@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("upstream", ["last_h", "all"])
def test_lstm_scan_matches_torch(b, t, u, masked, upstream):
    args, mask, g = _case(b, t, u, masked, upstream)
    ref_out, ref_grads = _reference(args, mask, g)
    for dtype, rtol in (("float32", 2e-5), ("float64", 1e-10)):
        out, grads = _ours(args, mask, g, dtype)
        assert out.dtype == dtype and out.shape == (b, t, 2 * u)
        np.testing.assert_allclose(out, ref_out, rtol=rtol, atol=rtol * 0.1)
        for name, ours, ref in zip(("zx", "h0", "c0", "rkernel"), grads, ref_grads):
            assert ours.dtype == dtype, name
            # atol relative to the gradient's scale: float32 sums over up to b * t terms
            np.testing.assert_allclose(ours, ref, rtol=rtol, atol=rtol * np.abs(ref).max(),
                                       err_msg=name)  # fmt: skip


def test_reference_reacts_to_the_mask():
    # the masked and unmasked references differ, so the masked cases test the masking
    args, mask, g = _case(5, 7, 3, True, "all")
    assert not np.allclose(_reference(args, mask, g)[0], _reference(args, None, g)[0])


def test_lstm_scan_repeated_backward_and_two_live_graphs():
    # the forward keeps its buffers per output: two graphs alive at once, each differentiated
    # twice, give each its own gradients
    a1, _, g1 = _case(4, 6, 3, False, "all", seed=1)
    a2, _, g2 = _case(4, 6, 3, False, "all", seed=2)
    t1 = [cr.tensor(a.astype("float32"), requires_grad=True) for a in a1]
    t2 = [cr.tensor(a.astype("float32"), requires_grad=True) for a in a2]
    o1, o2 = lstm_scan(*t1), lstm_scan(*t2)
    for _ in range(2):
        for ts, out, g, args in ((t1, o1, g1, a1), (t2, o2, g2, a2)):
            grads = cr.grad((out * g.astype("float32")).sum(), ts)
            ref = _reference(args, None, g)[1]
            for ours, r in zip(grads, ref):
                np.testing.assert_allclose(ours, r, rtol=2e-5, atol=2e-5 * np.abs(r).max())
