"""``keras.losses.ctc`` / ``keras.losses.CTC`` and the ``ctc_loss`` op against Keras 3.15.1.

Values and gradients against real Keras (torch backend) for several batches: label length 0,
repeated labels that need a blank between them, labels as long as the input allows, and an
impossible alignment (``inf`` in both); every reduction and sample weights; the config; the
errors Keras raises for wrong ranks (same messages) and ours for inputs Keras would turn into a
silent number; and a whole ``fit`` history with the same initial weights.
"""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras as tk  # noqa: E402  (real Keras, the reference)
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

import chainrule as cr  # noqa: E402
from chainrule import keras as ck  # noqa: E402
from chainrule.keras.losses import serialize  # noqa: E402
from chainrule.keras.losses._ctc_op import ctc_loss  # noqa: E402
from chainrule.keras.losses.ctc import CTC, ctc  # noqa: E402


def _batch(seed, batch, steps, classes, lengths):
    """Logits and labels in 1..classes-1, each row padded with 0 after its labels."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0.0, 2.0, (batch, steps, classes)).astype(np.float32)
    labels = np.zeros((batch, max(max(lengths), 1)), dtype=np.int32)
    for b, n in enumerate(lengths):
        labels[b, :n] = rng.integers(1, classes, n)
    return labels, logits


BATCHES = {
    "mixed": _batch(0, 5, 10, 6, [3, 0, 5, 1, 2]),
    "no_labels": _batch(1, 2, 4, 3, [0, 0]),
    "long": _batch(2, 3, 30, 12, [10, 14, 3]),
    # 3 labels, 2 adjacent repeats: exactly the 5 frames there are (one path each)
    "as_long_as_allowed": (np.array([[2, 2, 2], [1, 1, 1]]), _batch(3, 2, 5, 4, [1, 1])[1]),
}


def _keras_loss(loss, labels, logits, sample_weight=None):
    """Keras's loss value and d loss / d logits (torch autograd through Keras's loss)."""
    x = torch.tensor(logits, requires_grad=True)
    value = loss(labels, x, sample_weight=sample_weight)
    if value.ndim:
        value.sum().backward()
    else:
        value.backward()
    return value.detach().numpy(), x.grad.numpy()


def _our_loss(loss, labels, logits, sample_weight=None):
    x = cr.tensor(logits, requires_grad=True)
    value = loss(labels, x, sample_weight=sample_weight)
    (grad,) = cr.grad(value.sum() if value.ndim else value, [x])
    return value.numpy(), grad


@pytest.mark.parametrize("name", sorted(BATCHES))
def test_ctc_function_matches_keras(name):
    labels, logits = BATCHES[name]
    ours = ctc(labels, logits)
    ref = tk.losses.ctc(labels, torch.tensor(logits)).numpy()
    assert ours.shape == ref.shape and ours.dtype == np.float32
    np.testing.assert_allclose(ours.numpy(), ref, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", sorted(BATCHES))
@pytest.mark.parametrize("reduction", ["sum_over_batch_size", "sum", None, "mean"])
def test_ctc_class_value_and_gradient_match_keras(name, reduction):
    labels, logits = BATCHES[name]
    value, grad = _our_loss(CTC(reduction=reduction), labels, logits)
    ref_value, ref_grad = _keras_loss(tk.losses.CTC(reduction=reduction), labels, logits)
    np.testing.assert_allclose(value, ref_value, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(grad, ref_grad, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("reduction", ["sum_over_batch_size", "mean_with_sample_weight", "sum"])
def test_sample_weight_matches_keras(reduction):
    labels, logits = BATCHES["mixed"]
    sw = np.array([0.5, 2.0, 0.0, 1.0, 3.0], np.float32)
    value, grad = _our_loss(CTC(reduction=reduction), labels, logits, sw)
    ref_value, ref_grad = _keras_loss(tk.losses.CTC(reduction=reduction), labels, logits, sw)
    np.testing.assert_allclose(value, ref_value, rtol=1e-5)
    np.testing.assert_allclose(grad, ref_grad, rtol=1e-4, atol=1e-5)


def test_impossible_alignment_gives_inf_as_keras_with_zero_gradient():
    """[3, 3, 3] needs 5 frames; with 4, Keras gives inf (and a nan gradient from torch):
    we give inf and a zero gradient for that sample, the others' gradients unchanged."""
    labels, logits = _batch(4, 3, 4, 5, [2, 3, 1])
    labels[1] = [3, 3, 3]
    per_sample = ctc(labels, logits).numpy()
    ref = tk.losses.ctc(labels, torch.tensor(logits)).numpy()
    assert per_sample[1] == np.inf and ref[1] == np.inf
    np.testing.assert_allclose(per_sample, ref, rtol=1e-5)
    value, grad = _our_loss(CTC(), labels, logits)
    ref_value, ref_grad = _keras_loss(tk.losses.CTC(), labels, logits)
    assert value == np.inf and ref_value == np.inf
    assert np.isnan(ref_grad[1]).all() and np.all(grad[1] == 0)
    np.testing.assert_allclose(grad[[0, 2]], ref_grad[[0, 2]], rtol=1e-4, atol=1e-5)


