"""Keras 3's automatic layer config (``Operation.__new__`` records plain ``__init__``
arguments, the default ``get_config`` returns them) and the Lambda layer's function in its
config, against real Keras 3.15.1 (torch backend): configs key for key, the errors, .keras
files each way, pickle and deepcopy."""

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import collections  # noqa: E402
import copy  # noqa: E402
import enum  # noqa: E402
import json  # noqa: E402
import pickle  # noqa: E402
import warnings  # noqa: E402
import zipfile  # noqa: E402

import keras as tk  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from chainrule import keras as ck  # noqa: E402
from chainrule.keras.layers import layer as layer_module  # noqa: E402
from chainrule.keras.saving.serialization import deserialize_keras_object  # noqa: E402

PACKAGE = "test_auto_config"


def _data(n=6, d=4, seed=0):
    return np.random.default_rng(seed).normal(size=(n, d)).astype("float32")


def _np(x):
    if hasattr(x, "detach"):  # a torch tensor from Keras
        x = x.detach()
    return np.asarray(x.numpy() if hasattr(x, "numpy") else x)


def _quiet_roundtrip(obj):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch-backend Keras's __array__ copy warnings
        return pickle.loads(pickle.dumps(obj))


def _plain_class(k):
    """A custom layer with plain arguments and no get_config of its own."""

    class Plain(k.layers.Layer):
        def __init__(self, factor, offset=0.5, tags=("a",), opts=None, **kwargs):
            super().__init__(**kwargs)
            self.factor = factor

        def call(self, x):
            return x * self.factor

    return Plain


def _scale_class(k):
    """A registered custom layer with a weight, plain arguments and no get_config."""

    class Scale(k.layers.Layer):
        def __init__(self, factor, offset=0.0, tags=("x", "y"), **kwargs):
            super().__init__(**kwargs)
            self.factor, self.offset = factor, offset

        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="w")

        def call(self, x):
            return x * self.w * self.factor + self.offset

    return k.saving.register_keras_serializable(package=PACKAGE, name="Scale")(Scale)


CK_SCALE, TK_SCALE = _scale_class(ck), _scale_class(tk)


class Colour(enum.IntEnum):
    RED = 1


Pair = collections.namedtuple("Pair", "a b")

PLAIN_CASES = {
    "required only": ((2.0,), {}),
    "all given": ((3,), {"offset": -1, "tags": ["p", "q"], "opts": {"k": [1, (2, None)]}}),
    "base kwargs": ((2.0,), {"name": "sc", "trainable": False, "dtype": "float64"}),
    "activity_regularizer": ((2.0,), {"activity_regularizer": "l2"}),
    "autocast": ((2.0,), {"autocast": False}),
    "float subclass": ((np.float64(2.5),), {}),
    "int enum": ((Colour.RED,), {}),
    "namedtuple and OrderedDict": ((1.0,), {"tags": Pair(1, "b"),
                                            "opts": collections.OrderedDict(z=1, a=2.0)}),
    "int dict keys": ((1.0,), {"opts": {1: "one", 2: None}}),
    "empty containers": ((1.0,), {"tags": (), "opts": {}}),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(PLAIN_CASES))
def test_plain_arguments_give_keras_config_key_for_key(case):
    args, kwargs = PLAIN_CASES[case]
    kwargs = {"name": "plain", **kwargs}
    ours = _plain_class(ck)(*args, **kwargs).get_config()
    theirs = _plain_class(tk)(*args, **kwargs).get_config()
    assert ours == theirs
    assert list(ours) == list(theirs)  # same key order
    assert ours["factor"] == args[0]


def _name_rule_classes(k):
    class NoName(k.layers.Layer):  # neither `name` nor `**kwargs`: name is left out
        def __init__(self, a=1):
            super().__init__()

    class OwnName(k.layers.Layer):  # a `name` parameter: kept
        def __init__(self, a=1, name=None):
            super().__init__(name=name)

    class OtherKwargs(k.layers.Layer):  # `**kw`: Keras tests the word "kwargs", so left out
        def __init__(self, a=1, **kw):
            super().__init__(**kw)

    class Varargs(k.layers.Layer):  # *args given nothing: recorded as usual
        def __init__(self, *args, a=1, **kwargs):
            super().__init__(**kwargs)

    return NoName, OwnName, OtherKwargs, Varargs


