"""Rescaling and Normalization against real Keras 3.15.1 (torch backend).

Outputs for several shapes and axes; adapt statistics on random data (Keras's adapt on the same
array; for batched adapt, which Keras runs only with TensorFlow installed, float64 NumPy on the
concatenated data); given mean/variance; invert; configs (equal to Keras's, and Keras's read
back); Normalization -> Dense and Dense -> Rescaling -> Dense ``fit`` against Keras with the
same weights; summary counts; ``.keras`` files both ways; bad input."""

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import json  # noqa: E402
import warnings  # noqa: E402
import zipfile  # noqa: E402

import h5py  # noqa: E402
import keras as tk  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

import chainrule as cr  # noqa: E402
from chainrule import keras as ck  # noqa: E402

RNG = np.random.default_rng(7)
X3 = RNG.normal(3.0, 2.0, (40, 4, 5)).astype("float32")
IMAGES = RNG.integers(0, 256, (6, 8, 8, 3)).astype("uint8")


def _np(t):
    return t.detach().cpu().numpy() if isinstance(t, torch.Tensor) else np.asarray(t)


def _close(a, b, rtol=1e-6, atol=1e-6):
    # NOTE: torch's float32 division is not always correctly rounded (1 ulp off NumPy's)
    np.testing.assert_allclose(_np(a), _np(b), rtol=rtol, atol=atol)


def _both(cls, *args, **kwargs):
    return getattr(ck.layers, cls)(*args, **kwargs), getattr(tk.layers, cls)(*args, **kwargs)


# -- Rescaling ---------------------------------------------------------------------------------
@pytest.mark.parametrize("args", [
    (1 / 255,), (1 / 127.5, -1), ([0.5, 2.0, -1.0],), ([0.5, 2.0, -1.0], [1.0, 0.0, -3.0]),
    (np.array([1 / 255, 2 / 255, 3 / 255]), 0.25),
])  # fmt: skip
@pytest.mark.parametrize("x", [IMAGES, IMAGES.astype("float32"), IMAGES.astype("float64")])
def test_rescaling_matches_keras(args, x):
    ours, ref = _both("Rescaling", *args, name="r")
    out, want = ours(x), ref(x)
    assert out.dtype == np.float32 and str(want.dtype) == "torch.float32"
    np.testing.assert_array_equal(out.numpy(), _np(want))
    assert ours.get_config() == ref.get_config()


def test_rescaling_configs_read_both_ways():
    for args in [(0.5,), ([1.0, 2.0], [0.0, 1.0]), (np.array([1.0, 2.0]),)]:
        ref = tk.layers.Rescaling(*args, name="r")
        cfg = json.loads(json.dumps(tk.layers.serialize(ref)))
        ours = ck.saving.deserialize_keras_object(cfg)
        x = RNG.normal(size=(3, 2)).astype("float32")
        np.testing.assert_array_equal(ours(x).numpy(), _np(ref(x)))
        back = tk.layers.deserialize(json.loads(json.dumps(ck.saving.serialize_keras_object(
            ours))))  # fmt: skip
        np.testing.assert_array_equal(_np(back(x)), ours(x).numpy())
        assert type(ck.layers.Rescaling.from_config(ours.get_config())) is ck.layers.Rescaling


def test_rescaling_passes_gradients_through():
    x = cr.tensor(RNG.normal(size=(2, 3)).astype("float32"), requires_grad=True)
    layer = ck.layers.Rescaling([1.0, 2.0, 3.0], offset=5.0)
    (g,) = cr.grad(cr.sum(layer(x)), [x])
    tx = torch.tensor(x.numpy(), requires_grad=True)
    tk.layers.Rescaling([1.0, 2.0, 3.0], offset=5.0)(tx).sum().backward()
    np.testing.assert_array_equal(g, tx.grad.numpy())


@pytest.mark.parametrize("kwargs, match", [
    ({"scale": "a"}, "scale must be a number"), ({"scale": None}, "scale must be a number"),
    ({"scale": 1.0, "offset": [1.0, "x"]}, "offset must be a number"),
    ({"scale": float("nan")}, "scale must be finite"), ({"scale": True}, "received scale=True"),
])  # fmt: skip
def test_rescaling_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ck.layers.Rescaling(**kwargs)


def test_rescaling_per_channel_must_fit_last_axis():
    with pytest.raises(ValueError, match=r"scale of shape \(3,\).*\(2, 4\)"):
        ck.layers.Rescaling([1.0, 2.0, 3.0])(np.ones((2, 4), "float32"))
    with pytest.raises(ValueError, match=r"offset of shape \(2, 2\)"):
        ck.layers.Rescaling(1.0, offset=np.ones((2, 2)))(np.ones((4,), "float32"))


