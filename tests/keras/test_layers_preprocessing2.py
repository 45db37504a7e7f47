"""CategoryEncoding, Discretization and Resizing against real Keras 3.15.1 (torch backend):
outputs (values, shapes, dtypes), Discretization's learned boundaries, configs key for key,
models (fit/predict) and .keras files both ways; Resizing's gradient against PyTorch."""

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import json  # noqa: E402
import zipfile  # noqa: E402

import keras as tk  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from keras.src.layers.preprocessing import discretization as kdisc  # noqa: E402

import chainrule as cr  # noqa: E402
from chainrule import keras as ck  # noqa: E402

RNG = np.random.default_rng(7)


def _np(t):
    return t.numpy() if hasattr(t, "numpy") else np.asarray(t)


def _same(ours, ref):
    ours, ref = _np(ours), _np(ref)
    assert ours.shape == ref.shape and ours.dtype == ref.dtype, (
        ours.shape,
        ref.shape,
        ours.dtype,
        ref.dtype,
    )
    np.testing.assert_array_equal(ours, ref)


def _configs_agree(make):
    ours, theirs = make(ck), make(tk)
    assert ours.get_config() == theirs.get_config()
    assert list(ours.get_config()) == list(theirs.get_config())  # key order too
    assert type(ours).from_config(theirs.get_config()).get_config() == ours.get_config()
    assert type(theirs).from_config(ours.get_config()).get_config() == theirs.get_config()


# -- CategoryEncoding ------------------------------------------------------------------------
INPUTS = [np.array(3), np.array([3, 2, 0]), np.array([[3], [1]]), np.array([[0, 1, 1], [4, 4, 2]]),
          np.array([[0.0, 4.0], [2.0, 2.0]], "float32")]  # fmt: skip


@pytest.mark.parametrize("mode", ["one_hot", "multi_hot", "count", "binary"])
def test_category_encoding_outputs_are_kerass(mode):
    for x in INPUTS:
        _same(ck.layers.CategoryEncoding(5, output_mode=mode)(x),
              tk.layers.CategoryEncoding(5, output_mode=mode)(x))  # fmt: skip
    for dtype in ("int32", "float64"):
        _same(
            ck.layers.CategoryEncoding(5, output_mode=mode, dtype=dtype)(INPUTS[3]),
            tk.layers.CategoryEncoding(5, output_mode=mode, dtype=dtype)(INPUTS[3]),
        )
    one_hot_3d = np.array([[[1, 2], [0, 4]]])
    if mode == "one_hot":
        _same(
            ck.layers.CategoryEncoding(5, output_mode=mode)(one_hot_3d),
            tk.layers.CategoryEncoding(5, output_mode=mode)(one_hot_3d),
        )
    else:  # Keras reduces axis 1 there, against its own output shape: refused
        with pytest.raises(ValueError, match="supports inputs of rank 1 or 2"):
            ck.layers.CategoryEncoding(5, output_mode=mode)(one_hot_3d)
    for shape in [(None, 3), (None, 1), (4,)]:
        assert ck.layers.CategoryEncoding(5, output_mode=mode).compute_output_shape(
            shape
        ) == tk.layers.CategoryEncoding(5, output_mode=mode).compute_output_shape(shape)
    _configs_agree(lambda k: k.layers.CategoryEncoding(num_tokens=6, output_mode=mode, name="c"))


def test_category_encoding_count_weights_are_kerass_and_carry_a_gradient():
    x = np.array([[0, 1, 1], [3, 3, 2]])
    w = RNG.uniform(0, 1, (2, 3)).astype("float32")
    ours = ck.layers.CategoryEncoding(4, output_mode="count")(x, count_weights=w)
    ref = tk.layers.CategoryEncoding(4, output_mode="count")(x, count_weights=w)
    np.testing.assert_allclose(_np(ours), _np(ref), rtol=1e-6)
    assert _np(ours).dtype == _np(ref).dtype
    wt = cr.tensor(w, requires_grad=True)
    out = ck.layers.CategoryEncoding(4, output_mode="count")(x, count_weights=wt)
    (g,) = cr.grad((out * np.arange(4.0, dtype="float32")).sum(), [wt])
    np.testing.assert_array_equal(g, x.astype("float32"))  # d/dw_j of sum_k k*count_k = x_j
    for lib in (ck, tk):
        with pytest.raises(ValueError, match="`count_weights` is not used"):
            lib.layers.CategoryEncoding(4, output_mode="multi_hot")(x, count_weights=w)