@pytest.mark.parametrize("which", range(4))
def test_which_classes_keep_name_as_keras(which):
    ours = _name_rule_classes(ck)[which](a=7).get_config()
    theirs = _name_rule_classes(tk)[which](a=7).get_config()
    if "name" in theirs:  # an automatic name: the counters of the two libraries differ
        assert ours["name"].startswith(theirs["name"].split("_")[0])
        ours, theirs = dict(ours, name=None), dict(theirs, name=None)
    assert ours == theirs and ours["a"] == 7


def test_own_get_config_turns_the_automatic_config_off_as_keras():
    def make(k):
        class Own(k.layers.Layer):
            def __init__(self, factor=2.0, **kwargs):
                super().__init__(**kwargs)

            def get_config(self):
                return super().get_config()

        class WrapsDense(k.layers.Dense):  # Dense's get_config, not the automatic one
            def __init__(self, units, extra=1, **kwargs):
                super().__init__(units, **kwargs)

        return Own(name="own").get_config(), WrapsDense(3, extra=5).get_config()

    (own, dense), (k_own, k_dense) = make(ck), make(tk)
    assert own == k_own and "factor" not in own
    assert "extra" not in dense and "extra" not in k_dense and dense["units"] == 3


NON_PLAIN = {
    "array": np.ones(3, "float32"),
    "0-d array": np.array(2.0),
    "float32 scalar": np.float32(2.0),
    "int64 scalar": np.int64(2),
    "set": {1, 2},
    "bytes": b"x",
    "complex": 1j,
    "function": len,
    "list holding an array": [1.0, np.ones(2)],
    "dict subclass": type("D", (dict,), {})(a=1),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(NON_PLAIN))
def test_other_values_raise_at_get_config_as_keras(case):
    value = NON_PLAIN[case]
    ours, theirs = _plain_class(ck)(value), _plain_class(tk)(value)  # both are still made
    x = np.ones((2, 3), "float32")
    if case in ("array", "0-d array", "float32 scalar", "int64 scalar"):
        np.testing.assert_allclose(_np(ours(x)), _np(theirs(x)), rtol=1e-6)
    with pytest.raises(NotImplementedError) as theirs_error:
        theirs.get_config()
    with pytest.raises(NotImplementedError) as ours_error:
        ours.get_config()
    for phrase in ("Object Plain was created by passing", "non-serializable argument values",
                   "must override `get_config()`"):  # fmt: skip
        assert phrase in " ".join(str(theirs_error.value).split())
        assert phrase in " ".join(str(ours_error.value).split())
    # chainrule also names the argument and what it received
    assert f"factor received a {type(value).__name__}" in " ".join(str(ours_error.value).split())


def test_a_layer_argument_raises_at_get_config_as_keras():
    for k in (ck, tk):
        outer = _plain_class(k)(k.layers.Dense(2))
        with pytest.raises(NotImplementedError, match="non-serializable"):
            outer.get_config()


def _variadic_classes(k):
    class Star(k.layers.Layer):
        def __init__(self, *args, **kwargs):
            super().__init__(**kwargs)

    class PosOnly(k.layers.Layer):
        def __init__(self, a, /, **kwargs):
            super().__init__(**kwargs)

    return Star, PosOnly


@pytest.mark.parametrize("which", [0, 1])
def test_positional_only_and_varargs_raise_the_other_keras_error(which):
    ours, theirs = (_variadic_classes(k)[which](1) for k in (ck, tk))
    for layer in (theirs, ours):
        with pytest.raises(NotImplementedError) as error:
            layer.get_config()
        text = " ".join(str(error.value).split())
        assert "positional only or variadic positional arguments" in text
        assert "override `get_config()` and `from_config()`" in text


def test_arguments_that_do_not_fit_init_still_fail_in_init():
    # the recording never raises: __init__'s own error is the one the user sees
    for k in (ck, tk):
        with pytest.raises(TypeError):
            _plain_class(k)()


def test_recording_happens_at_construction_only(monkeypatch):
    calls = []
    real = layer_module.init_arguments

    def counting(*args):
        calls.append(args[0])
        return real(*args)

    monkeypatch.setattr(layer_module, "init_arguments", counting)
    layer = CK_SCALE(2.0)
    model = ck.Sequential([ck.Input((4,)), layer, ck.layers.Dense(1)])
    made = len(calls)
    assert CK_SCALE in calls and ck.layers.Dense not in calls  # Dense has its own get_config
    x = _data()
    model.compile("sgd", "mse")
    model.fit(x, x[:, :1], epochs=2, batch_size=2, verbose=0)
    model.predict(x, verbose=0)
    layer(x)
    assert len(calls) == made  # nothing per call, per step or per epoch


