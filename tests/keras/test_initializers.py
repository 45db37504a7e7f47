"""keras.initializers against real Keras 3.15.1 (torch backend).

Random initializers cannot match Keras bit for bit (different RNGs), so they are compared by
their distribution on large draws: exact bounds, mean and standard deviation against both the
formula (with fans from Keras's own ``compute_fans``) and a Keras draw of the same shape.
"""

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from keras.src.initializers.random_initializers import (  # noqa: E402
    compute_fans as keras_compute_fans,
)

import chainrule as cr  # noqa: E402
from chainrule.keras import initializers  # noqa: E402

TRUNC = 0.87962566103423978


def keras_np(x):
    return x.detach().cpu().numpy()


# -- compute_fans --------------------------------------------------------------------------

FAN_SHAPES = [(), (7,), (5, 3), (1, 9), (3, 4, 5), (3, 3, 16, 32), (2, 3, 4, 5, 6), (0, 4)]


@pytest.mark.parametrize("shape", FAN_SHAPES)
def test_compute_fans_matches_keras(shape):
    assert initializers.compute_fans(shape) == keras_compute_fans(shape)


def test_compute_fans_with_axes_matches_keras():
    shape = (2, 3, 4, 5)
    for axes in [((0, 1), (2, 3)), ((-1,), (0,)), ((1,), (2, 3))]:
        ours = initializers.compute_fans(shape, input_axes=axes[0], output_axes=axes[1])
        assert ours == keras_compute_fans(shape, input_axes=axes[0], output_axes=axes[1])


# -- uniform families: exact bounds, mean, std against formula and a Keras draw --------------

UNIFORM_CASES = [
    ("GlorotUniform", {}, (300, 200), 1.0, "fan_avg"),
    ("GlorotUniform", {}, (3, 3, 32, 64), 1.0, "fan_avg"),
    ("HeUniform", {}, (400, 100), 2.0, "fan_in"),
    ("LecunUniform", {}, (5, 40, 300), 1.0, "fan_in"),
    ("VarianceScaling", {"scale": 3.0, "mode": "fan_out", "distribution": "uniform"},
     (100, 500), 3.0, "fan_out"),
]  # fmt: skip


def _scaled(shape, scale, mode):
    fan_in, fan_out = keras_compute_fans(shape)
    n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[mode]
    return scale / max(1.0, n)


@pytest.mark.parametrize("name, kwargs, shape, scale, mode", UNIFORM_CASES)
def test_uniform_initializers_bounds_and_moments(name, kwargs, shape, scale, mode):
    limit = np.sqrt(3 * _scaled(shape, scale, mode))
    ours = getattr(initializers, name)(seed=1, **kwargs)(shape)
    ref = keras_np(getattr(keras.initializers, name)(seed=1, **kwargs)(shape))
    assert ours.shape == shape and ours.dtype == np.float32
    bound = np.float32(limit)
    assert np.abs(ours).max() <= bound
    assert np.abs(ref).max() <= bound
    # A large draw fills the interval: both extremes come within 1% of the limit.
    assert ours.max() > 0.99 * limit and ours.min() < -0.99 * limit
    assert abs(ours.mean()) < 0.02 * limit
    assert ours.std() == pytest.approx(limit / np.sqrt(3), rel=0.02)
    assert ours.std() == pytest.approx(ref.std(), rel=0.03)


def test_random_uniform_bounds_match_keras():
    ours = initializers.RandomUniform(minval=-0.3, maxval=0.7, seed=2)((200, 300))
    ref = keras_np(keras.initializers.RandomUniform(minval=-0.3, maxval=0.7, seed=2)((200, 300)))
    for arr in (ours, ref):
        assert arr.min() >= np.float32(-0.3) and arr.max() <= np.float32(0.7)
    assert ours.mean() == pytest.approx(0.2, abs=0.01)
    assert ours.std() == pytest.approx(ref.std(), rel=0.02)


# -- normal families -----------------------------------------------------------------------

NORMAL_CASES = [
    ("GlorotNormal", {}, (300, 200), 1.0, "fan_avg", True),
    ("HeNormal", {}, (3, 3, 64, 32), 2.0, "fan_in", True),
    ("LecunNormal", {}, (500, 120), 1.0, "fan_in", True),
    ("VarianceScaling", {"scale": 0.5, "mode": "fan_avg", "distribution": "normal"},
     (200, 300), 0.5, "fan_avg", True),
    ("VarianceScaling", {"scale": 2.0, "mode": "fan_out", "distribution": "untruncated_normal"},
     (300, 200), 2.0, "fan_out", False),
]  # fmt: skip


