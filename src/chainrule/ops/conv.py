"""Convolution ops, lowered to one matrix multiply per group (im2col by strided slices).

Every primitive here works on channels-last arrays ``(batch, *spatial, channels)`` and any
number of spatial axes (1-D, 2-D, 3-D); the public functions below them accept Keras's
``data_format`` and ``padding`` and transpose/pad around the primitives. Kernels use Keras's
layout: ``(*kernel_size, in_channels // groups, filters)`` for a convolution and
``(*kernel_size, filters, in_channels)`` for a transposed one.

The gradient of a convolution is a matrix multiply plus a loop over the *kernel offsets*
(``prod(kernel_size)`` iterations, each adding one strided slice); no Python loop ever runs
over samples or pixels (DESIGN.md section 4). The primitives compute in the batch-last layout
(``_conv_fast.batch_last``). Pooling is in ``pooling.py``.
"""

from __future__ import annotations

from ..autodiff.primitive import defvjp_all, primitive, records
from ..backend import np
from . import _conv_fast as _fast
from .shape import transpose

__all__ = ["conv", "conv_transpose", "depthwise_conv", "separable_conv", "conv_padding",
           "conv_output_size"]


# -- helpers on plain arrays ---------------------------------------------------------------
def _pad(x, pads, value=0):
    if not any(lo or hi for lo, hi in pads):
        return x
    return np.pad(x, ((0, 0), *pads, (0, 0)), constant_values=value)


def _crop(xp, pads):
    """Inverse of ``_pad``: drop ``pads`` from each spatial axis."""
    if not any(lo or hi for lo, hi in pads):
        return xp
    return xp[(slice(None),) + tuple(slice(lo, xp.shape[i + 1] - hi)
                                     for i, (lo, hi) in enumerate(pads))]  # fmt: skip


def _padded_shape(shape, pads):
    inner = (n + lo + hi for n, (lo, hi) in zip(shape[1:-1], pads, strict=True))
    return (shape[0], *inner, shape[-1])


def _osize(pshape, ksize, strides, dilation):
    return tuple((p - (k - 1) * d - 1) // s + 1
                 for p, k, s, d in zip(pshape, ksize, strides, dilation, strict=True))  # fmt: skip


# -- convolution -----------------------------------------------------------------------------
# NOTE: fused for speed: the bias and the relu are applied in place on the fresh GEMM
# result (no second node and no second array), and one gradient rule serves all three inputs,
# so the relu mask is applied to g once and only the gradients asked for are computed (the
# first layer's input never pays for its col2im).
@primitive(nargs=3)
def conv_general(x, kernel, bias, strides, dilation, pads, groups, activation=None, saved=None):
    """Channels-last convolution with explicit padding (the primitive behind ``conv``).

    ``out[n, o, f] = act(sum_{k, c} xpad[n, o * s + k * d, g(f) * C/g + c] * kernel[k, c, f]
    + bias[f])`` with ``xpad`` the input padded by ``pads``, ``g(f)`` the group of filter f
    and ``act`` the identity (``activation=None``) or ``max(., 0)`` (``"relu"``; relu'(0) = 0).
    ``saved``: an optional empty list that receives what the gradient reuses: the input's
    windows (for the kernel gradient) and, with the relu, where the output is positive.
    Shapes: ``(N, *S, C), (*K, C/groups, F), (F,) or None -> (N, *O, F)``; the result is
    batch-last (see ``_conv_fast.batch_last``): one GEMM per group,
    ``(F/g, K*C/g [+ 1]) @ (K*C/g [+ 1], M)``, the bias riding on a ones row of the windows.
    """
    row = _bias_row(x, kernel, bias)
    cols, osize = _conv_cols(x, kernel, strides, dilation, pads, groups, row)
    out = _matmul_groups(_stacked_kernel(kernel, row, groups), cols, transpose_a=True)
    if bias is not None and row is None:
        out += bias.reshape(groups, -1, 1)
    out = _fast.batch_last(out.reshape(kernel.shape[-1], *osize, x.shape[0]))
    if saved is not None:
        # NOTE: the graph node holds ``saved`` (a keyword argument), so the windows live
        # exactly as long as the node: one im2col per step instead of two.
        saved.append(cols)
    if activation == "relu":
        np.maximum(out, out.dtype.type(0), out=out)
        if saved is not None:
            # NOTE: the relu's mask is taken now, while ``out`` is in cache, as booleans (a
            # quarter of its bytes): the backward then reads those instead of ``out`` itself,
            # long gone from the cache (0.9 of the benchmark CNN epoch's time, paired A/B).
            saved.append(out > 0)
    return out


