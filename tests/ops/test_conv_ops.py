"""Convolution and pooling ops against PyTorch 2.13 (CPU) and float64 central differences.

Layouts: chainrule is channels-last with Keras kernels ``(*k, in/groups, out)``; PyTorch is
channels-first with kernels ``(out, in/groups, *k)``; each test transposes explicitly.
"""

import importlib

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import chainrule as cr
from chainrule import ops

RNG = np.random.default_rng(0)


def _rand(*shape, dtype="float32"):
    return RNG.normal(size=shape).astype(dtype)


def _to_torch_x(x):  # (N, *S, C) -> (N, C, *S)
    return torch.tensor(np.moveaxis(x, -1, 1).copy(), requires_grad=True)


def _to_torch_w(w):  # (*K, Cin, Cout) -> (Cout, Cin, *K)
    r = w.ndim - 2
    return torch.tensor(np.transpose(w, (r + 1, r, *range(r))).copy(), requires_grad=True)


def _from_torch_w(wt, r):
    return np.transpose(wt, (*range(2, r + 2), 1, 0))


def _ours(fn, arrays, upstream_seed=1):
    """Output and gradients of sum(fn(*arrays) * G) for a fixed random upstream G."""
    ts = [cr.tensor(a, requires_grad=True) for a in arrays]
    y = fn(*ts)
    g = np.random.default_rng(upstream_seed).normal(size=y.shape).astype(y.dtype)
    grads = cr.grad((y * g).sum(), ts)
    return y.numpy(), grads, g


def _close(a, b, tol=1e-4):
    np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


CONV2D_CASES = [
    # strides, padding, dilation, groups, data_format
    (1, "valid", 1, 1, "channels_last"),
    (2, "valid", 1, 1, "channels_last"),
    ((2, 1), "same", 1, 1, "channels_last"),
    (1, "same", (2, 1), 1, "channels_last"),
    (1, "valid", 1, 2, "channels_last"),
    (3, "same", 1, 4, "channels_last"),
    (2, "same", 1, 1, "channels_first"),
    (1, "valid", 2, 2, "channels_first"),
]


def _torch_same_pad(x_t, pads):
    # torch F.pad takes the last axis first
    flat = [p for lo_hi in reversed(pads) for p in lo_hi]
    return F.pad(x_t, flat)


