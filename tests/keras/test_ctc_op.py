"""The CTC loss primitive (``keras.losses._ctc_op.ctc_loss``) against independent references.

Values and gradients against ``torch.nn.functional.ctc_loss`` on ``log_softmax`` (CPU, in
float64 and float32), against a brute-force sum over every alignment path of a tiny input, and
against float64 central differences of that sum; cases cover label length 0, repeated labels
that need a blank between them, labels as long as the input allows, input lengths shorter than
the padded input, a non-zero blank, and impossible alignments (``inf`` loss, as torch and
Keras; a zero gradient where torch gives nan). Bad arguments raise errors naming the argument.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import chainrule as cr
from chainrule.keras.losses import _ctc_op as ctc_module
from chainrule.keras.losses._ctc_op import ctc_loss


def _torch_ctc(target, logits, target_length, output_length, blank=0, weights=None,
               dtype=torch.float64):  # fmt: skip
    """torch's loss and d(sum(loss * weights))/d logits, as Keras's torch backend computes it."""
    x = torch.tensor(np.asarray(logits), dtype=dtype, requires_grad=True)
    lp = torch.log_softmax(x, dim=-1).transpose(0, 1)
    loss = F.ctc_loss(lp, torch.as_tensor(np.asarray(target), dtype=torch.long),
                      torch.as_tensor(output_length), torch.as_tensor(target_length),
                      blank=blank, reduction="none")  # fmt: skip
    w = torch.ones_like(loss) if weights is None else torch.tensor(weights, dtype=dtype)
    (loss * w).sum().backward()
    return loss.detach().numpy(), x.grad.numpy()


def _ours(target, logits, target_length, output_length, blank=0, weights=None):
    x = cr.tensor(logits, requires_grad=True)
    loss = ctc_loss(target, x, target_length, output_length, mask_index=blank)
    w = np.ones(loss.shape, loss.dtype) if weights is None else weights.astype(loss.dtype)
    (grad,) = cr.grad(loss, [x], [w])
    return loss.numpy(), grad


def _case(seed, batch, steps, classes, label_length, output_length, blank=0):
    """Random logits and labels (never the blank) padded with the blank."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0.0, 2.0, (batch, steps, classes)).astype(np.float32)
    width = max(max(label_length), 1)
    others = [c for c in range(classes) if c != blank]
    target = np.full((batch, width), blank, dtype=np.int64)
    for b, n in enumerate(label_length):
        target[b, :n] = rng.choice(others, n)
    return target, logits, np.array(label_length), np.array(output_length)