@pytest.mark.parametrize("name, kwargs, shape, scale, mode, truncated", NORMAL_CASES)
def test_normal_initializers_moments_and_truncation(name, kwargs, shape, scale, mode, truncated):
    target_std = np.sqrt(_scaled(shape, scale, mode))  # the variance VarianceScaling promises
    ours = getattr(initializers, name)(seed=3, **kwargs)(shape)
    ref = keras_np(getattr(keras.initializers, name)(seed=3, **kwargs)(shape))
    assert ours.shape == shape and ours.dtype == np.float32
    assert abs(ours.mean()) < 0.02 * target_std
    assert ours.std() == pytest.approx(target_std, rel=0.02)
    assert ours.std() == pytest.approx(ref.std(), rel=0.03)
    if truncated:
        bound = 2 * target_std / TRUNC
        assert np.abs(ours).max() <= bound * (1 + 1e-6)
        # Keras on torch keeps a 4th candidate even when all four fall outside (p ~ 4e-6).
        assert np.mean(np.abs(ref) <= bound * (1 + 1e-6)) > 0.9999
        assert np.abs(ours).max() > 0.98 * bound  # truncated, not clipped far inside
    else:
        assert np.abs(ours).max() > 3.5 * target_std  # tails are kept


def test_random_normal_and_truncated_normal_against_keras():
    shape = (400, 250)
    ours = initializers.RandomNormal(mean=1.0, stddev=0.5, seed=4)(shape)
    ref = keras_np(keras.initializers.RandomNormal(mean=1.0, stddev=0.5, seed=4)(shape))
    assert ours.mean() == pytest.approx(1.0, abs=0.005)
    assert ours.std() == pytest.approx(ref.std(), rel=0.02)
    assert ours.std() == pytest.approx(0.5, rel=0.02)

    ours = initializers.TruncatedNormal(mean=-1.0, stddev=0.2, seed=4)(shape)
    ref = keras_np(keras.initializers.TruncatedNormal(mean=-1.0, stddev=0.2, seed=4)(shape))
    assert np.abs(ours + 1.0).max() <= 0.4 + 1e-6
    assert np.mean(np.abs(ref + 1.0) <= 0.4 + 1e-6) > 0.9999
    assert ours.mean() == pytest.approx(-1.0, abs=0.003)
    # std of N(0, 1) truncated to [-2, 2] is 0.8796...
    assert ours.std() == pytest.approx(0.2 * TRUNC, rel=0.02)
    assert ours.std() == pytest.approx(ref.std(), rel=0.02)


# -- orthogonal ----------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(50, 20), (20, 50), (3, 3, 4, 8), (16, 16)])
@pytest.mark.parametrize("gain", [1.0, 2.5])
def test_orthogonal(shape, gain):
    ours = initializers.Orthogonal(gain=gain, seed=5)(shape)
    ref = keras_np(keras.initializers.Orthogonal(gain=gain, seed=5)(shape))
    assert ours.shape == shape and ours.dtype == np.float32
    for arr in (ours, ref):
        flat = arr.reshape(-1, shape[-1]).astype(np.float64)
        gram = flat.T @ flat if flat.shape[0] >= flat.shape[1] else flat @ flat.T
        np.testing.assert_allclose(gram, gain**2 * np.eye(len(gram)), atol=1e-5 * gain**2)


def test_orthogonal_rejects_rank_one():
    with pytest.raises(ValueError, match=r"rank >= 2.*\(5,\)"):
        initializers.Orthogonal()((5,))


# -- determinism ---------------------------------------------------------------------------

ALL_RANDOM = ["GlorotUniform", "GlorotNormal", "HeUniform", "HeNormal", "LecunUniform",
              "LecunNormal", "RandomNormal", "RandomUniform", "TruncatedNormal", "Orthogonal",
              "VarianceScaling"]  # fmt: skip


