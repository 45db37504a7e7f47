"""The batch-last layout behind convolutions: ``(C, *S, N)`` memory seen as ``(N, *S, C)``.

A convolution returns a ``np.swapaxes`` view of a ``(C, *S, N)`` array; pooling keeps that
layout; every other op must give the same values (and gradients) on it as on a contiguous
copy. References: PyTorch 2.13 (float64) for chains of ops, and the contiguous input for the
layout checks.
"""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import chainrule as cr
from chainrule import keras, ops
from chainrule.ops import _conv_fast as fast

RNG = np.random.default_rng(7)


def _rand(*shape, dtype="float64"):
    return RNG.normal(size=shape).astype(dtype)


def _as_batch_last(x, check=True):
    """The same values as ``x`` in the batch-last layout."""
    out = fast.batch_last(np.ascontiguousarray(fast.batch_last(x)))
    assert np.array_equal(out, x, equal_nan=True) and (fast.is_batch_last(out) or not check)
    return out


def _value_and_grad(fn, x, g_seed=3):
    t = cr.tensor(x, requires_grad=True)
    y = fn(t)
    g = np.random.default_rng(g_seed).normal(size=y.shape).astype(y.dtype)
    (gx,) = cr.grad((y * g).sum(), [t])
    return y.numpy(), gx


# -- the layout helpers ------------------------------------------------------------------------
def test_to_batch_last_pads_like_np_pad_and_does_not_copy_a_batch_last_array():
    x = _rand(2, 5, 4, 3)
    pads = ((1, 2), (0, 1))
    want = np.pad(np.moveaxis(x, (0, -1), (-1, 0)), ((0, 0), *pads, (0, 0)))
    np.testing.assert_array_equal(fast.to_batch_last(x, pads), want)
    xb = _as_batch_last(x)
    assert np.shares_memory(fast.to_batch_last(xb), xb)
    assert not fast.is_batch_last(x)  # a contiguous (N, *S, C) array is not batch-last


@pytest.mark.parametrize("shape", [(1, 4, 4, 1), (3, 4, 4, 1), (1, 4, 4, 5), (2, 3, 3, 2)])
def test_is_batch_last_on_arrays_with_size_one_axes(shape):
    # NumPy ignores the strides of length-1 axes: both layouts may count as contiguous;
    # what matters is that to_batch_last gives the (C, *S, N) values either way.
    x = _rand(*shape)
    for a in (x, _as_batch_last(x, check=False)):
        np.testing.assert_array_equal(fast.to_batch_last(a), np.swapaxes(x, 0, -1))


def test_conv_output_is_batch_last_with_channels_last_values():
    x, w, b = _rand(2, 7, 6, 3), _rand(3, 3, 3, 5), _rand(5)
    y = ops.conv(x, w, b)
    assert y.shape == (2, 5, 4, 5) and fast.is_batch_last(y.data)
    yt = F.conv2d(torch.tensor(np.moveaxis(x, -1, 1).copy()),
                  torch.tensor(np.transpose(w, (3, 2, 0, 1)).copy()), torch.tensor(b))  # fmt: skip
    np.testing.assert_allclose(y.numpy(), np.moveaxis(yt.numpy(), 1, -1), rtol=1e-12, atol=1e-12)


# -- pooling on a batch-last input equals pooling on a contiguous one ---------------------------
POOLS = [
    # (shape, pool_size, strides, padding, mode)
    ((2, 6, 6, 3), 2, None, "valid", "max"),
    ((2, 7, 5, 3), 2, None, "valid", "max"),  # odd sizes: the last row/column dropped
    ((2, 6, 6, 3), 2, None, "same", "max"),
    ((2, 7, 7, 3), 3, 2, "same", "max"),
    ((2, 7, 6, 3), (2, 3), (1, 2), "valid", "max"),
    ((2, 6, 6, 3), 2, None, "valid", "average"),
    ((2, 7, 7, 3), 3, 2, "same", "average"),
    ((3, 9, 4), 2, None, "valid", "max"),  # 1-D
    ((3, 9, 4), 3, 2, "same", "average"),
    ((2, 4, 4, 4, 2), 2, None, "valid", "max"),  # 3-D
    ((2, 5, 4, 4, 2), 2, 1, "same", "average"),
]


