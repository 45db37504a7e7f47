"""Recurrent layers, Embedding, masking and the wrappers against real Keras 3.15.1 (torch).

For SimpleRNN, LSTM and GRU and their main arguments (both the fused ``ops.recurrent`` path
and the composed path for other activations / reset_after=False): same weights in, same
outputs, input gradients and weight gradients out; masking from ``Embedding(mask_zero=True)``
and ``Masking``; Bidirectional and TimeDistributed; two-epoch ``fit`` with ``shuffle=False``;
dropout behaviour; output shapes; bad input; the fused scans against float64 finite
differences; and the digits LSTM example."""

import os
import sys
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras as tk  # noqa: E402  (real Keras, the reference)
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

import chainrule as cr  # noqa: E402
from chainrule import keras as ck  # noqa: E402

from .test_layers_norm import fit_both, parity  # noqa: E402

RNG = np.random.default_rng(7)
X = RNG.normal(size=(4, 6, 5)).astype("float32")
TOKENS = np.array([[3, 1, 4, 0, 0, 0], [2, 7, 1, 8, 2, 0], [5, 0, 0, 0, 0, 0],
                   [9, 2, 6, 5, 3, 5]], dtype="int64")  # fmt: skip


def _pair(name, **kwargs):
    return getattr(ck.layers, name)(**kwargs), getattr(tk.layers, name)(**kwargs)


CASES = [
    ("SimpleRNN", {}), ("SimpleRNN", {"return_sequences": True, "go_backwards": True}),
    ("SimpleRNN", {"activation": "relu", "return_state": True}),
    ("SimpleRNN", {"use_bias": False, "return_sequences": True}),
    ("LSTM", {}), ("LSTM", {"return_sequences": True}), ("LSTM", {"return_state": True}),
    ("LSTM", {"go_backwards": True, "return_sequences": True, "return_state": True}),
    ("LSTM", {"activation": "relu", "recurrent_activation": "hard_sigmoid"}),
    ("LSTM", {"use_bias": False, "unit_forget_bias": False}),
    ("GRU", {}), ("GRU", {"return_sequences": True, "go_backwards": True}),
    ("GRU", {"return_state": True}), ("GRU", {"reset_after": False, "return_sequences": True}),
    ("GRU", {"use_bias": False}), ("GRU", {"activation": "softsign"}),
]  # fmt: skip


@pytest.mark.parametrize("name,kwargs", CASES)
def test_recurrent_parity(name, kwargs):
    ours, ref = _pair(name, units=3, **kwargs)
    parity(ours, ref, [X], seed=1)
    shape = (None, 6, 5)
    assert ours.compute_output_shape(shape) == ref.compute_output_shape(shape)


@pytest.mark.parametrize("name", ["SimpleRNN", "LSTM", "GRU"])
def test_initial_state_parity(name):
    ours, ref = _pair(name, units=3, return_state=True)
    n = 2 if name == "LSTM" else 1
    states = [RNG.normal(size=(4, 3)).astype("float32") for _ in range(n)]
    ours(X, initial_state=states)
    ref(X, initial_state=[torch.tensor(s) for s in states])
    w = [RNG.uniform(-0.5, 0.5, v.shape).astype("float32") for v in ours.get_weights()]
    ours.set_weights(w)
    ref.set_weights(w)
    sts = [cr.tensor(s, requires_grad=True) for s in states]
    out = ours(X, initial_state=sts)
    rsts = [torch.tensor(s, requires_grad=True) for s in states]
    rout = ref(torch.tensor(X), initial_state=rsts)
    for a, b in zip(out, rout, strict=True):
        np.testing.assert_allclose(a.numpy(), b.detach().numpy(), rtol=1e-5, atol=1e-6)
    grads = cr.grad(out[0].sum(), sts)
    rout[0].sum().backward()
    for a, b in zip(grads, rsts):
        np.testing.assert_allclose(a, b.grad.numpy(), rtol=1e-5, atol=1e-6)


def test_weight_layout_matches_keras():
    for name, n in (("SimpleRNN", 1), ("LSTM", 4), ("GRU", 3)):
        ours, ref = _pair(name, units=7)
        ours(X)
        ref(X)
        assert [w.shape for w in ours.weights] == [tuple(w.shape) for w in ref.weights]
        assert ours.weights[0].shape == (5, 7 * n)
    lstm = ck.layers.LSTM(4)
    lstm(X)
    np.testing.assert_array_equal(lstm.cell.bias.numpy(), [0] * 4 + [1] * 4 + [0] * 8)
    k = lstm.cell.recurrent_kernel.numpy()  # orthogonal by default
    np.testing.assert_allclose(k @ k.T, np.eye(4), atol=1e-5)
    assert ck.layers.GRU(2).get_config()["reset_after"] is True


