"""``model.layers`` and ``get_weights`` of functional models come in Keras's order (by depth,
then by a depth-first walk from the outputs), so weights move between chainrule and Keras with
``set_weights(other.get_weights())``. Checked against real Keras 3.15.1."""

import numpy as np
import pytest

from ._keras_ref import ck, tk


def _two_inputs(lib):
    a, b = lib.Input((3,), name="a"), lib.Input((2,), name="b")
    m = lib.layers.Concatenate(name="merge")([lib.layers.Dense(4, name="a1")(a), b])
    return lib.Model([a, b], lib.layers.Dense(1, name="out")(m))


def _skip_two_outputs(lib):
    x = lib.Input((8,), name="x")
    h1 = lib.layers.Dense(4, name="h1")(x)
    z = lib.layers.Add(name="add")([lib.layers.Dense(4, name="h2")(h1),
                                    lib.layers.Dense(4, name="skip")(x)])  # fmt: skip
    return lib.Model(x, [lib.layers.Dense(1, name="o1")(z), lib.layers.Dense(2, name="o2")(h1)])


def _shared_layer(lib):
    a, b = lib.Input((5,), name="a"), lib.Input((5,), name="b")
    shared = lib.layers.Dense(3, name="shared")
    deep = lib.layers.Dense(5, name="deep")(lib.layers.Dense(5, name="pre")(b))
    d = lib.layers.Subtract(name="diff")([shared(a), shared(deep)])
    return lib.Model([a, b], lib.layers.Dense(1, name="out")(d))


def _conv_attention(lib):
    x = lib.Input((6, 4), name="seq")
    c1 = lib.layers.Conv1D(4, 3, padding="same", name="c1")(x)
    c2 = lib.layers.Conv1D(4, 2, padding="same", name="c2")(lib.layers.Conv1D(4, 1, name="c0")(x))
    att = lib.layers.MultiHeadAttention(2, 3, name="mha")(c1, c2)
    dot = lib.layers.Attention(name="att")([c2, c1])
    z = lib.layers.Concatenate(name="cat")([att, dot])
    return lib.Model(x, lib.layers.Dense(2, name="out")(lib.layers.Flatten(name="flat")(z)))


GRAPHS = {"two_inputs": _two_inputs, "skip_two_outputs": _skip_two_outputs,
          "shared_layer": _shared_layer, "conv_attention": _conv_attention}  # fmt: skip


@pytest.mark.parametrize("name", list(GRAPHS))
def test_layers_and_weights_in_keras_order(name):
    ours, ref = GRAPHS[name](ck), GRAPHS[name](tk)
    assert [la.name for la in ours.layers] == [la.name for la in ref.layers]
    assert [w.shape for w in ours.get_weights()] == [w.shape for w in ref.get_weights()]
    ours.set_weights(ref.get_weights())
    rng = np.random.default_rng(0)
    xs = [rng.standard_normal((2, *t.shape[1:])).astype("float32") for t in ref.inputs]
    xs = xs if len(xs) > 1 else xs[0]
    got, want = ours.predict(xs, verbose=0), ref.predict(xs, verbose=0)
    for g, w in zip(got if isinstance(got, list) else [got],
                    want if isinstance(want, list) else [want], strict=True):  # fmt: skip
        np.testing.assert_allclose(g, np.asarray(w), rtol=1e-5, atol=1e-5)