# -- Normalization: adapt and call -------------------------------------------------------------
@pytest.mark.parametrize("axis", [-1, None, (1, 2), 1, (-1, -2), (0, 2)])
def test_normalization_adapt_matches_keras(axis):
    ours, ref = _both("Normalization", axis=axis)
    ours.adapt(X3)
    ref.adapt(X3)
    got, want = ours.get_weights(), [_np(w) for w in ref.get_weights()]
    assert [(w.shape, w.dtype) for w in got] == [(w.shape, w.dtype) for w in want]
    for a, b in zip(got, want):
        np.testing.assert_array_equal(a, b)  # the same np.mean / np.var calls
    x = RNG.normal(3.0, 2.0, X3.shape).astype("float32")
    _close(ours(x), ref(x))
    _close(ours.mean, ref.mean)
    _close(ours.variance, ref.variance)


def test_normalization_images_and_int_inputs():
    ours, ref = _both("Normalization")
    ours.adapt(IMAGES)  # integer data: float64 statistics, stored as float32
    ref.adapt(IMAGES)
    for a, b in zip(ours.get_weights(), ref.get_weights()):
        np.testing.assert_array_equal(a, _np(b))
    out = ours(IMAGES)
    assert out.dtype == np.float32
    _close(out, ref(IMAGES))


@pytest.mark.parametrize("axis, mean, var, shape", [
    (-1, 3.0, 2.0, (4, 3)), (-1, [1.0, 2.0, 3.0], [1.0, 4.0, 0.0], (4, 3)),
    ((1, 2), [1.0, -1.0, 0.5], [2.0, 3.0, 4.0], (2, 4, 3)),
    ((1, 2), np.arange(12.0).reshape(4, 3), np.arange(1.0, 13.0).reshape(4, 3), (2, 4, 3)),
    (None, 0.5, 0.25, (2, 4, 3)),
])  # fmt: skip
@pytest.mark.parametrize("invert", [False, True])
def test_normalization_given_statistics_match_keras(axis, mean, var, shape, invert):
    ours, ref = _both("Normalization", axis=axis, mean=mean, variance=var, invert=invert,
                      name="n")  # fmt: skip
    x = RNG.normal(size=shape).astype("float32")
    _close(ours(x), ref(x))
    assert ours.weights == [] and ref.weights == []
    assert ours.get_config() == ref.get_config()
    _close(ours.mean, ref.mean)


@pytest.mark.parametrize("axis", [-1, None, (1, 2)])
def test_invert_round_trip(axis):
    fwd = ck.layers.Normalization(axis=axis)
    fwd.adapt(X3)
    back = ck.layers.Normalization(axis=axis, invert=True)
    back.adapt(X3)
    ref = tk.layers.Normalization(axis=axis, invert=True)
    ref.adapt(X3)
    z = fwd(X3)
    _close(back(z), X3, rtol=1e-5, atol=1e-5)
    _close(back(z), ref(_np(z)))


def test_zero_variance_feature_uses_epsilon_as_keras():
    x = np.stack([np.full(6, 2.0), np.arange(6.0)], axis=1).astype("float32")
    ours, ref = _both("Normalization")
    ours.adapt(x)
    ref.adapt(x)
    _close(ours(x), ref(x))
    assert np.isfinite(ours(x).numpy()).all()


def _reference_stats(x, axis):
    x = np.asarray(x, "float64")
    keep = () if axis is None else tuple(sorted(a % x.ndim for a in np.atleast_1d(axis)))
    red = tuple(d for d in range(x.ndim) if d not in keep)
    return x.mean(axis=red), x.var(axis=red)