def test_from_config_reads_keras_configs():
    keras_config = _plain_class(tk)(2.0, tags=["q"], dtype="float64", name="p").get_config()
    ours = _plain_class(ck).from_config(keras_config)
    assert ours.factor == 2.0 and ours.dtype == "float64" and ours.name == "p"
    assert ours.get_config() == keras_config


# -- .keras files, pickle and deepcopy ---------------------------------------------------------
def _scale_models(seed=3):
    ours = ck.Sequential([ck.Input((4,)), CK_SCALE(1.5, offset=0.25, name="scale"),
                          ck.layers.Dense(2, name="dense")])  # fmt: skip
    theirs = tk.Sequential([tk.Input((4,)), TK_SCALE(1.5, offset=0.25, name="scale"),
                            tk.layers.Dense(2, name="dense")])  # fmt: skip
    rng = np.random.default_rng(seed)
    weights = [rng.uniform(-1, 1, w.shape).astype("float32") for w in ours.get_weights()]
    ours.set_weights(weights)
    theirs.set_weights(weights)
    return ours, theirs


def _layer_entries(path):
    config = json.loads(zipfile.ZipFile(path).read("config.json"))
    return config["config"]["layers"]


def test_keras_files_each_way_for_a_layer_without_get_config(tmp_path):
    ours, theirs = _scale_models()
    x = _data()
    expected = ours.predict(x, verbose=0)
    np.testing.assert_allclose(_np(theirs.predict(x, verbose=0)), expected, rtol=1e-6)
    ours.save(tmp_path / "ours.keras")
    theirs.save(tmp_path / "theirs.keras")
    # the custom layer's entry (module, registered name, config, build config) is Keras's
    ours_entry, theirs_entry = (_layer_entries(tmp_path / f"{who}.keras")[1]
                                for who in ("ours", "theirs"))  # fmt: skip
    assert ours_entry == theirs_entry
    by_keras = tk.saving.load_model(tmp_path / "ours.keras")
    by_us = ck.models.load_model(tmp_path / "theirs.keras")
    assert type(by_keras.layers[0]) is TK_SCALE and type(by_us.layers[0]) is CK_SCALE
    assert by_us.layers[0].factor == 1.5 and by_us.layers[0].offset == 0.25
    assert by_us.layers[0].get_config() == by_keras.layers[0].get_config()
    np.testing.assert_allclose(_np(by_keras.predict(x, verbose=0)), expected, rtol=1e-6)
    np.testing.assert_allclose(by_us.predict(x, verbose=0), expected, rtol=1e-6)


def test_pickle_and_deepcopy_of_a_layer_without_get_config_as_keras():
    ours, theirs = _scale_models(seed=4)
    x = _data()
    for copied, reference in ((copy.deepcopy(ours), _quiet_roundtrip(theirs)),
                              (_quiet_roundtrip(ours), _quiet_roundtrip(theirs))):  # fmt: skip
        assert type(copied.layers[0]) is CK_SCALE
        assert copied.layers[0].get_config() == reference.layers[0].get_config()
        assert copied.layers[0].w is not ours.layers[0].w
        np.testing.assert_array_equal(copied.layers[0].w.numpy(), ours.layers[0].w.numpy())
        np.testing.assert_allclose(copied.predict(x, verbose=0),
                                   _np(reference.predict(x, verbose=0)), rtol=1e-6)  # fmt: skip
    bare = CK_SCALE(2.0, tags=["k"])
    bare(x)
    back = copy.deepcopy(bare)
    assert back.built and back.get_config() == bare.get_config()
    np.testing.assert_array_equal(_np(back(x)), _np(bare(x)))


def test_non_plain_arguments_fail_when_saving_as_keras(tmp_path):
    for k in (ck, tk):
        model = k.Sequential([k.Input((3,)), _plain_class(k)(np.ones(3, "float32"))])
        with pytest.raises(NotImplementedError, match="non-serializable"):
            model.save(tmp_path / "bad.keras")
        with pytest.raises(NotImplementedError, match="get_config"):
            pickle.dumps(model)


# -- Lambda's function -------------------------------------------------------------------------
def _times_five(t):
    return t * 5.0


def _times_seven(t):
    return t * 7.0


def _times_factor(t, factor=1.0):
    return t * factor


for _fn in (_times_five, _times_factor):
    ck.saving.register_keras_serializable(package=PACKAGE)(_fn)
    tk.saving.register_keras_serializable(package=PACKAGE)(_fn)


