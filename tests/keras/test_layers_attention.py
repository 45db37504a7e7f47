"""MultiHeadAttention and Attention against real Keras 3.15.1 (torch backend).

Same weights in (Keras's weight shapes and order); same outputs, attention scores, input
gradients and weight gradients out; masks (attention_mask, causal, the masks inputs carry from
``Embedding(mask_zero=True)``); a two-epoch ``fit`` with ``shuffle=False``; dropout only in
training; bad input."""

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras as tk  # noqa: E402  (real Keras, the reference)
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from chainrule import keras as ck  # noqa: E402

from .test_layers_norm import parity  # noqa: E402

RNG = np.random.default_rng(11)
Q = RNG.normal(size=(3, 5, 8)).astype("float32")
V = RNG.normal(size=(3, 4, 6)).astype("float32")
K = RNG.normal(size=(3, 4, 7)).astype("float32")


def _mha(**kwargs):
    return ck.layers.MultiHeadAttention(**kwargs), tk.layers.MultiHeadAttention(**kwargs)


@pytest.mark.parametrize("kwargs,inputs,call_kw", [
    ({"num_heads": 2, "key_dim": 4}, [Q, Q], {}),
    ({"num_heads": 3, "key_dim": 2, "value_dim": 5}, [Q, V, K], {}),
    ({"num_heads": 2, "key_dim": 3, "output_shape": 4}, [Q, V], {}),
    ({"num_heads": 2, "key_dim": 3, "output_shape": (2, 3)}, [Q, V], {}),
    ({"num_heads": 1, "key_dim": 4, "use_bias": False}, [Q, V], {}),
    ({"num_heads": 2, "key_dim": 4}, [Q, Q], {"use_causal_mask": True}),
    ({"num_heads": 2, "key_dim": 4}, [Q, V], {"return_attention_scores": True}),
    ({"num_heads": 2, "key_dim": 4}, [Q, Q],
     {"use_causal_mask": True, "return_attention_scores": True}),
])  # fmt: skip
def test_multi_head_attention_parity(kwargs, inputs, call_kw):
    ours, ref = _mha(**kwargs)
    parity(ours, ref, inputs, call_kw, seed=1)
    # the weights' paths as Keras's (the layer's name, then its sublayer's and the weight's)
    strip = len(ours.name) + 1
    names = [w.path for w in ours.weights]
    assert [n[strip:] for n in names] == [w.path[len(ref.name) + 1:] for w in ref.weights]
    assert names[0] == f"{ours.name}/query/kernel"
    assert ours.compute_output_shape(Q.shape, V.shape) == ref.compute_output_shape(Q.shape,
                                                                                   V.shape)


def test_multi_head_attention_weight_shapes_match_keras():
    ours, ref = _mha(num_heads=3, key_dim=4, value_dim=2)
    ours(Q, V)
    ref(Q, V)
    assert [w.shape for w in ours.weights] == [tuple(w.shape) for w in ref.weights] == [
        (8, 3, 4), (3, 4), (6, 3, 4), (3, 4), (6, 3, 2), (3, 2), (3, 2, 8), (8,)]  # fmt: skip