@pytest.mark.parametrize("name", ALL_RANDOM)
def test_integer_seed_is_deterministic(name):
    cls = getattr(initializers, name)
    a = cls(seed=42)((6, 7))
    np.testing.assert_array_equal(a, cls(seed=42)((6, 7)))  # a fresh instance
    init = cls(seed=42)
    np.testing.assert_array_equal(init((6, 7)), init((6, 7)))  # repeated calls, as Keras
    assert not np.array_equal(a, cls(seed=43)((6, 7)))


@pytest.mark.parametrize("name", ALL_RANDOM)
def test_unseeded_draws_follow_set_random_seed(name):
    cls = getattr(initializers, name)
    cr.set_random_seed(123)
    first, second = cls()((6, 7)), cls()((6, 7))
    assert not np.array_equal(first, second)  # unseeded calls advance the generator
    cr.set_random_seed(123)
    np.testing.assert_array_equal(cls()((6, 7)), first)
    np.testing.assert_array_equal(cls()((6, 7)), second)


# -- constant initializers: exact against Keras --------------------------------------------

CONSTANT_CASES = [
    (initializers.Zeros(), keras.initializers.Zeros(), (2, 3), None),
    (initializers.Zeros(), keras.initializers.Zeros(), (4,), "int32"),
    (initializers.Ones(), keras.initializers.Ones(), (3, 2, 2), None),
    (initializers.Ones(), keras.initializers.Ones(), (2, 2), "float64"),
    (initializers.Constant(0.1), keras.initializers.Constant(0.1), (2, 3), None),
    (initializers.Constant(7), keras.initializers.Constant(7), (3,), "int64"),
    (initializers.Constant([[0.5], [0.25]]), keras.initializers.Constant([[0.5], [0.25]]),
     (2, 1), None),
    (initializers.Constant(np.array([1.5, -2.0])),
     keras.initializers.Constant(np.array([1.5, -2.0])), (3, 2), None),
    (initializers.Identity(), keras.initializers.Identity(), (3, 3), None),
    (initializers.Identity(gain=2.0), keras.initializers.Identity(gain=2.0), (2, 4), None),
    (initializers.Identity(gain=0.5), keras.initializers.Identity(gain=0.5), (4, 2), "float64"),
]  # fmt: skip


@pytest.mark.parametrize("ours, theirs, shape, dtype", CONSTANT_CASES)
def test_constant_initializers_exact(ours, theirs, shape, dtype):
    got = ours(shape, dtype)
    ref = keras_np(theirs(shape, dtype))
    assert got.shape == ref.shape == shape
    assert got.dtype == ref.dtype
    np.testing.assert_array_equal(got, ref)


def test_default_dtype_is_floatx():
    assert initializers.GlorotUniform()((2, 2)).dtype == np.float32
    assert initializers.Zeros()((2, 2)).dtype == np.float32
    assert initializers.HeNormal()((2, 2), "float64").dtype == np.float64


def test_constant_broadcast_error_names_both_shapes():
    with pytest.raises(ValueError, match=r"\(2, 1\).*\(3, 1\)"):
        initializers.Constant([[0.5], [0.25]])((3, 1))


# -- get / serialize / deserialize ---------------------------------------------------------

# STFT (scipy windows for spectrogram layers) is not provided.
KERAS_NAMES = sorted(
    k for k, v in keras.src.initializers.ALL_OBJECTS_DICT.items() if v.__name__ != "STFT"
)


def test_names_match_keras():
    assert sorted(initializers.ALL_OBJECTS_DICT) == KERAS_NAMES


@pytest.mark.parametrize("name", KERAS_NAMES)
def test_get_by_name_matches_keras(name):
    ours = initializers.get(name)
    # Keras 3.15.1's get("Constant") fails (its from_config needs "value"); build it directly.
    theirs = (
        keras.initializers.Constant()
        if name in ("Constant", "constant")
        else keras.initializers.get(name)
    )
    assert type(ours).__name__ == type(theirs).__name__
    # Same config apart from the seed Keras draws for an unseeded initializer.
    theirs_cfg = {k: v for k, v in theirs.get_config().items() if k != "seed"}
    if type(theirs).__name__ == "Identity":
        # Keras's Identity.get_config forgets `gain`; we keep it (see the test below).
        theirs_cfg = {"gain": theirs.gain}
    ours_cfg = {k: v for k, v in ours.get_config().items() if k != "seed"}
    assert ours_cfg == theirs_cfg