class _Batches(ck.utils.PyDataset):
    def __init__(self, x, size):
        super().__init__()
        self.x, self.size = x, size

    def __len__(self):
        return -(-len(self.x) // self.size)

    def __getitem__(self, i):
        part = self.x[i * self.size:(i + 1) * self.size]
        return part, np.zeros(len(part))


@pytest.mark.parametrize("axis", [-1, None, (1, 2)])
@pytest.mark.parametrize("kind", ["list", "generator", "pydataset", "tensor"])
def test_adapt_on_batches_matches_float64(axis, kind):
    batches = [X3[:7], X3[7:30], X3[30:]]
    data = {"list": batches, "generator": ((b, b[:, 0]) for b in batches),
            "pydataset": _Batches(X3, 16), "tensor": cr.tensor(X3)}[kind]  # fmt: skip
    layer = ck.layers.Normalization(axis=axis)
    layer.adapt(data)
    mean, var = _reference_stats(X3, axis)
    np.testing.assert_allclose(layer.get_weights()[0], mean, rtol=2e-6, atol=2e-6)
    np.testing.assert_allclose(layer.get_weights()[1], var, rtol=2e-6, atol=2e-6)


def test_adapt_again_replaces_statistics():
    layer = ck.layers.Normalization()
    layer.adapt(X3)
    layer.adapt(X3[:5] * 2)
    mean, var = _reference_stats(X3[:5] * 2, -1)
    np.testing.assert_allclose(layer.get_weights()[0], mean, rtol=2e-6, atol=1e-5)
    np.testing.assert_allclose(layer.get_weights()[1], var, rtol=2e-6, atol=1e-5)


def test_call_before_adapt_is_identity_and_warns_once():
    ours, ref = _both("Normalization")
    x = X3[:, 0]
    with pytest.warns(UserWarning, match="before adapt"):
        out = ours(x)
    _close(out, ref(x))  # Keras's un-adapted layer: mean 0, variance 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ours(x)  # only once
        built = ck.Sequential([ck.Input((5,)), ck.layers.Normalization()])  # symbolic: silent
        built.layers[0].set_weights([np.ones(5), np.full(5, 4.0), np.array(0)])
        _close(built.predict(x, verbose=0), (x - 1) / 2)


# -- Normalization: errors ---------------------------------------------------------------------
@pytest.mark.parametrize("kwargs, match", [
    ({"mean": 1.0}, "both `mean` and `variance` must be set"),
    ({"variance": 1.0}, "both `mean` and `variance` must be set"),
    ({"mean": [1.0, 2.0], "variance": [1.0]}, r"same shape.*\(2,\).*\(1,\)"),
    ({"axis": -1, "mean": [[1.0]], "variance": [[1.0]]}, r"less than or equal.*\(1, 1\)"),
    ({"axis": None, "mean": [1.0], "variance": [1.0]}, "number of axes \\(0\\)"),
    ({"mean": [0.0, 1.0], "variance": [1.0, -2.0]}, "variance must be >= 0"),
    ({"mean": float("nan"), "variance": 1.0}, "mean must be finite"),
    ({"axis": "x"}, "axis must be an integer"), ({"axis": 1.5}, "axis must be an integer"),
    ({"invert": "yes"}, "invert must be True or False"),
])  # fmt: skip
def test_normalization_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ck.layers.Normalization(**kwargs)
    if "axis must" in match or "invert" in match or "finite" in match or ">=" in match:
        return  # Keras accepts these and fails later, or computes NaN
    with pytest.raises(ValueError):
        tk.layers.Normalization(**kwargs)


def test_normalization_errors_at_build_call_and_adapt():
    for lib in (ck, tk):
        with pytest.raises(ValueError, match=r"range \[-ndim, ndim\).*ndim=2"):
            lib.layers.Normalization(axis=2).adapt(np.ones((3, 4)))
        with pytest.raises(ValueError, match="unknown axis at index 0"):
            lib.layers.Normalization(axis=0).build((None, 3))
        layer = lib.layers.Normalization()
        layer.adapt(np.ones((3, 4)))
        with pytest.raises(ValueError, match="incompatible shape"):
            layer.adapt(np.ones((3, 5)))
    with pytest.raises(ValueError, match=r"axis names an axis twice.*\(1, -1\)"):
        ck.layers.Normalization(axis=(1, -1)).adapt(np.ones((3, 4)))
    layer = ck.layers.Normalization()
    layer.adapt(X3[:, 0])
    with pytest.raises(ValueError, match=r"sizes \{1: 5\}.*\(1, 5\).*\(2, 4\)"):
        layer(np.ones((2, 4), "float32"))  # Keras would fail in torch's broadcast
    for shape in [(2, 1), (5,)]:  # Keras would broadcast these silently, to (2, 5), (1, 5)
        with pytest.raises(ValueError, match=rf"inputs of shape \({shape[0]},"):
            layer(np.ones(shape, "float32"))
    with pytest.raises(ValueError, match="adapt\\(\\) cannot replace"):
        ck.layers.Normalization(mean=0.0, variance=1.0).adapt(X3)
    with pytest.raises(ValueError, match="empty iterable"):
        ck.layers.Normalization().adapt([])
    with pytest.raises(TypeError, match="element of type float"):
        ck.layers.Normalization().adapt([1.0, 2.0])
    with pytest.raises(TypeError, match="Unsupported data type"):
        ck.layers.Normalization().adapt(3.0)
    with pytest.raises(ValueError, match="incompatible shape"):
        ck.layers.Normalization().adapt([np.ones((2, 3)), np.ones((2, 4))])
    bad = X3[:, 0].copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="1 NaN or inf"):
        ck.layers.Normalization().adapt(bad)
    with pytest.raises(ValueError, match="empty"):
        ck.layers.Normalization().adapt(np.zeros((0, 3), "float32"))