def test_multi_head_attention_attention_mask():
    mask = RNG.random((3, 5, 4)) > 0.3
    mask[:, :, 0] = True  # every query attends somewhere
    ours, ref = _mha(num_heads=2, key_dim=3)
    ours(Q, V)
    ref(Q, V)
    w = [RNG.uniform(-0.5, 0.5, v.shape).astype("float32") for v in ours.get_weights()]
    ours.set_weights(w)
    ref.set_weights(w)
    a, sa = ours(Q, V, attention_mask=mask, return_attention_scores=True)
    b, sb = ref(Q, V, attention_mask=mask, return_attention_scores=True)
    np.testing.assert_allclose(a.numpy(), b.detach().numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(sa.numpy(), sb.detach().numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(sa.numpy()[np.broadcast_to(~mask[:, None], sa.shape)], 0)


def test_multi_head_attention_4d_attention_axes():
    x = RNG.normal(size=(2, 3, 4, 6)).astype("float32")
    for axes in (None, (2,), (1, 2)):
        ours, ref = _mha(num_heads=2, key_dim=3, attention_axes=axes)
        parity(ours, ref, [x, x], seed=2)


def test_multi_head_attention_uses_carried_masks():
    tokens = np.array([[1, 2, 3, 0, 0], [4, 5, 0, 0, 0], [6, 7, 8, 9, 1]], "int64")

    def build(lib):
        inp = lib.Input((5,), dtype="int64")
        h = lib.layers.Embedding(10, 8, mask_zero=True)(inp)
        return lib.Model(inp, lib.layers.MultiHeadAttention(2, 4)(h, h))

    ours, ref = build(ck), build(tk)
    for lo, lr in zip(ours.layers[1:], ref.layers[1:]):
        w = [RNG.uniform(-0.5, 0.5, v.shape).astype("float32") for v in lo.get_weights()]
        lo.set_weights(w)
        lr.set_weights(w)
    np.testing.assert_allclose(ours.predict(tokens, verbose=0), ref.predict(tokens, verbose=0),
                               rtol=1e-5, atol=1e-5)  # fmt: skip


def test_multi_head_attention_dropout_only_in_training():
    layer = ck.layers.MultiHeadAttention(2, 4, dropout=0.5, seed=1)
    a = layer(Q, Q).numpy()
    np.testing.assert_array_equal(layer(Q, Q, training=False).numpy(), a)
    assert not np.allclose(layer(Q, Q, training=True).numpy(), a)
    plain = ck.layers.MultiHeadAttention(2, 4)
    plain(Q, Q)
    plain.set_weights(layer.get_weights())
    np.testing.assert_allclose(plain(Q, Q).numpy(), a, rtol=1e-6)


def test_multi_head_attention_fit_parity():
    x = RNG.normal(size=(32, 5, 4)).astype("float32")
    y = x.mean(axis=(1, 2))[:, None]

    def build(lib):
        inp = lib.Input((5, 4))
        h = lib.layers.MultiHeadAttention(2, 3)(inp, inp)
        out = lib.layers.Dense(1)(lib.layers.GlobalAveragePooling1D()(h))
        m = lib.Model(inp, out)
        m.compile(optimizer=lib.optimizers.Adam(0.01), loss="mse")
        return m

    ours, ref = build(ck), build(tk)
    for lo, lr in zip(ours.layers, ref.layers):
        w = [RNG.uniform(-0.4, 0.4, v.shape).astype("float32") for v in lo.get_weights()]
        lo.set_weights(w)
        lr.set_weights(w)
    h1 = ours.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0)
    h2 = ref.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0)
    np.testing.assert_allclose(h1.history["loss"], h2.history["loss"], rtol=1e-5)


def test_multi_head_attention_bad_input():
    with pytest.raises(ValueError, match=r"num_heads must be a positive integer.*num_heads=0"):
        ck.layers.MultiHeadAttention(0, 4)
    with pytest.raises(ValueError, match=r"key_dim.*key_dim=-1"):
        ck.layers.MultiHeadAttention(2, -1)
    with pytest.raises(ValueError, match=r"value and key.*\(3, 4, 6\).*\(3, 2, 7\)"):
        ck.layers.MultiHeadAttention(2, 4)(Q, V, K[:, :2])


@pytest.mark.parametrize("kwargs,call_kw", [
    ({}, {}), ({"use_scale": True}, {}), ({"score_mode": "concat"}, {}),
    ({"score_mode": "concat", "use_scale": True}, {}), ({}, {"use_causal_mask": True}),
    ({}, {"return_attention_scores": True}),
])  # fmt: skip
def test_attention_parity(kwargs, call_kw):
    q = RNG.normal(size=(2, 4, 3)).astype("float32")
    v = RNG.normal(size=(2, 4, 3)).astype("float32")
    ours, ref = ck.layers.Attention(**kwargs), tk.layers.Attention(**kwargs)

    class Wrap:  # Attention takes a list as its one input
        def __init__(self, layer):
            self.layer = layer

        def __call__(self, a, b, **kw):
            return self.layer([a, b], **kw)

        def __getattr__(self, name):
            return getattr(self.layer, name)

    parity(Wrap(ours), Wrap(ref), [q, v], call_kw, seed=3, scale=1.5)


def test_attention_masks_match_keras():
    q = RNG.normal(size=(2, 4, 3)).astype("float32")
    v = RNG.normal(size=(2, 5, 3)).astype("float32")
    qm = np.array([[1, 1, 0, 1], [1, 0, 0, 0]], bool)
    vm = np.array([[1, 1, 1, 0, 0], [1, 0, 1, 1, 1]], bool)
    a, sa = ck.layers.Attention()([q, v], mask=[qm, vm], return_attention_scores=True)
    b, sb = tk.layers.Attention()([torch.tensor(q), torch.tensor(v)],
                                  mask=[torch.tensor(qm), torch.tensor(vm)],
                                  return_attention_scores=True)  # fmt: skip
    np.testing.assert_allclose(a.numpy(), b.detach().numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(sa.numpy(), sb.detach().numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(a.numpy()[~qm], 0)


def test_attention_bad_input():
    with pytest.raises(ValueError, match=r"score_mode.*received score_mode='add'"):
        ck.layers.Attention(score_mode="add")
    with pytest.raises(ValueError, match=r"list of inputs"):
        ck.layers.Attention()(Q)

