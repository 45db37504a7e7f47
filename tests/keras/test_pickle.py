"""pickle, copy.copy and copy.deepcopy of models, layers and metrics, as Keras 3.15.1
(``KerasSaveable.__reduce__``: a ``.keras`` archive in memory, loaded back with
``compile=True, safe_mode=False``). Each case runs on real Keras (torch) too, which decides
what the round trip keeps: weights, config, compile state, optimizer state, names."""

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import copy  # noqa: E402
import pickle  # noqa: E402
import warnings  # noqa: E402

import keras as tk  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from chainrule import keras as ck  # noqa: E402
from chainrule.keras.saving import pickling, saving_lib  # noqa: E402


def _data(n=24, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(n, 4)).astype("float32"),
            rng.normal(size=(n, 2)).astype("float32"))  # fmt: skip


def _roundtrip(obj, protocol=pickle.HIGHEST_PROTOCOL):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch-backend Keras's __array__ copy warnings
        return pickle.loads(pickle.dumps(obj, protocol=protocol))


def _seq(k):
    return k.Sequential([k.Input((4,)), k.layers.Dense(5, activation="tanh"),
                         k.layers.Dense(2)])  # fmt: skip


def _functional(k):
    i = k.Input((4,), name="x")
    h = k.layers.Dense(5, activation="relu", name="hidden")(i)
    return k.Model(i, k.layers.Dense(2, name="out")(h))


def _pair(make, seed=1):
    ours, ref = make(ck), make(tk)
    rng = np.random.default_rng(seed)
    w = [rng.uniform(-0.5, 0.5, v.shape).astype("float32") for v in ours.get_weights()]
    ours.set_weights(w)
    ref.set_weights(w)
    return ours, ref


def _opt_arrays(model):
    return [np.asarray(getattr(v, "data", v)) for v in model.optimizer.variables]


def _keras_opt_arrays(model):
    return [np.asarray(v.numpy()) for v in model.optimizer.variables]


def _assert_same_model(a, b):
    assert type(a) is type(b) and a.name == b.name
    assert a.get_config() == b.get_config()
    assert a.get_compile_config() == b.get_compile_config()
    assert len(a.weights) == len(b.weights)
    for v, w in zip(a.weights, b.weights, strict=True):
        assert v is not w
        np.testing.assert_array_equal(v.numpy(), w.numpy())


# -- compiled and fitted models: the copy continues the original's training -----------------
@pytest.mark.parametrize("make,opt", [
    (_seq, lambda k: k.optimizers.Adam(0.01)),
    (_functional, lambda k: k.optimizers.SGD(0.05, momentum=0.9)),
])  # fmt: skip
def test_fitted_model_roundtrip_continues_training_as_keras(make, opt):
    x, y = _data()
    ours, ref = _pair(make)
    for m, k in ((ours, ck), (ref, tk)):
        m.compile(optimizer=opt(k), loss="mse", metrics=["mae"])
        m.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    ours2, ref2 = _roundtrip(ours), _roundtrip(ref)

    _assert_same_model(ours2, ours)
    assert int(ours2.optimizer.iterations) == int(ref2.optimizer.iterations) == 6
    for a, b in zip(_opt_arrays(ours2), _opt_arrays(ours), strict=True):
        np.testing.assert_array_equal(a, b)
    # Keras carries the same optimizer state (slots, iteration count, learning rate)
    mine, theirs = _opt_arrays(ours2), _keras_opt_arrays(ref2)
    assert len(mine) == len(theirs)
    for a, b in zip(mine, theirs, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(ours2.predict(x, verbose=0), ours.predict(x, verbose=0))
    np.testing.assert_allclose(ours2.predict(x, verbose=0), ref2.predict(x, verbose=0),
                               rtol=1e-5, atol=1e-6)  # fmt: skip

    # continuing on the copy gives the original's numbers, and Keras's copy's
    h_orig = ours.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0).history
    h_copy = ours2.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0).history
    h_ref = ref2.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0).history
    assert h_copy == h_orig
    for key in h_ref:
        np.testing.assert_allclose(h_copy[key], h_ref[key], rtol=1e-5, atol=1e-6, err_msg=key)
    for a, b in zip(ours2.get_weights(), ref2.get_weights(), strict=True):
        np.testing.assert_allclose(a, np.asarray(b), rtol=1e-5, atol=1e-6)