def _matmul_groups(a, b, transpose_a=False, transpose_b=False):
    """``a @ b`` for each group: ``(G, p, q) x (G, q, r) -> (G, p, r)`` (2-D GEMM for G=1)."""
    a = a.transpose(0, 2, 1) if transpose_a else a
    b = b.transpose(0, 2, 1) if transpose_b else b
    if a.shape[0] == 1:  # NOTE: a plain 2-D product, whose transposes BLAS takes as flags
        return (a[0] @ b[0])[None]
    return np.matmul(a, b)


def _bias_row(x, kernel, bias):
    """``bias`` when it can ride on the windows' ones row: the same dtype as ``x`` and
    ``kernel`` (stacking it under the kernel would otherwise round it to the kernel's dtype);
    else None, and the bias is added after the GEMM."""
    if bias is not None and bias.dtype == kernel.dtype == x.dtype:
        return bias
    return None


def _stacked_kernel(kernel, bias, groups):
    """``(G, K*C/g [+ 1], F/g)``: each group's kernel as a GEMM operand, the group's bias as
    its last row."""
    kc, f = kernel.size // kernel.shape[-1], kernel.shape[-1]
    w = kernel.reshape(kc, groups, f // groups).transpose(1, 0, 2)
    if bias is None:
        return w
    return np.concatenate([w, bias.reshape(groups, 1, -1)], axis=1)


def _conv_cols(x, kernel, strides, dilation, pads, groups, bias):
    """The ``(G, K*C/g [+ 1], M)`` windows of ``x`` in the batch-last layout (with the ones
    row that adds ``bias``, when there is one), and the output size."""
    ksize = kernel.shape[: x.ndim - 2]
    xt = _fast.to_batch_last(x, pads)
    osize = _osize(xt.shape[1:-1], ksize, strides, dilation)
    cols = _fast.im2col_batch_last(xt, ksize, strides, dilation, osize, groups, bias is not None)
    return cols, osize


def _conv_vjp(needs, g, out, x, kernel, bias, strides, dilation, pads, groups,
              activation=None, saved=None):  # fmt: skip
    """All three gradients in the batch-last layout; one GEMM per group gives the kernel's
    and the bias's (the windows carry the ones row)."""
    if activation == "relu":
        g = g * (saved[1] if saved else out > 0)  # out > 0 exactly where the pre-activation is
    f = kernel.shape[-1]
    ksize = kernel.shape[: x.ndim - 2]
    osize = g.shape[1:-1]
    gt = _fast.to_batch_last(g)  # no copy when g is batch-last
    gt = gt.reshape(groups, f // groups, gt.size // f)  # (not -1: N may be 0)
    gx = gk = gb = None
    if 0 in needs:
        pshape = (x.shape[-1], *_padded_shape(x.shape, pads)[1:-1], x.shape[0])
        dcols = _matmul_groups(_stacked_kernel(kernel, None, groups), gt)
        dxt = _fast.col2im_batch_last(dcols, pshape, ksize, strides, dilation, osize)
        gx = _fast.batch_last(_crop(dxt, pads))
    row = _bias_row(x, kernel, bias)
    if 2 in needs and row is None:
        gb = gt.sum(axis=-1).reshape(f)
    if 1 in needs or (2 in needs and row is not None):
        cols = saved[0] if saved else _conv_cols(x, kernel, strides, dilation, pads, groups,
                                                 row)[0]  # fmt: skip
        if cols.shape[1] < gt.shape[1]:
            # NOTE: with fewer window rows than filters (a first layer on few channels),
            # OpenBLAS is ~2x faster on the product with the long axis M the other way round
            # (measured on 10x43264 windows, 16 filters: 0.45 vs 0.99 ms); with more rows,
            # the product as written is the faster one
            gkb = _matmul_groups(gt, cols, transpose_b=True).transpose(0, 2, 1)
        else:
            gkb = _matmul_groups(cols, gt, transpose_b=True)  # (G, K*C/g [+ 1], F/g)
        kc = kernel.size // f
        gk = gkb[:, :kc].transpose(1, 0, 2).reshape(kernel.shape)
        if row is not None:
            gb = gkb[:, -1].reshape(f)
    return gx, gk, gb


defvjp_all(conv_general, _conv_vjp)


# -- transposed convolution --------------------------------------------------------------------
def _uncrop(g, crops):
    """Gradient of ``_crop_or_pad``: pad back what was cropped, drop what was zero-padded."""
    g = _pad(g, [(max(c0, 0), max(c1, 0)) for c0, c1 in crops])
    return _crop(g, [(max(-c0, 0), max(-c1, 0)) for c0, c1 in crops])


def _crop_or_pad(full, crops):
    full = _pad(full, [(max(-c0, 0), max(-c1, 0)) for c0, c1 in crops])
    return _crop(full, [(max(c0, 0), max(c1, 0)) for c0, c1 in crops])


@primitive(nargs=3)
def conv_transpose_general(x, kernel, bias, strides, dilation, crops):
    """Channels-last transposed convolution (the adjoint of ``conv_general`` in its input).

    The "full" output of size ``(I - 1) * s + (K - 1) * d + 1`` per axis is built by
    scattering ``kernel @ x`` over the kernel offsets; ``crops`` (left, right) then trims it
    (a negative crop pads zeros). Shapes: ``(N, *I, C), (*K, F, C), (F,) or None ->
    (N, *O, F)``, the result batch-last (see ``_conv_fast.batch_last``).
    """
    ksize = kernel.shape[: x.ndim - 2]
    isize = x.shape[1:-1]
    f, c = kernel.shape[-2], kernel.shape[-1]
    xt = _fast.to_batch_last(x)
    dcols = kernel.reshape(-1, c) @ xt.reshape(c, xt.size // c)  # (K*F, M): per offset
    full = tuple((i - 1) * s + (kk - 1) * d + 1
                 for i, kk, s, d in zip(isize, ksize, strides, dilation, strict=True))  # fmt: skip
    out = _fast.col2im_batch_last(dcols[None], (f, *full, x.shape[0]), ksize, strides, dilation,
                                  isize)  # fmt: skip
    out = _crop_or_pad(out, crops)
    if bias is not None:
        out = out + bias.reshape(f, *(1,) * (out.ndim - 1))
    return _fast.batch_last(out)


def _convt_vjp(needs, g, out, x, kernel, bias, strides, dilation, crops):
    f, c = kernel.shape[-2], kernel.shape[-1]
    gt = _fast.to_batch_last(g)  # (F, *O, N)
    gx = gk = gb = None
    if 0 in needs or 1 in needs:
        # the windows of the un-cropped gradient: (K*F, M), M over the input's positions
        cols = _fast.im2col_batch_last(_uncrop(gt, crops), kernel.shape[: x.ndim - 2], strides,
                                       dilation, x.shape[1:-1])[0]  # fmt: skip
        if 0 in needs:
            dxt = (kernel.reshape(-1, c).T @ cols).reshape(c, *x.shape[1:-1], x.shape[0])
            gx = _fast.batch_last(dxt)
        if 1 in needs:
            xt = _fast.to_batch_last(x)
            gk = (cols @ xt.reshape(c, xt.size // c).T).reshape(kernel.shape)
    if 2 in needs:
        gb = gt.reshape(f, gt.size // f).sum(axis=1)
    return gx, gk, gb


defvjp_all(conv_transpose_general, _convt_vjp)


# -- public functions (Keras ``ops.conv`` family) -------------------------------------------------
def _tuple(value, n, name):
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        value = (int(value),) * n
    value = tuple(value)
    if len(value) != n or not all(isinstance(v, (int, np.integer)) and v > 0 for v in value):
        raise ValueError(f"{name} must be a positive integer or a tuple of {n} positive "
                         f"integers, received {name}={value!r}")  # fmt: skip
    return tuple(int(v) for v in value)


def conv_output_size(size, k, stride, padding, dilation=1):
    """The output length along one axis (None stays None), as Keras's shape rule."""
    if size is None:
        return None
    if padding == "valid":
        return (size - (k - 1) * dilation - 1) // stride + 1
    return (size - 1) // stride + 1


def conv_padding(sizes, ksize, strides, dilation, padding):
    """The ``(left, right)`` zero padding per spatial axis for Keras's ``padding`` mode.

    "valid": none. "same": ``total = max((ceil(n / s) - 1) * s + (k - 1) * d + 1 - n, 0)``,
    with the extra element on the right (TensorFlow's rule, which Keras follows).
    "causal": all ``(k - 1) * d`` on the left.
    """
    pads = []
    for n, k, s, d in zip(sizes, ksize, strides, dilation, strict=True):
        eff = (k - 1) * d + 1
        if padding == "valid":
            pads.append((0, 0))
        elif padding == "causal":
            pads.append((eff - 1, 0))
        elif padding == "same":
            total = max(((n + s - 1) // s - 1) * s + eff - n, 0)
            pads.append((total // 2, total - total // 2))
        else:
            raise ValueError(
                f"padding must be 'valid', 'same' or 'causal', received padding={padding!r}"
            )
    return tuple(pads)


def _to_last(x, data_format, rank):
    if data_format == "channels_first":
        return transpose(x, (0, *range(2, rank + 2), 1))
    if data_format != "channels_last":
        raise ValueError("data_format must be 'channels_last' or 'channels_first', received "
                         f"data_format={data_format!r}")  # fmt: skip
    return x


def _to_format(y, data_format, rank):
    if data_format == "channels_first":
        return transpose(y, (0, rank + 1, *range(1, rank + 1)))
    return y


def _check_bias(bias, filters, what):
    shape = None if bias is None else tuple(getattr(bias, "shape", np.shape(bias)))
    if shape is not None and shape != (filters,):
        raise ValueError(f"{what}: bias must have shape ({filters},), one value per filter; "
                         f"received bias of shape {shape}")  # fmt: skip


def _check_rank(inputs, kernel, what):
    if inputs.ndim < 3 or inputs.ndim != kernel.ndim:
        raise ValueError(
            f"{what}: inputs must have rank len(kernel_size) + 2 = {kernel.ndim}, received "
            f"inputs of shape {tuple(inputs.shape)} and kernel of shape {tuple(kernel.shape)}"
        )
    return inputs.ndim - 2


def conv_args(inputs, kernel, bias, strides, padding, data_format, dilation_rate):
    """``conv``'s arguments checked and made explicit for ``conv_general``: ``(x, rank,
    strides, dilation, pads, groups)``, ``x`` channels-last. Raises ``conv``'s errors."""
    rank = _check_rank(inputs, kernel, "conv")
    strides = _tuple(strides, rank, "strides")
    dilation = _tuple(dilation_rate, rank, "dilation_rate")
    x = _to_last(inputs, data_format, rank)
    cin, kin, filters = x.shape[-1], kernel.shape[-2], kernel.shape[-1]
    if cin % kin or filters % (cin // kin):
        raise ValueError(
            f"conv: the input's {cin} channels must be a multiple of the kernel's {kin} input "
            f"channels, and filters={filters} a multiple of the groups ({cin}/{kin}); received "
            f"inputs of shape {tuple(inputs.shape)} and kernel of shape {tuple(kernel.shape)}"
        )
    _check_bias(bias, filters, "conv")
    ksize = tuple(kernel.shape[:rank])
    pads = conv_padding(x.shape[1:-1], ksize, strides, dilation, padding)
    dims = zip(x.shape[1:-1], ksize, dilation, pads, strict=True)
    for i, (n, k, d, (lo, hi)) in enumerate(dims):
        if n + lo + hi < (k - 1) * d + 1:
            raise ValueError(
                f"conv: the kernel (size {k}, dilation {d}, effective size {(k - 1) * d + 1}) "
                f"is larger than the input (size {n + lo + hi} after padding={padding!r}) "
                f"along spatial axis {i}; input shape {tuple(inputs.shape)}, kernel shape "
                f"{tuple(kernel.shape)}"
            )
    return x, rank, strides, dilation, pads, cin // kin


def conv(inputs, kernel, bias=None, strides=1, padding="valid", data_format="channels_last",
         dilation_rate=1, activation=None):  # fmt: skip
    """N-d convolution (cross-correlation), as Keras 3 ``ops.conv`` plus an optional bias and
    relu.

    ``out[n, o, f] = act(bias[f] + sum_{k, c} xpad[n, o * strides + k * dilation_rate, c'] *
    kernel[k, c, f])`` where ``c'`` runs over filter ``f``'s group of input channels
    (``groups = in_channels // kernel.shape[-2]``, inferred as Keras does) and ``act`` is the
    identity or ``max(., 0)``.

    Args:
        inputs: ``(batch, *spatial, channels)`` (channels_last) or ``(batch, channels,
            *spatial)`` (channels_first).
        kernel: ``(*kernel_size, in_channels // groups, filters)``.
        bias: optional ``(filters,)``.
        strides: int or tuple, default 1. dilation_rate: int or tuple, default 1.
        padding: "valid" (default), "same", "causal" (left padding, for 1-D sequences).
        data_format: "channels_last" (default) or "channels_first".
        activation: None (default) or "relu" (fused: one node, relu'(0) = 0 as ``relu``).

    Returns:
        ``(batch, *out_spatial, filters)`` (or channels first), with ``out = (n - (k-1) d - 1)
        // s + 1`` for "valid" and ``ceil(n / s)`` otherwise.

    Raises:
        ValueError: mismatched ranks, channels not divisible by the kernel's input channels,
            a kernel larger than the padded input (naming both sizes), or another
            ``activation``.

    >>> conv(np.ones((1, 3, 3, 1), "float32"), -np.ones((2, 2, 1, 1), "float32"),
    ...      np.array([5.0], "float32"), activation="relu").numpy().ravel().tolist()
    [1.0, 1.0, 1.0, 1.0]

    Matches Keras 3 ``keras/src/ops/nn.py`` ``conv`` (TensorFlow's "same" padding rule).
    """
    if activation not in (None, "relu"):
        raise ValueError(
            f"conv: activation must be None or 'relu', received activation={activation!r}"
        )
    x, rank, strides, dilation, pads, groups = conv_args(inputs, kernel, bias, strides, padding,
                                                         data_format, dilation_rate)  # fmt: skip
    saved = [] if records(x, kernel, bias) else None  # (see ``conv_general``)
    out = conv_general(x, kernel, bias, strides, dilation, pads, groups, activation,
                       saved=saved)  # fmt: skip
    return _to_format(out, data_format, rank)


def conv_transpose(inputs, kernel, bias=None, strides=1, padding="valid", output_padding=None,
                   data_format="channels_last", dilation_rate=1):  # fmt: skip
    """N-d transposed convolution, as Keras 3 ``ops.conv_transpose`` plus an optional bias.

    The adjoint of ``conv`` in its input: each input pixel adds ``x[n, i, :] @ kernel[k].T``
    at output position ``i * strides + k * dilation_rate - left_pad``.

    Args:
        inputs: ``(batch, *spatial, in_channels)`` (or channels_first).
        kernel: ``(*kernel_size, filters, in_channels)`` (Keras's layout).
        bias: optional ``(filters,)``.
        strides, dilation_rate: int or tuple, default 1.
        padding: "valid" (default) or "same".
        output_padding: None (default) or int/tuple of extra size on the right, < strides.

    Returns:
        ``(batch, *out_spatial, filters)`` with, per axis and ``k' = (k - 1) d + 1``:
        "valid": ``(n - 1) s + k' + output_padding`` (default output_padding
        ``max(k', s) - k'``); "same": ``n * s`` (or ``(n - 1) s + k' % 2 + output_padding``).

    Matches Keras 3 ``keras/src/backend/common/backend_utils.py`` (the JAX padding rule).
    """
    rank = _check_rank(inputs, kernel, "conv_transpose")
    strides = _tuple(strides, rank, "strides")
    dilation = _tuple(dilation_rate, rank, "dilation_rate")
    x = _to_last(inputs, data_format, rank)
    if x.shape[-1] != kernel.shape[-1]:
        raise ValueError(
            f"conv_transpose: the input has {x.shape[-1]} channels but the kernel of shape "
            f"{tuple(kernel.shape)} expects {kernel.shape[-1]} (its last axis)"
        )
    _check_bias(bias, kernel.shape[-2], "conv_transpose")
    if output_padding is not None and not isinstance(output_padding, (tuple, list)):
        output_padding = (output_padding,) * rank
    crops = []
    for i in range(rank):
        k, s, d = kernel.shape[i], strides[i], dilation[i]
        eff = (k - 1) * d + 1
        op = None if output_padding is None else output_padding[i]
        if padding == "valid":
            op = max(eff, s) - eff if op is None else op
            left, right = eff - 1, eff - 1 + op
        elif padding == "same":
            total = s + eff - 2 if op is None else eff + eff % 2 - 2 + op
            left = min(total // 2 + total % 2, eff - 1)
            right = total - left
        else:
            raise ValueError(f"padding must be 'valid' or 'same', received padding={padding!r}")
        crops.append((eff - 1 - left, eff - 1 - right))
    out = conv_transpose_general(x, kernel, bias, strides, dilation, tuple(crops))
    return _to_format(out, data_format, rank)


def depthwise_conv(inputs, kernel, bias=None, strides=1, padding="valid",
                   data_format="channels_last", dilation_rate=1):  # fmt: skip
    """Depthwise convolution, as Keras 3 ``ops.depthwise_conv``: each input channel ``c`` is
    convolved with its own ``depth_multiplier`` filters ``kernel[..., c, :]``; output channel
    ``c * depth_multiplier + j``.

    Args:
        kernel: ``(*kernel_size, in_channels, depth_multiplier)``. Others as ``conv``.

    Returns:
        ``(batch, *out_spatial, in_channels * depth_multiplier)`` (or channels_first).
    """
    from .shape import reshape  # noqa: PLC0415

    rank = _check_rank(inputs, kernel, "depthwise_conv")
    cin = inputs.shape[-1] if data_format == "channels_last" else inputs.shape[1]
    if kernel.shape[-2] != cin:
        raise ValueError(
            f"depthwise_conv: the input has {cin} channels but the kernel of shape "
            f"{tuple(kernel.shape)} expects {kernel.shape[-2]}"
        )
    flat = reshape(kernel, (*kernel.shape[:rank], 1, kernel.shape[-2] * kernel.shape[-1]))
    return conv(inputs, flat, bias, strides, padding, data_format, dilation_rate)


def separable_conv(inputs, depthwise_kernel, pointwise_kernel, bias=None, strides=1,
                   padding="valid", data_format="channels_last", dilation_rate=1):  # fmt: skip
    """Depthwise convolution followed by a 1x1 convolution (Keras 3 ``ops.separable_conv``).

    Args:
        depthwise_kernel: ``(*kernel_size, in_channels, depth_multiplier)``.
        pointwise_kernel: ``(1, ..., 1, in_channels * depth_multiplier, filters)``.
        bias: optional ``(filters,)``, added after the pointwise step.
    """
    y = depthwise_conv(inputs, depthwise_kernel, None, strides, padding, data_format,
                       dilation_rate)  # fmt: skip
    return conv(y, pointwise_kernel, bias, 1, "valid", data_format, 1)
