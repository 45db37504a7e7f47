"""Connectionist temporal classification (CTC) loss as one primitive (Graves et al. 2006).

The forward is the alpha (forward-variable) recursion in log space over the extended label
sequence ``blank, l_1, blank, l_2, ..., l_L, blank``; the backward runs the beta recursion and
turns the state posteriors ``exp(alpha + beta - emit - log p)`` into the gradient with respect
to the logits. Both recursions are vectorised over the batch and the label states; the only
Python loop is over time.

NOTE: fused for numerics and speed. Composed from ops, the recursion records a dozen nodes per
time step and its gradient has to push ``-inf`` (unreachable states) through ``logaddexp``,
which gives ``nan``; here the gradient is formed from the posteriors directly.
"""

from __future__ import annotations

from ...autodiff import grad_mode
from ...autodiff.primitive import defvjp, primitive
from ...autodiff.tensor import Tensor
from ...backend import np
from ...ops.recurrent import _SAVED, _save  # (the scans' save-for-backward scheme)

__all__ = ["ctc_loss"]

_NEG_INF = -np.inf


def _int_array(x, name: str):
    """``x`` as an int64 array; integral floats are accepted (Keras's loss casts labels to
    floatx before they reach the op)."""
    arr = np.asarray(x)
    if arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr) & (arr == np.round(arr))):
            bad = arr[~(np.isfinite(arr) & (arr == np.round(arr)))].flat[0]
            raise ValueError(f"{name} must hold integers, received the value {bad.item()!r}")
    elif arr.dtype.kind not in "iub":
        raise ValueError(f"{name} must hold integers, received dtype {arr.dtype}")
    return arr.astype(np.int64)


def _check(target, output, target_length, output_length, mask_index):
    """Validate and convert the arguments: ``(labels, T_b, L_b, blank)`` as int arrays."""
    if output.ndim != 3:
        raise ValueError(
            "output must have shape (batch_size, max_length, num_classes), received "
            f"output.shape={output.shape}"
        )
    if output.dtype.kind not in "biuf":
        raise ValueError(f"output must hold real numbers, received dtype {output.dtype}")
    batch, steps, classes = output.shape
    labels = _int_array(target, "target")
    if labels.ndim != 2 or labels.shape[0] != batch:
        raise ValueError(
            f"target must have shape (batch_size, max_label_length) with batch_size={batch} "
            f"(output's first dimension), received target.shape={labels.shape}"
        )
    lengths = []
    for name, value, limit in (
        ("target_length", target_length, labels.shape[1]),
        ("output_length", output_length, steps),
    ):
        arr = _int_array(value, name)
        if arr.shape != (batch,):
            raise ValueError(
                f"{name} must have shape (batch_size,) = ({batch},), received "
                f"{name}.shape={arr.shape}"
            )
        bad = (arr < 0) | (arr > limit)
        if bad.any():
            i = int(np.argmax(bad))
            raise ValueError(f"{name} must be in [0, {limit}], received {name}[{i}]={int(arr[i])}")
        lengths.append(arr)
    if (
        isinstance(mask_index, bool)
        or not isinstance(mask_index, (int, np.integer))
        or not (0 <= mask_index < classes)
    ):
        raise ValueError(
            f"mask_index must be an integer in [0, {classes}) (num_classes={classes}), "
            f"received mask_index={mask_index!r}"
        )
    label_len, out_len = lengths
    inside = np.arange(labels.shape[1]) < label_len[:, None]
    bad = inside & ((labels < 0) | (labels >= classes) | (labels == mask_index))
    if bad.any():
        b, j = (int(i) for i in np.argwhere(bad)[0])
        raise ValueError(
            f"target labels within target_length must be class indices in [0, {classes}) "
            f"other than mask_index={mask_index}, received target[{b}, {j}]={int(labels[b, j])}"
        )
    return np.where(inside, labels, mask_index), out_len, label_len, int(mask_index)


def _log_softmax64(output):
    # NOTE: the recursions run in float64 whatever the input: log-probabilities are summed over
    # every time step, and the posteriors exp(alpha + beta - emit - log p) turn the absolute
    # rounding error of those sums into relative error of the gradient (~1e-4 in float32 for
    # 100 steps). The loss is returned in float32 (as Keras), the gradient in the input's type.
    x = output.astype(np.float64)
    z = x - np.max(x, axis=-1, keepdims=True)
    return z - np.log(np.sum(np.exp(z), axis=-1, keepdims=True))