LAMBDA_CASES = {
    "registered": (_times_five, {}),
    "unregistered": (_times_seven, {}),
    "arguments and output_shape": (_times_factor, {"arguments": {"factor": 0.5},
                                                   "output_shape": (4,)}),
    "built-in activation": ("relu", {}),
}  # fmt: skip


def _function(k, fn):
    return k.activations.get(fn) if isinstance(fn, str) else fn


@pytest.mark.parametrize("case", sorted(LAMBDA_CASES))
def test_lambda_config_is_keras_key_for_key(case):
    fn, kwargs = LAMBDA_CASES[case]
    ours = ck.layers.Lambda(_function(ck, fn), name="lam", **kwargs).get_config()
    theirs = tk.layers.Lambda(_function(tk, fn), name="lam", **kwargs).get_config()
    assert ours == theirs and list(ours) == list(theirs)
    expected = {"registered": f"{PACKAGE}>_times_five", "unregistered": "_times_seven"}
    if case in expected:
        assert ours["function"]["config"] == expected[case]


def _lambda_models(fn, **kwargs):
    models = []
    for k in (ck, tk):
        models.append(k.Sequential([k.Input((4,)), k.layers.Lambda(fn, name="lam", **kwargs),
                                    k.layers.Dense(2, name="dense")]))  # fmt: skip
    rng = np.random.default_rng(5)
    weights = [rng.uniform(-1, 1, w.shape).astype("float32") for w in models[0].get_weights()]
    for m in models:
        m.set_weights(weights)
    return models


def test_keras_files_each_way_for_a_lambda_on_a_registered_function(tmp_path):
    ours, theirs = _lambda_models(_times_factor, arguments={"factor": 0.5})
    x = _data()
    expected = ours.predict(x, verbose=0)
    ours.save(tmp_path / "ours.keras")
    theirs.save(tmp_path / "theirs.keras")
    ours_entry, theirs_entry = (_layer_entries(tmp_path / f"{who}.keras")[1]
                                for who in ("ours", "theirs"))  # fmt: skip
    assert ours_entry == theirs_entry
    by_keras = tk.saving.load_model(tmp_path / "ours.keras")  # Keras's safe mode allows it
    # chainrule asks for safe_mode=False for any Lambda layer (see test_saving.py)
    with pytest.raises(ValueError, match="safe_mode=False"):
        ck.models.load_model(tmp_path / "theirs.keras")
    by_us = ck.models.load_model(tmp_path / "theirs.keras", safe_mode=False)
    assert by_keras.layers[0].function is _times_factor
    assert by_us.layers[0].function is _times_factor
    assert by_us.layers[0].arguments == {"factor": 0.5}
    np.testing.assert_allclose(_np(by_keras.predict(x, verbose=0)), expected, rtol=1e-6)
    np.testing.assert_allclose(by_us.predict(x, verbose=0), expected, rtol=1e-6)
    assert by_us.layers[0].get_config() == by_keras.layers[0].get_config()


def test_lambda_on_an_unregistered_function_loads_with_custom_objects_as_keras(tmp_path):
    ours, theirs = _lambda_models(_times_seven)
    x = _data()
    ours.save(tmp_path / "ours.keras")
    with pytest.raises(TypeError, match="Could not locate function '_times_seven'"):
        tk.saving.load_model(tmp_path / "ours.keras")
    with pytest.raises(ValueError, match="Unknown function '_times_seven'"):
        ck.models.load_model(tmp_path / "ours.keras", safe_mode=False)
    custom = {"_times_seven": _times_seven}
    by_keras = tk.saving.load_model(tmp_path / "ours.keras", custom_objects=custom)
    by_us = ck.models.load_model(tmp_path / "ours.keras", safe_mode=False, custom_objects=custom)
    for loaded in (by_keras, by_us):
        np.testing.assert_allclose(_np(loaded.predict(x, verbose=0)),
                                   ours.predict(x, verbose=0), rtol=1e-6)  # fmt: skip


def test_lambda_pickle_and_deepcopy_as_keras():
    ours, theirs = _lambda_models(_times_five)
    x = _data()
    reference = _quiet_roundtrip(theirs)
    assert reference.layers[0].function is _times_five
    for copied in (copy.deepcopy(ours), _quiet_roundtrip(ours), copy.copy(ours)):
        assert copied.layers[0].function is _times_five
        np.testing.assert_allclose(copied.predict(x, verbose=0),
                                   _np(reference.predict(x, verbose=0)), rtol=1e-6)  # fmt: skip