def test_category_encoding_refuses_what_keras_gets_wrong_or_refuses():
    layer = ck.layers.CategoryEncoding(4, output_mode="one_hot", name="enc")
    # Keras's torch backend gives a zero row for -1 (silent) and a torch error for 4
    with pytest.raises(ValueError, match=r"in \[0, 4\).*received the value -1"):
        layer(np.array([-1, 2]))
    with pytest.raises(ValueError, match=r"in \[0, 4\).*received the value 4"):
        layer(np.array([4, 1]))
    with pytest.raises(ValueError, match="non-integer values such as \\[1.5\\]"):
        layer(np.array([1.5, 1.0]))
    with pytest.raises(ValueError, match="sparse=True is not supported"):
        ck.layers.CategoryEncoding(4, sparse=True)
    for bad, match in [(None, "num_tokens must be set"), (0, "`num_tokens` must be >= 1"),
                       (2.5, "num_tokens must be a positive integer")]:  # fmt: skip
        with pytest.raises(ValueError, match=match):
            ck.layers.CategoryEncoding(bad)
    with pytest.raises(ValueError, match="received output_mode='tf_idf'"):
        ck.layers.CategoryEncoding(4, output_mode="tf_idf")


# -- Discretization --------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["int", "one_hot", "multi_hot", "count"])
def test_discretization_with_boundaries_is_kerass(mode):
    bounds = [-1.0, 0.0, 0.1, 2.5]
    data = [RNG.normal(0, 2, (6, 5)), np.array([[0.1, -1.0, 2.5, 0.0]]), np.array([[1], [7]]),
            RNG.normal(0, 2, (4,)).astype("float32")]  # fmt: skip
    for x in data:
        _same(
            ck.layers.Discretization(bin_boundaries=bounds, output_mode=mode)(x),
            tk.layers.Discretization(bin_boundaries=bounds, output_mode=mode)(x),
        )
    for shape in [(None, 3), (None, 1), (5,)]:
        assert ck.layers.Discretization(
            bin_boundaries=bounds, output_mode=mode
        ).compute_output_shape(shape) == tk.layers.Discretization(
            bin_boundaries=bounds, output_mode=mode
        ).compute_output_shape(shape)
    _configs_agree(lambda k: k.layers.Discretization(bin_boundaries=bounds, output_mode=mode,
                                                     name="d"))  # fmt: skip
    _configs_agree(lambda k: k.layers.Discretization(num_bins=3, epsilon=0.05, name="d",
                                                     dtype="float64"))  # fmt: skip


def _keras_adapted(num_bins, epsilon, batches):
    # Keras 3.15.1's adapt() needs TensorFlow (it checks for tf.data); without it, the same
    # numbers come from its update_state/finalize_state, which adapt() runs per batch
    layer = tk.layers.Discretization(num_bins=num_bins, epsilon=epsilon, name="d")
    layer.reset_state()
    for b in batches:
        layer.update_state(b)
    layer.finalize_state()
    return layer


@pytest.mark.parametrize("num_bins,epsilon,batched", [
    (4, 0.01, False), (5, 0.01, True), (10, 0.05, False), (3, 0.001, True), (7, 0.2, False),
    (20, 0.01, False)])  # fmt: skip
def test_discretization_adapt_learns_kerass_boundaries(num_bins, epsilon, batched):
    data = np.concatenate([RNG.normal(0, 3, 700), RNG.integers(-3, 4, 300).astype(float)])
    data = RNG.permutation(data).reshape(250, 4)
    batches = np.array_split(data, 3) if batched else [data]
    ref = _keras_adapted(num_bins, epsilon, batches)
    ours = ck.layers.Discretization(num_bins=num_bins, epsilon=epsilon, name="d")
    ours.adapt(batches if batched else data)
    assert ours.bin_boundaries == ref.bin_boundaries  # exactly, as Python floats
    assert ours.get_config() == ref.get_config()
    _same(ours(data), ref(data))
    again = ck.layers.Discretization.from_config(ref.get_config())  # an adapted Keras config
    _same(again(data), ref(data))


