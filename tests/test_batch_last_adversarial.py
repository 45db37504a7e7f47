"""Adversarial checks of the batch-last convolution layout (commit d9e1bdc).

A ``groups == 1`` convolution returns a ``np.swapaxes`` view of a ``(C, *S, N)`` array, its
bias rides on a ones row of the windows, and pooling keeps the layout. These tests feed it the
shapes, layouts, dtypes and graphs most likely to break that: batch or channels of one, 1x1
kernels, kernels as large as the input, strides larger than the kernel, dilation with "same",
"causal", 3-D, channels_first, exact ties under max pooling, one output used twice, gradients
asked for twice, odd memory layouts, float16/float64, and whole models under ``fit``.

References: PyTorch 2.13 on CPU in float64 (ops and gradients), and real Keras 3.15.1 with the
torch backend (layers, ``predict``, ``fit`` with the same weights, saving).
"""

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras as tk  # noqa: E402  (real Keras, the reference)
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import chainrule as cr  # noqa: E402
from chainrule import keras as ck  # noqa: E402
from chainrule import ops  # noqa: E402
from chainrule.ops import _conv_fast as fast  # noqa: E402

RNG = np.random.default_rng(2026)
TCONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
TMAX = {1: F.max_pool1d, 2: F.max_pool2d, 3: F.max_pool3d}
TAVG = {1: F.avg_pool1d, 2: F.avg_pool2d, 3: F.avg_pool3d}


# -- PyTorch references -------------------------------------------------------------------------
def _flat_pads(pads):
    """``((lo, hi), ...)`` per spatial axis -> F.pad's list (last axis first)."""
    out = []
    for lo, hi in reversed(pads):
        out += [lo, hi]
    return out


def _t_first(a):
    """channels_last NumPy -> channels_first torch leaf (float64 stays float64)."""
    return torch.tensor(np.moveaxis(a, -1, 1).copy(), requires_grad=True)


def _t_kernel(w):
    """Keras kernel ``(*K, C, F)`` -> torch weight ``(F, C, *K)``."""
    r = w.ndim - 2
    return torch.tensor(np.transpose(w, (r + 1, r, *range(r))).copy(), requires_grad=True)


def _from_t_kernel(g, rank):
    return np.transpose(g, (*range(2, rank + 2), 1, 0))


def _last(t):
    return np.moveaxis(t.detach().numpy(), 1, -1)


def _torch_conv(xt, wt, bt, strides, dilation, pads, rank, relu):
    y = TCONV[rank](F.pad(xt, _flat_pads(pads)), wt, bt, stride=strides, dilation=dilation)
    return F.relu(y) if relu else y


def _torch_pool(y, mode, pool, strides, pads, rank):
    if mode == "max":
        return TMAX[rank](F.pad(y, _flat_pads(pads), value=-np.inf), pool, strides)
    # Keras's "same" average: padded positions are left out of the count
    ap = TAVG[rank]
    return ap(F.pad(y, _flat_pads(pads)), pool, strides) / ap(
        F.pad(torch.ones_like(y), _flat_pads(pads)), pool, strides
    )


