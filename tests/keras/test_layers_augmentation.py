"""Image augmentation layers against real Keras 3.15.1 (torch backend).

The random draws cannot be Keras's, so the transforms are compared with the parameters fixed:
zero-width factor ranges (``RandomRotation((f, f))``, ``RandomContrast((-t, t))``, ...), the
resampler against ``keras.ops.image.affine_transform`` with the same matrices, RandomCrop's
deterministic (centred) branch. The draws are checked for their ranges against Keras's own
draws (``get_random_transformation``), per-image vs per-batch, and frequencies. Also: layouts,
dtypes and inference behaviour against Keras, gradients against Keras-torch's autograd and
against linearity, configs key for key, ``.keras`` files both ways, bad arguments."""

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import json  # noqa: E402

import keras as tk  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

import chainrule as cr  # noqa: E402
from chainrule import keras as ck  # noqa: E402
from chainrule.keras.layers import augmentation as A  # noqa: E402
from chainrule.keras.layers import augmentation_geometric as G  # noqa: E402
from chainrule.keras.saving import object_lookup  # noqa: E402

TL = tk.layers
RNG = np.random.default_rng(11)
X = RNG.random((3, 7, 9, 2)).astype("float32")  # odd, non-square images
CLASSES = {c.__name__: c for c in (A.RandomFlip, A.RandomContrast, A.RandomBrightness,
                                   A.RandomCrop, G.RandomRotation, G.RandomZoom,
                                   G.RandomTranslation)}  # fmt: skip


def _np(t):
    return t.numpy() if hasattr(t, "numpy") and not isinstance(t, torch.Tensor) else (
        tk.ops.convert_to_numpy(t))  # fmt: skip


def _same(ours, ref, atol=1e-5, rtol=0.0):
    a, b = _np(ours), _np(ref)
    assert a.shape == b.shape and a.dtype == b.dtype, (a.shape, b.shape, a.dtype, b.dtype)
    np.testing.assert_allclose(a, b, atol=atol, rtol=rtol)


def _pair(cls_name, *args, **kwargs):
    return CLASSES[cls_name](*args, **kwargs), getattr(TL, cls_name)(*args, **kwargs)


# -- the transforms, parameters fixed ---------------------------------------------------------
@pytest.mark.parametrize("fill_mode", G.FILL_MODES)
@pytest.mark.parametrize("interpolation", G.INTERPOLATIONS)
def test_affine_transform_matches_keras_ops(fill_mode, interpolation):
    t = np.zeros((3, 8), np.float32)
    t[:, :6] = RNG.normal(size=(3, 6)) * [1, 0.5, 3, 0.5, 1, 3]  # one matrix per image
    ours = G.affine_transform(X, t, interpolation, fill_mode, 0.7)
    ref = tk.ops.image.affine_transform(X, t.copy(), interpolation, fill_mode, 0.7)
    _same(ours, ref)


GEOMETRIC = [
    ("RandomRotation", ((0.25, 0.25),)),
    ("RandomRotation", ((-0.37, -0.37),)),
    ("RandomRotation", ((0.1, 0.1),)),
    ("RandomZoom", ((0.3, 0.3), (-0.4, -0.4))),
    ("RandomZoom", ((-0.5, -0.5),)),
    ("RandomTranslation", ((0.3, 0.3), (-0.25, -0.25))),
]


@pytest.mark.parametrize("name,args", GEOMETRIC)
@pytest.mark.parametrize("fill_mode", G.FILL_MODES)
@pytest.mark.parametrize("interpolation", G.INTERPOLATIONS)
def test_geometric_layers_with_fixed_parameters(name, args, fill_mode, interpolation):
    ours, ref = _pair(name, *args, fill_mode=fill_mode, interpolation=interpolation,
                      fill_value=3.0)  # fmt: skip
    _same(ours(X, training=True), ref(X, training=True))


