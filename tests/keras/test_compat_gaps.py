"""Keras-compatibility gaps against real Keras 3.15.1 (torch backend): sparse categorical
cross-entropy on sequences, the dtype of a loss on float64 and float16 inputs and models, and
Keras masks through the merge, normalization, regularization and activation layers."""

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import warnings  # noqa: E402

import keras as tk  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

import chainrule as cr  # noqa: E402
from chainrule import keras as ck  # noqa: E402

N, T, C = 4, 5, 3


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    # Keras's tiny torch ops: threads only add overhead on a shared machine (20x here)
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _np(x):
    """A chainrule or torch result as a NumPy array (its dtype kept)."""
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    return x.numpy() if hasattr(x, "numpy") else np.asarray(x)


def _seq_data(seed=0):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, C, (N, T))
    logits = rng.normal(size=(N, T, C)).astype("float32")
    probs = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    return rng, labels, logits, probs


def _loss_and_grad(loss, y_true, y_pred, sample_weight=None):
    """Value and gradient at ``y_pred`` of ``loss`` in either library."""
    if isinstance(loss, ck.losses.Loss):
        p = cr.tensor(y_pred, requires_grad=True)
        value = loss(y_true, p, sample_weight=sample_weight)
        return _np(value), cr.grad(value, [p])[0]
    p = torch.tensor(y_pred, requires_grad=True)
    value = loss(y_true, p, sample_weight=sample_weight)
    value.backward()
    return _np(value), p.grad.numpy()


# -- 1. sparse categorical cross-entropy on (N, T) labels -----------------------------------