CASES = {
    # label lengths from 0 to the maximum, input lengths from 1 to the full 12 frames
    "mixed": (0, 5, 12, 6, [4, 0, 2, 3, 1], [12, 10, 7, 12, 1]),
    "long": (1, 4, 40, 10, [15, 9, 20, 1], [40, 33, 40, 25]),
    "no_labels": (2, 3, 5, 4, [0, 0, 0], [5, 3, 1]),
    "blank_last": (3, 3, 8, 5, [3, 2, 4], [8, 8, 6], 4),
    "blank_middle": (4, 2, 6, 5, [2, 3], [6, 5], 2),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_matches_torch_float64(name):
    seed, batch, steps, classes, lab, out, *blank = CASES[name]
    blank = blank[0] if blank else 0
    target, logits, tl, ol = _case(seed, batch, steps, classes, lab, out, blank)
    weights = np.random.default_rng(seed + 10).uniform(0.5, 2.0, batch)
    loss, grad = _ours(target, logits, tl, ol, blank, weights)
    ref_loss, ref_grad = _torch_ctc(target, logits, tl, ol, blank, weights)
    assert loss.dtype == np.float32 and grad.dtype == np.float32
    assert np.all(np.isfinite(ref_loss))
    np.testing.assert_allclose(loss, ref_loss, rtol=2e-7, atol=1e-6)
    np.testing.assert_allclose(grad, ref_grad, rtol=1e-5, atol=1e-6)
    # frames past output_length get exactly zero gradient, as in torch
    for b, n in enumerate(ol):
        assert not grad[b, n:].any()


@pytest.mark.parametrize("name", ["mixed", "long"])
def test_matches_torch_float32(name):
    """What Keras's torch backend itself computes (float32 on CPU)."""
    seed, batch, steps, classes, lab, out = CASES[name]
    target, logits, tl, ol = _case(seed, batch, steps, classes, lab, out)
    loss, grad = _ours(target, logits, tl, ol)
    ref_loss, ref_grad = _torch_ctc(target, logits, tl, ol, dtype=torch.float32)
    np.testing.assert_allclose(loss, ref_loss, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(grad, ref_grad, rtol=1e-4, atol=2e-5)


def _brute_force(labels, logits, blank):
    """-log of the sum, over every path in C^T, of its probability if it collapses to
    ``labels`` (merge repeats, then drop blanks): the definition, with no recursion."""
    x = np.asarray(logits, dtype=np.float64)
    probs = np.exp(x - x.max(-1, keepdims=True))
    probs /= probs.sum(-1, keepdims=True)
    total = 0.0
    for path in itertools.product(range(x.shape[1]), repeat=x.shape[0]):
        merged = [k for i, k in enumerate(path) if i == 0 or k != path[i - 1]]
        if [k for k in merged if k != blank] == list(labels):
            total += np.prod(probs[np.arange(x.shape[0]), path])
    return -np.log(total)


@pytest.mark.parametrize(
    "labels, steps, blank",
    [([], 4, 0), ([1], 4, 0), ([1, 1], 4, 0), ([1, 2], 3, 0), ([2, 2], 3, 0), ([2, 1, 2], 5, 0),
     ([0, 0], 5, 2), ([1, 1, 1], 5, 0)],
)  # fmt: skip
def test_matches_brute_force_sum_over_paths(labels, steps, blank):
    logits = np.random.default_rng(len(labels) + steps).normal(0, 1.5, (steps, 3))
    expected = _brute_force(labels, logits, blank)
    target = np.array([labels or [blank]])
    loss = ctc_loss(target, logits[None], [len(labels)], [steps], mask_index=blank).numpy()
    if np.isinf(expected):  # [2, 2] in 3 frames: no path (the repeat needs a blank between)
        assert loss[0] == np.inf
    else:
        np.testing.assert_allclose(loss[0], expected, rtol=1e-6)


def test_labels_as_long_as_the_input_allows():
    """``L`` labels with ``r`` adjacent repeats need exactly ``L + r`` frames: one path, whose
    loss is minus the sum of its log-probabilities; one frame fewer is impossible."""
    rng = np.random.default_rng(5)
    labels = np.array([[2, 2, 3, 1, 1, 1]])  # 6 labels, 3 repeats -> 9 frames
    path = [2, 0, 2, 3, 1, 0, 1, 0, 1]
    logits = rng.normal(0, 1, (1, 9, 4)).astype(np.float32)
    loss, grad = _ours(labels, logits, [6], [9])
    lp = torch.log_softmax(torch.tensor(logits[0], dtype=torch.float64), -1).numpy()
    np.testing.assert_allclose(loss[0], -lp[np.arange(9), path].sum(), rtol=1e-6)
    ref_loss, ref_grad = _torch_ctc(labels, logits, [6], [9])
    np.testing.assert_allclose(grad, ref_grad, atol=1e-6)
    short_loss, short_grad = _ours(labels, logits, [6], [8])
    assert short_loss[0] == np.inf and _torch_ctc(labels, logits, [6], [8])[0][0] == np.inf
    assert np.all(short_grad == 0)


def test_impossible_alignment_is_inf_with_zero_gradient():
    """torch (and so Keras's torch backend) gives inf and a nan gradient; we give inf and 0,
    and the other samples of the batch are unaffected."""
    target, logits, tl, ol = _case(7, 3, 4, 5, [2, 3, 5], [4, 4, 4])
    target[1, :3] = [2, 2, 2]  # needs 5 frames
    loss, grad = _ours(target, logits, tl, ol)
    ref_loss, ref_grad = _torch_ctc(target, logits, tl, ol)
    assert loss[1] == np.inf and loss[2] == np.inf and ref_loss[1] == ref_loss[2] == np.inf
    assert np.isnan(ref_grad[1]).all()  # what we do not copy
    assert np.all(grad[1:] == 0)
    np.testing.assert_allclose(loss[0], ref_loss[0], rtol=1e-6)
    np.testing.assert_allclose(grad[0], ref_grad[0], atol=1e-6)


def test_empty_input():
    """No frames: an empty label has probability 1 (loss 0), any other is impossible."""
    logits = np.zeros((2, 3, 4), np.float32)
    loss, grad = _ours([[1], [0]], logits, [1, 0], [0, 0])
    ref_loss, _ = _torch_ctc([[1], [0]], logits, [1, 0], [0, 0])
    np.testing.assert_array_equal(loss, [np.inf, 0.0])
    np.testing.assert_array_equal(loss, ref_loss)
    assert not grad.any()


@pytest.mark.parametrize("labels, steps", [([1, 2], 4), ([2, 2], 4), ([], 3), ([1], 2)])
def test_gradient_against_float64_central_differences(labels, steps):
    """The float64 gradient (for float64 logits) against central differences of the
    brute-force float64 loss (the loss itself is float32, as Keras's)."""
    logits = np.random.default_rng(steps + len(labels)).normal(0, 1, (steps, 3))
    x = cr.tensor(logits[None], requires_grad=True)
    loss = ctc_loss(np.array([labels or [0]]), x, [len(labels)], [steps])
    (grad,) = cr.grad(loss, [x], [np.ones(1, np.float32)])
    assert grad.dtype == np.float64
    numeric = np.zeros_like(logits)
    eps = 1e-6
    for idx in np.ndindex(logits.shape):
        up, down = logits.copy(), logits.copy()
        up[idx] += eps
        down[idx] -= eps
        numeric[idx] = (_brute_force(labels, up, 0) - _brute_force(labels, down, 0)) / (2 * eps)
    np.testing.assert_allclose(grad[0], numeric, atol=1e-8)


def test_extreme_logits_stay_finite():
    """Logits of +-60 make most paths underflow in probability space; log space does not."""
    target, logits, tl, ol = _case(13, 3, 10, 5, [3, 4, 2], [10, 10, 10])
    logits = np.sign(logits) * 60.0
    loss, grad = _ours(target, logits, tl, ol)
    ref_loss, ref_grad = _torch_ctc(target, logits, tl, ol)
    assert np.all(np.isfinite(loss)) and np.all(np.isfinite(grad))
    np.testing.assert_allclose(loss, ref_loss, rtol=1e-6)
    np.testing.assert_allclose(grad, ref_grad, atol=1e-6)


def test_dtypes():
    """Keras's rule: the loss is float32 for every float ``output`` (its ``result_type``
    with "float32"); gradients keep the input's dtype, float64 ones their precision."""
    target, logits, tl, ol = _case(17, 2, 6, 4, [2, 3], [6, 5])
    x64 = cr.tensor(logits.astype(np.float64), requires_grad=True)
    loss64 = ctc_loss(target, x64, tl, ol)
    assert loss64.dtype == np.float32
    ref_loss, ref_grad = _torch_ctc(target, logits.astype(np.float64), tl, ol)
    np.testing.assert_allclose(loss64.numpy(), ref_loss, rtol=1e-7)
    np.testing.assert_allclose(cr.grad(loss64.sum(), [x64])[0], ref_grad, rtol=1e-9, atol=1e-12)
    x16 = cr.tensor(logits.astype(np.float16), requires_grad=True)
    loss16 = ctc_loss(target, x16, tl, ol)
    assert loss16.dtype == np.float32
    assert cr.grad(loss16.sum(), [x16])[0].dtype == np.float16


def test_padding_values_and_float_labels_are_accepted():
    """Entries past target_length are ignored whatever they hold; integral float labels
    (Keras's loss casts labels to floatx) give the same numbers as integers."""
    target, logits, tl, ol = _case(19, 3, 7, 5, [2, 1, 3], [7, 7, 6])
    padded = target.copy()
    padded[0, 2:] = -1
    padded[1, 1:] = 99
    np.testing.assert_array_equal(ctc_loss(padded, logits, tl, ol).numpy(),
                                  ctc_loss(target, logits, tl, ol).numpy())  # fmt: skip
    np.testing.assert_array_equal(ctc_loss(target.astype(np.float32), logits, tl, ol).numpy(),
                                  ctc_loss(target, logits, tl, ol).numpy())  # fmt: skip


def test_backward_without_saved_forward_recomputes():
    """The backward reuses the forward's alpha when it has it, and recomputes it otherwise:
    both give the same gradient."""
    target, logits, tl, ol = _case(23, 3, 9, 6, [3, 2, 4], [9, 8, 9])
    x = cr.tensor(logits, requires_grad=True)
    saved_grad = cr.grad(ctc_loss(target, x, tl, ol).sum(), [x])[0]
    loss = ctc_loss(target, x, tl, ol)
    ctc_module._SAVED.clear()
    np.testing.assert_array_equal(cr.grad(loss.sum(), [x])[0], saved_grad)


def test_keyword_arguments_are_traced():
    """Keras code passes the arguments by keyword; the gradient must still reach ``output``."""
    target, logits, tl, ol = _case(31, 2, 6, 4, [2, 3], [6, 6], blank=3)
    x = cr.tensor(logits, requires_grad=True)
    loss = ctc_loss(target=target, output=x, target_length=tl, output_length=ol, mask_index=3)
    _, ref_grad = _torch_ctc(target, logits, tl, ol, blank=3)
    np.testing.assert_allclose(cr.grad(loss.sum(), [x])[0], ref_grad, atol=1e-6)


def test_saved_state_is_dropped_with_the_output():
    target, logits, tl, ol = _case(29, 2, 5, 4, [2, 1], [5, 5])
    before = len(ctc_module._SAVED)
    loss = ctc_loss(target, cr.tensor(logits, requires_grad=True), tl, ol)
    assert len(ctc_module._SAVED) == before + 1
    del loss
    assert len(ctc_module._SAVED) == before
    with cr.no_grad():
        ctc_loss(target, logits, tl, ol)
    assert len(ctc_module._SAVED) == before


_GOOD = dict(target=[[1, 2]], output=np.zeros((1, 4, 3), np.float32), target_length=[2],
             output_length=[4])  # fmt: skip


@pytest.mark.parametrize(
    "change, pattern",
    [
        ({"output": np.zeros((4, 3), np.float32)}, r"output must have .*output.shape=\(4, 3\)"),
        ({"target": [1, 2]}, r"target must have shape .*target.shape=\(2,\)"),
        ({"target": [[1, 2], [1, 1]]}, r"batch_size=1 .*target.shape=\(2, 2\)"),
        ({"target": [[1, 3]]}, r"\[0, 3\) other than mask_index=0, received target\[0, 1\]=3"),
        ({"target": [[-1, 2]]}, r"received target\[0, 0\]=-1"),
        ({"target": [[1, 0]]}, r"other than mask_index=0, received target\[0, 1\]=0"),
        ({"target": [[1.5, 2]]}, r"target must hold integers, received the value 1.5"),
        ({"target_length": [3]}, r"target_length must be in \[0, 2\], .*target_length\[0\]=3"),
        ({"target_length": [2, 2]}, r"target_length must have shape \(batch_size,\) = \(1,\)"),
        ({"output_length": [5]}, r"output_length must be in \[0, 4\], .*output_length\[0\]=5"),
        ({"output_length": [-1]}, r"output_length\[0\]=-1"),
        ({"mask_index": 3}, r"mask_index must be an integer in \[0, 3\) .*mask_index=3"),
        ({"mask_index": -1}, r"received mask_index=-1"),
    ],
)  # fmt: skip
def test_bad_arguments_raise_naming_them(change, pattern):
    with pytest.raises(ValueError, match=pattern):
        ctc_loss(**{**_GOOD, **change})
    # and the good arguments themselves are accepted
    assert ctc_loss(**_GOOD).shape == (1,)