def test_layouts_and_dtypes_against_keras():
    xc = np.ascontiguousarray(np.transpose(X, (0, 3, 1, 2)))
    u8 = (X * 255).astype("uint8")
    for name, args in [("RandomRotation", ((0.1, 0.1),)), ("RandomZoom", ((0.2, 0.2),)),
                       ("RandomContrast", ((-0.4, 0.4), (0, 1)))]:  # fmt: skip
        for x, fmt in [(X[0], None), (xc, "channels_first"), (xc[1], "channels_first")]:
            ours, ref = _pair(name, *args, data_format=fmt)
            _same(ours(x), ref(x))  # a bare call augments, as Keras (training=True default)
        ours, ref = _pair(name, *args)
        _same(ours(u8), ref(u8), rtol=1e-6)  # integer images come out as float32


def test_contrast_and_brightness_with_fixed_parameters():
    x255 = X * 255
    for args in [((-0.4, 0.4),), ((-0.4, 0.4), (20, 200)), ((-0.9, 0.9), (0, 1))]:
        ours, ref = _pair("RandomContrast", *args)
        _same(ours(x255), ref(x255), rtol=1e-6)
    for args in [((-0.3, -0.3),), ((0.2, 0.2),), ((0.5, 0.5), (1, 0))]:  # ranges sorted
        ours, ref = _pair("RandomBrightness", *args)
        _same(ours(X), ref(X))
        _same(ours(x255[0]), ref(x255[0]))


@pytest.mark.parametrize("shape,size", [((2, 4, 4, 3), (6, 6)), ((2, 6, 8, 3), (6, 4)),
                                        ((2, 10, 4, 3), (6, 6)), ((2, 5, 9, 1), (5, 9)),
                                        ((2, 3, 7, 2), (4, 5))])  # fmt: skip
def test_crop_centred_branch_against_keras(shape, size):
    # images not larger than the target on both axes: Keras crops at its centred box and
    # resizes (bilinear) in training, deterministically
    x = RNG.random(shape).astype("float32")
    ours, ref = _pair("RandomCrop", *size)
    _same(ours(x, training=True), ref(x, training=True))
    _same(ours(x[0], training=True), ref(x[0], training=True))


@pytest.mark.parametrize(
    "shape,size",
    [
        ((2, 9, 11, 3), (4, 6)),
        ((2, 8, 8, 1), (6, 6)),
        ((2, 5, 12, 2), (6, 4)),
        ((2, 7, 9, 3), (7, 9)),
    ],
)
def test_crop_inference_is_the_documented_centred_crop(shape, size):
    # Keras's docstring: the largest centred window with the target's aspect ratio, resized;
    # keras.ops.image.resize(crop_to_aspect_ratio=True) computes exactly that
    x = RNG.random(shape).astype("float32")
    ours, ref = _pair("RandomCrop", *size)
    expected = tk.ops.image.resize(x, size, crop_to_aspect_ratio=True)
    _same(ours(x, training=False), expected)
    _same(ours(x[0], training=False), expected[0])
    assert tuple(ours.compute_output_shape((None, *shape[1:]))) == (None, *size, shape[3])
    # Keras 3.15.1 returns the input uncropped here (keras-team/keras#21868): the divergence
    assert tuple(ref(x, training=False).shape) == x.shape
    cf = A.RandomCrop(*size, data_format="channels_first")
    out = cf(np.ascontiguousarray(np.transpose(x, (0, 3, 1, 2))), training=False)
    _same(np.transpose(_np(out), (0, 2, 3, 1)), expected)
    u8 = (x * 255).astype("uint8")  # float32 out, as Keras's crop in training
    _same(
        ours(u8, training=False),
        tk.ops.image.resize(u8.astype("float32"), size, crop_to_aspect_ratio=True),
        atol=1e-4,
    )