def test_discretization_adapt_on_little_data_and_its_errors():
    x = np.array([[-1.5, 1.0, 3.4, 0.5], [0.0, 3.0, 1.3, 0.0]])
    ref = _keras_adapted(4, 0.01, [x])  # fewer points than 1/epsilon: no compression
    ours = ck.layers.Discretization(num_bins=4, epsilon=0.01)
    ours.adapt(x)
    assert ours.bin_boundaries == ref.bin_boundaries
    _same(ours(x), ref(x))
    with pytest.raises(ValueError, match="call `adapt\\(dataset\\)` before"):
        ck.layers.Discretization(num_bins=3)(x)
    with pytest.raises(ValueError, match="Cannot adapt a Discretization layer"):
        ck.layers.Discretization(bin_boundaries=[0.0]).adapt(x)
    with pytest.raises(ValueError, match="NaN or inf"):
        ck.layers.Discretization(num_bins=3).adapt(np.array([1.0, np.nan]))
    with pytest.raises(ValueError, match="NaN values"):  # Keras puts NaN in the last bin
        ck.layers.Discretization(bin_boundaries=[0.0])(np.array([[np.nan, 1.0]]))
    with pytest.raises(ValueError, match="sorted in increasing order"):
        ck.layers.Discretization(bin_boundaries=[1.0, 0.0])
    for kwargs, match in [
        ({}, "either `num_bins` or `bin_boundaries`"),
        ({"num_bins": 2, "bin_boundaries": [0.0]}, "Both `num_bins`"),
        ({"num_bins": -1}, "greater than or equal to 0"),
        ({"num_bins": 2, "sparse": True}, "`sparse=True` cannot be used"),
    ]:
        with pytest.raises(ValueError, match=match):
            ck.layers.Discretization(**kwargs)


# -- Resizing --------------------------------------------------------------------------------
SIZES = [((5, 7), (3, 4)), ((5, 7), (11, 13)), ((8, 8), (3, 5)), ((6, 9), (6, 9)), ((4, 1), (2, 3))]


@pytest.mark.parametrize("interpolation", ["bilinear", "nearest", "bicubic"])
@pytest.mark.parametrize("antialias", [False, True])
def test_resizing_matches_keras_torch(interpolation, antialias):
    for (h, w), (out_h, out_w) in SIZES:
        x = RNG.uniform(0, 1, (2, h, w, 3)).astype("float32")
        kw = {"interpolation": interpolation, "antialias": antialias}
        ours = ck.layers.Resizing(out_h, out_w, **kw)(x)
        ref = tk.layers.Resizing(out_h, out_w, **kw)(x)
        np.testing.assert_allclose(_np(ours), _np(ref), rtol=1e-5, atol=1e-6)
        assert _np(ours).dtype == np.float32
    _configs_agree(lambda k: k.layers.Resizing(4, 6, interpolation=interpolation,
                                               antialias=antialias, name="r"))  # fmt: skip


@pytest.mark.parametrize("kwargs", [
    {"crop_to_aspect_ratio": True}, {"pad_to_aspect_ratio": True},
    {"pad_to_aspect_ratio": True, "fill_value": 0.5}, {"data_format": "channels_first"},
    {"data_format": "channels_first", "crop_to_aspect_ratio": True,
     "interpolation": "nearest"}])  # fmt: skip