@pytest.mark.parametrize("name,kwargs", [
    ("LSTM", {}), ("LSTM", {"return_sequences": True}), ("GRU", {"return_sequences": True}),
    ("SimpleRNN", {}), ("GRU", {"go_backwards": True}), ("LSTM", {"activation": "relu"}),
    ("LSTM", {"return_sequences": True, "go_backwards": True, "return_state": True}),
])  # fmt: skip
def test_embedding_mask_zero_then_recurrent_matches_keras(name, kwargs):
    def layers(lib):
        return [lib.layers.Embedding(10, 4, mask_zero=True),
                getattr(lib.layers, name)(3, **kwargs)]  # fmt: skip

    ours = ck.Sequential(layers(ck))
    ref = tk.Sequential(layers(tk))
    parity(ours, ref, [TOKENS], seed=2)


def test_masking_layer_then_lstm_matches_keras():
    x = X.copy()
    x[0, 3:] = 0.0
    x[2, :2] = 0.0
    x[3, 2] = 0.0

    def layers(lib):
        return [lib.Input((6, 5)), lib.layers.Masking(0.0),
                lib.layers.LSTM(3, return_sequences=True)]  # fmt: skip

    ours, ref = ck.Sequential(layers(ck)), tk.Sequential(layers(tk))
    parity(ours, ref, [x], seed=3)
    # masked steps carry the previous output
    out = ours(x).numpy()
    np.testing.assert_array_equal(out[0, 3], out[0, 2])
    np.testing.assert_array_equal(out[2, :2], 0.0)


@pytest.mark.parametrize("merge_mode", ["concat", "sum", "ave", "mul", None])
def test_bidirectional_parity(merge_mode):
    for inner in ("LSTM", "GRU"):
        for kw in ({}, {"return_sequences": True}):
            ours = ck.layers.Bidirectional(getattr(ck.layers, inner)(3, **kw),
                                           merge_mode=merge_mode)  # fmt: skip
            ref = tk.layers.Bidirectional(getattr(tk.layers, inner)(3, **kw),
                                          merge_mode=merge_mode)  # fmt: skip
            parity(ours, ref, [X], seed=4)
            assert ours.compute_output_shape((None, 6, 5)) == ref.compute_output_shape(
                (None, 6, 5))  # fmt: skip


def test_bidirectional_with_mask_and_state_matches_keras():
    def layers(lib):
        return [lib.layers.Embedding(10, 4, mask_zero=True),
                lib.layers.Bidirectional(lib.layers.LSTM(3, return_sequences=True))]  # fmt: skip

    parity(ck.Sequential(layers(ck)), tk.Sequential(layers(tk)), [TOKENS], seed=5)
    # (named: automatic names count the layers made before in each library's process)
    ours, ref = (lib.layers.Bidirectional(lib.layers.SimpleRNN(2, return_state=True, name="sr"))
                 for lib in (ck, tk))  # fmt: skip
    parity(ours, ref, [X], seed=6)
    # paths as Keras's: the wrapper's name, the forward layer's, the cell's, the weight's
    assert [w.path.split("/")[1:] for w in ours.weights] == [
        w.path.split("/")[1:] for w in ref.weights]
    assert ours.weights[0].path.split("/")[1:3] == [ours.forward_layer.name, "simple_rnn_cell"]
    assert ours.forward_layer.name.startswith("forward_")
    assert ours.backward_layer.go_backwards


def test_time_distributed_parity():
    x4 = RNG.normal(size=(3, 4, 5, 6)).astype("float32")
    parity(ck.layers.TimeDistributed(ck.layers.Dense(2)),
           tk.layers.TimeDistributed(tk.layers.Dense(2)), [X], seed=7)  # fmt: skip
    parity(ck.layers.TimeDistributed(ck.layers.Conv1D(2, 3)),
           tk.layers.TimeDistributed(tk.layers.Conv1D(2, 3)), [x4], seed=8)  # fmt: skip
    with pytest.raises(ValueError, match=r"at least 3 dimensions.*\(4, 5\)"):
        ck.layers.TimeDistributed(ck.layers.Dense(2))(np.zeros((4, 5), "float32"))