def test_crop_training_takes_a_window_shared_by_the_batch():
    x = RNG.random((4, 6, 7, 2)).astype("float32")
    layer = A.RandomCrop(3, 5, seed=5)
    seen = set()
    for _ in range(200):
        out = _np(layer(x))
        hits = [(i, j) for i in range(4) for j in range(3)
                if np.array_equal(out, x[:, i:i + 3, j:j + 5])]  # fmt: skip
        assert len(hits) == 1
        seen.add(hits[0])
    assert seen == {(i, j) for i in range(4) for j in range(3)}  # every offset occurs


# -- flips -------------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["horizontal", "vertical", "horizontal_and_vertical"])
def test_flip_outcomes_match_keras(mode):
    x = RNG.random((300, 3, 4, 2)).astype("float32")
    turned = {"horizontal": x[:, :, ::-1], "vertical": x[:, ::-1],
              "horizontal_and_vertical": x[:, ::-1, ::-1]}[mode]  # fmt: skip
    for out in (_np(A.RandomFlip(mode)(x)), _np(TL.RandomFlip(mode)(x))):
        flipped = np.all(out == turned, axis=(1, 2, 3))
        kept = np.all(out == x, axis=(1, 2, 3))
        assert np.all(flipped | kept)  # each image whole: flipped or kept (Keras: both axes)
        assert 0.38 < flipped.mean() < 0.62  # one draw per image, p = 1/2
    one = _np(A.RandomFlip(mode, seed=1)(x[0]))
    assert np.array_equal(one, x[0]) or np.array_equal(one, turned[0])


# -- the draws -----------------------------------------------------------------------------------
def _draws(layer, key, n=4000):
    shape = (n, 5, 6, 1)
    if isinstance(layer, tk.layers.Layer):
        t = layer.get_random_transformation(np.zeros(shape, "float32"), training=True)
        return _np(t[key]).ravel()
    return np.asarray(layer._parameters(shape, np.random.default_rng(3))[key]).ravel()


@pytest.mark.parametrize("name,args,key", [
    ("RandomRotation", (0.2,), "angle"), ("RandomRotation", ((-0.1, 0.3),), "angle"),
    ("RandomZoom", ((-0.3, 0.5),), "height_zoom"), ("RandomZoom", (0.2, (0.1, 0.4)), "width_zoom"),
    ("RandomTranslation", (0.2, (-0.5, 0.1)), "translations"),
    ("RandomContrast", (0.3,), "contrast_factor"), ("RandomContrast", ((0.2, 0.5),),
                                                    "contrast_factor"),
    ("RandomBrightness", (0.4,), "rgb_delta"), ("RandomBrightness", ((-0.2, 0.1), (0, 1)),
                                                "rgb_delta")])  # fmt: skip
def test_draw_ranges_match_keras(name, args, key):
    ours, ref = _pair(name, *args)
    a, b = _draws(ours, key), _draws(ref, key)
    assert a.size == b.size  # per image (translations: two per image), as Keras
    width = b.max() - b.min()
    assert width > 0
    for q in (0.0, 0.25, 0.5, 0.75, 1.0):  # the same uniform law
        assert abs(np.quantile(a, q) - np.quantile(b, q)) < 0.05 * width, q


def test_zoom_width_follows_height_without_width_factor():
    p = G.RandomZoom(0.3)._parameters((50, 4, 4, 1), np.random.default_rng(0))
    assert np.array_equal(p["height_zoom"], p["width_zoom"])
    assert np.unique(p["height_zoom"]).size == 50  # per image
    p = G.RandomZoom(0.3, 0.3)._parameters((50, 4, 4, 1), np.random.default_rng(0))
    assert not np.array_equal(p["height_zoom"], p["width_zoom"])