# -- configs, models, training, files -----------------------------------------------------------
@pytest.mark.parametrize("kwargs", [
    {}, {"axis": None}, {"axis": (1, 2), "invert": True}, {"axis": [1, 2]},
    {"mean": [1.0, 2.0], "variance": [3.0, 4.0]}, {"mean": 2, "variance": 3},
])  # fmt: skip
def test_normalization_config_both_ways(kwargs):
    ours, ref = _both("Normalization", name="n", **kwargs)
    assert ours.get_config() == ref.get_config()
    ref_cfg = json.loads(json.dumps(tk.layers.serialize(ref)))
    again = ck.saving.deserialize_keras_object(ref_cfg)
    assert isinstance(again, ck.layers.Normalization)
    assert again.get_config() == ours.get_config()
    ours_cfg = json.loads(json.dumps(ck.saving.serialize_keras_object(ours)))
    assert tk.layers.deserialize(ours_cfg).get_config() == ref.get_config()


def test_build_config_keeps_the_batch_size_of_adapt_data():
    ours, ref = _both("Normalization", name="n")
    ours.adapt(X3[:, 0])
    ref.adapt(X3[:, 0])
    want = json.loads(json.dumps(tk.layers.serialize(ref)))["build_config"]
    got = json.loads(json.dumps(ck.saving.serialize_keras_object(ours)))["build_config"]
    assert got == want
    scalars = ck.layers.Normalization()  # batched scalars: the kept axis is the batch axis
    scalars.adapt(X3[:8, 0, 0])
    again = ck.saving.deserialize_keras_object(json.loads(json.dumps(
        ck.saving.serialize_keras_object(scalars))))  # fmt: skip
    assert [w.shape for w in again.weights] == [(8,), (8,), ()]


def _regression_pair():
    """Normalization -> Dense(8, relu) -> Dense(1) in both libraries, adapted on the same data,
    with the same Dense weights."""
    x = RNG.normal([5.0, -2.0, 100.0, 0.1], [1.0, 3.0, 20.0, 0.01], (48, 4)).astype("float32")
    y = (x @ np.array([[0.5], [-1.0], [0.02], [10.0]])).astype("float32")
    models = []
    for lib in (ck, tk):
        norm = lib.layers.Normalization(axis=-1)
        norm.adapt(x)
        m = lib.Sequential([lib.Input((4,)), norm, lib.layers.Dense(8, "relu"),
                            lib.layers.Dense(1)])  # fmt: skip
        m.compile(optimizer=lib.optimizers.SGD(0.01), loss="mse")
        models.append(m)
    weights = models[0].get_weights()
    rng = np.random.default_rng(1)
    weights[3:] = [rng.uniform(-0.5, 0.5, w.shape).astype("float32") for w in weights[3:]]
    for m in models:
        m.set_weights(weights)
    return models, x, y


def test_fit_normalization_then_dense_matches_keras():
    (ours, ref), x, y = _regression_pair()
    _close(ours.predict(x, verbose=0), ref.predict(x, verbose=0), rtol=1e-5, atol=1e-5)
    h_ours = ours.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0)
    h_ref = ref.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0)
    np.testing.assert_allclose(h_ours.history["loss"], h_ref.history["loss"], rtol=1e-5)
    for a, b in zip(ours.get_weights(), ref.get_weights()):
        _close(a, b, rtol=1e-5, atol=1e-6)  # the statistics are untouched by fit
    assert len(ours.trainable_weights) == 4 and len(ours.non_trainable_weights) == 3
    assert ours.count_params() == ref.count_params() == 4 + 4 + 1 + 40 + 9
    text = []
    ours.summary(print_fn=text.append)
    assert "Normalization" in "\n".join(text) and "Non-trainable params: 9" in "\n".join(text)


