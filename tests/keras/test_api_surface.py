"""Module-level Keras API a program reaches for: ``keras.config``, ``keras.backend``,
``Model.from_config`` on a functional config, the answer to a legacy ``.h5`` save (found by a
new user's trial; each compared with real Keras 3.15.1 where Keras has an answer)."""

import re

import numpy as np
import pytest

from ._keras_ref import ck, tk


def test_model_from_config_rebuilds_a_functional_model_as_keras_does():
    for lib in (ck, tk):
        i = lib.Input((3,), name="x")
        m = lib.Model(i, lib.layers.Dense(2, name="d")(lib.layers.Dense(4, name="h")(i)))
        again = lib.Model.from_config(m.get_config())
        assert [la.name for la in again.layers] == ["x", "h", "d"]
        again.set_weights(m.get_weights())
        x = np.ones((2, 3), "float32")
        np.testing.assert_allclose(again.predict(x, verbose=0), m.predict(x, verbose=0))


def test_config_and_backend_settings_match_keras_defaults():
    for name in ("floatx", "epsilon", "image_data_format"):
        assert getattr(ck.config, name)() == getattr(tk.config, name)()
        assert getattr(ck.backend, name)() == getattr(tk.backend, name)()
    assert ck.config.backend() == "numpy" and ck.backend.is_keras_tensor(ck.Input((2,)))
    assert not ck.backend.is_keras_tensor(np.ones(2))
    ck.config.set_image_data_format("channels_last")
    with pytest.raises(NotImplementedError, match="data_format='channels_first' to each"):
        ck.config.set_image_data_format("channels_first")
    with pytest.raises(ValueError, match="received data_format='nhwc'"):
        ck.config.set_image_data_format("nhwc")


def test_missing_submodules_are_not_advertised_and_hasattr_is_false():
    assert "random" not in dir(ck) and not hasattr(ck, "random")
    assert "datasets" in dir(ck) and hasattr(ck.datasets, "mnist")  # lazily loaded
    for name in dir(ck):
        assert getattr(ck, name) is not None, name  # everything listed imports


def test_a_legacy_h5_model_file_is_refused_with_the_alternatives(tmp_path):
    m = ck.Sequential([ck.Input((2,)), ck.layers.Dense(1)])
    with pytest.raises(ValueError, match=r"\.h5\) is not supported: save to a `\.keras` file"):
        m.save(str(tmp_path / "m.h5"))
    assert not (tmp_path / "m.h5").exists()


def test_layer_output_builds_a_feature_extractor_as_in_keras():
    x = np.random.default_rng(0).standard_normal((4, 3)).astype("float32")
    feats, weights = [], []
    for lib in (ck, tk):
        a, b = lib.Input((3,), name="a"), lib.Input((2,), name="b")
        h = lib.layers.Dense(4, name="h")(a)
        merged = lib.layers.Concatenate(name="merge")([h, b])
        model = lib.Model([a, b], lib.layers.Dense(1, name="out")(merged))
        if weights:
            model.set_weights(weights)
        weights = model.get_weights()
        layer = model.get_layer("merge")
        assert len(layer.input) == 2 and tuple(layer.output.shape) == (None, 6)
        assert model.layers[0].input == [] and tuple(model.layers[0].output.shape) == (None, 3)
        sub = lib.Model(model.inputs, layer.output)
        feats.append(np.asarray(sub.predict([x, x[:, :2]], verbose=0)))
    np.testing.assert_allclose(feats[0], feats[1], rtol=1e-6)
    with pytest.raises(AttributeError, match="has never been called"):
        _ = ck.layers.Dense(2).output


def test_clear_session_restarts_automatic_names_as_keras():
    names = []
    for lib in (ck, tk):
        lib.backend.clear_session()
        first = [lib.layers.Dense(1).name, lib.layers.Dense(1).name]
        lib.backend.clear_session()
        names.append((first, lib.layers.Dense(1).name))
    assert names[0] == names[1] == (["dense", "dense_1"], "dense")


def test_a_sequential_subclass_adding_a_loss_clears_it_on_each_call_as_keras():
    counts = []
    for lib in (ck, tk):

        class Penalized(lib.Sequential):
            def call(self, inputs, training=None, mask=None):
                out = super().call(inputs, training=training)
                self.add_loss(lib.ops.sum(out) * 0.0 + 1.0)
                return out

        m = Penalized([lib.Input((2,)), lib.layers.Dense(1)])
        for _ in range(3):
            m(np.ones((1, 2), "float32"))
        counts.append(len(m.losses))
    assert counts[0] == counts[1] == 1


def test_a_sequential_without_input_called_in_a_graph_records_keras_shapes():
    shapes = []
    for lib in (ck, tk):
        inner = lib.Sequential([lib.layers.Dense(2, name="d1"), lib.layers.Dense(2, name="d2")])
        i = lib.Input((3,))
        lib.Model(i, inner(i))
        shapes.append([tuple(la.output.shape) for la in inner.layers])
    assert shapes[0] == shapes[1] == [(None, 2), (None, 2)]  # not the placeholder batch (2, 2)