def test_copy_is_independent_of_the_original():
    x, y = _data()
    m = _seq(ck)
    m.compile(optimizer="adam", loss="mse")
    m.fit(x, y, epochs=1, verbose=0)
    before = [w.copy() for w in m.get_weights()]
    opt_before = _opt_arrays(m)
    for c in (copy.deepcopy(m), copy.copy(m), _roundtrip(m)):
        assert c.optimizer is not m.optimizer
        c.fit(x, y, epochs=2, verbose=0)
        c.layers[0].kernel.assign(np.zeros((4, 5), "float32"))
        for a, b in zip(m.get_weights(), before, strict=True):
            np.testing.assert_array_equal(a, b)
        for a, b in zip(_opt_arrays(m), opt_before, strict=True):
            np.testing.assert_array_equal(a, b)
        assert int(m.optimizer.iterations) == 1 and int(c.optimizer.iterations) == 3


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_every_protocol_from_2(protocol):
    x, y = _data()
    ours, ref = _pair(_functional)
    for m in (ours, ref):
        m.compile(optimizer="rmsprop", loss="mse")
        m.fit(x, y, epochs=1, verbose=0)
    data = pickle.dumps(ours, protocol=protocol)
    assert data[1] == protocol  # the PROTO opcode's argument
    back = pickle.loads(data)
    _assert_same_model(back, ours)
    np.testing.assert_allclose(back.predict(x, verbose=0),
                               _roundtrip(ref, protocol).predict(x, verbose=0),
                               rtol=1e-5, atol=1e-6)  # fmt: skip


def test_shared_references_stay_shared_and_nested_containers_work():
    m = _seq(ck)
    a, b, extra = _roundtrip([m, m, {"model": m}])
    assert a is b and extra["model"] is a and a is not m
    _assert_same_model(a, m)


def test_batchnorm_statistics_come_along_as_in_keras():
    x, _ = _data(n=32)

    def make(k):
        return k.Sequential([k.Input((4,)), k.layers.BatchNormalization(),
                             k.layers.Dropout(0.0), k.layers.Dense(2)])  # fmt: skip

    ours, ref = _pair(make)
    for m in (ours, ref):
        m.compile(optimizer="sgd", loss="mse")
        m.fit(x, x[:, :2], batch_size=8, epochs=2, shuffle=False, verbose=0)
    ours2, ref2 = copy.deepcopy(ours), _roundtrip(ref)
    _assert_same_model(ours2, ours)
    bn, bn_ref = ours2.layers[0], ref2.layers[0]
    for name in ("gamma", "beta", "moving_mean", "moving_variance"):
        np.testing.assert_allclose(getattr(bn, name).numpy(), getattr(bn_ref, name).numpy(),
                                   rtol=1e-5, atol=1e-6, err_msg=name)  # fmt: skip


# -- models never built, never compiled ---------------------------------------------------
def test_unbuilt_model_stays_unbuilt_and_keeps_compile_state_as_keras():
    x, y = _data()
    ours = ck.Sequential([ck.layers.Dense(2)])
    ref = tk.Sequential([tk.layers.Dense(2)])
    for m, k in ((ours, ck), (ref, tk)):
        plain = _roundtrip(m)
        assert not plain.built and not plain.weights and not plain.compiled
        m.compile(optimizer=k.optimizers.SGD(0.1), loss="mse")
    ours2, ref2 = _roundtrip(ours), _roundtrip(ref)
    assert (ours2.built, ref2.built) == (False, False)
    assert ours2.compiled and ref2.compiled
    assert ours2.get_compile_config() == ours.get_compile_config()
    assert ours2.optimizer.get_config()["learning_rate"] == pytest.approx(0.1)
    ours2.fit(x, y, epochs=1, batch_size=24, verbose=0)
    ref2.fit(x, y, epochs=1, batch_size=24, verbose=0)
    assert int(ours2.optimizer.iterations) == int(ref2.optimizer.iterations) == 1
    assert not ours.built  # the original is untouched


def test_compiled_but_never_fitted_model_copy_trains_like_the_original():
    x, y = _data()
    ours = _seq(ck)
    ours.compile(optimizer="adam", loss="mse")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        c = copy.deepcopy(ours)
    # Keras warns the same way: the unbuilt optimizer saved 2 variables, the copy's has 6
    assert any("Skipping variable loading" in str(w.message) for w in caught)
    h1 = ours.fit(x, y, epochs=2, shuffle=False, verbose=0).history
    h2 = c.fit(x, y, epochs=2, shuffle=False, verbose=0).history
    assert h1 == h2


# -- subclassed models -------------------------------------------------------------------
def _subclass(k, register, name):
    class Net(k.Model):
        def __init__(self, units=3, **kwargs):
            super().__init__(**kwargs)
            self.units = units
            self.hidden = k.layers.Dense(units, activation="tanh")
            self.out = k.layers.Dense(2)

        def call(self, x):
            return self.out(self.hidden(x))

        def get_config(self):
            return {**super().get_config(), "units": self.units}

    # Keras pickles its reducer as a method of the class, which must then be importable
    Net.__name__ = Net.__qualname__ = name
    if register:
        Net = k.saving.register_keras_serializable(package="test_pickle")(Net)
    return Net