def _setup(labels, output, blank):
    """Extended labels and their log-probabilities: ``(lp, ext, emit, skip)``.

    ``ext`` is ``(B, S)``, ``S = 2 L + 1``; ``emit[t, b, s] = lp[b, t, ext[b, s]]`` is
    time-major; ``skip[b, s]`` is 0 where the transition ``s - 2 -> s`` is allowed (a label
    different from the one two states back) and ``-inf`` elsewhere.
    """
    lp = _log_softmax64(output)
    batch, width = labels.shape
    ext = np.full((batch, 2 * width + 1), blank, dtype=np.int64)
    ext[:, 1::2] = labels
    skip = np.full(ext.shape, _NEG_INF)
    skip[:, 3::2][labels[:, 1:] != labels[:, :-1]] = 0.0
    emit = np.take_along_axis(
        lp, np.broadcast_to(ext[:, None, :], lp.shape[:2] + ext.shape[1:]), axis=2
    )
    return lp, ext, np.ascontiguousarray(emit.transpose(1, 0, 2)), skip


def _alpha(emit, skip):
    """``alpha[t, b, s]``: log-probability of the prefixes of paths that are in state ``s`` at
    frame ``t``, emission at ``t`` included. States past a sample's ``2 L_b + 1`` only feed
    higher states, so they never reach the ones read."""
    steps = emit.shape[0]
    alpha = np.full(emit.shape, _NEG_INF)
    if steps:
        alpha[0, :, :2] = emit[0, :, :2]
    for t in range(1, steps):
        prev, cur = alpha[t - 1], alpha[t]
        cur[:, 0] = prev[:, 0]
        np.logaddexp(prev[:, 1:], prev[:, :-1], out=cur[:, 1:])
        np.logaddexp(cur[:, 2:], prev[:, :-2] + skip[:, 2:], out=cur[:, 2:])
        cur += emit[t]
    return alpha


def _log_likelihood(alpha, out_len, label_len):
    """``log p(labels | x)`` per sample: the two final states at frame ``T_b - 1``; 0 for an
    empty label on an empty input, ``-inf`` for any other empty input."""
    batch = out_len.shape[0]
    if alpha.shape[0] == 0:
        return np.where(label_len == 0, 0.0, _NEG_INF)
    rows = alpha[np.maximum(out_len - 1, 0), np.arange(batch)]  # (B, S)
    last = rows[np.arange(batch), 2 * label_len]
    before = np.where(
        label_len > 0, rows[np.arange(batch), np.maximum(2 * label_len - 1, 0)], _NEG_INF
    )
    ll = np.logaddexp(last, before)
    return np.where(out_len > 0, ll, np.where(label_len == 0, 0.0, _NEG_INF))


def ctc_loss(target, output, target_length, output_length, mask_index: int = 0) -> Tensor:
    """CTC loss ``-log p(target | output)`` per sample, from logits (Graves et al. 2006).

    ``p`` sums ``prod_t softmax(output[b, t])[path_t]`` over every path of ``output_length[b]``
    frames that collapses to ``target[b, :target_length[b]]`` (merge repeats, then drop
    ``mask_index``, the blank). Computed with the alpha recursion in log space.

    Args:
        target: integer labels, shape ``(batch_size, max_label_length)``; entries at or past
            ``target_length[b]`` are padding and ignored.
        output: logits (not softmax-normalised), shape ``(batch_size, max_length,
            num_classes)``; ``log_softmax`` is applied over the last axis.
        target_length: ``(batch_size,)`` label lengths, in ``[0, max_label_length]``.
        output_length: ``(batch_size,)`` input lengths, in ``[0, max_length]``; frames past
            them are ignored (zero gradient).
        mask_index: the blank class (default 0).

    Returns:
        ``(batch_size,)`` float32 losses, whatever the float type of ``output`` (Keras's
        ``result_type(output.dtype, "float32")`` is float32 for every float type; the
        gradient keeps ``output``'s dtype and float64 precision). A label sequence
        that no path of ``output_length`` frames can produce (it needs ``L`` frames plus one
        per adjacent repeat) gives ``inf`` and a zero gradient.

    Raises:
        ValueError: for an ``output`` not of rank 3, a ``target`` not ``(batch_size, L)``,
            lengths not ``(batch_size,)`` or outside their range, a ``mask_index`` outside
            ``[0, num_classes)``, or a label within ``target_length`` that is not a class
            index or is the blank (naming the position).

    Matches Keras 3 ``keras/src/ops/nn.py:ctc_loss`` (torch backend: ``log_softmax`` then
    ``torch.nn.functional.ctc_loss(blank=mask_index, reduction="none")``), whose gradient is
    ``nan`` where the loss is ``inf``; out-of-range labels are errors here, not a number.

    >>> import numpy as np
    >>> x = np.zeros((1, 2, 3), dtype=np.float32)  # uniform over 3 classes, 2 frames
    >>> float(ctc_loss([[1]], x, [1], [2]).numpy()[0])  # 3 paths: -log(3 / 9)
    1.0986123085021973
    """
    # NOTE: arguments reach the primitive by position: @primitive traces Tensors among the
    # positional arguments only, and Keras code passes these by keyword too.
    return _ctc_loss(target, output, target_length, output_length, mask_index)