def test_embedding_parity_and_repeated_index_gradient():
    idx = np.array([[1, 1, 1], [0, 4, 1]], dtype="int64")
    ours, ref = _pair("Embedding", input_dim=5, output_dim=3)
    parity(ours, ref, [idx], seed=9)
    g = cr.grad(ours(idx).sum(), [ours.embeddings])[0]
    np.testing.assert_array_equal(g[:, 0], [1, 4, 0, 0, 1])  # row 1 used four times
    w = ck.layers.Embedding(1000, 8)
    w(idx)
    assert -0.05 <= w.embeddings.numpy().min() and w.embeddings.numpy().max() <= 0.05
    assert w.embeddings.numpy().std() > 0.025  # U(-0.05, 0.05) has std 0.0289
    assert ck.layers.Embedding(5, 3)(idx.astype("float32")).shape == (2, 3, 3)


def test_embedding_bad_input():
    layer = ck.layers.Embedding(5, 3)
    with pytest.raises(ValueError, match=r"index 5 is out of range.*\[0, 5\)"):
        layer(np.array([[0, 5]]))
    with pytest.raises(ValueError, match=r"index -1 is out of range.*\[0, 5\)"):
        layer(np.array([[-1, 2]]))
    with pytest.raises(ValueError, match=r"input_dim must be a positive integer.*input_dim=0"):
        ck.layers.Embedding(0, 3)
    with pytest.raises(ValueError, match=r"output_dim must be a positive integer.*=-2"):
        ck.layers.Embedding(4, -2)


def test_recurrent_bad_input():
    with pytest.raises(ValueError, match=r"units must be a positive integer.*units=0"):
        ck.layers.LSTM(0)
    with pytest.raises(ValueError, match=r"units.*units=-1"):
        ck.layers.GRU(-1)
    with pytest.raises(ValueError, match=r"expected ndim=3, found ndim=2.*\(4, 5\)"):
        ck.layers.SimpleRNN(2)(np.zeros((4, 5), "float32"))
    with pytest.raises(ValueError, match=r"initial_state.*\(4, 3\)"):
        ck.layers.GRU(3)(X, initial_state=[np.zeros((4, 2), "float32")])
    with pytest.raises(NotImplementedError, match="stateful"):
        ck.layers.LSTM(2, stateful=True)
    with pytest.raises(ValueError, match="merge_mode"):
        ck.layers.Bidirectional(ck.layers.LSTM(2), merge_mode="max")


def test_recurrent_dropout_training_vs_inference():
    for name in ("SimpleRNN", "LSTM", "GRU"):
        plain = getattr(ck.layers, name)(4, return_sequences=True)
        drop = getattr(ck.layers, name)(4, return_sequences=True, dropout=0.5,
                                        recurrent_dropout=0.3)  # fmt: skip
        plain(X)
        drop(X)
        drop.set_weights(plain.get_weights())
        np.testing.assert_array_equal(drop(X).numpy(), plain(X).numpy())
        np.testing.assert_array_equal(drop(X, training=False).numpy(), plain(X).numpy())
        cr.set_random_seed(0)
        xt = cr.tensor(X, requires_grad=True)
        y = drop(xt, training=True)
        assert not np.allclose(y.numpy(), plain(X).numpy())
        grads = cr.grad(y.sum(), [xt, *drop.trainable_weights])
        assert all(np.isfinite(g).all() for g in grads)
        # input dropout alone keeps the fused path: the same mask on every step
        only_in = getattr(ck.layers, name)(4, dropout=0.99, seed=3)
        only_in(X)
        np.testing.assert_allclose(only_in(X, training=True).numpy(),
                                   only_in(np.zeros_like(X)).numpy(), atol=1e-6)  # fmt: skip


