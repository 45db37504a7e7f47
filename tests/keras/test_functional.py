"""Functional API, merge layers and keras.ops against real Keras 3.15.1 (torch backend): the same
graphs with the same weights give the same outputs and the same two-epoch fit histories."""

import numpy as np
import pytest

from ._keras_ref import ck, tk

RNG = np.random.default_rng(7)
XA = RNG.normal(size=(37, 4)).astype("float32")
XB = RNG.normal(size=(37, 4)).astype("float32")
Y_REG = RNG.normal(size=(37, 1)).astype("float32")
Y_INT = RNG.integers(0, 3, size=37)


def _copy_weights(ours, ref, seed=0):
    """Random weights, layer by layer (matched by name), into both models."""
    rng = np.random.default_rng(seed)
    for layer in ours.layers:
        weights = [rng.uniform(-0.5, 0.5, w.shape).astype("float32") for w in layer.get_weights()]
        if weights:
            layer.set_weights(weights)
            ref.get_layer(layer.name).set_weights(weights)


def _close(a, b, rtol=1e-5, atol=1e-6):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=rtol, atol=atol)


def _history_close(h1, h2):
    assert set(h1.history) == set(h2.history), (h1.history, h2.history)
    for k in h2.history:
        np.testing.assert_allclose(h1.history[k], h2.history[k], rtol=1e-5, atol=1e-6, err_msg=k)


def _two_input(m):
    a = m.Input((4,), name="a")
    b = m.Input((4,), name="b")
    shared = m.layers.Dense(5, activation="tanh", name="shared")
    h = m.layers.Concatenate(name="concat")([shared(a), shared(b)])
    out = m.layers.Dense(1, name="out")(h)
    return m.Model([a, b], out, name="two_input")


def test_two_input_shared_dense_concatenate_matches_keras():
    ours, ref = _two_input(ck), _two_input(tk)
    assert len(ours.trainable_weights) == 4  # the shared Dense counts once
    _copy_weights(ours, ref)
    _close(ours.predict([XA, XB], verbose=0), ref.predict([XA, XB], verbose=0))
    _close(ours({"a": XA, "b": XB}).numpy(), ref.predict({"a": XA, "b": XB}, verbose=0))
    for m, opt in ((ours, ck.optimizers.Adam(0.01)), (ref, tk.optimizers.Adam(0.01))):
        m.compile(optimizer=opt, loss="mse", metrics=["mae"])
    h1 = ours.fit([XA, XB], Y_REG, epochs=2, batch_size=8, shuffle=False, verbose=0)
    h2 = ref.fit([XA, XB], Y_REG, epochs=2, batch_size=8, shuffle=False, verbose=0)
    _history_close(h1, h2)
    _close(ours.evaluate([XA, XB], Y_REG, verbose=0), ref.evaluate([XA, XB], Y_REG, verbose=0))


def _residual(m):
    x = m.Input((4,), name="x")
    h = m.layers.Dense(4, activation="relu", name="d1")(x)
    h = m.layers.Dense(4, name="d2")(h)
    h = m.layers.Add(name="add")([x, h])
    out = m.layers.Dense(3, activation="softmax", name="head")(h)
    return m.Model(x, out)