# -- convolution (+ pooling) against PyTorch, float64, with all three gradients ------------------
# (N, spatial, C, F, kernel, strides, dilation, padding, use_bias, relu, pool or None)
# pool: (mode, pool_size, strides, padding)
CASES = {
    "batch1": (1, (6, 5), 3, 4, 3, 1, 1, "valid", True, False, None),
    "one_channel": (3, (7, 7), 1, 4, 3, 1, 1, "same", True, False, ("max", 2, 2, "valid")),
    "one_filter": (3, (6, 6), 2, 1, 3, 1, 1, "valid", True, True, ("max", 2, 2, "valid")),
    "batch1_channel1_filter1": (1, (5, 5), 1, 1, 2, 1, 1, "valid", True, False, None),
    "kernel_1x1": (2, (4, 5), 3, 2, 1, 1, 1, "valid", True, False, ("average", 2, 1, "same")),
    "kernel_1x1_strided": (2, (7, 6), 3, 2, 1, 3, 1, "valid", False, False, None),
    "kernel_is_input": (2, (5, 4), 2, 3, (5, 4), 1, 1, "valid", True, False, None),
    "kernel_larger_same": (2, (3, 2), 2, 3, (5, 4), 1, 1, "same", True, False, None),
    "stride_gt_kernel": (2, (11, 10), 2, 3, 2, 3, 1, "valid", True, False, None),
    "stride_gt_input": (2, (3, 4), 2, 3, 2, 5, 1, "same", True, False, None),
    "dilation_same": (2, (7, 7), 2, 3, 3, 1, 2, "same", True, True, ("max", 2, 2, "same")),
    "dilation_same_strided": (2, (9, 8), 2, 3, 3, 2, (2, 3), "same", True, False, None),
    "odd_same_pool3": (2, (7, 5), 2, 3, 3, 1, 1, "same", True, False, ("max", 3, 2, "same")),
    "odd_valid_pool2": (2, (7, 7), 2, 3, 2, 1, 1, "valid", False, False, ("max", 2, 2, "valid")),
    "odd_same_pool2": (2, (7, 7), 2, 3, 2, 1, 1, "valid", True, False, ("max", 2, 2, "same")),
    "no_bias_relu": (2, (6, 6), 2, 3, 3, 1, 1, "valid", False, True, ("average", 2, 2, "valid")),
    "conv1d_causal": (2, (9,), 3, 4, 3, 1, 1, "causal", True, False, ("max", 2, 2, "same")),
    "conv1d_causal_dilated": (2, (9,), 2, 3, 3, 1, 2, "causal", True, True, None),
    "conv1d_kernel_is_input": (3, (5,), 2, 2, 5, 1, 1, "valid", True, False, None),
    "conv3d": (2, (4, 5, 4), 2, 3, 2, 1, 1, "valid", True, True, ("max", 2, 2, "valid")),
    "conv3d_same_strided": (
        1,
        (5, 4, 6),
        1,
        2,
        (3, 1, 2),
        (2, 1, 2),
        1,
        "same",
        True,
        False,
        ("average", 2, 1, "valid"),
    ),
}


def _conv_case(case, data_format="channels_last", rng=RNG):
    n, size, c, f, k, s, d, padding, use_bias, relu, pool = case
    rank = len(size)
    k, s, d = (tuple(v) if isinstance(v, tuple) else (v,) * rank for v in (k, s, d))
    x = rng.normal(size=(n, *size, c))
    w = rng.normal(size=(*k, c, f))
    b = rng.normal(size=f) if use_bias else None
    first = data_format == "channels_first"
    leaves = [cr.tensor(np.moveaxis(x, -1, 1).copy() if first else x, requires_grad=True),
              cr.tensor(w, requires_grad=True)]  # fmt: skip
    if use_bias:
        leaves.append(cr.tensor(b, requires_grad=True))
    y = ops.conv(leaves[0], leaves[1], leaves[2] if use_bias else None, s, padding, data_format,
                 d, "relu" if relu else None)  # fmt: skip
    tl = [_t_first(x), _t_kernel(w)] + ([torch.tensor(b, requires_grad=True)] if use_bias else [])
    pads = ops.conv_padding(size, k, s, d, padding)
    yt = _torch_conv(tl[0], tl[1], tl[2] if use_bias else None, s, d, pads, rank, relu)
    if pool is not None:
        mode, p, ps, pp = pool
        fn = ops.max_pool if mode == "max" else ops.average_pool
        y = fn(y, p, ps, pp, data_format)
        p, ps = (p,) * rank, (ps,) * rank
        yt = _torch_pool(yt, mode, p, ps, ops.conv_padding(yt.shape[2:], p, ps, (1,) * rank, pp),
                         rank)  # fmt: skip
    return leaves, y, tl, yt, rank


def _check_against_torch(leaves, y, tl, yt, rank, first, rtol=1e-10, atol=1e-12, rng=RNG):
    ref = yt.detach().numpy() if first else _last(yt)
    assert y.shape == ref.shape
    np.testing.assert_allclose(y.numpy(), ref, rtol=rtol, atol=atol)
    seed = rng.normal(size=ref.shape)
    grads = cr.grad((y * seed).sum(), leaves)
    (yt * torch.tensor(seed if first else np.moveaxis(seed, -1, 1).copy())).sum().backward()
    want = [
        tl[0].grad.numpy() if first else _last(tl[0].grad),
        _from_t_kernel(tl[1].grad.numpy(), rank),
    ] + [t.grad.numpy() for t in tl[2:]]
    for name, got, exp in zip(("x", "kernel", "bias"), grads, want, strict=False):
        assert got.shape == exp.shape and got.dtype == np.float64, name
        np.testing.assert_allclose(got, exp, rtol=rtol, atol=atol, err_msg=name)