OurNet, KerasNet = _subclass(ck, True, "OurNet"), _subclass(tk, True, "KerasNet")
OurLooseNet, KerasLooseNet = (
    _subclass(ck, False, "OurLooseNet"),
    _subclass(tk, False, "KerasLooseNet"),
)


def test_registered_subclassed_model_roundtrips_as_keras():
    x, y = _data()
    ours, ref = OurNet(units=3, name="net"), KerasNet(units=3, name="net")
    for m in (ours, ref):
        m(x)
    ref.set_weights(ours.get_weights())
    for m in (ours, ref):
        m.compile(optimizer="adam", loss="mse")
        m.fit(x, y, epochs=1, batch_size=12, shuffle=False, verbose=0)
    ours2, ref2 = _roundtrip(ours), _roundtrip(ref)
    _assert_same_model(ours2, ours)
    assert type(ours2) is type(ours) and ours2.units == 3 and ours2.name == ref2.name == "net"
    assert int(ours2.optimizer.iterations) == int(ref2.optimizer.iterations) == 2
    np.testing.assert_allclose(ours2.predict(x, verbose=0), ref2.predict(x, verbose=0),
                               rtol=1e-5, atol=1e-6)  # fmt: skip
    h1 = ours.fit(x, y, epochs=1, batch_size=12, shuffle=False, verbose=0).history
    h2 = ours2.fit(x, y, epochs=1, batch_size=12, shuffle=False, verbose=0).history
    assert h1 == h2


def test_unregistered_subclass_pickles_but_fails_to_load_as_keras():
    x, _ = _data()
    for k, net_cls in ((ck, OurLooseNet), (tk, KerasLooseNet)):
        m = net_cls(units=2)
        m(x)
        data = pickle.dumps(m)  # Keras pickles it; the class is looked up when loading
        with pytest.raises(TypeError, match="Could not locate class") as err:
            pickle.loads(data)
        assert net_cls.__name__ in str(err.value)
        assert "register_keras_serializable" in str(err.value)
        with k.saving.custom_object_scope({net_cls.__name__: net_cls}):
            back = pickle.loads(data)
        assert type(back) is net_cls
        np.testing.assert_allclose(back.predict(x, verbose=0), m.predict(x, verbose=0))
    # ours is a ValueError too, as load_model's unknown-class error
    with pytest.raises(ValueError):
        pickle.loads(pickle.dumps(OurLooseNet()))


def _no_config_classes(k):
    class NoConfigModel(k.Model):
        def __init__(self, units, **kwargs):
            super().__init__(**kwargs)
            self.d = k.layers.Dense(units)

        def call(self, x):
            return self.d(x)

    class NoConfigLayer(k.layers.Layer):
        def __init__(self, factor, **kwargs):
            super().__init__(**kwargs)
            self.factor = factor

        def call(self, x):
            return x * self.factor

    return NoConfigModel, NoConfigLayer


@pytest.mark.parametrize("k", [ck, tk], ids=["chainrule", "keras"])
def test_required_init_argument_missing_from_config_fails_at_pickling_as_keras(k):
    no_config_model, no_config_layer = _no_config_classes(k)
    m = no_config_model(3)
    m(np.ones((1, 4), "float32"))
    if k is tk:
        # Keras's Model.__new__ drops the arguments, so its automatic config lacks `units`
        with pytest.raises(NotImplementedError, match="get_config"):
            pickle.dumps(m)
    else:  # ours records them: the model pickles and comes back with units=3
        assert m.get_config()["units"] == 3
        with ck.saving.custom_object_scope({"NoConfigModel": no_config_model}):
            back = pickle.loads(pickle.dumps(m))
        assert back.d.units == 3
    # an argument Keras cannot capture by itself (an array) must be in get_config()
    layer = no_config_layer(np.array(2.0, "float32"))
    nested = k.Sequential([k.Input((4,)), layer, k.layers.Dense(1)])
    with pytest.raises(NotImplementedError, match="get_config"):
        copy.deepcopy(nested)


@pytest.mark.parametrize("k", [ck, tk], ids=["chainrule", "keras"])
def test_plain_init_arguments_need_no_get_config_as_keras(k):
    # Keras's Operation.__new__ records plain __init__ arguments; its default get_config()
    # returns them, so a registered layer without a get_config() of its own pickles
    layer_cls = k.saving.register_keras_serializable(package="test_pickle")(
        _no_config_classes(k)[1]
    )
    m = k.Sequential([k.Input((4,)), layer_cls(2.0, name="scale")])
    back = copy.deepcopy(m) if k is ck else _roundtrip(m)
    assert type(back.layers[0]) is layer_cls and back.layers[0].factor == 2.0
    assert back.layers[0].get_config() == m.layers[0].get_config()
    assert back.layers[0].get_config()["factor"] == 2.0
    x, _ = _data()
    np.testing.assert_allclose(np.asarray(back.predict(x, verbose=0)), 2.0 * x, rtol=1e-6)