def test_regression_tutorial_flow_matches_keras():
    """Keras's regression tutorial: one feature, ``Normalization(input_shape=[1,], axis=None)``
    adapted on a 1-D array, then used on ``(batch, 1)`` inputs in a Sequential."""
    hp = RNG.uniform(50.0, 200.0, 60).astype("float32")
    y = (hp * 0.3 + RNG.normal(size=60)).astype("float32")
    models = []
    for lib in (ck, tk):
        norm = lib.layers.Normalization(axis=None)
        norm.adapt(hp)
        m = lib.Sequential([lib.Input((1,)), norm, lib.layers.Dense(1)])
        m.compile(optimizer=lib.optimizers.Adam(learning_rate=0.1), loss="mean_absolute_error")
        models.append(m)
    ours, ref = models
    ref.set_weights(ours.get_weights())
    kw = {"epochs": 3, "batch_size": 16, "shuffle": False, "verbose": 0, "validation_split": 0.2}
    h_ours, h_ref = ours.fit(hp, y, **kw), ref.fit(hp, y, **kw)
    for key in ("loss", "val_loss"):
        np.testing.assert_allclose(h_ours.history[key], h_ref.history[key], rtol=1e-5)
    assert ours.count_params() == ref.count_params() == 5


def test_adapt_on_higher_rank_data_reduces_the_extra_axes():
    layer = ck.layers.Normalization()
    ck.Model(inp := ck.Input((5,)), layer(inp))  # built for (None, 5)
    layer.adapt(X3)  # (40, 4, 5): statistics over the first two axes, as the call broadcasts
    mean, var = _reference_stats(X3, -1)
    np.testing.assert_allclose(layer.get_weights()[0], mean, rtol=2e-6, atol=2e-6)
    np.testing.assert_allclose(layer.get_weights()[1], var, rtol=2e-6, atol=2e-6)
    _close(layer(X3), (X3 - mean) / np.sqrt(var), rtol=1e-5, atol=1e-5)


def test_gradients_flow_through_both_layers_in_a_functional_fit():
    x = RNG.normal(size=(32, 3)).astype("float32")
    y = RNG.normal(size=(32, 2)).astype("float32")
    models = []
    for lib in (ck, tk):
        inp = lib.Input((3,))
        h = lib.layers.Dense(4, name="first")(inp)
        h = lib.layers.Rescaling([0.5, 2.0, 1.0, -1.0], offset=0.25)(h)
        h = lib.layers.Normalization(mean=[0.1, 0.2, 0.3, 0.4], variance=[1.0, 2.0, 3.0, 0.5])(h)
        m = lib.Model(inp, lib.layers.Dense(2)(h))
        m.compile(optimizer=lib.optimizers.SGD(0.05), loss="mse")
        models.append(m)
    ours, ref = models
    ref.set_weights(ours.get_weights())
    first = ours.get_layer("first").get_weights()[0].copy()
    h_ours = ours.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    h_ref = ref.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    np.testing.assert_allclose(h_ours.history["loss"], h_ref.history["loss"], rtol=1e-5)
    assert not np.allclose(ours.get_layer("first").get_weights()[0], first)
    for a, b in zip(ours.get_weights(), ref.get_weights()):
        _close(a, b, rtol=1e-5, atol=1e-6)


def _file_model(lib, x):
    norm = lib.layers.Normalization(name="norm")
    norm.adapt(x)
    return lib.Sequential([
        lib.Input((4,)), lib.layers.Rescaling(0.5, offset=[1.0, 0.0, -1.0, 2.0]), norm,
        lib.layers.Normalization(axis=None, mean=1.0, variance=4.0, invert=True),
        lib.layers.Dense(2)])  # fmt: skip


@pytest.mark.parametrize("writer", ["chainrule", "keras"])
def test_keras_files_both_ways(tmp_path, writer):
    x = RNG.normal(3.0, 2.0, (20, 4)).astype("float32")
    src_lib, dst_lib = (ck, tk) if writer == "chainrule" else (tk, ck)
    src = _file_model(src_lib, x)
    path = str(tmp_path / "m.keras")
    src.save(path)
    loaded = dst_lib.saving.load_model(path)
    _close(loaded.predict(x, verbose=0), src.predict(x, verbose=0), rtol=1e-5, atol=1e-5)
    assert [type(la).__name__ for la in loaded.layers] == [
        "Rescaling", "Normalization", "Normalization", "Dense"]
    for a, b in zip(loaded.get_weights(), src.get_weights()):
        np.testing.assert_array_equal(_np(a), _np(b))
    with zipfile.ZipFile(path) as zf, h5py.File(zf.open("model.weights.h5")) as h5:
        names = []
        h5.visit(lambda n: names.append(n) if isinstance(h5[n], h5py.Dataset) else None)
        assert sorted(names) == ["layers/dense/vars/0", "layers/dense/vars/1",
                                 "layers/normalization/vars/0", "layers/normalization/vars/1",
                                 "layers/normalization/vars/2"]  # fmt: skip
        assert h5["layers/normalization/vars/2"].dtype == np.int32