def test_layers_serialize_and_deserialize_as_keras():
    # keras.layers.serialize gives Keras's dict; each library rebuilds the other's layer
    def make(lib):
        return [lib.layers.Dense(3, activation="relu", name="d"),
                lib.layers.Rescaling(1 / 255.0, offset=-1.0, name="r"),
                lib.layers.Conv2D(4, 3, padding="same", name="c")]  # fmt: skip

    for ours, theirs in zip(make(ck), make(tk)):
        mine, ref = ck.layers.serialize(ours), tk.layers.serialize(theirs)
        assert (mine["module"], mine["class_name"]) == (ref["module"], ref["class_name"])
        assert mine["config"] == ref["config"]
        assert ck.layers.deserialize(ref).get_config() == ours.get_config()
        assert tk.layers.deserialize(mine).get_config() == theirs.get_config()


LAYER_SPECS = [
    ("Dense", (2,)), ("Embedding", (5, 2)), ("Conv1D", (4, 3)), ("Conv2D", (4, 3)),
    ("Conv2DTranspose", (4, 3)), ("DepthwiseConv2D", (3,)), ("SeparableConv2D", (4, 3)),
    ("LSTM", (3,)), ("GRU", (3,)), ("SimpleRNN", (3,)), ("BatchNormalization", ()),
    ("LayerNormalization", ()), ("GroupNormalization", ()), ("Dropout", (0.5,)),
    ("Flatten", ()), ("Reshape", ((2, 2),)), ("MaxPooling2D", ()), ("GlobalAveragePooling2D", ()),
    ("UpSampling2D", ()), ("ZeroPadding2D", ()), ("Activation", ("relu",)), ("PReLU", ()),
    ("Masking", ()), ("Concatenate", ()), ("Add", ()), ("Attention", ()),
    ("MultiHeadAttention", (2, 4)), ("Rescaling", (0.5,)), ("Normalization", ()),
]  # fmt: skip


@pytest.mark.parametrize("name,args", LAYER_SPECS, ids=[n for n, _ in LAYER_SPECS])
def test_a_new_layers_config_is_kerass(name, args):
    # the same keys and values as Keras 3.15.1 writes, and each rebuilds from the other's
    ours = getattr(ck.layers, name)(*args, name="x")
    theirs = getattr(tk.layers, name)(*args, name="x")
    assert ours.get_config() == theirs.get_config()
    assert type(ours).from_config(theirs.get_config()).get_config() == ours.get_config()


def test_wrapped_layers_configs_are_kerass():
    for wrapper, inner in (("TimeDistributed", "Dense"), ("Bidirectional", "LSTM")):
        ours = getattr(ck.layers, wrapper)(getattr(ck.layers, inner)(2, name="i"), name="w")
        theirs = getattr(tk.layers, wrapper)(getattr(tk.layers, inner)(2, name="i"), name="w")
        assert ours.get_config() == theirs.get_config()


def test_quantization_config_is_refused_not_ignored():
    for layer in (lambda **k: ck.layers.Dense(2, **k), lambda **k: ck.layers.Embedding(5, 2, **k)):
        layer(quantization_config=None)
        with pytest.raises(NotImplementedError, match="quantization_config"):
            layer(quantization_config={"mode": "int8"})


def test_keras_utils_names_a_keras_program_reaches_for():
    # the same objects as where chainrule defines them, and Keras's behaviour for each
    assert ck.utils.Sequence is ck.utils.PyDataset
    assert ck.utils.clear_session is ck.backend.clear_session
    assert ck.utils.register_keras_serializable is ck.saving.register_keras_serializable
    assert ck.utils.custom_object_scope is ck.saving.custom_object_scope
    assert set(dir(ck.utils)) <= set(dir(tk.utils)) | {"plot_history"}  # (ours: matplotlib)
    cases = [((np.ones(2),), {}), ((np.ones(2), np.zeros(2)), {}),
             ((np.ones(2), np.zeros(2), np.ones(2)), {}), (([np.ones(2)],), {})]  # fmt: skip
    for args, kwargs in cases:
        ours = ck.utils.pack_x_y_sample_weight(*args, **kwargs)
        ref = tk.utils.pack_x_y_sample_weight(*args, **kwargs)
        assert type(ours) is type(ref) and len(ck.utils.unpack_x_y_sample_weight(ours)) == 3
        for a, b in zip(ck.utils.unpack_x_y_sample_weight(ours),
                        tk.utils.unpack_x_y_sample_weight(ref)):  # fmt: skip
            assert (a is None and b is None) or np.array_equal(np.asarray(a, dtype=float),
                                                               np.asarray(b, dtype=float))
    for lib in (ck, tk):  # (no pydot here: Keras raises the same)
        model = lib.Sequential([lib.Input((2,)), lib.layers.Dense(1)])
        with pytest.raises(ImportError, match="You must install pydot"):
            lib.utils.plot_model(model)