@pytest.mark.parametrize("from_logits", [True, False])
@pytest.mark.parametrize("ignore_class", [None, 2])
@pytest.mark.parametrize("label_rank", [2, 3])
@pytest.mark.parametrize("weights", [None, "NT"])
def test_sparse_cce_on_sequences_matches_keras(from_logits, ignore_class, label_rank, weights):
    rng, labels, logits, probs = _seq_data()
    y_pred = logits if from_logits else probs
    y_true = labels if label_rank == 2 else labels[..., None]
    sw = None if weights is None else rng.uniform(0.5, 2.0, (N, T)).astype("float32")
    kw = {"from_logits": from_logits, "ignore_class": ignore_class}
    got, got_g = _loss_and_grad(ck.losses.SparseCategoricalCrossentropy(**kw), y_true, y_pred, sw)
    ref, ref_g = _loss_and_grad(tk.losses.SparseCategoricalCrossentropy(**kw), y_true, y_pred, sw)
    assert got.dtype == ref.dtype == np.float32
    np.testing.assert_allclose(got, ref, rtol=1e-6)
    np.testing.assert_allclose(got_g, ref_g, rtol=1e-5, atol=1e-7)
    per_step = ck.losses.sparse_categorical_crossentropy(y_true, y_pred, **kw)
    ref_step = tk.losses.sparse_categorical_crossentropy(y_true, y_pred, **kw)
    assert per_step.shape == (N, T)
    np.testing.assert_allclose(_np(per_step), _np(ref_step), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("ignore_class", [None, 2])
def test_sparse_cce_per_sample_weights_weight_whole_sequences(ignore_class):
    # Keras 3 broadcasts (N,) weights against the (N, T) losses from the right, which fails
    # for T != N (and weights time steps when T == N); chainrule weights whole samples, which is
    # Keras's result for the same weights repeated over the time axis.
    rng, labels, logits, _ = _seq_data(1)
    sw = rng.uniform(0.5, 2.0, N).astype("float32")
    kw = {"from_logits": True, "ignore_class": ignore_class}
    got, got_g = _loss_and_grad(ck.losses.SparseCategoricalCrossentropy(**kw), labels, logits, sw)
    with pytest.raises(RuntimeError):
        tk.losses.SparseCategoricalCrossentropy(**kw)(labels, logits, sample_weight=sw)
    ref, ref_g = _loss_and_grad(tk.losses.SparseCategoricalCrossentropy(**kw), labels, logits,
                                np.repeat(sw[:, None], T, axis=1))  # fmt: skip
    np.testing.assert_allclose(got, ref, rtol=1e-6)
    np.testing.assert_allclose(got_g, ref_g, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("loss_kw", [{}, {"from_logits": True}, {"ignore_class": 1}], ids=str)
def test_sparse_cce_single_unit_prediction(loss_kw):
    rng = np.random.default_rng(2)
    p1 = rng.uniform(0.1, 0.9, (N, T, 1)).astype("float32")
    zeros = np.zeros((N, T), dtype="int64")
    # (N, T) labels against (N, T, 1): Keras squeezes the prediction to (N, T) and fails; so do
    # we, with both shapes and the way out in the message
    with pytest.raises((ValueError, RuntimeError)):
        tk.losses.SparseCategoricalCrossentropy(**loss_kw)(zeros, p1)
    with pytest.raises(ValueError, match=r"y_true.shape=\(4, 5\).*binary_crossentropy"):
        ck.losses.SparseCategoricalCrossentropy(**loss_kw)(zeros, p1)
    # (N, T, 1) labels line up with it (one class: the loss is ~0), and the function form
    # takes (N, T) labels as in Keras
    got = ck.losses.SparseCategoricalCrossentropy(**loss_kw)(zeros[..., None], p1)
    ref = tk.losses.SparseCategoricalCrossentropy(**loss_kw)(zeros[..., None], p1)
    np.testing.assert_allclose(_np(got), _np(ref), atol=1e-7)
    got = ck.losses.sparse_categorical_crossentropy(zeros, p1, **loss_kw)
    ref = tk.losses.sparse_categorical_crossentropy(zeros, p1, **loss_kw)
    np.testing.assert_allclose(_np(got), _np(ref), atol=1e-7)


def _compare_metric(make, y_true, y_pred, sw):
    ours, ref = make(ck), make(tk)
    ours.update_state(y_true, y_pred, sample_weight=sw)
    ref.update_state(y_true, y_pred, sample_weight=sw)
    np.testing.assert_allclose(float(ours.result()), float(ref.result()), rtol=1e-6)


@pytest.mark.parametrize("label_rank", [2, 3])
@pytest.mark.parametrize("weights", [None, "N", "NT"])
def test_sparse_categorical_accuracy_on_sequences(label_rank, weights):
    rng, labels, logits, _ = _seq_data(3)
    y_true = labels if label_rank == 2 else labels[..., None]
    sw = {None: None, "N": rng.uniform(0.5, 2, N), "NT": rng.uniform(0.5, 2, (N, T))}[weights]
    _compare_metric(lambda K: K.metrics.SparseCategoricalAccuracy(), y_true, logits, sw)
    np.testing.assert_array_equal(
        _np(ck.metrics.sparse_categorical_accuracy(y_true, logits)),
        _np(tk.metrics.sparse_categorical_accuracy(y_true, logits)),
    )


def _seq_model(K, time_distributed, activation):
    dense = K.layers.Dense(C, activation=activation)
    top = K.layers.TimeDistributed(dense) if time_distributed else dense
    return K.Sequential([K.Input((T, 2)), top])


def _fit_pair(make, loss, x, y, sw_ours=None, sw_ref=None, metrics=None, epochs=2, seed=0):
    """Fit the same model (same initial weights) in both libraries; histories and weights."""
    ours, ref = make(ck), make(tk)
    rng = np.random.default_rng(seed)
    weights = [rng.uniform(-0.5, 0.5, w.shape).astype(w.dtype) for w in ours.get_weights()]
    ours.set_weights(weights)
    ref.set_weights(weights)
    out = []
    for model, K, sw in ((ours, ck, sw_ours), (ref, tk, sw_ref)):
        model.compile(optimizer=K.optimizers.SGD(0.1), loss=loss(K), metrics=metrics)
        hist = model.fit(x, y, sample_weight=sw, epochs=epochs, batch_size=2, shuffle=False,
                         verbose=0)  # fmt: skip
        out.append((hist.history, [_np(w) for w in model.get_weights()]))
    return out


@pytest.mark.parametrize("time_distributed", [False, True])
@pytest.mark.parametrize("from_logits", [True, False])
@pytest.mark.parametrize("ignore_class", [None, 2])
@pytest.mark.parametrize("weights", [None, "N", "NT"])
def test_sequence_model_fit_matches_keras(time_distributed, from_logits, ignore_class, weights):
    rng, labels, _, _ = _seq_data(4)
    x = rng.normal(size=(N, T, 2)).astype("float32")
    sw = {None: None, "N": rng.uniform(0.5, 2, N), "NT": rng.uniform(0.5, 2, (N, T))}[weights]
    # (N,) weights: Keras is given them repeated over the time axis (see above)
    sw_ref = np.repeat(sw[:, None], T, axis=1) if weights == "N" else sw
    (h_ours, w_ours), (h_ref, w_ref) = _fit_pair(
        lambda K: _seq_model(K, time_distributed, None if from_logits else "softmax"),
        lambda K: K.losses.SparseCategoricalCrossentropy(from_logits=from_logits,
                                                         ignore_class=ignore_class),
        x, labels, sw, sw_ref, metrics=["sparse_categorical_accuracy"],
    )  # fmt: skip
    assert set(h_ours) == set(h_ref) == {"loss", "sparse_categorical_accuracy"}
    for key in h_ref:
        np.testing.assert_allclose(h_ours[key], h_ref[key], rtol=1e-5, atol=1e-6, err_msg=key)
    for a, b in zip(w_ours, w_ref, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("loss", ["sparse_categorical_crossentropy", "fn"])
@pytest.mark.parametrize("label_rank", [2, 3])
def test_sequence_fit_string_and_function_losses(loss, label_rank):
    rng, labels, _, _ = _seq_data(5)
    x = rng.normal(size=(N, T, 2)).astype("float32")
    y = labels if label_rank == 2 else labels[..., None]
    (h_ours, _), (h_ref, _) = _fit_pair(
        lambda K: _seq_model(K, False, "softmax"),
        lambda K: K.losses.sparse_categorical_crossentropy if loss == "fn" else loss,
        x, y, metrics=["accuracy"],
    )  # fmt: skip
    assert set(h_ours) == set(h_ref)
    for key in h_ref:
        np.testing.assert_allclose(h_ours[key], h_ref[key], rtol=1e-5, atol=1e-6, err_msg=key)


# -- 2. float64: the loss's dtype ------------------------------------------------------------

_CLASSES = [
    ("MeanSquaredError", {}, "reg"),
    ("MeanAbsoluteError", {}, "reg"),
    ("Huber", {}, "reg"),
    ("BinaryCrossentropy", {}, "bin"),
    ("CategoricalCrossentropy", {"from_logits": True}, "cat"),
    ("SparseCategoricalCrossentropy", {}, "sparse"),
    ("SparseCategoricalCrossentropy", {"from_logits": True, "ignore_class": 1}, "sparse"),
]


def _inputs(kind, dtype, seed=6):
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(6, 4))
    p = rng.uniform(0.05, 0.95, (6, 4))
    y = rng.integers(0, 4, 6)
    y_true, y_pred = {
        "reg": (rng.normal(size=(6, 4)), a),
        "bin": ((rng.uniform(size=(6, 4)) > 0.5) * 1.0, p),
        "cat": (np.eye(4)[y], a),
        "sparse": (y, p / p.sum(-1, keepdims=True)),
    }[kind]
    return (y_true if kind == "sparse" else y_true.astype(dtype)), y_pred.astype(dtype)


@pytest.mark.parametrize("name,kw,kind", _CLASSES, ids=lambda v: str(v))
@pytest.mark.parametrize("reduction", ["sum_over_batch_size", "sum", "mean_with_sample_weight",
                                       None])  # fmt: skip
@pytest.mark.parametrize("loss_dtype", [None, "float64", "float16"])
def test_loss_class_dtype_on_float64_inputs(name, kw, kind, reduction, loss_dtype):
    y_true, y_pred = _inputs(kind, "float64")
    sw = np.linspace(0.5, 2.0, 6)
    ours = getattr(ck.losses, name)(reduction=reduction, dtype=loss_dtype, **kw)
    ref = getattr(tk.losses, name)(reduction=reduction, dtype=loss_dtype, **kw)
    for weights in (None, sw):
        got = _np(ours(y_true, y_pred, sample_weight=weights))
        want = _np(ref(y_true, y_pred, sample_weight=weights))
        # float64 gives float32 for the divided reductions, as Keras's divide_no_nan does
        assert got.dtype == want.dtype, (got.dtype, want.dtype)
        tol = {"float16": 2e-3, "float32": 2e-6, "float64": 2e-6}[str(want.dtype)]
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol * 1e-2)


@pytest.mark.parametrize("name", ["mean_squared_error", "mean_absolute_error", "huber",
                                  "categorical_crossentropy", "binary_crossentropy"])  # fmt: skip
def test_loss_functions_keep_float64(name):
    kind = {"categorical_crossentropy": "cat", "binary_crossentropy": "bin"}.get(name, "reg")
    y_true, y_pred = _inputs(kind, "float64")
    got = _np(getattr(ck.losses, name)(y_true, y_pred))
    ref = _np(getattr(tk.losses, name)(y_true, y_pred))
    assert got.dtype == ref.dtype == np.float64
    # (Keras's torch means of float64 run in float32: its values agree to float32 rounding)
    np.testing.assert_allclose(got, ref, rtol=2e-6)


def _dense_model(K, dtype, activation=None):
    return K.Sequential([K.Input((3,)), K.layers.Dense(5, activation="tanh", dtype=dtype),
                         K.layers.Dense(4, activation=activation, dtype=dtype)])  # fmt: skip


_FIT_LOSSES = {
    "sparse_logits": (lambda K: K.losses.SparseCategoricalCrossentropy(from_logits=True), None),
    "sparse_string": (lambda K: "sparse_categorical_crossentropy", "softmax"),
    "mse_string": (lambda K: "mse", None),
    "mse_float64_loss": (lambda K: K.losses.MeanSquaredError(dtype="float64"), None),
    "mse_function": (lambda K: K.losses.mean_squared_error, None),
}


@pytest.mark.parametrize("loss_key", sorted(_FIT_LOSSES))
def test_float64_model_fit_matches_keras(loss_key):
    loss, activation = _FIT_LOSSES[loss_key]
    rng = np.random.default_rng(7)
    x = rng.normal(size=(8, 3)).astype("float32")
    y = rng.integers(0, 4, 8) if "sparse" in loss_key else rng.normal(size=(8, 4))
    (h_ours, w_ours), (h_ref, w_ref) = _fit_pair(
        lambda K: _dense_model(K, "float64", activation), loss, x, y)
    assert all(w.dtype == np.float64 for w in w_ours)
    np.testing.assert_allclose(h_ours["loss"], h_ref["loss"], rtol=1e-6)
    assert all(type(v) is float for v in h_ours["loss"])
    for a, b in zip(w_ours, w_ref, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    # the loss fit differentiates: float32, as Keras's
    for K, model in ((ck, _dense_model(ck, "float64", activation)),
                     (tk, _dense_model(tk, "float64", activation))):  # fmt: skip
        model.compile(optimizer="sgd", loss=loss(K))
        value = model.compute_loss(x[:4], y[:4], model(x[:4]))
        assert str(value.dtype).endswith("float32"), (K.__name__, value.dtype)


# -- 3. float16 -------------------------------------------------------------------------------


@pytest.mark.parametrize("name,kw,kind", _CLASSES, ids=lambda v: str(v))
def test_float16_inputs_to_loss_classes_are_reduced_in_float32(name, kw, kind):
    y_true, y_pred = _inputs(kind, "float16", seed=8)
    got = _np(getattr(ck.losses, name)(**kw)(y_true, y_pred))
    ref = _np(getattr(tk.losses, name)(**kw)(y_true, y_pred))
    assert got.dtype == ref.dtype == np.float32
    np.testing.assert_allclose(got, ref, rtol=1e-6)


@pytest.mark.parametrize("name", ["mean_absolute_error", "mean_absolute_percentage_error",
                                  "huber", "hinge", "squared_hinge", "poisson",
                                  "categorical_crossentropy", "sparse_categorical_crossentropy"])
def test_float16_function_forms_average_in_float32(name):
    # Keras's torch mean runs float16 in float32 and rounds once: bit for bit the same
    rng = np.random.default_rng(9)
    y_pred = rng.uniform(0.01, 0.99, (400, 5)).astype("float16")
    labels = rng.integers(0, 5, 400)
    y_true = (labels if name.startswith("sparse") else
              np.eye(5)[labels] if name.startswith("categorical")
              else rng.uniform(0.01, 0.99, (400, 5))).astype("float16")  # fmt: skip
    got = _np(getattr(ck.losses, name)(y_true, y_pred))
    ref = _np(getattr(tk.losses, name)(y_true, y_pred))
    assert got.dtype == ref.dtype == np.float16
    np.testing.assert_array_equal(got, ref)


@pytest.mark.parametrize("name", ["categorical_crossentropy", "sparse_categorical_crossentropy"])
def test_float16_cross_entropy_from_logits(name):
    rng = np.random.default_rng(10)
    logits = (rng.normal(size=(2000, 5)) * 3).astype("float16")
    labels = rng.integers(0, 5, 2000)
    y_true = labels if name.startswith("sparse") else np.eye(5, dtype="float16")[labels]
    got = _np(getattr(ck.losses, name)(y_true, logits, from_logits=True))
    ref = _np(getattr(tk.losses, name)(y_true, logits, from_logits=True))
    assert got.dtype == ref.dtype == np.float16
    # ours is the float64 value rounded to float16 (through float32: a tie may round the other
    # way, within one float16 ulp)
    l64 = logits.astype("float64")
    exact = np.log(np.exp(l64).sum(-1)) - l64[np.arange(2000), labels]
    assert np.mean(got != exact.astype("float16")) < 0.01
    assert np.all(np.abs(got - exact) <= np.spacing(exact.astype("float16")))
    # torch's float16 log_softmax is off by up to ~1.2 float16 ulps of the row's largest logit
    ulp = np.spacing(np.abs(logits).max(-1)).astype("float64")
    assert np.all(np.abs(got.astype("float64") - ref) <= 2 * ulp)


@pytest.mark.parametrize("reduction", ["sum_over_batch_size", "sum", "mean_with_sample_weight",
                                       None])  # fmt: skip
@pytest.mark.parametrize("name", ["MeanAbsoluteError", "Hinge", "Poisson"])
def test_float16_loss_dtype_reductions(name, reduction):
    rng = np.random.default_rng(11)
    y_true = rng.uniform(0.01, 0.99, (300, 4)).astype("float16")
    y_pred = rng.uniform(0.01, 0.99, (300, 4)).astype("float16")
    sw = rng.uniform(0.5, 2.0, 300).astype("float16")
    for weights in (None, sw):
        got = _np(getattr(ck.losses, name)(reduction=reduction, dtype="float16")(
            y_true, y_pred, sample_weight=weights))
        ref = _np(getattr(tk.losses, name)(reduction=reduction, dtype="float16")(
            y_true, y_pred, sample_weight=weights))
        assert got.dtype == ref.dtype == np.float16
        np.testing.assert_array_equal(got, ref)


@pytest.mark.parametrize("loss_key", ["sparse_logits", "sparse_string", "mse_function"])
def test_float16_model_fit_close_to_keras(loss_key):
    loss, activation = _FIT_LOSSES[loss_key]
    rng = np.random.default_rng(12)
    x = rng.normal(size=(8, 3)).astype("float32")
    y = rng.integers(0, 4, 8) if "sparse" in loss_key else rng.normal(size=(8, 4))
    ours = _dense_model(ck, "float16", activation)
    ref = _dense_model(tk, "float16", activation)
    weights = [rng.uniform(-0.5, 0.5, w.shape).astype("float16") for w in ours.get_weights()]
    ours.set_weights(weights)
    ref.set_weights(weights)
    for K, model in ((ck, ours), (tk, ref)):
        model.compile(optimizer=K.optimizers.SGD(0.1), loss=loss(K))
    # the first loss, computed in float32 by both: equal from the same float16 forward (a
    # float16 softmax rounds differently in the core op: within float16 rounding there)
    values = [m.compute_loss(x, y, m(x)) for m in (ours, ref)]
    assert [str(v.dtype)[-7:] for v in values] == ["float32", "float32"]
    np.testing.assert_allclose(_np(values[0]), _np(values[1]), rtol=1e-3 if activation else 0)
    h_ours = ours.fit(x, y, epochs=2, batch_size=4, shuffle=False, verbose=0).history["loss"]
    h_ref = ref.fit(x, y, epochs=2, batch_size=4, shuffle=False, verbose=0).history["loss"]
    # (float16 gradients of the hidden layer round differently in the last bit: NumPy's float16
    # tanh and matmul against torch's; the weights stay within a few float16 ulps)
    np.testing.assert_allclose(h_ours, h_ref, rtol=1e-3)
    for a, b in zip(ours.get_weights(), ref.get_weights(), strict=True):
        assert a.dtype == np.float16
        np.testing.assert_allclose(a.astype("float64"), _np(b), atol=2e-3)


def test_compute_loss_is_float32_for_a_float16_loss():
    x = np.ones((4, 3), "float32")
    y = np.zeros((4, 4), "float32")
    model = _dense_model(ck, None)
    model.compile(optimizer="sgd", loss=ck.losses.MeanSquaredError(dtype="float16"))
    assert model.compute_loss(x, y, model(x)).dtype == np.float32  # Keras: float32


# -- 4. Keras masks through merge and normalization layers -----------------------------------

V, S, E, U = 12, 6, 4, 5


def _tokens(seed=13):
    rng = np.random.default_rng(seed)
    x1, x2 = rng.integers(1, V, (8, S)), rng.integers(1, V, (8, S))
    for i in range(8):
        x1[i, S - 1 - i % 3:] = 0
        x2[i, : i % 2] = 0
        x2[i, S - 1 - i % 4:] = 0
    x1[7] = 0  # a sample with every step masked in one branch
    return x1, x2, rng.integers(0, 3, 8)


def _two_branch(K, merge, between=None, second_masked=True, **merge_kw):
    a, b = K.Input((S,), dtype="int32"), K.Input((S,), dtype="int32")
    ha = K.layers.LSTM(U, return_sequences=True, name="la")(
        K.layers.Embedding(V, E, mask_zero=True, name="ea")(a))
    hb = K.layers.LSTM(U, return_sequences=True, name="lb")(
        K.layers.Embedding(V, E, mask_zero=second_masked, name="eb")(b))
    h = getattr(K.layers, merge)(**merge_kw)([ha, hb])
    if between is not None:
        h = between(K)(h)
    out = K.layers.Dense(3, name="d")(K.layers.LSTM(U, name="lc")(h))
    return K.Model([a, b], out)


def _by_path(model):
    return {v.path.split("/")[0] + "/" + v.path.split("/")[-1]: v for v in model.weights}


def _check_masked_model(make, fit=True):
    """Predictions and a two-epoch fit of ``make(K)`` from the same weights in both."""
    x1, x2, y = _tokens()
    ours, ref = make(ck), make(tk)
    rng = np.random.default_rng(14)
    mine, theirs = _by_path(ours), _by_path(ref)
    assert set(mine) == set(theirs)
    for key, var in mine.items():
        low = 0.1 if "variance" in key else -0.5
        value = rng.uniform(low, 0.5, var.shape).astype("float32")
        var.assign(value)
        theirs[key].assign(value)
    np.testing.assert_allclose(ours.predict([x1, x2], verbose=0),
                               ref.predict([x1, x2], verbose=0), rtol=1e-5, atol=1e-6)  # fmt: skip
    if not fit:
        return
    hists = []
    for model, K in ((ours, ck), (ref, tk)):
        model.compile(optimizer=K.optimizers.SGD(0.1),
                      loss=K.losses.SparseCategoricalCrossentropy(from_logits=True))  # fmt: skip
        hists.append(model.fit([x1, x2], y, epochs=2, batch_size=4, shuffle=False,
                               verbose=0).history["loss"])  # fmt: skip
    np.testing.assert_allclose(hists[0], hists[1], rtol=1e-5)
    for key, var in _by_path(ours).items():
        np.testing.assert_allclose(_np(var), _np(_by_path(ref)[key]), rtol=1e-5, atol=1e-6)


_MERGES = ["Concatenate", "Add", "Average", "Subtract", "Multiply", "Maximum", "Minimum"]


@pytest.mark.parametrize("merge", _MERGES)
@pytest.mark.parametrize("second_masked", [True, False])
def test_merged_lstm_branches_keep_the_mask(merge, second_masked):
    _check_masked_model(lambda K: _two_branch(K, merge, second_masked=second_masked),
                        fit=merge in ("Concatenate", "Add", "Multiply", "Maximum"))  # fmt: skip


@pytest.mark.parametrize("second_masked", [True, False])
def test_concatenate_along_time_joins_the_masks(second_masked):
    _check_masked_model(lambda K: _two_branch(K, "Concatenate", second_masked=second_masked,
                                              axis=1))  # fmt: skip


_BETWEEN = {
    "LayerNormalization": lambda K: K.layers.LayerNormalization(),
    "BatchNormalization": lambda K: K.layers.BatchNormalization(),
    "GroupNormalization": lambda K: K.layers.GroupNormalization(groups=2),
    "Dropout": lambda K: K.layers.Dropout(0.0),
    "SpatialDropout1D": lambda K: K.layers.SpatialDropout1D(0.0),
    "GaussianNoise": lambda K: K.layers.GaussianNoise(0.0),
    "GaussianDropout": lambda K: K.layers.GaussianDropout(0.0),
    "ActivityRegularization": lambda K: K.layers.ActivityRegularization(l2=0.01),
    "Activation": lambda K: K.layers.Activation("tanh"),
    "ReLU": lambda K: K.layers.ReLU(),
    "PReLU": lambda K: K.layers.PReLU(),
}


@pytest.mark.parametrize("between", sorted(_BETWEEN))
def test_layers_between_merge_and_lstm_pass_the_mask(between):
    merge = "Add" if between == "BatchNormalization" else "Concatenate"
    _check_masked_model(lambda K: _two_branch(K, merge, _BETWEEN[between]))


def _masked_pair(K, seed=15):
    """Two eager (8, S, U) tensors carrying the masks of ``_tokens``."""
    x1, x2, _ = _tokens(seed)
    rng = np.random.default_rng(seed)
    emb = rng.normal(size=(V, U)).astype("float32")
    out = []
    for x in (x1, x2):
        layer = K.layers.Embedding(V, U, mask_zero=True)
        layer.build((None, S))
        layer.set_weights([emb])
        out.append(layer(x))
    return out


@pytest.mark.parametrize("merge", _MERGES + ["Dot"])
def test_merge_output_masks_equal_keras(merge):
    kw = {"axes": 2} if merge == "Dot" else {}
    ours = getattr(ck.layers, merge)(**kw)(_masked_pair(ck))
    ref = getattr(tk.layers, merge)(**kw)(_masked_pair(tk))
    np.testing.assert_allclose(_np(ours), _np(ref), rtol=1e-6, atol=1e-7)
    ref_mask = getattr(ref, "_keras_mask", None)
    if ref_mask is None:
        assert getattr(ours, "_keras_mask", None) is None
    else:
        np.testing.assert_array_equal(ours._keras_mask, _np(ref_mask))
    # compute_mask, as Keras's (masks given explicitly; None for the second input)
    masks = [t._keras_mask for t in _masked_pair(ck)]
    ours_m = getattr(ck.layers, merge)(**kw).compute_mask(_masked_pair(ck), [masks[0], None])
    ref_m = getattr(tk.layers, merge)(**kw).compute_mask(
        _masked_pair(tk), [torch.tensor(masks[0]), None])
    assert (ours_m is None) == (ref_m is None)
    if ref_m is not None:
        np.testing.assert_array_equal(ours_m, _np(ref_m))


def test_merge_compute_mask_errors():
    pair = _masked_pair(ck)
    with pytest.raises(ValueError, match="should be lists"):
        ck.layers.Add().compute_mask(pair, pair[0]._keras_mask)
    with pytest.raises(ValueError, match="same length"):
        ck.layers.Concatenate().compute_mask(pair, [None])


def test_batch_normalization_uses_the_input_mask_for_its_statistics():
    ours, ref = [K.layers.BatchNormalization(momentum=0.5) for K in (ck, tk)]
    x_ours, x_ref = _masked_pair(ck)[0], _masked_pair(tk)[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got, want = ours(x_ours, training=True), ref(x_ref, training=True)
    np.testing.assert_allclose(_np(got), _np(want), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(got._keras_mask, _np(want._keras_mask))
    for a, b in zip(ours.get_weights(), ref.get_weights(), strict=True):
        np.testing.assert_allclose(a, _np(b), rtol=1e-5, atol=1e-6)


def test_a_layer_that_casts_its_input_keeps_the_mask_as_keras():
    # Embedding (float32) -> SimpleRNN(dtype="float64"): the cast to float64 kept no mask
    tokens = np.array([[3, 5, 0, 0], [7, 0, 0, 0]])
    outs = []
    for k in (ck, tk):
        model = k.Sequential([
            k.Input((4,), dtype="int32"),
            k.layers.Embedding(9, 3, mask_zero=True, embeddings_initializer="ones"),
            k.layers.SimpleRNN(2, dtype="float64", kernel_initializer="ones",
                               recurrent_initializer=k.initializers.Identity(0.5)),
        ])  # fmt: skip
        outs.append(np.asarray(model.predict(tokens, verbose=0), dtype="float64"))
    np.testing.assert_allclose(outs[0], outs[1], rtol=1e-6)