@pytest.mark.parametrize("name", list(CASES))
def test_conv_and_pool_values_and_gradients_match_torch(name):
    leaves, y, tl, yt, rank = _conv_case(CASES[name])
    _check_against_torch(leaves, y, tl, yt, rank, first=False)


@pytest.mark.parametrize("name", ["one_channel", "dilation_same", "odd_same_pool3", "conv3d",
                                  "conv1d_causal", "batch1"])  # fmt: skip
def test_channels_first_conv_and_pool_match_torch(name):
    leaves, y, tl, yt, rank = _conv_case(CASES[name], "channels_first")
    _check_against_torch(leaves, y, tl, yt, rank, first=True)


@pytest.mark.parametrize("seed", range(4))
def test_max_pool_ties_after_a_conv_send_the_gradient_where_torch_does(seed):
    # Integer data with many zeros makes exact ties in most pooling windows; the gradient
    # must go to the first maximum in row-major order, as torch's does.
    rng = np.random.default_rng(seed)
    x = rng.integers(-1, 2, size=(3, 8, 7, 2)) * (rng.random((3, 8, 7, 2)) < 0.5)
    w = rng.integers(-2, 3, size=(2, 2, 2, 3)).astype(float)
    b = rng.integers(-1, 2, size=3).astype(float)
    leaves = [cr.tensor(a.astype(float), requires_grad=True) for a in (x, w, b)]
    pool, strides, padding = [(2, 2, "valid"), (3, 2, "same"), (2, 1, "same"), (2, 2, "same")][seed]
    y = ops.max_pool(ops.conv(*leaves), pool, strides, padding)
    tl = [_t_first(x.astype(float)), _t_kernel(w), torch.tensor(b, requires_grad=True)]
    yt = F.conv2d(tl[0], tl[1], tl[2])
    pads = ops.conv_padding(yt.shape[2:], (pool,) * 2, (strides,) * 2, (1, 1), padding)
    yt = _torch_pool(yt, "max", pool, strides, pads, 2)
    _check_against_torch(leaves, y, tl, yt, 2, first=False, rng=rng)


# -- graphs: one output used twice, gradients asked for twice ------------------------------------
def _twice_graph(lib, x, w, b):
    if lib == "torch":
        y = F.conv2d(x, w, b, padding=1)
        return (F.max_pool2d(y, 2) ** 2).sum() + (y * 3).sum() + (y[:, :1] * y[:, 1:2]).sum()
    y = ops.conv(x, w, b, padding="same")
    return (ops.max_pool(y, 2) ** 2).sum() + (y * 3).sum() + (y[..., :1] * y[..., 1:2]).sum()