def test_old_files_with_the_bare_function_name_still_load(tmp_path):
    # chainrule's Lambda wrote "function": "<__name__>" before it wrote Keras's entry; the
    # one object registered as "package>name" is found for it
    ours, _ = _lambda_models(_times_five)
    ours.save(tmp_path / "new.keras")
    with zipfile.ZipFile(tmp_path / "new.keras") as zin:
        members = {n: zin.read(n) for n in zin.namelist()}
    config = json.loads(members["config.json"])
    config["config"]["layers"][1]["config"]["function"] = "_times_five"
    members["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(tmp_path / "old.keras", "w") as zout:
        for name, data in members.items():
            zout.writestr(name, data)
    old = ck.models.load_model(tmp_path / "old.keras", safe_mode=False)
    assert old.layers[0].function is _times_five
    x = _data()
    np.testing.assert_array_equal(old.predict(x, verbose=0), ours.predict(x, verbose=0))


def test_a_bare_name_registered_twice_is_ambiguous():
    entry = ck.layers.Lambda(_times_seven, name="lam").get_config()
    scope = {"a>_times_seven": _times_seven, "b>_times_seven": _times_five}
    with ck.saving.custom_object_scope(scope), pytest.raises(ValueError, match="ambiguous"):
        ck.layers.Lambda.from_config(entry)
    with ck.saving.custom_object_scope({"a>_times_seven": _times_seven}):
        assert ck.layers.Lambda.from_config(entry).function is _times_seven


def test_lambda_reads_keras_configs_with_from_config():
    for fn, kwargs in LAMBDA_CASES.values():
        config = tk.layers.Lambda(_function(tk, fn), **kwargs).get_config()
        with ck.saving.custom_object_scope({"_times_seven": _times_seven}):
            layer = ck.layers.Lambda.from_config(config)
        assert layer.function is _function(ck, fn)
        assert layer.get_config() == config


def test_a_python_lambda_is_refused_with_a_clear_error(tmp_path):
    layer = ck.layers.Lambda(lambda t: t * 2.0)
    with pytest.raises(ValueError, match="Python lambda, which Keras saves as bytecode"):
        layer.get_config()
    model = ck.Sequential([ck.Input((4,)), layer])
    with pytest.raises(ValueError, match="Python lambda"):
        model.save(tmp_path / "lam.keras")
    assert not (tmp_path / "lam.keras").exists()
    shaped = ck.layers.Lambda(_times_five, output_shape=lambda s: s)
    with pytest.raises(ValueError, match="output_shape of a Lambda layer: it is a Python lambda"):
        shaped.get_config()
    import functools

    with pytest.raises(ValueError, match="expected a named function.*partial"):
        ck.layers.Lambda(functools.partial(_times_factor, factor=2.0)).get_config()


def test_lambda_bytecode_from_a_keras_file_is_never_run():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Keras warns that it saves a lambda
        config = tk.layers.Lambda(lambda t: t * 2.0).get_config()
    assert config["function"]["class_name"] == "__lambda__"
    with pytest.raises(ValueError, match="never runs code"):
        ck.layers.Lambda.from_config(config)
    entry = {"module": "keras.layers", "class_name": "Lambda", "config": config}
    with pytest.raises(ValueError, match="safe_mode"):
        deserialize_keras_object(entry)
    with pytest.raises(ValueError, match="never runs code"):
        deserialize_keras_object(entry, safe_mode=False)


def test_lambda_mask_is_refused_rather_than_ignored():
    with pytest.raises(NotImplementedError, match="mask"):
        ck.layers.Lambda(_times_five, mask=_times_seven)


def _scaled_net(k):
    class ScaledNet(k.Model):
        def __init__(self, units=4, scale=1.0, **kwargs):
            super().__init__(**kwargs)
            self.units, self.scale = units, scale
            self.d = k.layers.Dense(units)

        def call(self, x):
            return self.d(x) * self.scale

    return ScaledNet


def test_a_subclassed_model_gets_the_automatic_config():
    # with its defaults, the config is Keras's key for key; with values given, ours records
    # them, where Keras's Model.__new__ drops them and its config says the defaults
    ours, theirs = _scaled_net(ck)(name="net"), _scaled_net(tk)(name="net")
    assert ours.get_config() == theirs.get_config()
    given = _scaled_net(ck)(units=8, scale=0.5, name="net")
    assert given.get_config() == {**theirs.get_config(), "units": 8, "scale": 0.5}
    assert _scaled_net(tk)(units=8, name="net").get_config()["units"] == 4  # (Keras's)
    back = type(given).from_config(given.get_config())
    assert (back.units, back.scale, back.name) == (8, 0.5, "net")