def test_fused_scans_against_finite_differences():
    rng = np.random.default_rng(0)
    b, t, u = 2, 4, 3
    mask = np.array([[1, 1, 0, 1], [0, 1, 1, 0]], bool)
    for mk in (None, mask):
        h0 = rng.normal(size=(b, u))
        args = [rng.normal(size=(b, t, u)), h0, rng.normal(size=(u, u)) * 0.5]
        assert cr.gradcheck(lambda a, h, r: cr.simple_rnn_scan(a, h, r, mk), args)
        args = [rng.normal(size=(b, t, 4 * u)), h0, rng.normal(size=(b, u)),
                rng.normal(size=(u, 4 * u)) * 0.5]  # fmt: skip
        assert cr.gradcheck(lambda a, h, c, r: cr.lstm_scan(a, h, c, r, mk), args)
        args = [rng.normal(size=(b, t, 3 * u)), h0, rng.normal(size=(u, 3 * u)) * 0.5,
                rng.normal(size=(3 * u,))]  # fmt: skip
        assert cr.gradcheck(lambda a, h, r, rb: cr.gru_scan(a, h, r, rb, mk), args)


@pytest.mark.parametrize("name", ["LSTM", "GRU", "SimpleRNN"])
def test_fit_parity(name):
    x = RNG.normal(size=(48, 6, 5)).astype("float32")
    y = np.tanh(x[:, -2:, :2].sum(axis=(1, 2)))[:, None].astype("float32")
    # rtol 1e-4: float32 sums over the sequence and two epochs of Adam
    fit_both(lambda lib: [lib.Input((6, 5)), getattr(lib.layers, name)(8), lib.layers.Dense(1)],
             x, y, rtol=1e-4, atol=1e-5)  # fmt: skip


def test_fit_parity_embedding_masked_lstm():
    tokens = RNG.integers(0, 12, size=(40, 7))
    tokens[:, 5:] = 0
    tokens[::3, 3:] = 0
    y = (tokens[:, :1] > 5).astype("float32")
    fit_both(lambda lib: [lib.Input((7,), dtype="int64"),
                          lib.layers.Embedding(12, 4, mask_zero=True), lib.layers.LSTM(5),
                          lib.layers.Dense(1, activation="sigmoid")],
             tokens, y, loss="binary_crossentropy", rtol=1e-4, atol=1e-5)  # fmt: skip


def test_functional_model_with_masking():
    def build(lib):
        inp = lib.Input((6,), dtype="int64")
        h = lib.layers.Embedding(10, 4, mask_zero=True)(inp)
        h = lib.layers.GRU(3, return_sequences=True)(h)
        return lib.Model(inp, lib.layers.LSTM(2)(h))

    ours, ref = build(ck), build(tk)
    for lo, lr in zip(ours.layers[1:], ref.layers[1:]):
        w = [RNG.uniform(-0.5, 0.5, v.shape).astype("float32") for v in lo.get_weights()]
        lo.set_weights(w)
        lr.set_weights(w)
    np.testing.assert_allclose(ours.predict(TOKENS, verbose=0), ref.predict(TOKENS, verbose=0),
                               rtol=1e-5, atol=1e-6)  # fmt: skip


def test_digits_lstm_example():
    from threadpoolctl import threadpool_limits

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples"))
    try:
        import digits_lstm
    finally:
        sys.path.pop(0)
    with threadpool_limits(1, user_api="blas"):  # tiny GEMMs: threads only add overhead
        accuracy = digits_lstm.main(epochs=10, units=64)
    assert accuracy >= 0.93


def test_mask_flows_through_dense_and_dropout_like_keras():
    """Embedding(mask_zero) -> Dense -> Dropout -> LSTM: the padding mask reaches the LSTM
    through layers that do not use it, as in Keras 3."""
    import os

    os.environ.setdefault("KERAS_BACKEND", "torch")
    import keras as tk

    from chainrule import keras as ck

    def build(mod):
        return mod.Sequential([mod.Input((5,)), mod.layers.Embedding(10, 4, mask_zero=True),
                               mod.layers.Dense(6, activation="tanh"), mod.layers.Dropout(0.5),
                               mod.layers.LSTM(3)])

    ours, ref = build(ck), build(tk)
    rng = np.random.default_rng(7)
    weights = [rng.uniform(-0.5, 0.5, w.shape).astype("float32") for w in ours.get_weights()]
    ours.set_weights(weights)
    ref.set_weights(weights)
    x = np.array([[3, 4, 0, 0, 0], [1, 2, 3, 4, 5], [7, 0, 0, 0, 0]])
    got = ours.predict(x, verbose=0)
    np.testing.assert_allclose(got, np.asarray(ref.predict(x, verbose=0)), rtol=1e-5, atol=1e-6)
    unmasked = build(ck)
    unmasked.layers[0].mask_zero = False
    unmasked.set_weights(weights)
    assert not np.allclose(unmasked.predict(x, verbose=0), got)  # the mask changed the result