@pytest.mark.parametrize("strides,padding,dilation,groups,data_format", CONV2D_CASES)
def test_conv2d_matches_torch(strides, padding, dilation, groups, data_format):
    x, w, b = _rand(2, 9, 8, 4), _rand(3, 2, 4 // groups, 8), _rand(8)
    xin = x if data_format == "channels_last" else np.moveaxis(x, -1, 1).copy()
    out, (gx, gw, gb), g = _ours(
        lambda a, k, c: ops.conv(a, k, c, strides, padding, data_format, dilation), [xin, w, b])
    s = (strides,) * 2 if isinstance(strides, int) else strides
    d = (dilation,) * 2 if isinstance(dilation, int) else dilation
    pads = ops.conv_padding((9, 8), (3, 2), s, d, padding)
    xt, wt, bt = _to_torch_x(x), _to_torch_w(w), torch.tensor(b, requires_grad=True)
    yt = F.conv2d(_torch_same_pad(xt, pads), wt, bt, stride=s, dilation=d, groups=groups)
    gt = torch.tensor(g if data_format == "channels_first" else np.moveaxis(g, -1, 1).copy())
    (yt * gt).sum().backward()
    ref = yt.detach().numpy()
    _close(out, ref if data_format == "channels_first" else np.moveaxis(ref, 1, -1))
    gx_ref = xt.grad.numpy()
    _close(gx, gx_ref if data_format == "channels_first" else np.moveaxis(gx_ref, 1, -1))
    _close(gw, _from_torch_w(wt.grad.numpy(), 2))
    _close(gb, bt.grad.numpy())


@pytest.mark.parametrize("strides,padding,dilation", [
    (1, "valid", 1), (2, "same", 1), (1, "causal", 2), (1, "causal", 1), (3, "valid", 1)])
def test_conv1d_matches_torch(strides, padding, dilation):
    x, w = _rand(3, 11, 2), _rand(3, 2, 5)
    out, (gx, gw), g = _ours(
        lambda a, k: ops.conv(a, k, None, strides, padding, "channels_last", dilation), [x, w])
    pads = ops.conv_padding((11,), (3,), (strides,), (dilation,), padding)
    if padding == "causal":
        assert pads == ((2 * dilation, 0),)
    xt, wt = _to_torch_x(x), _to_torch_w(w)
    yt = F.conv1d(F.pad(xt, pads[0]), wt, stride=strides, dilation=dilation)
    (yt * torch.tensor(np.moveaxis(g, -1, 1).copy())).sum().backward()
    _close(out, np.moveaxis(yt.detach().numpy(), 1, -1))
    _close(gx, np.moveaxis(xt.grad.numpy(), 1, -1))
    _close(gw, _from_torch_w(wt.grad.numpy(), 1))


def test_conv3d_matches_torch():
    x, w = _rand(2, 5, 4, 6, 3), _rand(2, 3, 2, 3, 4)
    out, (gx, gw), g = _ours(lambda a, k: ops.conv(a, k, None, (1, 1, 2), "valid"), [x, w])
    xt, wt = _to_torch_x(x), _to_torch_w(w)
    yt = F.conv3d(xt, wt, stride=(1, 1, 2))
    (yt * torch.tensor(np.moveaxis(g, -1, 1).copy())).sum().backward()
    _close(out, np.moveaxis(yt.detach().numpy(), 1, -1))
    _close(gx, np.moveaxis(xt.grad.numpy(), 1, -1))
    _close(gw, _from_torch_w(wt.grad.numpy(), 3))


@pytest.mark.parametrize("strides,output_padding,dilation", [
    (1, None, 1), (2, None, 1), (3, None, 1), (2, 1, 1), (1, None, 2)])
def test_conv_transpose2d_valid_matches_torch(strides, output_padding, dilation):
    # "valid" with k >= strides is PyTorch's padding=0 output, plus output_padding on the right
    x, w, b = _rand(2, 4, 5, 3), _rand(3, 3, 6, 3), _rand(6)
    out, (gx, gw, gb), g = _ours(lambda a, k, c: ops.conv_transpose(
        a, k, c, strides, "valid", output_padding, "channels_last", dilation), [x, w, b])
    xt, bt = _to_torch_x(x), torch.tensor(b, requires_grad=True)
    # torch conv_transpose kernels are (in, out, *k); ours (*k, out, in)
    wt = torch.tensor(np.transpose(w, (3, 2, 0, 1)).copy(), requires_grad=True)
    yt = F.conv_transpose2d(xt, wt, bt, stride=strides, output_padding=output_padding or 0,
                            dilation=dilation)
    (yt * torch.tensor(np.moveaxis(g, -1, 1).copy())).sum().backward()
    _close(out, np.moveaxis(yt.detach().numpy(), 1, -1))
    _close(gx, np.moveaxis(xt.grad.numpy(), 1, -1))
    _close(gw, np.transpose(wt.grad.numpy(), (2, 3, 1, 0)))
    _close(gb, bt.grad.numpy())


@pytest.mark.parametrize("strides", [1, 2, 3])
def test_conv_transpose_same_is_adjoint_of_conv_same(strides):
    # <conv_transpose(y, K), x> == <y, conv(x, K')> with K' the same array read as a conv
    # kernel (in = filters of the transpose): the defining property of the transpose.
    x = _rand(2, 6 * strides, 5 * strides, 4, dtype="float64")
    k = _rand(3, 3, 4, 2, dtype="float64")  # conv: 4 -> 2 channels; transpose: 2 -> 4
    y = _rand(2, 6, 5, 2, dtype="float64")
    conv_x = ops.conv(x, k, None, strides, "same").numpy()
    assert conv_x.shape == y.shape
    convt_y = ops.conv_transpose(y, k, None, strides, "same").numpy()
    assert convt_y.shape == x.shape
    np.testing.assert_allclose(np.sum(convt_y * x), np.sum(y * conv_x), rtol=1e-10)


POOL_CASES = [(2, None, "valid"), (3, 1, "valid"), (2, 1, "valid"), (3, 2, "valid"),
              (3, 1, "same"), (3, 2, "same"), ((2, 3), (1, 2), "valid")]


@pytest.mark.parametrize("pool_size,strides,padding", POOL_CASES)
def test_max_pool2d_matches_torch(pool_size, strides, padding):
    x = _rand(2, 7, 6, 3)
    x[0, 0, 0, 0] = x[0, 0, 1, 0] = x[0, 1, 0, 0] = 5.0  # a tie: torch routes to the first
    out, (gx,), g = _ours(lambda a: ops.max_pool(a, pool_size, strides, padding), [x])
    k = (pool_size,) * 2 if isinstance(pool_size, int) else pool_size
    s = k if strides is None else ((strides,) * 2 if isinstance(strides, int) else strides)
    pads = ops.conv_padding((7, 6), k, s, (1, 1), padding)
    xt = _to_torch_x(x)
    flat = [p for lo_hi in reversed(pads) for p in lo_hi]
    yt = F.max_pool2d(F.pad(xt, flat, value=-np.inf), k, s)
    (yt * torch.tensor(np.moveaxis(g, -1, 1).copy())).sum().backward()
    _close(out, np.moveaxis(yt.detach().numpy(), 1, -1))
    _close(gx, np.moveaxis(xt.grad.numpy(), 1, -1))


@pytest.mark.parametrize("pool_size,strides,padding", POOL_CASES + [(2, 1, "same"),
                                                                    (4, 3, "same")])
def test_average_pool2d_matches_torch(pool_size, strides, padding):
    x = _rand(2, 7, 6, 3)
    out, (gx,), g = _ours(lambda a: ops.average_pool(a, pool_size, strides, padding), [x])
    k = (pool_size,) * 2 if isinstance(pool_size, int) else pool_size
    s = k if strides is None else ((strides,) * 2 if isinstance(strides, int) else strides)
    pads = ops.conv_padding((7, 6), k, s, (1, 1), padding)
    xt = _to_torch_x(x)
    # padding left out of the count: (window sum of zero-padded x) / (window sum of the mask)
    xp = _torch_same_pad(xt, pads)
    mask = _torch_same_pad(torch.ones_like(xt), pads)
    yt = F.avg_pool2d(xp, k, s) / F.avg_pool2d(mask, k, s)
    (yt * torch.tensor(np.moveaxis(g, -1, 1).copy())).sum().backward()
    _close(out, np.moveaxis(yt.detach().numpy(), 1, -1))
    _close(gx, np.moveaxis(xt.grad.numpy(), 1, -1))


def test_pool1d_channels_first_matches_torch():
    x = _rand(2, 3, 9)  # channels_first (N, C, L)
    out, (gx,), g = _ours(lambda a: ops.max_pool(a, 3, 2, "valid", "channels_first"), [x])
    xt = torch.tensor(x, requires_grad=True)
    yt = F.max_pool1d(xt, 3, 2)
    (yt * torch.tensor(g)).sum().backward()
    _close(out, yt.detach().numpy())
    _close(gx, xt.grad.numpy())


# -- float64 central differences ----------------------------------------------------------------
def _numeric_grads(fn, arrays, g, eps=1e-6):
    out = []
    for i, a in enumerate(arrays):
        num = np.zeros_like(a)
        for idx in np.ndindex(a.shape):
            plus = [b.copy() for b in arrays]
            minus = [b.copy() for b in arrays]
            plus[i][idx] += eps
            minus[i][idx] -= eps
            num[idx] = (np.sum(fn(*plus).numpy() * g) - np.sum(fn(*minus).numpy() * g)) / (2 * eps)
        out.append(num)
    return out


FD_CASES = [
    ("conv same s2 groups2", lambda x, k: ops.conv(x, k, None, 2, "same"), (1, 5, 4, 4),
     (2, 3, 2, 2)),
    ("conv dilated", lambda x, k: ops.conv(x, k, None, 1, "valid", "channels_last", 2),
     (2, 6, 5, 1), (2, 2, 1, 2)),
    ("depthwise", lambda x, k: ops.depthwise_conv(x, k, None, 1, "same"), (1, 4, 4, 2),
     (3, 3, 2, 2)),
    ("conv_transpose same s2", lambda x, k: ops.conv_transpose(x, k, None, 2, "same"),
     (1, 3, 3, 2), (3, 3, 2, 2)),
    ("conv_transpose valid op1", lambda x, k: ops.conv_transpose(x, k, None, 2, "valid", 1),
     (1, 3, 2, 1), (2, 3, 2, 1)),
]


@pytest.mark.parametrize("name,fn,xshape,kshape", FD_CASES, ids=[c[0] for c in FD_CASES])
def test_conv_grads_match_finite_differences(name, fn, xshape, kshape):
    x, k = _rand(*xshape, dtype="float64"), _rand(*kshape, dtype="float64")
    _, grads, g = _ours(fn, [x, k])
    for got, want in zip(grads, _numeric_grads(fn, [x, k], g), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("mode,padding", [("max", "same"), ("average", "same"),
                                          ("average", "valid")])
def test_pool_grads_match_finite_differences(mode, padding):
    x = RNG.permutation(60).reshape(1, 5, 4, 3).astype("float64") / 7  # distinct: no kinks
    fn = (ops.max_pool if mode == "max" else ops.average_pool)
    f = lambda a: fn(a, 2, 1, padding)  # noqa: E731
    _, (gx,), g = _ours(f, [x])
    np.testing.assert_allclose(gx, _numeric_grads(f, [x], g)[0], rtol=1e-6, atol=1e-7)


# -- bad input ------------------------------------------------------------------------------------
def test_kernel_larger_than_valid_input_names_sizes():
    with pytest.raises(ValueError, match=r"kernel \(size 5.*larger than the input \(size 3"):
        ops.conv(np.zeros((1, 3, 8, 1), "float32"), np.zeros((5, 1, 1, 2), "float32"))


def test_channels_not_divisible_by_kernel_channels():
    with pytest.raises(ValueError, match=r"5 channels must be a multiple of the kernel's 2"):
        ops.conv(np.zeros((1, 4, 4, 5), "float32"), np.zeros((1, 1, 2, 2), "float32"))


def test_conv_rank_mismatch():
    with pytest.raises(ValueError, match=r"rank len\(kernel_size\) \+ 2 = 4.*\(1, 4, 4\)"):
        ops.conv(np.zeros((1, 4, 4), "float32"), np.zeros((1, 1, 4, 2), "float32"))


def test_pool_window_larger_than_input():
    with pytest.raises(ValueError, match=r"pool_size 3 is larger than the input size 2"):
        ops.max_pool(np.zeros((1, 2, 5, 1), "float32"), 3)


def test_bad_strides_and_padding():
    x, k = np.zeros((1, 4, 4, 1), "float32"), np.zeros((2, 2, 1, 1), "float32")
    with pytest.raises(ValueError, match=r"strides must be a positive integer.*\(0, 0\)"):
        ops.conv(x, k, strides=0)
    with pytest.raises(ValueError, match=r"padding must be 'valid', 'same' or 'causal'"):
        ops.conv(x, k, padding="full")


# -- fast paths (ops/_conv_fast.py): 2x2 max pooling, strided im2col, kept windows, bias -----------
def _torch_max_pool_2x2(x, g):
    xt = _to_torch_x(x)
    yt = F.max_pool2d(xt, 2, 2)
    (yt * torch.tensor(np.moveaxis(g, -1, 1).copy())).sum().backward()
    return np.moveaxis(yt.detach().numpy(), 1, -1), np.moveaxis(xt.grad.numpy(), 1, -1)


@pytest.mark.parametrize("shape", [(1, 2, 2, 1), (2, 7, 5, 3), (1, 26, 26, 16), (3, 11, 11, 32),
                                   (2, 6, 9, 4)])
def test_max_pool_2x2_matches_torch(shape):
    # relu'd values: a quarter of the windows are all zeros (four-way ties)
    x = np.maximum(_rand(*shape), 0)
    for padding in ("valid", "same"):  # "same" on even sizes pads nothing: the fast path too
        if padding == "same" and (shape[1] % 2 or shape[2] % 2):
            continue
        out, (gx,), g = _ours(lambda a, p=padding: ops.max_pool(a, 2, None, p), [x])
        ref, gref = _torch_max_pool_2x2(x, g)
        np.testing.assert_array_equal(out, ref)
        np.testing.assert_array_equal(gx, gref)


def test_max_pool_2x2_every_tie_pattern_matches_torch():
    # all 16 patterns of a 2x2 window over {0, 1}, side by side; ties go to the first maximum
    # in row-major order (torch's rule and the general path's)
    bits = np.array(list(np.ndindex(2, 2, 2, 2)), dtype="float32")  # (16, 4)
    x = bits.reshape(16, 2, 2).transpose(1, 0, 2).reshape(1, 2, 32, 1)
    x = np.concatenate([x, -x, x + 3], axis=-1)  # three channels, ties of 0s, 1s, -1s and 3s
    out, (gx,), g = _ours(lambda a: ops.max_pool(a, 2), [x])
    ref, gref = _torch_max_pool_2x2(x, g)
    np.testing.assert_array_equal(out, ref)
    np.testing.assert_array_equal(gx, gref)


@pytest.mark.parametrize("batch_last", [False, True])
def test_max_pool_2x2_routes_found_in_the_forward_match_the_comparisons(batch_last, monkeypatch):
    # the forward keeps which corner holds each window's first maximum, only when a node will
    # use it; the gradient from those routes equals the one found by comparing x with the
    # maximum (and torch's), over every tie pattern of {0, 1} and an odd remainder
    bits = np.array(list(np.ndindex(2, 2, 2, 2)), dtype="float32")
    x = bits.reshape(16, 2, 2).transpose(1, 0, 2).reshape(1, 2, 32, 1)
    x = np.concatenate([x, -x, x + 3], axis=-1)
    x = np.concatenate([x, _rand(1, 1, 32, 3)], axis=1)  # a third row, dropped by the pool
    x = np.concatenate([x, x[:, :, ::-1]], axis=0)
    xin = np.swapaxes(np.ascontiguousarray(np.swapaxes(x, 0, -1)), 0, -1) if batch_last else x
    xt = cr.tensor(xin, requires_grad=True)
    y = ops.max_pool(xt, 2)
    (routes,) = y._node.kwargs["saved"]
    g = _rand(*y.shape)
    (gx,) = cr.grad((y * g).sum(), [xt])
    pool = importlib.import_module("chainrule.ops.pooling")
    compared = pool._pool_dx(g, y.data, xin, (2, 2), (2, 2), ((0, 0), (0, 0)), "max")
    _, gref = _torch_max_pool_2x2(x, g)
    np.testing.assert_array_equal(gx, gref)
    np.testing.assert_array_equal(compared, gref)
    assert len(routes) == 2 and routes[0].dtype == bool
    with cr.no_grad():
        assert ops.max_pool(xt, 2)._node is None
    spy, inner = [], pool.pool_general
    monkeypatch.setattr(pool, "pool_general",
                        lambda *a, **k: spy.append(k["saved"]) or inner(*a, **k))  # fmt: skip
    ops.max_pool(x, 2)  # nothing requires grad: no routes are looked for
    with cr.no_grad():
        ops.max_pool(xt, 2)
    assert spy == [None, None]


def test_max_pool_2x2_infinite_upstream_gradient_stays_exact():
    # an infinite g must not turn the non-maximum positions into NaN (inf * 0)
    x = _rand(1, 4, 6, 2)
    xt = cr.tensor(x, requires_grad=True)
    g = np.ones((1, 2, 3, 2), "float32")
    g[0, 1, 2, 1] = np.inf
    (gx,) = cr.grad((ops.max_pool(xt, 2) * g).sum(), [xt])
    _, gref = _torch_max_pool_2x2(x, g)
    np.testing.assert_array_equal(gx, gref)


def test_max_pool_2x2_grads_match_finite_differences():
    x = RNG.permutation(70).reshape(1, 5, 7, 2).astype("float64") / 7  # odd: a remainder
    f = lambda a: ops.max_pool(a, 2)  # noqa: E731
    _, (gx,), g = _ours(f, [x])
    np.testing.assert_allclose(gx, _numeric_grads(f, [x], g)[0], rtol=1e-6, atol=1e-7)


def _torch_conv2d(x, w, b, g, groups=1):
    xt, wt = _to_torch_x(x), _to_torch_w(w)
    bt = torch.tensor(b, requires_grad=True)
    yt = F.conv2d(xt, wt, bt, groups=groups)
    (yt * torch.tensor(np.moveaxis(g, -1, 1).copy())).sum().backward()
    return (np.moveaxis(yt.detach().numpy(), 1, -1), np.moveaxis(xt.grad.numpy(), 1, -1),
            _from_torch_w(wt.grad.numpy(), 2), bt.grad.numpy())  # fmt: skip


@pytest.mark.parametrize("xshape,kshape,groups", [
    ((1, 28, 28, 1), (3, 3, 1, 16), 1),  # the benchmark's first layer, batch of 1 (C=1 path)
    ((3, 13, 13, 16), (3, 3, 16, 32), 1),  # its second layer (strided-copy im2col)
    ((2, 7, 6, 4), (2, 3, 1, 4), 4),  # one filter per group: a non-contiguous GEMM result
])  # fmt: skip
def test_conv2d_with_bias_matches_torch_on_benchmark_shapes(xshape, kshape, groups):
    x, w, b = _rand(*xshape), _rand(*kshape), _rand(kshape[-1])
    out, grads, g = _ours(lambda a, k, c: ops.conv(a, k, c), [x, w, b])
    for got, want in zip((out, *grads), _torch_conv2d(x, w, b, g, groups), strict=True):
        _close(got, want)


def test_conv_windows_built_once_and_kept_only_by_the_graph(monkeypatch):
    import gc  # noqa: PLC0415
    import weakref  # noqa: PLC0415

    conv_module = importlib.import_module("chainrule.ops.conv")  # the module, not ops.conv

    calls = []
    im2col = conv_module._fast.im2col_batch_last
    monkeypatch.setattr(conv_module._fast, "im2col_batch_last",
                        lambda *a: calls.append(1) or im2col(*a))  # fmt: skip
    x, w = _rand(2, 6, 5, 3), _rand(3, 3, 3, 4)
    wt = cr.tensor(w, requires_grad=True)
    y = ops.conv(x, wt, activation="relu")
    # the forward's windows and relu mask, held by the graph node
    saved, positive = y._node.kwargs["saved"]
    np.testing.assert_array_equal(positive, y.data > 0)
    kept = weakref.ref(saved)
    del saved, positive
    (gw,) = cr.grad(y.sum(), [wt])
    (gw2,) = cr.grad(y.sum(), [wt])  # a second backward over the same graph: same windows
    assert len(calls) == 1  # one im2col for the forward and both backward passes
    np.testing.assert_array_equal(gw, gw2)
    w2 = cr.tensor(w, requires_grad=True)
    (ref,) = cr.grad(ops.relu(ops.conv(x, w2)).sum(), [w2])  # unfused, windows rebuilt
    np.testing.assert_allclose(gw, ref, rtol=1e-6, atol=1e-6)
    del y
    gc.collect()
    assert kept() is None  # freed with the graph
    with cr.no_grad():
        assert ops.conv(x, wt)._node is None
    spy, inner = [], conv_module.conv_general
    monkeypatch.setattr(conv_module, "conv_general",
                        lambda *a, **k: spy.append(k["saved"]) or inner(*a, **k))  # fmt: skip
    with cr.no_grad():
        ops.conv(x, wt, activation="relu")
    ops.conv(x, w, activation="relu")  # nothing requires grad
    assert spy == [None, None]  # no node to keep them: neither windows nor a mask are kept


# -- the fused conv + bias + relu primitive (ops.conv(..., activation="relu")) -----------------
def _int_valued(shape, dtype):
    # small integers: every product and sum is exact, so many pre-activations are exactly 0
    return RNG.integers(-1, 2, size=shape).astype(dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("strides,padding", [(1, "valid"), (1, "same"), (2, "valid"),
                                             ((2, 1), "same")])
@pytest.mark.parametrize("x_grad", [True, False])
def test_conv_relu_matches_torch(dtype, strides, padding, x_grad):
    x, w, b = _int_valued((2, 9, 8, 3), dtype), _int_valued((3, 3, 3, 5), dtype), \
        _int_valued((5,), dtype)  # fmt: skip
    ts = [cr.tensor(a, requires_grad=True) for a in (x, w, b)]
    if not x_grad:
        ts[0] = cr.tensor(x)
    y = ops.conv(ts[0], ts[1], ts[2], strides, padding, activation="relu")
    g = np.random.default_rng(3).normal(size=y.shape).astype(dtype)
    wanted = ts if x_grad else ts[1:]
    grads = cr.grad((y * g).sum(), wanted)

    s = (strides,) * 2 if isinstance(strides, int) else strides
    pads = ops.conv_padding((9, 8), (3, 3), s, (1, 1), padding)
    xt, wt = _to_torch_x(x), _to_torch_w(w)
    bt = torch.tensor(b, requires_grad=True)
    pre = F.conv2d(_torch_same_pad(xt, pads), wt, bt, stride=s)
    assert (pre == 0).sum() >= 3  # the kink is exercised
    yt = torch.relu(pre)
    (yt * torch.tensor(np.moveaxis(g, -1, 1).copy())).sum().backward()
    assert y.dtype == dtype
    want = [np.moveaxis(xt.grad.numpy(), 1, -1), _from_torch_w(wt.grad.numpy(), 2),
            bt.grad.numpy()][0 if x_grad else 1:]  # fmt: skip
    tol = 1e-5 if dtype == "float32" else 1e-12
    np.testing.assert_allclose(y.numpy(), np.moveaxis(yt.detach().numpy(), 1, -1), rtol=tol,
                               atol=tol)  # fmt: skip
    for got, ref in zip(grads, want, strict=True):
        np.testing.assert_allclose(got, ref, rtol=tol, atol=tol)


def test_conv_relu_equals_relu_of_conv_grouped_channels_first_no_bias():
    # the unfused composition is the reference for the paths the torch test leaves out
    x, w = _rand(2, 4, 7, 6, dtype="float64"), _rand(2, 3, 2, 6, dtype="float64")
    fused = lambda a, k: ops.conv(a, k, None, 1, "same", "channels_first",  # noqa: E731
                                  activation="relu")
    plain = lambda a, k: ops.relu(ops.conv(a, k, None, 1, "same", "channels_first"))  # noqa: E731
    y1, g1, _ = _ours(fused, [x, w])
    y2, g2, _ = _ours(plain, [x, w])
    np.testing.assert_array_equal(y1, y2)
    for a, b in zip(g1, g2, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    xs = x[:1, :, :4, :3].copy()
    _, small, gs = _ours(fused, [xs, w])
    for a, b in zip(small, _numeric_grads(fused, [xs, w], gs), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_conv_input_gradient_is_skipped_when_the_input_needs_none(monkeypatch):
    from chainrule.ops import _conv_fast  # noqa: PLC0415

    def refuse(*args, **kwargs):
        raise AssertionError("col2im ran for an input that needs no gradient")

    monkeypatch.setattr(_conv_fast, "col2im_batch_last", refuse)
    w, b = cr.tensor(_rand(3, 3, 2, 4), requires_grad=True), cr.tensor(_rand(4), requires_grad=True)
    y = ops.conv(_rand(2, 6, 6, 2), w, b, activation="relu")
    gw, gb = cr.grad(y.sum(), [w, b])
    assert gw.shape == (3, 3, 2, 4) and gb.shape == (4,)
    xt = cr.tensor(_rand(2, 6, 6, 2), requires_grad=True)
    with pytest.raises(AssertionError, match="col2im ran"):  # the input gradient does use it
        cr.grad(ops.conv(xt, w, b, activation="relu").sum(), [xt])


def test_conv_bad_activation_names_it():
    x, k = np.zeros((1, 4, 4, 1), "float32"), np.zeros((2, 2, 1, 1), "float32")
    with pytest.raises(ValueError, match=r"activation must be None or 'relu', received "
                                         r"activation='tanh'"):
        ops.conv(x, k, activation="tanh")


# -- the fused conv + relu + 2x2 max pool (ops.pooling.conv_relu_max_pool) -----------------------
_pooling = importlib.import_module("chainrule.ops.pooling")


@pytest.mark.parametrize("xshape,kshape,kwargs", [
    ((3, 12, 12, 2), (3, 3, 2, 4), {}),
    ((2, 9, 11, 3), (2, 3, 3, 5), {"padding": "same"}),  # odd sizes: a dropped remainder
    ((2, 10, 10, 4), (3, 3, 2, 6), {"strides": 2}),  # two groups
    ((2, 11, 11, 2), (3, 3, 2, 3), {"dilation_rate": 2}),
    ((1, 28, 28, 1), (3, 3, 1, 16), {}),  # the benchmark CNN's layers
    ((2, 13, 13, 16), (3, 3, 16, 32), {}),
])  # fmt: skip
@pytest.mark.parametrize("special", [None, "nan", "inf"])
def test_conv_relu_max_pool_equals_the_two_ops_bit_for_bit(xshape, kshape, kwargs, special):
    x, k, b = _rand(*xshape), _rand(*kshape), _rand(kshape[-1])
    x[:, 2:5, 2:5] = 0.0  # flat patches: ties between equal positive outputs
    if special == "nan":
        x[0, 1, 1, 0] = np.nan

    def two_ops(*a):
        return ops.max_pool(ops.conv(*a, activation="relu", **kwargs), 2)

    fused = lambda *a: _pooling.conv_relu_max_pool(*a, **kwargs)  # noqa: E731
    results = []
    for fn in (two_ops, fused):
        ts = [cr.tensor(a, requires_grad=True) for a in (x, k, b)]
        y = fn(*ts)
        g = np.random.default_rng(1).normal(size=y.shape).astype("float32")
        if special == "inf":
            g[0, 0, 0, 0] = np.inf
        with np.errstate(invalid="ignore"):  # inf * 0 in the kernel-gradient product
            results.append((y.numpy(), *cr.grad((y * g).sum(), ts)))
    for a, c in zip(*results, strict=True):
        np.testing.assert_array_equal(a, c)  # NaN where NaN
        np.testing.assert_array_equal(np.signbit(a), np.signbit(c))


def test_conv_relu_max_pool_grads_match_finite_differences():
    x, k, b = (_rand(2, 9, 8, 2, dtype="float64"), _rand(3, 3, 2, 3, dtype="float64"),
               _rand(3, dtype="float64"))  # fmt: skip
    fn = lambda *a: _pooling.conv_relu_max_pool(*a)  # noqa: E731
    _, grads, g = _ours(fn, [x, k, b])
    for got, want in zip(grads, _numeric_grads(fn, [x, k, b], g), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)


def test_conv_relu_max_pool_refuses_what_it_cannot_pool():
    with pytest.raises(ValueError, match=r"inputs must be \(batch, height, width, channels\)"):
        _pooling.conv_relu_max_pool(_rand(2, 8, 3), _rand(3, 3, 1))
    with pytest.raises(ValueError, match=r"output \(1, 4\) is smaller than the 2x2"):
        _pooling.conv_relu_max_pool(_rand(1, 3, 6, 1), _rand(3, 3, 1, 2))
    with pytest.raises(ValueError, match=r"the input's 3 channels must be a multiple"):
        _pooling.conv_relu_max_pool(_rand(1, 6, 6, 3), _rand(3, 3, 2, 2))
    with cr.no_grad():  # no node: nothing kept for a backward pass
        t = cr.tensor(_rand(1, 6, 6, 1), requires_grad=True)
        assert _pooling.conv_relu_max_pool(t, _rand(3, 3, 1, 2))._node is None