def test_input_shape_on_a_layer_warns_and_works_as_in_keras():
    x = np.ones((2, 3), "float32")
    for lib in (ck, tk):
        for kwargs in ({"input_shape": (3,)}, {"input_dim": 3}):
            with pytest.warns(UserWarning, match=r"Do not pass an `input_shape`/`input_dim`"):
                m = lib.Sequential([lib.layers.Dense(2, **kwargs)])
            assert m.predict(x, verbose=0).shape == (2, 2)
    with pytest.raises(ValueError, match=r"^You must call `compile\(\)` before using the model"):
        ck.Sequential([ck.Input((3,)), ck.layers.Dense(1)]).fit(x, x[:, :1], verbose=0)


@pytest.mark.parametrize("make", [
    lambda k: k.Sequential([k.Input((4,)), k.layers.Conv2D(2, 3)]),
    lambda k: k.Sequential([k.Input((4,)), k.layers.Dense(2), k.layers.LSTM(3)]),
    lambda k: k.layers.Dense(2)(k.layers.Reshape((2, 3))(k.Input((None, 6)))),
])  # fmt: skip
def test_a_symbolic_shape_error_shows_the_symbolic_shape_as_keras(make):
    # the placeholders a symbolic call runs on (a batch of 2) must not leak into the message
    messages = []
    for lib in (tk, ck):
        try:
            make(lib)
            messages.append(None)
        except ValueError as e:
            messages.append(re.search(r"(Full shape received|received input with shape|"
                                      r"found shape=)\W*(\(.*?\))", str(e)))  # fmt: skip
    if messages[0] is None:
        assert messages[1] is None
    else:
        assert messages[1] is not None and messages[1].group(2) == messages[0].group(2)


def test_a_sequentials_inputs_and_outputs_make_a_feature_extractor_as_in_keras():
    # Keras's transfer-learning guide: Model(inputs=seq.inputs, outputs=[l.output for l in
    # seq.layers]) on a Sequential built with an Input; the same weights give the same outputs
    x = np.random.default_rng(0).random((5, 3)).astype("float32")
    outs = []
    for lib in (ck, tk):
        seq = lib.Sequential([lib.Input((3,)), lib.layers.Dense(4, activation="relu", name="h"),
                              lib.layers.Dense(1, name="o")])  # fmt: skip
        seq.set_weights([np.full(w.shape, 0.1 * (i + 1), "float32")
                         for i, w in enumerate(seq.get_weights())])  # fmt: skip
        assert [t.shape for t in seq.inputs] == [(None, 3)]
        assert [t.shape for t in seq.outputs] == [(None, 1)]
        extractor = lib.Model(inputs=seq.inputs, outputs=[la.output for la in seq.layers])
        outs.append(extractor.predict(x, verbose=0))
        with pytest.raises(AttributeError, match="has no attribute 'inputs'"):
            getattr(lib.Sequential([lib.layers.Dense(2)]), "inputs")  # noqa: B009 - not built yet
    for ours, ref in zip(*outs):
        np.testing.assert_allclose(ours, ref, rtol=1e-6)


def _path_models(lib):
    class Mine(lib.Model):
        def __init__(self):
            super().__init__(name="mine")
            self.d = lib.layers.Dense(2, name="d")

        def call(self, x):
            return self.d(x)

    mine = Mine()
    mine(np.ones((1, 3), "float32"))
    inner = lib.Sequential([lib.Input((3,)), lib.layers.Dense(2, name="i")], name="inner")
    i = lib.Input((3,))
    outer = lib.Model(i, lib.layers.Dense(1, name="top")(inner(i)), name="outer")
    lazy = lib.Sequential([lib.layers.Dense(2, name="g")], name="lazy")
    lazy(np.ones((1, 3), "float32"))
    rnn = lib.Sequential([lib.Input((4, 3)), lib.layers.LSTM(2, name="l"),
                          lib.layers.BatchNormalization(name="bn")], name="sl")  # fmt: skip
    bi = lib.Sequential([lib.Input((4, 3)), lib.layers.Bidirectional(
        lib.layers.GRU(2, name="g2"), name="bi"), lib.layers.Dense(1, name="d2")], name="sb")
    td = lib.Sequential([lib.Input((4, 3)), lib.layers.TimeDistributed(
        lib.layers.Dense(2, name="dd"), name="td")], name="st")
    return [[v.path for v in m.weights] for m in (mine, outer, lazy, rnn, bi, td)]


def test_weight_paths_are_kerass():
    # the names of the layers being built around a weight, then its own (Keras's name scopes)
    assert _path_models(ck) == _path_models(tk)