@pytest.mark.parametrize("shape,pool_size,strides,padding,mode", POOLS)
def test_pooling_a_batch_last_input_matches_a_contiguous_one(shape, pool_size, strides, padding,
                                                             mode):  # fmt: skip
    x = _rand(*shape)
    x[0, 0, 0] = x[0, 0, 1] = x[0, 1, 0]  # a tie in a window
    pool = ops.max_pool if mode == "max" else ops.average_pool
    fn = lambda t: pool(t, pool_size, strides, padding)  # noqa: E731
    want, want_g = _value_and_grad(fn, x)
    got, got_g = _value_and_grad(fn, _as_batch_last(x))
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(got_g, want_g)
    assert fast.is_batch_last(pool(_as_batch_last(x), pool_size, strides, padding).data)


def test_max_pool_2x2_with_nan_on_a_batch_last_input_matches_a_contiguous_one():
    x = _rand(2, 6, 6, 3)
    x[1, 2, 3, 1] = np.nan
    fn = lambda t: ops.max_pool(t, 2)  # noqa: E731
    want, want_g = _value_and_grad(fn, x)
    got, got_g = _value_and_grad(fn, _as_batch_last(x))
    np.testing.assert_array_equal(got, want)  # NaN positions agree too
    np.testing.assert_array_equal(got_g, want_g)


# -- chains of convolutions and pooling against PyTorch ----------------------------------------
def _torch_w(w):
    r = w.ndim - 2
    return torch.tensor(np.transpose(w, (r + 1, r, *range(r))).copy(), requires_grad=True)


def _chain_2d(lib, x, k1, b1, k2, b2):
    if lib == "torch":
        y = F.max_pool2d(F.relu(F.conv2d(x, k1, b1)), 2)
        y = F.conv2d(F.pad(y, (0, 1, 0, 1)), k2, b2, stride=2)  # "same" for 3x3, stride 2, even
        return F.avg_pool2d(y, 2)
    y = ops.max_pool(ops.conv(x, k1, b1, activation="relu"), 2)
    y = ops.conv(y, k2, b2, strides=2, padding="same")
    return ops.average_pool(y, 2)