def test_op_matches_keras_ops_ctc_loss():
    """Explicit lengths (shorter than the padding) and a blank that is not 0."""
    rng = np.random.default_rng(6)
    logits = rng.normal(0, 2, (4, 9, 5)).astype(np.float32)
    # blank 4: labels 0..3; an adjacent repeat in row 1; junk padding past the lengths
    target = np.array([[0, 3, 1, 2], [2, 0, 0, 9], [7, 7, 7, 7], [1, 3, -1, 4]])
    target_length = np.array([4, 3, 0, 2])
    output_length = np.array([9, 7, 3, 2])
    x = cr.tensor(logits, requires_grad=True)
    ours = ctc_loss(target=target, output=x, target_length=target_length,
                    output_length=output_length, mask_index=4)  # fmt: skip
    xt = torch.tensor(logits, requires_grad=True)
    ref = tk.ops.ctc_loss(torch.tensor(target), xt, torch.tensor(target_length),
                          torch.tensor(output_length), mask_index=4)  # fmt: skip
    np.testing.assert_allclose(ours.numpy(), ref.detach().numpy(), rtol=1e-5)
    ref.sum().backward()
    np.testing.assert_allclose(cr.grad(ours.sum(), [x])[0], xt.grad.numpy(), rtol=1e-4,
                               atol=1e-5)  # fmt: skip


def test_float_labels_and_dtypes():
    """Keras's Loss casts y_true to its dtype before ``ctc``: float labels give the same
    loss. ``ctc`` is float32 even for float64 logits (Keras's torch backend casts to
    ``result_type(dtype, "float32")``, which is float32), and ``CTC(dtype="float64")``'s
    per-sample values are float64 (its reduction converts them), both as Keras."""
    labels, logits = BATCHES["mixed"]
    ref = tk.losses.CTC()(labels.astype(np.float32), torch.tensor(logits)).numpy()
    np.testing.assert_allclose(CTC()(labels.astype(np.float32), logits).numpy(), ref, rtol=1e-5)
    x64 = logits.astype(np.float64)
    assert ctc(labels, x64).dtype == np.float32
    assert tk.losses.ctc(labels, torch.tensor(x64)).dtype == torch.float32
    ours = CTC(dtype="float64", reduction=None)(labels, logits)
    ref = tk.losses.CTC(dtype="float64", reduction=None)(labels, torch.tensor(logits))
    assert ours.dtype == np.float64 and ref.dtype == torch.float64
    np.testing.assert_allclose(ours.numpy(), ref.numpy(), rtol=1e-6)


def test_config_round_trip_equals_keras():
    for kwargs in ({}, {"reduction": "sum", "name": "my_ctc"}, {"reduction": None}):
        ours, ref = CTC(**kwargs), tk.losses.CTC(**kwargs)
        assert ours.get_config() == ref.get_config()
        again = CTC.from_config(ours.get_config())
        assert again.get_config() == ref.get_config() and again.name == ref.name
        assert serialize(ours) == tk.losses.serialize(ref)
    assert ours.dtype == tk.losses.CTC().dtype == "float32"


def _keras_error(labels, logits):
    with pytest.raises(ValueError) as info:
        tk.losses.ctc(labels, logits)
    return str(info.value)


@pytest.mark.parametrize(
    "labels, logits",
    [(np.ones(3, np.int32), np.zeros((3, 4, 5), np.float32)),
     (np.ones((3, 2, 1), np.int32), np.zeros((3, 4, 5), np.float32)),
     (np.ones((3, 2), np.int32), np.zeros((3, 5), np.float32))],
)  # fmt: skip
def test_wrong_ranks_raise_keras_message(labels, logits):
    expected = _keras_error(labels, torch.tensor(logits))
    with pytest.raises(ValueError) as info:
        ctc(labels, logits)
    assert str(info.value) == expected


@pytest.mark.parametrize(
    "labels, pattern",
    [([[1, 0, 2]], r"labels first and its 0 padding after .* label 2 at y_true\[0, 2\]"),
     ([[1, 5]], r"class indices in \[1, 5\) .*received y_true\[0, 1\]=5"),
     ([[1, -1]], r"received y_true\[0, 1\]=-1"),
     ([[1.5, 0.0]], r"y_true must hold integer labels, received the value 1.5"),
     ([[1, 2], [1, 2]], r"batch_size=1 .*target.shape=\(2, 2\)")],
)  # fmt: skip
def test_bad_labels_raise_instead_of_a_number(labels, pattern):
    """Keras turns the first three into a number (it reads [1, 0, 2] as the label [1, 0]; torch
    gives some value for labels outside the classes); we raise, naming y_true's entry."""
    logits = np.zeros((1, 6, 5), np.float32)
    with pytest.raises(ValueError, match=pattern):
        CTC()(labels, logits)


def test_fit_history_matches_keras():
    """A Dense layer over every frame, trained with CTC and SGD: the same per-epoch losses
    and weights as Keras from the same initial weights."""
    rng = np.random.default_rng(8)
    x = rng.normal(size=(16, 8, 3)).astype(np.float32)
    y = np.zeros((16, 3), np.int64)
    for i in range(16):
        n = rng.integers(0, 4)
        y[i, :n] = rng.integers(1, 5, n)

    def build(m):
        return m.Sequential([m.Input((8, 3)), m.layers.Dense(5)])

    ours, ref = build(ck), build(tk)
    weights = [rng.uniform(-0.5, 0.5, w.shape).astype(np.float32) for w in ours.get_weights()]
    ours.set_weights(weights)
    ref.set_weights(weights)
    ours.compile(optimizer=ck.optimizers.SGD(0.1), loss=CTC())
    ref.compile(optimizer=tk.optimizers.SGD(0.1), loss=tk.losses.CTC())
    h_ours = ours.fit(x, y, batch_size=4, epochs=3, shuffle=False, verbose=0)
    h_ref = ref.fit(x, y, batch_size=4, epochs=3, shuffle=False, verbose=0)
    np.testing.assert_allclose(h_ours.history["loss"], h_ref.history["loss"], rtol=1e-5)
    for a, b in zip(ours.get_weights(), ref.get_weights()):
        np.testing.assert_allclose(a, np.asarray(b), rtol=1e-5, atol=1e-6)