def test_lambda_on_a_python_lambda_is_refused_at_pickling():
    # Keras stores the lambda's bytecode; chainrule never does, so it says so up front
    m = ck.Sequential([ck.Input((4,)), ck.layers.Lambda(lambda t: t * 2.0)])
    with pytest.raises(ValueError, match="Lambda layer on a Python lambda"):
        pickle.dumps(m)


def _triple(t):
    return t * 3.0


def test_lambda_on_a_named_function_roundtrips_in_a_custom_object_scope():
    x, _ = _data()
    m = ck.Sequential([ck.Input((4,)), ck.layers.Lambda(_triple), ck.layers.Dense(1)])
    data = pickle.dumps(m)
    with pytest.raises(TypeError, match="Could not locate function '_triple'"):
        pickle.loads(data)
    with ck.saving.custom_object_scope({"_triple": _triple}):
        back = pickle.loads(data)  # unpickling is safe_mode=False, as Keras's
    np.testing.assert_array_equal(back.predict(x, verbose=0), m.predict(x, verbose=0))


@pytest.mark.parametrize("k", [ck, tk], ids=["chainrule", "keras"])
def test_lambda_on_a_registered_function_roundtrips(k):
    # Keras writes the function's registered name "package>name"; it is found again at loads
    registered = k.saving.register_keras_serializable(package="test_pickle")(_quadruple)
    x, _ = _data()
    m = k.Sequential([k.Input((4,)), k.layers.Lambda(registered), k.layers.Dense(1)])
    assert m.layers[0].get_config()["function"]["config"] == "test_pickle>_quadruple"
    back = copy.deepcopy(m) if k is ck else _roundtrip(m)
    assert back.layers[0].function is _quadruple
    np.testing.assert_array_equal(np.asarray(back.predict(x, verbose=0)),
                                  np.asarray(m.predict(x, verbose=0)))  # fmt: skip
    back2 = _roundtrip(m)
    np.testing.assert_array_equal(np.asarray(back2.predict(x, verbose=0)),
                                  np.asarray(m.predict(x, verbose=0)))  # fmt: skip


def _quadruple(t):
    return t * 4.0


# -- bare layers and metrics ---------------------------------------------------------------
def test_bare_layer_roundtrip_as_keras():
    x, _ = _data()
    ours, ref = ck.layers.Dense(3, activation="relu"), tk.layers.Dense(3, activation="relu")
    for layer in (ours, ref):
        back = _roundtrip(layer)
        assert not back.built and back.name == layer.name
        assert back.get_config() == layer.get_config()
    ours(x)
    ref(x)
    ref.set_weights(ours.get_weights())
    ours2, ref2 = copy.deepcopy(ours), _roundtrip(ref)
    assert ours2.built and ref2.built and ours2.name == ours.name
    assert ours2.kernel is not ours.kernel
    np.testing.assert_array_equal(ours2.kernel.numpy(), ours.kernel.numpy())
    np.testing.assert_allclose(ours2(x).numpy(), np.asarray(ref2(x).detach()), rtol=1e-5, atol=1e-6)
    ours2.kernel.assign(np.zeros((4, 3), "float32"))
    assert np.abs(ours.kernel.numpy()).sum() > 0


def test_metric_reduces_to_a_fresh_metric_with_the_same_config_as_keras():
    # Keras's archive holds no metric state: its round trip gives the metric reset
    ref = tk.metrics.BinaryAccuracy(threshold=0.3)
    ref.update_state([1.0, 0.0], [0.9, 0.8])
    ref2 = _roundtrip(ref)
    ours = ck.metrics.BinaryAccuracy(threshold=0.3)
    ours.update_state([1.0, 0.0], [0.9, 0.8])
    ours2 = pickle.loads(pickle.dumps(ours))
    assert type(copy.deepcopy(ours)) is type(ours)
    assert type(ours2) is type(ours) and ours2.get_config() == ours.get_config()
    assert float(ours2.result()) == float(ref2.result()) == 0.0
    assert float(ours.result()) == pytest.approx(float(ref.result()))
    ours2.update_state([1.0, 0.0], [0.2, 0.1])
    ref2.update_state([1.0, 0.0], [0.2, 0.1])
    assert float(ours2.result()) == pytest.approx(float(ref2.result()))


def test_corrupt_pickled_archive_is_a_clear_error():
    m = _seq(ck)
    fn, (data,) = m.__reduce__()
    assert fn is pickling._unpickle_model
    with pytest.raises(saving_lib.KerasFileError, match="pickled Keras object"):
        fn(data[: len(data) // 2])