@primitive(name="ctc_loss", nargs=4)
def _ctc_loss(target, output, target_length, output_length, mask_index=0):
    """The primitive behind :func:`ctc_loss` (arrays in, ``(batch,)`` losses out)."""
    output = np.asarray(output)
    labels, out_len, label_len, blank = _check(
        target, output, target_length, output_length, mask_index
    )
    lp, ext, emit, skip = _setup(labels, output, blank)
    alpha = _alpha(emit, skip)
    ll = _log_likelihood(alpha, out_len, label_len)
    out = (-ll).astype(np.float32)
    if grad_mode.STATE.enabled:
        _save(out, (lp, ext, emit, skip, alpha, ll, out_len, label_len))
    return out


def _beta(emit, skip, out_len, label_len):
    """``beta[t, b, s]``: log-probability of the suffixes from state ``s`` at frame ``t`` (its
    emission included) to the end at frame ``T_b - 1``; ``-inf`` at and past ``T_b``."""
    steps, batch, width = emit.shape
    end = np.full((batch, width), _NEG_INF)
    idx = np.arange(batch)
    end[idx, 2 * label_len] = 0.0
    has_label = label_len > 0
    end[idx[has_label], 2 * label_len[has_label] - 1] = 0.0
    beta = np.full(emit.shape, _NEG_INF)
    for t in range(steps - 1, -1, -1):
        cur = beta[t]
        if t + 1 < steps:
            nxt = beta[t + 1]
            cur[:, -1] = nxt[:, -1]
            np.logaddexp(nxt[:, :-1], nxt[:, 1:], out=cur[:, :-1])
            np.logaddexp(cur[:, :-2], nxt[:, 2:] + skip[:, 2:], out=cur[:, :-2])
            cur += emit[t]
        last = out_len - 1 == t
        cur[last] = end[last] + emit[t][last]
        cur[out_len <= t] = _NEG_INF
    return beta


def _ctc_dlogits(g, out, target, output, target_length, output_length, mask_index=0):
    saved = _SAVED.get(id(out))
    if saved is None:  # the forward ran under no_grad, or on another array: recompute
        labels, out_len, label_len, blank = _check(
            target, np.asarray(output), target_length, output_length, mask_index
        )
        lp, ext, emit, skip = _setup(labels, np.asarray(output), blank)
        alpha = _alpha(emit, skip)
        ll = _log_likelihood(alpha, out_len, label_len)
    else:
        lp, ext, emit, skip, alpha, ll, out_len, label_len = saved
    batch, steps, classes = lp.shape
    # NOTE: impossible samples (ll = -inf) and empty ones get a zero gradient, not nan: their
    # posteriors are 0/0. Keras's torch backend gives nan there.
    live = np.isfinite(ll) & (out_len > 0)
    beta = _beta(emit, skip, out_len, label_len)
    with np.errstate(under="ignore"):
        post = np.exp(alpha + beta - emit - np.where(live, ll, 0.0)[None, :, None])
    post *= live[None, :, None]
    # gamma[b, t, k]: the posterior of class k at frame t, summed over the states that emit k
    index = (np.arange(batch)[None, :, None] * steps + np.arange(steps)[:, None, None]) * classes
    gamma = np.bincount(
        (index + ext[None]).reshape(-1), weights=post.reshape(-1), minlength=batch * steps * classes
    ).reshape(batch, steps, classes)
    frames = (np.arange(steps)[None, :] < out_len[:, None]) & live[:, None]
    grad = np.exp(lp) * frames[..., None] - gamma
    grad *= np.asarray(g, dtype=np.float64)[:, None, None]
    dtype = np.asarray(output).dtype
    return grad.astype(dtype if dtype.kind == "f" else np.float32, copy=False)


defvjp(_ctc_loss, None, _ctc_dlogits, None, None)