def test_seeds_and_chainrule_generator():
    x = RNG.random((4, 6, 6, 3)).astype("float32")
    a, b = G.RandomRotation(0.3, seed=7), G.RandomRotation(0.3, seed=7)
    first = _np(a(x))
    assert np.array_equal(first, _np(b(x)))
    assert not np.array_equal(first, _np(a(x)))  # the generator moves on
    layer = G.RandomTranslation(0.2, 0.2)
    cr.backend.set_random_seed(3)
    one = _np(layer(x))
    cr.backend.set_random_seed(3)
    assert np.array_equal(one, _np(layer(x)))


# -- training flag, models ---------------------------------------------------------------------
@pytest.mark.parametrize(
    "name,args",
    [
        ("RandomFlip", ()),
        ("RandomRotation", (0.2,)),
        ("RandomZoom", (0.2,)),
        ("RandomTranslation", (0.1, 0.1)),
        ("RandomContrast", (0.5,)),
        ("RandomBrightness", (0.5,)),
    ],
)
def test_inference_output_and_dtype_as_keras(name, args):
    # (RandomCrop's inference differs from Keras's: test_crop_inference_is_the_centred_crop)
    for x in (X, (X * 255).astype("uint8")):
        ours, ref = _pair(name, *args)
        _same(ours(x, training=False), ref(x, training=False))


def test_models_augment_in_fit_only():
    x = RNG.random((16, 8, 8, 3)).astype("float32")
    y = RNG.random((16, 1)).astype("float32")
    aug = [A.RandomFlip(seed=1), G.RandomRotation(0.1, seed=2), G.RandomZoom(0.1, seed=3),
           G.RandomTranslation(0.1, 0.1, seed=4), A.RandomContrast(0.2, seed=5),
           A.RandomBrightness(0.1, value_range=(0, 1), seed=6)]  # fmt: skip
    model = ck.Sequential([ck.Input((8, 8, 3)), *aug, A.RandomCrop(6, 6, seed=7)])
    expected = _np(tk.ops.image.resize(x, (6, 6), crop_to_aspect_ratio=True))
    np.testing.assert_allclose(model.predict(x, verbose=0), expected, atol=1e-6)
    assert np.abs(_np(model(x)) - expected).max() > 0.1  # training=None augments
    head = ck.Sequential([model, ck.layers.Flatten(), ck.layers.Dense(1)])
    head.compile("sgd", "mse")
    hist = head.fit(x, y, epochs=2, batch_size=8, verbose=0)
    assert np.all(np.isfinite(hist.history["loss"]))


def test_functional_model_building_draws_nothing():
    inp = ck.Input((9, 11, 3))
    layers = [G.RandomRotation(0.2), A.RandomFlip(), A.RandomCrop(4, 6)]  # (crop draws a seed)
    cr.backend.set_random_seed(0)
    before = cr.backend.rng().random()
    cr.backend.set_random_seed(0)
    out = layers[2](layers[1](layers[0](inp)))
    assert cr.backend.rng().random() == before  # placeholder calls use a throwaway generator
    assert tuple(out.shape) == (None, 4, 6, 3)
    model = ck.Model(inp, out)
    x = RNG.random((2, 9, 11, 3)).astype("float32")
    np.testing.assert_allclose(model.predict(x, verbose=0),
                               _np(tk.ops.image.resize(x, (4, 6), crop_to_aspect_ratio=True)),
                               atol=1e-6)  # fmt: skip


# -- gradients ---------------------------------------------------------------------------------
@pytest.mark.parametrize("name,args", [("RandomRotation", ((0.1, 0.1), "constant")),
                                       ("RandomRotation", ((0.3, 0.3), "reflect")),
                                       ("RandomZoom", ((0.3, 0.3), None, "wrap")),
                                       ("RandomTranslation", ((0.2, 0.2), (0.3, 0.3), "nearest")),
                                       ("RandomContrast", ((-0.4, 0.4), (0, 1))),
                                       ("RandomBrightness", ((0.2, 0.2), (0, 1))),
                                       ("RandomCrop", (9, 8))])  # fmt: skip