def test_residual_block_with_add_matches_keras():
    ours, ref = _residual(ck), _residual(tk)
    _copy_weights(ours, ref, seed=1)
    _close(ours.predict(XA, verbose=0), ref.predict(XA, verbose=0))
    for m, opt in ((ours, ck.optimizers.SGD(0.1)), (ref, tk.optimizers.SGD(0.1))):
        m.compile(optimizer=opt, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    h1 = ours.fit(XA, Y_INT, epochs=2, batch_size=10, shuffle=False, verbose=0)
    h2 = ref.fit(XA, Y_INT, epochs=2, batch_size=10, shuffle=False, verbose=0)
    _history_close(h1, h2)
    for a, b in zip(ours.get_weights(), ref.get_weights(), strict=True):
        _close(a, b)


def _two_output(m, as_dict=False):
    x = m.Input((4,), name="x")
    h = m.layers.Dense(6, activation="relu", name="trunk")(x)
    reg = m.layers.Dense(1, name="reg")(h)
    cls = m.layers.Dense(3, activation="softmax", name="cls")(h)
    return m.Model(x, {"price": reg, "kind": cls} if as_dict else [reg, cls])


def test_two_output_losses_and_loss_weights_match_keras():
    ours, ref = _two_output(ck), _two_output(tk)
    _copy_weights(ours, ref, seed=2)
    kw = dict(loss=["mse", "sparse_categorical_crossentropy"], loss_weights=[0.3, 1.5],
              metrics=[["mae"], ["accuracy"]])
    ours.compile(optimizer=ck.optimizers.SGD(0.05), **kw)
    ref.compile(optimizer=tk.optimizers.SGD(0.05), **kw)
    h1 = ours.fit(XA, [Y_REG, Y_INT], epochs=2, batch_size=8, shuffle=False, verbose=0)
    h2 = ref.fit(XA, [Y_REG, Y_INT], epochs=2, batch_size=8, shuffle=False, verbose=0)
    assert set(h2.history) == {"loss", "reg_loss", "cls_loss", "reg_mae", "cls_accuracy"}
    _history_close(h1, h2)
    r1 = ours.evaluate(XA, {"reg": Y_REG, "cls": Y_INT}, verbose=0, return_dict=True)
    r2 = ref.evaluate(XA, {"reg": Y_REG, "cls": Y_INT}, verbose=0, return_dict=True)
    assert set(r1) == set(r2)
    for k in r2:
        _close(r1[k], r2[k])
    p1, p2 = ours.predict(XA, verbose=0), ref.predict(XA, verbose=0)
    assert isinstance(p1, list) and len(p1) == 2
    _close(p1[0], p2[0])
    _close(p1[1], p2[1])


def test_dict_inputs_and_outputs_match_keras():
    def build(m):
        a, b = m.Input((4,), name="a"), m.Input((4,), name="b")
        h = m.layers.Dense(3, name="h")(m.layers.Multiply(name="mul")([a, b]))
        return m.Model({"a": a, "b": b}, {"price": m.layers.Dense(1, name="p")(h),
                                          "kind": m.layers.Dense(3, name="k")(h)})

    ours, ref = build(ck), build(tk)
    _copy_weights(ours, ref, seed=3)
    x = {"a": XA, "b": XB}
    y = {"price": Y_REG, "kind": Y_INT}
    kw = dict(loss={"price": "mse",
                    "kind": "sparse_categorical_crossentropy"},
              metrics={"kind": ["accuracy"]})
    ours.compile(optimizer=ck.optimizers.Adam(0.01), **kw)
    ref.compile(optimizer=tk.optimizers.Adam(0.01), **{**kw, "loss": {
        "price": "mse", "kind": tk.losses.SparseCategoricalCrossentropy(from_logits=True)}})
    ours.compile(optimizer=ck.optimizers.Adam(0.01), **{**kw, "loss": {
        "price": "mse", "kind": ck.losses.SparseCategoricalCrossentropy(from_logits=True)}})
    h1 = ours.fit(x, y, epochs=2, batch_size=16, shuffle=False, verbose=0)
    h2 = ref.fit(x, y, epochs=2, batch_size=16, shuffle=False, verbose=0)
    assert {"price_loss", "kind_loss", "kind_accuracy"} <= set(h2.history)
    _history_close(h1, h2)
    out1, out2 = ours.predict(x, verbose=0), ref.predict(x, verbose=0)
    assert set(out1) == {"price", "kind"}
    _close(out1["kind"], out2["kind"])


MERGES = [("Add", {}), ("Subtract", {}), ("Multiply", {}), ("Average", {}), ("Maximum", {}),
          ("Minimum", {}), ("Concatenate", {"axis": -1}), ("Concatenate", {"axis": 1}),
          ("Dot", {"axes": 1}), ("Dot", {"axes": -1, "normalize": True})]


@pytest.mark.parametrize("name,kwargs", MERGES, ids=[f"{n}{k}" for n, k in MERGES])
def test_merge_layer_values_and_shapes_match_keras(name, kwargs):
    x1 = RNG.normal(size=(5, 3)).astype("float32")
    x2 = RNG.normal(size=(5, 3)).astype("float32")
    ours = getattr(ck.layers, name)(**kwargs)([x1, x2])
    ref = getattr(tk.layers, name)(**kwargs)([x1, x2])
    _close(ours.numpy(), ref.detach().numpy())
    a, b = ck.Input((3,)), ck.Input((3,))
    assert getattr(ck.layers, name)(**kwargs)([a, b]).shape == tuple(
        getattr(tk.layers, name)(**kwargs)([tk.Input((3,)), tk.Input((3,))]).shape)


def test_dot_on_rank3_and_broadcast_add_match_keras():
    x1 = RNG.normal(size=(2, 3, 4)).astype("float32")
    x2 = RNG.normal(size=(2, 5, 3)).astype("float32")
    _close(ck.layers.Dot(axes=(1, 2))([x1, x2]).numpy(),
           tk.layers.Dot(axes=(1, 2))([x1, x2]).detach().numpy())
    y1 = RNG.normal(size=(2, 3, 4)).astype("float32")
    y2 = RNG.normal(size=(2, 1, 4)).astype("float32")
    _close(ck.layers.Add()([y1, y2]).numpy(), tk.layers.Add()([y1, y2]).detach().numpy())


def test_nested_model_get_layer_inputs_outputs_and_summary():
    inner = _two_input(ck)
    c, d = ck.Input((4,), name="c"), ck.Input((4,), name="d")
    outer = ck.Model([c, d], ck.layers.Dense(2, name="top")(inner([c, d])), name="outer")
    assert outer.get_layer("two_input") is inner
    assert outer.get_layer("top").kernel.shape == (1, 2)
    assert [t.shape for t in outer.inputs] == [(None, 4), (None, 4)]
    assert len(outer.outputs) == 1 and outer.outputs[0].shape == (None, 2)
    assert len(outer.trainable_weights) == 6
    ref_inner = inner([XA, XB]).numpy()
    top = outer.get_layer("top")
    _close(outer([XA, XB]).numpy(), ref_inner @ top.kernel.numpy() + top.bias.numpy())
    lines = []
    outer.summary(print_fn=lines.append)
    text = "\n".join(lines)
    assert "Connected to" in text and "c (InputLayer)" in text
    assert "c[0][0], d[0][0]" in text and "two_input[0][0]" in text
    lines = []
    inner.summary(print_fn=lines.append)
    assert "a[0][0], b[0][0]" in "\n".join(lines)  # the shared Dense's two calls


def _xy_model():
    a, b = ck.Input((3,), name="a"), ck.Input((3,), name="b")
    return ck.Model([a, b], ck.layers.Add()([ck.layers.Dense(2)(a), ck.layers.Dense(2)(b)]))


def test_wrong_number_of_inputs_and_missing_dict_key():
    m = _xy_model()
    x = np.zeros((2, 3), "float32")
    with pytest.raises(ValueError, match=r"expects 2 input.*received 1"):
        m(x)
    with pytest.raises(ValueError, match=r"expects 2 input.*received 3"):
        m([x, x, x])
    with pytest.raises(ValueError, match=r"Missing data for input 'b'.*\['a'\]"):
        m({"a": x})
    with pytest.raises(ValueError, match=r"expects 2 input"):
        m.predict(x, verbose=0)


def test_disconnected_graph_names_the_missing_input():
    a, b = ck.Input((3,), name="in_a"), ck.Input((3,), name="in_b")
    out = ck.layers.Concatenate()([a, ck.layers.Dense(2)(b)])
    with pytest.raises(ValueError, match=r"[Gg]raph disconnected.*'in_b'"):
        ck.Model(a, out)
    with pytest.raises(ValueError, match=r"KerasTensors"):
        ck.Model(a, np.zeros((1, 3)))


def test_incompatible_shapes_are_named():
    a, b = ck.Input((3,)), ck.Input((4,))
    with pytest.raises(ValueError, match=r"incompatible shapes.*\(3,\).*\(4,\)"):
        ck.layers.Add()([a, b])
    with pytest.raises(ValueError, match=r"Concatenate.*\(None, 3\).*\(None, 4, 5\)"):
        ck.layers.Concatenate()([a, ck.Input((4, 5))])
    with pytest.raises(ValueError, match=r"exactly 2 inputs"):
        ck.layers.Subtract()([a, a, a])
    with pytest.raises(ValueError, match=r"list of inputs"):
        ck.layers.Add()(a)
    with pytest.raises(ValueError, match=r"axis values 3.*!= 4"):
        ck.layers.Dot(axes=1)([a, b])
    dense = ck.layers.Dense(2)
    dense(a)
    with pytest.raises(ValueError, match=r"axis -1.*value 3.*\(2, 4\)|3.*4"):
        dense(b)


def test_keras_ops_match_keras():
    x = RNG.normal(size=(4, 3)).astype("float32")
    o, t = ck.ops, tk.ops

    def same(a, b):
        _close(o.convert_to_numpy(a), t.convert_to_numpy(b))

    same(o.mean(x, axis=-1, keepdims=True), t.mean(x, axis=-1, keepdims=True))
    same(o.gelu(x), t.gelu(x))  # Keras's op defaults to approximate=True
    same(o.leaky_relu(x), t.leaky_relu(x))  # negative_slope=0.2
    same(o.normalize(x), t.normalize(x))
    same(o.one_hot(np.array([0, 2, 1]), 3), t.one_hot(np.array([0, 2, 1]), 3))
    same(o.softmax(x, axis=0), t.softmax(x, axis=0))
    same(o.clip(x, -0.5, 0.5), t.clip(x, -0.5, 0.5))
    same(o.take(x, [2, 0], axis=1), t.take(x, np.array([2, 0]), axis=1))
    same(o.norm(x, axis=1), t.norm(x, axis=1))
    p = o.softmax(x)
    same(o.sparse_categorical_crossentropy(np.array([0, 1, 2, 1]), p),
         t.sparse_categorical_crossentropy(np.array([0, 1, 2, 1]), t.softmax(x)))
    same(o.categorical_crossentropy(np.eye(3)[[0, 1, 2, 1]], x, from_logits=True),
         t.categorical_crossentropy(np.eye(3, dtype="float32")[[0, 1, 2, 1]], x,
                                    from_logits=True))
    z = (x > 0).astype("float32")
    same(o.binary_crossentropy(z, o.sigmoid(x)), t.binary_crossentropy(z, t.sigmoid(x)))
    assert o.shape(o.reshape(x, (3, 4))) == (3, 4)
    assert o.cast(x, "int32").dtype == np.int32
    assert o.ones((2,)).dtype == np.float32


def test_custom_layer_from_keras_ops_has_correct_gradients():
    """A layer written with keras.ops: gradients against float64 central differences."""
    import chainrule as cr

    o = ck.ops
    x = RNG.normal(size=(3, 4))
    w = RNG.normal(size=(4, 2))

    def f(xv, wv):
        h = o.tanh(o.matmul(xv, wv))
        return o.sum(o.square(o.normalize(h, axis=-1)) * o.softmax(h)) + o.mean(o.max(h, axis=0))

    wt = cr.tensor(w, dtype="float64", requires_grad=True)
    (g,) = cr.grad(f(cr.tensor(x, dtype="float64"), wt), [wt])
    num = np.zeros_like(w)
    eps = 1e-6
    for i in np.ndindex(w.shape):
        wp, wm = w.copy(), w.copy()
        wp[i] += eps
        wm[i] -= eps
        num[i] = (f(x.astype("float64"), wp).item() - f(x.astype("float64"), wm).item()) / (2 * eps)
    np.testing.assert_allclose(g, num, rtol=1e-5, atol=1e-7)


def _any_size_models(K):
    """Layer graphs on images of unknown size whose shapes the stand-in calls must get right:
    two poolings in a row (sizes 2 and 3 would both pool to 1 and read as known), a U-Net's
    skip and upsampling, an 11x11 stride-4 kernel (larger than a small stand-in), a stride-8
    patch embedding."""
    L = K.layers
    inp = K.Input((None, None, 3))
    a = L.Conv2D(4, 3, padding="same", activation="relu")(inp)
    b = L.MaxPooling2D()(L.MaxPooling2D()(a))
    up = L.Conv2DTranspose(4, 2, strides=2, padding="same")(L.Conv2D(4, 3, padding="same")(b))
    unet = L.Concatenate()([up, L.MaxPooling2D()(a)])
    alex = L.Conv2D(2, 11, strides=4)(inp)
    patches = L.Conv2D(2, 8, strides=8)(inp)
    seq = K.Input((None, 5))
    rnn = K.Model(seq, L.LSTM(3, return_sequences=True)(seq))
    return [K.Model(inp, [unet, alex, patches]), rnn]


def test_models_on_inputs_of_unknown_size_get_keras_shapes():
    for ours, ref in zip(_any_size_models(ck), _any_size_models(tk), strict=True):
        assert [tuple(o.shape) for o in ours.outputs] == [tuple(o.shape) for o in ref.outputs]
        for layer, ref_layer in zip(ours.layers, ref.layers, strict=True):
            assert layer.output.shape == tuple(ref_layer.output.shape), layer.name