SERIALIZE_CASES = [
    ("GlorotUniform", {}),
    ("HeNormal", {"seed": 7}),
    ("VarianceScaling", {"scale": 2.0, "mode": "fan_avg", "distribution": "normal", "seed": 3}),
    ("VarianceScaling", {"distribution": "uniform", "input_axes": [0], "output_axes": [1]}),
    ("RandomNormal", {"mean": 1.0, "stddev": 2.0}),
    ("RandomUniform", {"minval": -1.0, "maxval": 2.0, "seed": 1}),
    ("TruncatedNormal", {}),
    ("Orthogonal", {"gain": 3.0, "seed": 11}),
    ("Constant", {"value": 0.1}),
    ("Constant", {"value": np.array([[0.5], [0.25]])}),
    ("Zeros", {}),
    ("Ones", {}),
]


@pytest.mark.parametrize("name, kwargs", SERIALIZE_CASES)
def test_serialize_matches_keras_and_round_trips(name, kwargs):
    ours = getattr(initializers, name)(**kwargs)
    theirs = getattr(keras.initializers, name)(**kwargs)
    config = initializers.serialize(ours)
    assert config == keras.initializers.serialize(theirs)
    back = initializers.deserialize(keras.initializers.serialize(theirs))
    assert type(back) is type(ours)
    assert initializers.serialize(back) == config
    if "seed" in kwargs or name in ("Constant", "Zeros", "Ones"):  # reproducible
        np.testing.assert_array_equal(back((2, 1)), ours((2, 1)))
    # Keras reads our config back into the same initializer.
    assert keras.initializers.serialize(keras.initializers.deserialize(config)) == config


def test_identity_config_keeps_gain_and_keras_reads_it():
    config = initializers.serialize(initializers.Identity(gain=2.0))
    assert config["config"] == {"gain": 2.0}
    theirs = keras.initializers.deserialize(config)
    np.testing.assert_array_equal(keras_np(theirs((2, 3))), initializers.Identity(2.0)((2, 3)))
    np.testing.assert_array_equal(initializers.deserialize(config)((3, 3)), 2.0 * np.eye(3))


def test_get_other_identifiers():
    assert initializers.get(None) is None
    assert isinstance(initializers.get(initializers.HeUniform), initializers.HeUniform)
    fn = lambda shape, dtype=None: np.full(shape, 3.0, dtype or "float32")  # noqa: E731
    assert initializers.get(fn) is fn
    inst = initializers.Ones()
    assert initializers.get(inst) is inst
    fixed = np.arange(6.0).reshape(2, 3)
    init = initializers.get(fixed)
    np.testing.assert_array_equal(init((2, 3)), fixed.astype("float32"))
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(3, 2\)"):
        init((3, 2))
    cfg = {"class_name": "RandomUniform", "config": {"minval": 0.0, "maxval": 1.0, "seed": 2}}
    assert initializers.get(cfg).get_config()["maxval"] == 1.0


def test_unknown_name_lists_valid_names():
    with pytest.raises(ValueError, match=r"'glorot_unifrom'.*glorot_uniform.*he_normal"):
        initializers.get("glorot_unifrom")
    with pytest.raises(ValueError, match="initializer"):
        initializers.get(12)
    with pytest.raises(ValueError, match="class_name"):
        initializers.deserialize({"config": {}})


# -- bad input -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: initializers.VarianceScaling(scale=0), r"scale.*scale=0"),
        (lambda: initializers.VarianceScaling(mode="fan_sum"), r"mode.*fan_sum"),
        (lambda: initializers.VarianceScaling(distribution="cauchy"), r"distribution.*cauchy"),
        (lambda: initializers.GlorotUniform(seed="a"), r"seed.*'a'"),
        (lambda: initializers.RandomNormal(stddev=-0.1), r"stddev.*-0.1"),
        (lambda: initializers.RandomUniform(minval=1.0, maxval=0.0), r"maxval.*minval"),
        (lambda: initializers.Constant("x"), r"value.*'x'"),
        (lambda: initializers.Zeros()((2, -1)), r"shape.*\(2, -1\)"),
        (lambda: initializers.Ones()("ab"), r"shape"),
        (lambda: initializers.HeUniform()((2, 2), "int32"), r"float dtype.*int32"),
        (lambda: initializers.Identity()((2, 2, 2)), r"2-D.*\(2, 2, 2\)"),
    ],
)
def test_bad_input_raises(make, match):
    with pytest.raises(ValueError, match=match):
        make()