def test_gradient_to_input_matches_keras_torch(name, args):
    ours, ref = _pair(name, *args)
    xt = torch.tensor(X, requires_grad=True)
    out = ref(xt * 1.0, training=True)  # (Keras's brightness adds in place: not on a leaf)
    w = RNG.random(tuple(out.shape)).astype("float32")
    (out * torch.tensor(w)).sum().backward()
    xc = cr.tensor(X, requires_grad=True)
    (g,) = cr.grad((ours(xc, training=True) * w).sum(), [xc])
    np.testing.assert_allclose(g, xt.grad.numpy(), atol=1e-5)


def test_flip_gradient_by_linearity():
    layer = A.RandomFlip(seed=4)
    xc = cr.tensor(X, requires_grad=True)
    out = layer(xc)
    w = RNG.random(out.shape).astype("float32")
    (g,) = cr.grad((out * w).sum(), [xc])
    # a flip is a permutation P: <P x, w> = <x, P^T w> for every x
    z = RNG.random(X.shape).astype("float32")
    flips = np.all(_np(out) != X, axis=(1, 2, 3))
    pz = np.where(flips[:, None, None, None], z[:, ::-1, ::-1], z)
    np.testing.assert_allclose((pz * w).sum(), (z * g).sum(), rtol=1e-5)


# -- configs and files ---------------------------------------------------------------------------
CONFIG_CASES = [
    ("RandomFlip", (), {}), ("RandomFlip", ("vertical",), {"seed": 3}),
    ("RandomRotation", (0.1,), {}),
    ("RandomRotation", ((-0.2, 0.3), "constant", "nearest", 4, 2.0), {}),
    ("RandomZoom", (0.2,), {}), ("RandomZoom", ((-0.2, 0.3), [0.1, 0.2]), {"fill_mode": "wrap"}),
    ("RandomTranslation", (0.1, 0.2), {}), ("RandomTranslation", ((0.1, -0.2), 0.3), {"seed": 1}),
    ("RandomContrast", (0.2,), {}), ("RandomContrast", ((0.1, 0.3), [0, 1]), {"seed": 2}),
    ("RandomBrightness", (0.2,), {}), ("RandomBrightness", ((-0.1, 0.3), (1, 0)), {}),
    ("RandomCrop", (4, 5), {"seed": 3}), ("RandomFlip", (), {"data_format": "channels_first"}),
]  # fmt: skip


@pytest.mark.parametrize("name,args,kwargs", CONFIG_CASES)
def test_config_key_for_key(name, args, kwargs):
    ours, ref = _pair(name, *args, name="aug", **kwargs)
    got, want = ours.get_config(), ref.get_config()
    assert list(got) == list(want) and got == want
    assert CLASSES[name].from_config(got).get_config() == got
    assert getattr(TL, name).from_config(got).get_config() == want


def test_crop_without_seed_writes_a_random_seed_as_keras():
    a, b = A.RandomCrop(3, 3), A.RandomCrop(3, 3)
    assert isinstance(a.get_config()["seed"], int) and a.seed != b.seed
    assert a._rng is None  # the draws still come from chainrule's generator


@pytest.fixture
def registered(monkeypatch):
    """The layers in chainrule's built-in class table (as once keras.layers exports them)."""
    table = object_lookup.builtin_tables()["layers"]
    for n, c in CLASSES.items():
        monkeypatch.setitem(table, n, c)


def _file_model(lib, classes):
    return lib.Sequential([
        lib.Input((8, 8, 3)), classes["RandomFlip"]("horizontal", seed=1),
        classes["RandomRotation"](0.1, fill_mode="constant"), classes["RandomZoom"](0.2, 0.1),
        classes["RandomTranslation"](0.1, 0.2), classes["RandomContrast"](0.3),
        classes["RandomBrightness"](0.2, value_range=(0, 1)), classes["RandomCrop"](8, 8, seed=4),
        lib.layers.Flatten(), lib.layers.Dense(2)])  # fmt: skip