def test_resizing_crop_pad_and_channels_first_match_keras(kwargs):
    for shape, target in [((2, 3, 10, 6), (4, 4)), ((2, 3, 6, 10), (5, 3)), ((1, 3, 7, 7), (2, 6))]:
        x = RNG.uniform(0, 1, shape if kwargs.get("data_format") else
                        (shape[0], shape[2], shape[3], shape[1])).astype("float32")  # fmt: skip
        ours, ref = ck.layers.Resizing(*target, **kwargs), tk.layers.Resizing(*target, **kwargs)
        np.testing.assert_allclose(_np(ours(x)), _np(ref(x)), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(_np(ours(x[0])), _np(ref(x[0])), rtol=1e-5, atol=1e-6)
        assert ours.compute_output_shape(x.shape) == ref.compute_output_shape(x.shape)
    _configs_agree(lambda k: k.layers.Resizing(3, 5, name="r", **kwargs))


@pytest.mark.parametrize("dtype", ["uint8", "int32"])
def test_resizing_integer_images_round_back_as_keras(dtype):
    # Integer images are resized in float32 and rounded; float32 sums in another order than
    # torch's can land a near-tie on the other side (a difference of 1 on a few pixels)
    x = RNG.integers(0, 256, (2, 9, 7, 3)).astype(dtype)
    for interpolation in ("bilinear", "nearest", "bicubic"):
        for target in [(4, 5), (13, 11)]:
            ours = _np(ck.layers.Resizing(*target, interpolation=interpolation)(x))
            ref = _np(tk.layers.Resizing(*target, interpolation=interpolation)(x))
            assert ours.dtype == ref.dtype == np.dtype(dtype) and ours.shape == ref.shape
            diff = np.abs(ours.astype(int) - ref.astype(int))
            assert diff.max() <= 1 and (diff > 0).mean() < 0.01, (interpolation, target)
            as_float = _np(ck.layers.Resizing(*target, interpolation=interpolation)(
                x.astype("float32")))  # fmt: skip
            info = np.iinfo(dtype)
            np.testing.assert_array_equal(ours, np.clip(np.round(as_float), info.min, info.max))
            if interpolation == "nearest":
                np.testing.assert_array_equal(ours, ref)


def test_resizing_gradient_is_torchs():
    x = RNG.normal(0, 1, (2, 6, 5, 3)).astype("float32")
    g = RNG.normal(0, 1, (2, 4, 8, 3)).astype("float32")
    for mode, torch_mode, aa in [("bilinear", "bilinear", True), ("bicubic", "bicubic", False),
                                 ("nearest", "nearest-exact", False)]:  # fmt: skip
        xt = cr.tensor(x, requires_grad=True)
        out = ck.layers.Resizing(4, 8, interpolation=mode, antialias=aa)(xt)
        (ours,) = cr.grad((out * g).sum(), [xt])
        xr = torch.tensor(x.transpose(0, 3, 1, 2), requires_grad=True)
        align = False if mode != "nearest" else None
        y = torch.nn.functional.interpolate(xr, size=(4, 8), mode=torch_mode,
                                            align_corners=align, antialias=aa)  # fmt: skip
        (y * torch.tensor(g.transpose(0, 3, 1, 2))).sum().backward()
        np.testing.assert_allclose(ours, xr.grad.numpy().transpose(0, 2, 3, 1), rtol=1e-5,
                                   atol=1e-5)  # fmt: skip


def test_resizing_refuses_clearly():
    for kwargs, match in [({"interpolation": "lanczos3"}, "received interpolation='lanczos3'"),
                          ({"interpolation": "area"}, "received interpolation='area'"),
                          ({"fill_mode": "reflect"}, "Only `'constant'` is supported"),
                          ({"crop_to_aspect_ratio": True, "pad_to_aspect_ratio": True},
                           "Only one of"),
                          ({"data_format": "nhwc"}, "received data_format='nhwc'")]:  # fmt: skip
        with pytest.raises(ValueError, match=match):
            ck.layers.Resizing(2, 2, **kwargs)
    with pytest.raises(ValueError, match="height must be a positive integer, received height=0"):
        ck.layers.Resizing(0, 2)
    with pytest.raises(ValueError, match="Invalid images rank"):
        ck.layers.Resizing(2, 2)(np.ones((2, 2), "float32"))


# -- in models, fit/predict and .keras files -------------------------------------------------
def _model(lib):
    img = lib.Input((6, 8, 1), name="img")
    ids = lib.Input((3,), dtype="int32", name="ids")
    val = lib.Input((2,), name="val")
    a = lib.layers.Flatten()(lib.layers.Resizing(3, 4, interpolation="bicubic", name="rs")(img))
    b = lib.layers.CategoryEncoding(5, output_mode="count", name="ce")(ids)
    c = lib.layers.Discretization(bin_boundaries=[-0.5, 0.5], output_mode="one_hot",
                                  name="disc")(val)  # fmt: skip
    c = lib.layers.Flatten()(c)
    merged = lib.layers.Concatenate()([a, b, c])
    return lib.Model([img, ids, val], lib.layers.Dense(1, name="out")(merged))


def _data(n=16):
    return [
        RNG.uniform(0, 1, (n, 6, 8, 1)).astype("float32"),
        RNG.integers(0, 5, (n, 3)).astype("int32"),
        RNG.normal(0, 1, (n, 2)).astype("float32"),
    ], RNG.normal(0, 1, (n, 1)).astype("float32")


def test_a_model_with_the_three_layers_fits_and_predicts_as_keras():
    x, y = _data()
    ours, ref = _model(ck), _model(tk)
    weights = [RNG.uniform(-0.3, 0.3, w.shape).astype("float32") for w in ours.get_weights()]
    ours.set_weights(weights)
    ref.set_weights(weights)
    assert ours.output_shape == ref.output_shape
    np.testing.assert_allclose(ours.predict(x, verbose=0), ref.predict(x, verbose=0), rtol=1e-5,
                               atol=1e-5)  # fmt: skip
    for m in (ours, ref):
        m.compile(optimizer="sgd", loss="mse")
    h_ours = ours.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    h_ref = ref.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    np.testing.assert_allclose(h_ours.history["loss"], h_ref.history["loss"], rtol=1e-5)
    seq = [lib.Sequential([lib.Input((5,)), lib.layers.Discretization(bin_boundaries=[0.0, 1.0]),
                           lib.layers.CategoryEncoding(3, output_mode="count")])
           for lib in (ck, tk)]  # fmt: skip
    v = RNG.normal(0.5, 1, (4, 5)).astype("float32")
    _same(seq[0].predict(v, verbose=0), seq[1].predict(v, verbose=0))


@pytest.mark.parametrize("writer", ["chainrule", "keras"])
def test_keras_files_both_ways(tmp_path, writer):
    x, _ = _data(6)
    src_lib, dst_lib = (ck, tk) if writer == "chainrule" else (tk, ck)
    src = _model(src_lib)
    adapted = src_lib.layers.Discretization(num_bins=3, name="learned")
    if writer == "chainrule":
        adapted.adapt(x[2])
    else:
        adapted.update_state(x[2])
        adapted.finalize_state()
    seq = src_lib.Sequential([src_lib.Input((2,)), adapted])
    for i, model in enumerate((src, seq)):
        path = str(tmp_path / f"m{i}.keras")
        model.save(path)
        loaded = dst_lib.saving.load_model(path)
        inputs = x if model is src else x[2]
        np.testing.assert_allclose(
            _np(loaded.predict(inputs, verbose=0)),
            _np(model.predict(inputs, verbose=0)),
            rtol=1e-5,
            atol=1e-5,
        )
        with zipfile.ZipFile(path) as zf:
            config = json.loads(zf.read("config.json"))
        other = str(tmp_path / f"again{i}.keras")
        loaded.save(other)
        with zipfile.ZipFile(other) as zf:
            again = json.loads(zf.read("config.json"))

        def plain(v):  # Keras marks its DTypePolicy objects shared between layers
            if isinstance(v, dict):
                return {k: plain(x) for k, x in v.items() if k != "shared_object_id"}
            return [plain(x) for x in v] if isinstance(v, list) else v

        config, again = plain(config), plain(again)
        keys = ("module", "class_name", "config", "registered_name", "build_config")
        mine = {la["config"]["name"]: {k: la.get(k) for k in keys}
                for la in config["config"]["layers"]}  # fmt: skip
        theirs = {la["config"]["name"]: {k: la.get(k) for k in keys}
                  for la in again["config"]["layers"]}  # fmt: skip
        for name in ("rs", "ce", "disc", "learned"):
            if name in mine:
                assert mine[name] == theirs[name], name  # config and build_config, as each writes


def test_keras_version_is_kerass():
    assert ck.version() == tk.version() == ck.__version__
    assert "version" in dir(ck)


def test_discretization_adapt_keeps_boundaries_matching_kdisc_helpers():
    # the summary helpers themselves, on data with many ties, against Keras's functions
    data = RNG.integers(0, 5, 999).astype("float32")
    ref = kdisc.get_bin_boundaries(
        kdisc.merge_summaries(kdisc.summarize(data, 0.01), np.array([[], []], "float32"), 0.01), 6
    ).tolist()
    ours = ck.layers.Discretization(num_bins=6)
    ours.adapt(data)
    assert ours.bin_boundaries == ref