def test_conv_pool_conv_pool_chain_matches_torch():
    x = _rand(3, 14, 14, 2)
    k1, b1, k2, b2 = _rand(3, 3, 2, 4), _rand(4), _rand(3, 3, 4, 6), _rand(6)
    ts = [cr.tensor(a, requires_grad=True) for a in (x, k1, b1, k2, b2)]
    y = _chain_2d("ours", *ts)
    assert y.shape == (3, 1, 1, 6)
    g = _rand(*y.shape)
    grads = cr.grad((y * g).sum(), ts)
    xt = torch.tensor(np.moveaxis(x, -1, 1).copy(), requires_grad=True)
    wt = [_torch_w(k1), torch.tensor(b1, requires_grad=True), _torch_w(k2),
          torch.tensor(b2, requires_grad=True)]  # fmt: skip
    yt = _chain_2d("torch", xt, *wt)
    (yt * torch.tensor(np.moveaxis(g, -1, 1).copy())).sum().backward()
    np.testing.assert_allclose(y.numpy(), np.moveaxis(yt.detach().numpy(), 1, -1), rtol=1e-10)
    want = [np.moveaxis(xt.grad.numpy(), 1, -1), np.transpose(wt[0].grad.numpy(), (2, 3, 1, 0)),
            wt[1].grad.numpy(), np.transpose(wt[2].grad.numpy(), (2, 3, 1, 0)), wt[3].grad.numpy()]
    for got, ref in zip(grads, want, strict=True):
        np.testing.assert_allclose(got, ref, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("rank", [1, 3])
def test_conv_pool_conv_chain_in_1d_and_3d_matches_torch(rank):
    shape = (2, 10, 3) if rank == 1 else (2, 6, 6, 6, 2)
    x = _rand(*shape)
    k1 = _rand(*(3,) * rank, shape[-1], 4)
    k2 = _rand(*(2,) * rank, 4, 3)
    ts = [cr.tensor(a, requires_grad=True) for a in (x, k1, k2)]
    y = ops.conv(ops.max_pool(ops.conv(ts[0], ts[1], padding="same"), 2), ts[2], dilation_rate=1)
    g = _rand(*y.shape)
    grads = cr.grad((y * g).sum(), ts)
    conv = (F.conv1d, F.conv2d, F.conv3d)[rank - 1]
    pool = (F.max_pool1d, F.max_pool2d, F.max_pool3d)[rank - 1]
    xt = torch.tensor(np.moveaxis(x, -1, 1).copy(), requires_grad=True)
    k1t, k2t = _torch_w(k1), _torch_w(k2)
    yt = conv(pool(conv(xt, k1t, padding="same"), 2), k2t)
    (yt * torch.tensor(np.moveaxis(g, -1, 1).copy())).sum().backward()
    np.testing.assert_allclose(y.numpy(), np.moveaxis(yt.detach().numpy(), 1, -1), rtol=1e-10)
    perm = (*range(2, rank + 2), 1, 0)
    want = [np.moveaxis(xt.grad.numpy(), 1, -1), np.transpose(k1t.grad.numpy(), perm),
            np.transpose(k2t.grad.numpy(), perm)]  # fmt: skip
    for got, ref in zip(grads, want, strict=True):
        np.testing.assert_allclose(got, ref, rtol=1e-10, atol=1e-12)


# -- every layer that takes images gives the same answer on a batch-last input -------------------
L = keras.layers
LAYERS = {
    "BatchNormalization-train": (lambda: L.BatchNormalization(), True),
    "BatchNormalization-infer": (lambda: L.BatchNormalization(), False),
    "LayerNormalization": (lambda: L.LayerNormalization(), None),
    "GroupNormalization": (lambda: L.GroupNormalization(groups=2), None),
    "GlobalAveragePooling2D": (lambda: L.GlobalAveragePooling2D(), None),
    "GlobalMaxPooling2D": (lambda: L.GlobalMaxPooling2D(), None),
    "Flatten": (lambda: L.Flatten(), None),
    "UpSampling2D": (lambda: L.UpSampling2D(2), None),
    "ZeroPadding2D": (lambda: L.ZeroPadding2D(1), None),
    "Cropping2D": (lambda: L.Cropping2D(1), None),
    "Dense": (lambda: L.Dense(3), None),
    "Activation-softmax": (lambda: L.Activation("softmax"), None),
    "Activation-relu": (lambda: L.Activation("relu"), None),
    "Dropout-infer": (lambda: L.Dropout(0.5), False),
    "Reshape": (lambda: L.Reshape((36, 4)), None),
    "Permute": (lambda: L.Permute((3, 1, 2)), None),
    "Conv2D-grouped": (lambda: L.Conv2D(6, 3, groups=2), None),
    "Conv2D-same-strided": (lambda: L.Conv2D(5, 3, strides=2, padding="same"), None),
    "DepthwiseConv2D": (lambda: L.DepthwiseConv2D(3, depth_multiplier=2), None),
    "SeparableConv2D": (lambda: L.SeparableConv2D(5, 3), None),
    "Conv2DTranspose": (lambda: L.Conv2DTranspose(3, 3, strides=2), None),
    "MaxPooling2D-3x3-same": (lambda: L.MaxPooling2D(3, strides=2, padding="same"), None),
    "AveragePooling2D": (lambda: L.AveragePooling2D(2), None),
}


@pytest.mark.parametrize("name", list(LAYERS))
def test_layer_on_a_batch_last_input_matches_a_contiguous_one(name):
    make, training = LAYERS[name]
    layer = make()
    x = _rand(2, 6, 6, 4, dtype="float32")
    kw = {} if training is None else {"training": training}
    fn = lambda t: layer(t, **kw)  # noqa: E731
    want, want_g = _value_and_grad(fn, x)
    got, got_g = _value_and_grad(fn, _as_batch_last(x))
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(got_g, want_g, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("merge", ["Add", "Multiply", "Concatenate", "Maximum"])
def test_merging_a_batch_last_and_a_contiguous_input(merge):
    layer = getattr(L, merge)()
    a, b = _rand(2, 5, 5, 3, dtype="float32"), _rand(2, 5, 5, 3, dtype="float32")
    ta, tb = cr.tensor(a, requires_grad=True), cr.tensor(b, requires_grad=True)
    sa, sb = cr.tensor(_as_batch_last(a), requires_grad=True), cr.tensor(b, requires_grad=True)
    y, ys = layer([ta, tb]), layer([sa, sb])
    g = _rand(*y.shape, dtype="float32")
    np.testing.assert_array_equal(ys.numpy(), y.numpy())
    for got, want in zip(cr.grad((ys * g).sum(), [sa, sb]), cr.grad((y * g).sum(), [ta, tb]),
                         strict=True):  # fmt: skip
        np.testing.assert_array_equal(got, want)


def test_predict_of_a_model_ending_in_a_convolution_is_an_ordinary_array():
    x = RNG.random((5, 8, 8, 2)).astype("float32")
    model = keras.Sequential([keras.Input((8, 8, 2)), L.Conv2D(3, 3), L.Conv2D(4, 3)])
    out = model.predict(x, batch_size=2, verbose=0)
    assert out.flags.c_contiguous and out.shape == (5, 4, 4, 4)
    np.testing.assert_allclose(out, model(x).numpy(), rtol=1e-6, atol=1e-6)


# -- found by the adversarial pass on the layout ---------------------------------------------
def _torch_zero_batch_grads(op, xshape, kshape, **kw):
    x = torch.zeros(xshape, dtype=torch.float64, requires_grad=True)
    k = torch.ones(kshape, dtype=torch.float64, requires_grad=True)
    y = op(x, k, **kw)
    y.sum().backward()
    return tuple(y.shape), x.grad, k.grad


@pytest.mark.parametrize("kind", ["conv", "depthwise", "transpose"])
def test_an_empty_batch_gives_empty_outputs_and_zero_gradients_like_torch(kind):
    x = cr.tensor(np.zeros((0, 5, 5, 2)), requires_grad=True)
    if kind == "conv":
        w = cr.tensor(np.ones((3, 3, 2, 4)), requires_grad=True)
        y = ops.conv(x, w)
        shape, gx, gw = _torch_zero_batch_grads(F.conv2d, (0, 2, 5, 5), (4, 2, 3, 3))
    elif kind == "depthwise":
        w = cr.tensor(np.ones((3, 3, 2, 2)), requires_grad=True)
        y = ops.depthwise_conv(x, w)
        shape, gx, gw = _torch_zero_batch_grads(F.conv2d, (0, 2, 5, 5), (4, 1, 3, 3), groups=2)
    else:
        w = cr.tensor(np.ones((3, 3, 4, 2)), requires_grad=True)
        y = ops.conv_transpose(x, w)
        shape, gx, gw = _torch_zero_batch_grads(F.conv_transpose2d, (0, 2, 5, 5), (2, 4, 3, 3))
    assert y.shape == (shape[0], *shape[2:], shape[1])
    ours_gx, ours_gw = cr.grad(y.sum(), [x, w])
    assert ours_gx.shape == (0, 5, 5, 2)
    np.testing.assert_array_equal(ours_gw, np.zeros(w.shape))
    assert gx.shape == (0, 2, 5, 5) and not gw.any()  # what torch gives


@pytest.mark.parametrize("xd,kd,bd", [("float32", "float16", "float32"),
                                      ("float64", "float32", "float64"),
                                      ("float32", "float32", "float64"),
                                      ("float16", "float16", "float32")])  # fmt: skip
def test_a_bias_of_another_dtype_is_added_as_it_is_not_rounded_to_the_kernels(xd, kd, bd):
    x, k, b = _rand(2, 5, 5, 3, dtype=xd), _rand(3, 3, 3, 4, dtype=kd), _rand(4, dtype=bd) * 1e3
    ts = [cr.tensor(a, requires_grad=True) for a in (x, k, b)]
    y = ops.conv(*ts)
    unfused = ops.conv(ts[0], ts[1]) + ts[2] if xd == kd else None
    z = ops.conv(ts[0], ts[1])
    want = z.numpy() + b if unfused is None else unfused.numpy()
    np.testing.assert_array_equal(y.numpy(), want.astype(y.dtype))
    g = _rand(*y.shape, dtype=y.dtype)
    gb = cr.grad((y * g).sum(), [ts[2]])[0]
    np.testing.assert_allclose(gb, g.astype("float64").sum(axis=(0, 1, 2)), rtol=1e-3)


def test_a_1x1_float16_kernel_keeps_the_float32_bias_exact():
    y = ops.conv(np.ones((1, 1, 1, 1), "float32"), np.ones((1, 1, 1, 1), "float16"),
                 np.array([1000.3], "float32"))  # fmt: skip
    assert y.dtype == np.float32
    assert y.numpy().item() == np.float32(np.float32(1000.3) + np.float32(1.0))


@pytest.mark.parametrize("bias", [np.ones(5), np.ones((4, 1)), 1.0])
def test_a_bias_of_the_wrong_shape_names_the_argument(bias):
    with pytest.raises(ValueError, match=r"bias must have shape \(4,\)"):
        ops.conv(_rand(1, 4, 4, 2), _rand(3, 3, 2, 4), bias)
    with pytest.raises(ValueError, match=r"bias must have shape \(4,\)"):
        ops.conv_transpose(_rand(1, 4, 4, 2), _rand(3, 3, 4, 2), bias)