def test_one_conv_output_used_three_times_and_gradients_asked_twice_match_torch():
    x, w, b = RNG.normal(size=(2, 7, 7, 3)), RNG.normal(size=(3, 3, 3, 4)), RNG.normal(size=4)
    leaves = [cr.tensor(a, requires_grad=True) for a in (x, w, b)]
    loss = _twice_graph("ours", *leaves)
    tl = [_t_first(x), _t_kernel(w), torch.tensor(b, requires_grad=True)]
    _twice_graph("torch", *tl).backward()
    want = [_last(tl[0].grad), _from_t_kernel(tl[1].grad.numpy(), 2), tl[2].grad.numpy()]
    first = cr.grad(loss, [leaves[1]])
    second = cr.grad(loss, [leaves[0], leaves[2]])
    again = cr.grad(loss, leaves)
    np.testing.assert_allclose(first[0], want[1], rtol=1e-10)
    np.testing.assert_allclose(second[0], want[0], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(second[1], want[2], rtol=1e-10)
    for got in again:
        got *= 0  # the caller's own arrays: zeroing them must not touch the graph's state
    for got, ref in zip(cr.grad(loss, leaves), want, strict=True):
        np.testing.assert_allclose(got, ref, rtol=1e-10, atol=1e-12)
    loss.backward()
    loss.backward()  # gradients accumulate in .grad
    for t, ref in zip(leaves, want, strict=True):
        np.testing.assert_allclose(t.grad, 2 * ref, rtol=1e-10, atol=1e-12)


def test_gradient_with_respect_to_a_batch_last_intermediate_matches_torch():
    x, w = RNG.normal(size=(3, 6, 6, 2)), RNG.normal(size=(3, 3, 2, 4))
    y = ops.conv(cr.tensor(x), cr.tensor(w, requires_grad=True))
    assert fast.is_batch_last(y.data)
    loss = (ops.max_pool(y, 2) ** 2).sum() + ops.tanh(y).sum()
    (gy,) = cr.grad(loss, [y])
    yt = F.conv2d(torch.tensor(np.moveaxis(x, -1, 1).copy()), _t_kernel(w).detach())
    yt.requires_grad_()
    ((F.max_pool2d(yt, 2) ** 2).sum() + torch.tanh(yt).sum()).backward()
    np.testing.assert_allclose(gy, _last(yt.grad), rtol=1e-10, atol=1e-12)


LAYOUTS = {
    "x_fortran": lambda x, w, b: (np.asfortranarray(x), w, b),
    "x_negative_strides": lambda x, w, b: (x[::-1].copy()[::-1], w, b),
    "x_batch_last": lambda x, w, b: (
        fast.batch_last(np.ascontiguousarray(fast.batch_last(x))),
        w,
        b,
    ),  # fmt: skip
    "kernel_fortran": lambda x, w, b: (x, np.asfortranarray(w), b),
    "bias_strided": lambda x, w, b: (x, w, np.repeat(b, 2)[::2]),
}


@pytest.mark.parametrize("name", list(LAYOUTS))
def test_inputs_in_any_memory_layout_give_torch_values_and_gradients(name):
    x0, w0, b0 = RNG.normal(size=(3, 6, 7, 2)), RNG.normal(size=(3, 2, 2, 4)), RNG.normal(size=4)
    x, w, b = LAYOUTS[name](x0, w0, b0)
    leaves = [cr.tensor(a, requires_grad=True) for a in (x, w, b)]
    y = ops.conv(*leaves, strides=(2, 1))
    tl = [_t_first(x0), _t_kernel(w0), torch.tensor(b0, requires_grad=True)]
    yt = F.conv2d(*tl, stride=(2, 1))
    _check_against_torch(leaves, y, tl, yt, 2, first=False)


def test_empty_batch_forward_matches_torch():
    x, w, b = np.zeros((0, 6, 5, 2)), RNG.normal(size=(3, 3, 2, 4)), RNG.normal(size=4)
    y = ops.max_pool(ops.conv(x, w, b, padding="same"), 2)
    yt = F.max_pool2d(F.conv2d(torch.tensor(np.moveaxis(x, -1, 1).copy()), _t_kernel(w).detach(),
                               torch.tensor(b), padding=1), 2)  # fmt: skip
    assert y.shape == _last(yt).shape == (0, 3, 2, 4)


# -- dtypes --------------------------------------------------------------------------------------
TOL = {"float16": 2e-2, "float32": 2e-5, "float64": 1e-12}


@pytest.mark.parametrize("dtypes", [("float16", "float16", "float16"),
                                    ("float32", "float32", "float32"),
                                    ("float16", "float32", "float32"),
                                    ("float64", "float64", "float64")])  # fmt: skip
def test_conv_pool_dtypes_match_torch_float64(dtypes):
    xd, wd, bd = dtypes
    rng = np.random.default_rng(5)
    x = rng.normal(size=(4, 7, 7, 3)).astype(xd)
    w = (rng.normal(size=(3, 3, 3, 4)) * 0.3).astype(wd)
    b = rng.normal(size=4).astype(bd)
    leaves = [cr.tensor(a, requires_grad=True) for a in (x, w, b)]
    y = ops.max_pool(ops.conv(*leaves, padding="same"), 2, padding="same")
    assert y.dtype == np.result_type(xd, wd)
    seed = rng.normal(size=y.shape).astype(y.dtype)
    grads = cr.grad((y * seed).sum(), leaves)
    for got, leaf in zip(grads, leaves, strict=True):
        assert got.dtype == leaf.dtype
    tl = [_t_first(x.astype(float)), _t_kernel(w.astype(float)),
          torch.tensor(b.astype(float), requires_grad=True)]  # fmt: skip
    yt = F.max_pool2d(F.conv2d(tl[0], tl[1], tl[2], padding=1), 2, ceil_mode=True)
    (yt * torch.tensor(np.moveaxis(seed.astype(float), -1, 1).copy())).sum().backward()
    # each result to within its own dtype's rounding (a float16 input gets a float16 gradient)
    scale = lambda a, dt: TOL[str(dt)] * max(1.0, float(np.abs(a).max()))  # noqa: E731
    ref = _last(yt)
    np.testing.assert_allclose(y.numpy().astype(float), ref, rtol=0, atol=scale(ref, y.dtype))
    want = [_last(tl[0].grad), _from_t_kernel(tl[1].grad.numpy(), 2), tl[2].grad.numpy()]
    for got, ref in zip(grads, want, strict=True):
        np.testing.assert_allclose(got.astype(float), ref, rtol=0, atol=scale(ref, got.dtype))


def test_float64_conv_layers_match_torch_float64():
    model = ck.Sequential([ck.Input((8, 8, 2)),
                           ck.layers.Conv2D(4, 3, activation="relu", dtype="float64"),
                           ck.layers.MaxPooling2D(dtype="float64"),
                           ck.layers.Conv2D(3, 2, padding="same", dtype="float64")])  # fmt: skip
    k1, b1, k2, b2 = (RNG.uniform(-0.5, 0.5, w.shape) for w in model.get_weights())
    model.set_weights([k1, b1, k2, b2])
    # float32-representable input: the model's Input is float32 (Keras rounds there too)
    x = RNG.normal(size=(5, 8, 8, 2)).astype("float32").astype("float64")
    out = model.predict(x, verbose=0)
    assert out.dtype == np.float64 and out.flags.c_contiguous
    t = F.max_pool2d(F.relu(F.conv2d(torch.tensor(np.moveaxis(x, -1, 1).copy()),
                                     _t_kernel(k1).detach(), torch.tensor(b1))), 2)  # fmt: skip
    t = F.conv2d(F.pad(t, (0, 1, 0, 1)), _t_kernel(k2).detach(), torch.tensor(b2))
    np.testing.assert_allclose(out, _last(t), rtol=1e-12, atol=1e-12)


# -- whole models against real Keras 3 -----------------------------------------------------------
def _pair(build, in_shape, seed=0):
    """The same Sequential model in chainrule and real Keras with identical weights."""
    ours = ck.Sequential([ck.Input(in_shape)] + build(ck.layers))
    ref = tk.Sequential([tk.Input(in_shape)] + build(tk.layers))
    rng = np.random.default_rng(seed)
    weights = [rng.uniform(-0.5, 0.5, w.shape).astype("float32") for w in ours.get_weights()]
    for i, w in enumerate(ref.get_weights()):
        if w.ndim == 1 and np.all(np.asarray(w) == 1):  # BatchNormalization's gamma/variance
            weights[i] = np.abs(weights[i]) + 0.5
    ours.set_weights(weights)
    ref.set_weights(weights)
    return ours, ref


MODELS = {
    "cnn": (
        lambda L: [
            L.Conv2D(4, 3, activation="relu"),
            L.MaxPooling2D(),
            L.Conv2D(3, 3, padding="same"),
            L.Flatten(),
            L.Dense(3, activation="softmax"),
        ],
        (9, 9, 2),
    ),
    "one_channel_1x1": (
        lambda L: [
            L.Conv2D(1, 1),
            L.Conv2D(2, 1, use_bias=False),
            L.GlobalAveragePooling2D(),
            L.Dense(3, activation="softmax"),
        ],
        (5, 5, 1),
    ),
    "strided_odd_same_pool": (
        lambda L: [
            L.Conv2D(3, 2, strides=3),
            L.MaxPooling2D(3, strides=2, padding="same"),
            L.Flatten(),
            L.Dense(3, activation="softmax"),
        ],
        (11, 10, 2),
    ),
    "dilated_same": (
        lambda L: [
            L.Conv2D(3, 3, dilation_rate=2, padding="same", activation="tanh"),
            L.MaxPooling2D(2, padding="same"),
            L.Flatten(),
            L.Dense(3, activation="softmax"),
        ],
        (7, 7, 2),
    ),
    "causal_conv1d": (
        lambda L: [
            L.Conv1D(4, 3, padding="causal", dilation_rate=2, activation="relu"),
            L.MaxPooling1D(2, padding="same"),
            L.Conv1D(2, 2),
            L.GlobalMaxPooling1D(),
            L.Dense(3, activation="softmax"),
        ],
        (9, 3),
    ),
    "channels_first": (
        lambda L: [
            L.Conv2D(4, 3, data_format="channels_first", activation="relu"),
            L.MaxPooling2D(2, data_format="channels_first", padding="same"),
            L.Conv2D(2, 2, data_format="channels_first"),
            L.Flatten(),
            L.Dense(3, activation="softmax"),
        ],
        (2, 9, 7),
    ),
    "batchnorm": (
        lambda L: [
            L.Conv2D(4, 3),
            L.BatchNormalization(),
            L.Activation("relu"),
            L.MaxPooling2D(),
            L.Flatten(),
            L.Dense(3, activation="softmax"),
        ],
        (8, 8, 2),
    ),
    "conv3d": (
        lambda L: [
            L.Conv3D(3, 2, activation="relu"),
            L.MaxPooling3D(2, padding="same"),
            L.Flatten(),
            L.Dense(3, activation="softmax"),
        ],
        (5, 5, 4, 2),
    ),
    "depthwise_separable": (
        lambda L: [
            L.Conv2D(4, 3),
            L.DepthwiseConv2D(3, depth_multiplier=2),
            L.SeparableConv2D(3, 2),
            L.Flatten(),
            L.Dense(3, activation="softmax"),
        ],
        (9, 9, 2),
    ),
    "upsample_crop": (
        lambda L: [
            L.Conv2D(3, 3),
            L.UpSampling2D((2, 3)),
            L.Cropping2D(((1, 2), (0, 3))),
            L.Conv2D(2, 3, strides=2),
            L.Flatten(),
            L.Dense(3, activation="softmax"),
        ],
        (6, 6, 2),
    ),
    "conv1d_lstm": (
        lambda L: [
            L.Conv1D(4, 3, padding="same"),
            L.Bidirectional(L.LSTM(3)),
            L.Dense(3, activation="softmax"),
        ],
        (8, 2),
    ),
    "time_distributed": (
        lambda L: [
            L.TimeDistributed(L.Conv2D(3, 2, activation="relu")),
            L.TimeDistributed(L.MaxPooling2D()),
            L.Flatten(),
            L.Dense(3, activation="softmax"),
        ],
        (3, 5, 5, 2),
    ),
    "dense_on_4d_permute": (
        lambda L: [
            L.Conv2D(4, 3),
            L.Dense(2),
            L.Permute((3, 1, 2)),
            L.Conv2D(2, 2, data_format="channels_first"),
            L.Flatten(),
            L.Dense(3, activation="softmax"),
        ],
        (6, 6, 2),
    ),
}


@pytest.mark.parametrize("name", list(MODELS))
def test_small_cnn_predict_and_two_epochs_of_fit_match_keras(name):
    build, shape = MODELS[name]
    ours, ref = _pair(build, shape)
    rng = np.random.default_rng(1)
    x = rng.normal(size=(10, *shape)).astype("float32")
    y = rng.integers(0, 3, size=10)
    want = ref.predict(x, batch_size=4, verbose=0)
    got = ours.predict(x, batch_size=4, verbose=0)
    assert got.flags.c_contiguous
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ours(x).numpy(), want, rtol=1e-5, atol=1e-6)
    ours.compile(ck.optimizers.SGD(0.05, momentum=0.9), "sparse_categorical_crossentropy")
    ref.compile(tk.optimizers.SGD(0.05, momentum=0.9), "sparse_categorical_crossentropy")
    h1 = ours.fit(x, y, epochs=2, batch_size=4, shuffle=False, verbose=0)
    h2 = ref.fit(x, y, epochs=2, batch_size=4, shuffle=False, verbose=0)
    np.testing.assert_allclose(h1.history["loss"], h2.history["loss"], rtol=1e-5)
    for a, b in zip(ours.get_weights(), ref.get_weights(), strict=True):
        np.testing.assert_allclose(a, np.asarray(b), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", ["upsampling", "transpose"])
def test_conv_autoencoder_with_mse_fits_like_keras(name):
    if name == "upsampling":
        build = lambda L: [L.Conv2D(4, 3, padding="same", activation="relu"),  # noqa: E731
                           L.MaxPooling2D(), L.Conv2D(2, 3, padding="same"), L.UpSampling2D(),
                           L.Conv2D(2, 3, padding="same")]  # fmt: skip
    else:
        build = lambda L: [L.Conv2D(4, 3, strides=2, padding="same", activation="relu"),  # noqa: E731
                           L.Conv2DTranspose(3, 3, strides=2, padding="same"),
                           L.Conv2D(2, 1)]  # fmt: skip
    ours, ref = _pair(build, (8, 8, 2))
    x = np.random.default_rng(3).normal(size=(10, 8, 8, 2)).astype("float32")
    ours.compile(ck.optimizers.Adam(0.01), "mse")
    ref.compile(tk.optimizers.Adam(0.01), "mse")
    h1 = ours.fit(x, x, epochs=2, batch_size=4, shuffle=False, verbose=0)
    h2 = ref.fit(x, x, epochs=2, batch_size=4, shuffle=False, verbose=0)
    np.testing.assert_allclose(h1.history["loss"], h2.history["loss"], rtol=1e-5)
    np.testing.assert_allclose(ours.predict(x, verbose=0), ref.predict(x, verbose=0), rtol=1e-4,
                               atol=1e-5)  # fmt: skip


def _functional(K):
    L = K.layers
    i = K.Input((8, 8, 2))
    c = L.Conv2D(2, 3, padding="same", name="c1")(i)
    a = L.Add()([c, i])
    m = L.Multiply()([c, c])
    p = L.MaxPooling2D(name="p")(L.Conv2D(3, 3, activation="relu", name="c2")(i))
    q = L.Conv2D(3, 2, strides=2, name="c3")(L.Conv2D(3, 3, name="c4")(i))
    merged = L.Concatenate()(
        [L.Flatten()(L.Concatenate()([c, a, i, m])), L.Flatten()(L.Maximum()([p, q]))]
    )
    return K.Model(i, L.Dense(3, activation="softmax", name="out")(merged))


def test_one_conv_output_feeding_several_layers_fits_like_keras():
    ours, ref = _functional(ck), _functional(tk)
    rng = np.random.default_rng(4)
    for name in ("c1", "c2", "c3", "c4", "out"):
        ws = [rng.uniform(-0.5, 0.5, w.shape).astype("float32")
              for w in ours.get_layer(name).get_weights()]  # fmt: skip
        ours.get_layer(name).set_weights(ws)
        ref.get_layer(name).set_weights(ws)
    x = rng.normal(size=(10, 8, 8, 2)).astype("float32")
    y = rng.integers(0, 3, size=10)
    ours.compile(ck.optimizers.SGD(0.02), "sparse_categorical_crossentropy")
    ref.compile(tk.optimizers.SGD(0.02), "sparse_categorical_crossentropy")
    h1 = ours.fit(x, y, epochs=2, batch_size=4, shuffle=False, verbose=0)
    h2 = ref.fit(x, y, epochs=2, batch_size=4, shuffle=False, verbose=0)
    np.testing.assert_allclose(h1.history["loss"], h2.history["loss"], rtol=1e-5)
    for name in ("c1", "c2", "c3", "c4", "out"):
        for a, b in zip(ours.get_layer(name).get_weights(), ref.get_layer(name).get_weights(),
                        strict=True):  # fmt: skip
            np.testing.assert_allclose(a, np.asarray(b), rtol=1e-5, atol=1e-6)


def test_segmentation_logits_with_sparse_crossentropy_fit_like_keras():
    # A per-pixel classifier: the loss sees a batch-last (N, H, W, classes) prediction.
    build = lambda L: [L.Conv2D(4, 3, padding="same", activation="relu"),  # noqa: E731
                       L.Conv2D(3, 1)]  # fmt: skip
    ours, ref = _pair(build, (6, 6, 2))
    rng = np.random.default_rng(6)
    x = rng.normal(size=(8, 6, 6, 2)).astype("float32")
    y = rng.integers(0, 3, size=(8, 6, 6))
    ours.compile(ck.optimizers.SGD(0.1), ck.losses.SparseCategoricalCrossentropy(from_logits=True))
    ref.compile(tk.optimizers.SGD(0.1), tk.losses.SparseCategoricalCrossentropy(from_logits=True))
    h1 = ours.fit(x, y, epochs=2, batch_size=4, shuffle=False, verbose=0)
    h2 = ref.fit(x, y, epochs=2, batch_size=4, shuffle=False, verbose=0)
    np.testing.assert_allclose(h1.history["loss"], h2.history["loss"], rtol=1e-5)
    for a, b in zip(ours.get_weights(), ref.get_weights(), strict=True):
        np.testing.assert_allclose(a, np.asarray(b), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("opt,kwargs", [
    ("SGD", {"learning_rate": 0.1, "clipvalue": 0.01}),
    ("SGD", {"learning_rate": 0.1, "global_clipnorm": 0.05}),
    ("SGD", {"learning_rate": 0.1, "momentum": 0.9, "weight_decay": 0.1}),
    ("SGD", {"learning_rate": 0.1, "gradient_accumulation_steps": 2}),
])  # fmt: skip
def test_optimizers_that_rewrite_conv_gradients_in_place_match_keras(opt, kwargs):
    build = lambda L: [L.Conv2D(3, 3, activation="relu"),  # noqa: E731
                       L.MaxPooling2D(2, padding="same"), L.Conv2D(2, 2, use_bias=False),
                       L.Flatten(), L.Dense(3, activation="softmax")]  # fmt: skip
    ours, ref = _pair(build, (7, 7, 2))
    rng = np.random.default_rng(3)
    x = rng.normal(size=(12, 7, 7, 2)).astype("float32")
    y = rng.integers(0, 3, size=12)
    ours.compile(getattr(ck.optimizers, opt)(**kwargs), "sparse_categorical_crossentropy")
    ref.compile(getattr(tk.optimizers, opt)(**kwargs), "sparse_categorical_crossentropy")
    h1 = ours.fit(x, y, epochs=2, batch_size=4, shuffle=False, verbose=0)
    h2 = ref.fit(x, y, epochs=2, batch_size=4, shuffle=False, verbose=0)
    np.testing.assert_allclose(h1.history["loss"], h2.history["loss"], rtol=1e-5)
    for a, b in zip(ours.get_weights(), ref.get_weights(), strict=True):
        np.testing.assert_allclose(a, np.asarray(b), rtol=1e-5, atol=1e-6)


def test_conv_model_save_load_and_weights_round_trip_with_keras(tmp_path):
    build = lambda L: [  # noqa: E731
        L.Conv2D(4, 3, activation="relu"),
        L.MaxPooling2D(),
        L.Conv2D(3, 2, padding="same"),
        L.GlobalAveragePooling2D(),
        L.Dense(2),
    ]
    ours, ref = _pair(build, (8, 8, 2))
    x = np.random.default_rng(8).normal(size=(5, 8, 8, 2)).astype("float32")
    want = ref.predict(x, verbose=0)
    ours.save(tmp_path / "ours.keras")
    ref.save(tmp_path / "ref.keras")
    back = ck.models.load_model(tmp_path / "ours.keras")
    for a, b in zip(back.get_weights(), ours.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(back.predict(x, verbose=0), want, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ck.models.load_model(tmp_path / "ref.keras").predict(
        x, verbose=0), want, rtol=1e-5, atol=1e-6)  # fmt: skip
    np.testing.assert_allclose(tk.models.load_model(tmp_path / "ours.keras").predict(
        x, verbose=0), want, rtol=1e-5, atol=1e-6)  # fmt: skip


def test_predict_no_grad_and_call_agree_with_keras_on_batch_of_one():
    # N=1 and F=1: the batch-last output is also C-contiguous (size-one axes).
    build = lambda L: [L.Conv2D(3, 3), L.Conv2D(1, 2)]  # noqa: E731
    ours, ref = _pair(build, (6, 5, 1))
    x = np.random.default_rng(9).normal(size=(1, 6, 5, 1)).astype("float32")
    want = ref.predict(x, verbose=0)
    with cr.no_grad():
        in_no_grad = ours(x).numpy()
    for got in (ours.predict(x, verbose=0), ours.predict_on_batch(x), in_no_grad,
                ours(x).numpy()):  # fmt: skip
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