@pytest.mark.parametrize("writer", ["chainrule", "keras"])
def test_keras_files_both_ways(tmp_path, registered, writer):
    keras_classes = {n: getattr(TL, n) for n in CLASSES}
    src, dst_lib = ((_file_model(ck, CLASSES), tk) if writer == "chainrule"
                    else (_file_model(tk, keras_classes), ck))  # fmt: skip
    path = str(tmp_path / "m.keras")
    src.save(path)
    loaded = dst_lib.saving.load_model(path)
    assert [type(la).__name__ for la in loaded.layers[:7]] == list(
        n for n in ["RandomFlip", "RandomRotation", "RandomZoom", "RandomTranslation",
                    "RandomContrast", "RandomBrightness", "RandomCrop"])  # fmt: skip
    for a, b in zip(loaded.layers[:7], src.layers[:7]):  # (JSON makes tuples lists)
        assert json.loads(json.dumps(a.get_config())) == json.loads(json.dumps(b.get_config()))
    x = RNG.random((5, 8, 8, 3)).astype("float32")
    np.testing.assert_allclose(_np(loaded.predict(x, verbose=0)), _np(src.predict(x, verbose=0)),
                               atol=1e-5)  # fmt: skip


# -- bad arguments -------------------------------------------------------------------------------
@pytest.mark.parametrize("make,err,words", [
    (lambda: A.RandomFlip("diagonal"), ValueError, "mode must be one of"),
    (lambda: A.RandomFlip(seed=1.5), ValueError, "seed must be an integer"),
    (lambda: A.RandomFlip(data_format="nhwc"), ValueError, "data_format="),
    (lambda: G.RandomRotation(1.5), ValueError, "factor=1.5"),
    (lambda: G.RandomRotation(float("nan")), ValueError, "factor=nan"),
    (lambda: G.RandomRotation((0.1,)), ValueError, "factor=(0.1,)"),
    (lambda: G.RandomRotation(0.1, fill_mode="mirror"), NotImplementedError, "fill_mode='mirror'"),
    (lambda: G.RandomRotation(0.1, interpolation="bicubic"), NotImplementedError,
     "interpolation='bicubic'"),
    (lambda: G.RandomRotation(0.1, fill_value="black"), ValueError, "fill_value='black'"),
    (lambda: G.RandomZoom(-1.0), ValueError, "height_factor=-1.0"),
    (lambda: G.RandomZoom(0.1, (0.2, 1.5)), ValueError, "width_factor=(0.2, 1.5)"),
    (lambda: G.RandomTranslation(0.1, "a"), ValueError, "width_factor='a'"),
    (lambda: A.RandomContrast(-0.1), ValueError, "factor=-0.1"),
    (lambda: A.RandomContrast(0.1, value_range=5), ValueError, "value_range=5"),
    (lambda: A.RandomBrightness(0.1, value_range=(0,)), ValueError, "value_range=(0,)"),
    (lambda: A.RandomCrop(0, 3), ValueError, "height=0"),
    (lambda: A.RandomCrop(3, 2.5), ValueError, "width=2.5"),
    (lambda: A.RandomFlip(bounding_box_format="xyxy"), NotImplementedError, "bounding_box"),
])  # fmt: skip
def test_bad_arguments(make, err, words):
    with pytest.raises(err) as info:
        make()
    assert words in str(info.value)


def test_bad_inputs():
    with pytest.raises(ValueError, match=r"rank 3 .* received inputs of shape \(2, 3\)"):
        A.RandomFlip()(np.zeros((2, 3), "float32"))
    with pytest.raises(ValueError, match=r"shape \(1, 2, 3, 4, 5\)"):
        A.RandomContrast(0.1)(np.zeros((1, 2, 3, 4, 5), "float32"), training=False)
    with pytest.raises(NotImplementedError, match="dict inputs"):
        G.RandomRotation(0.1)({"images": X})
