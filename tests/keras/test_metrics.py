"""keras.metrics against real Keras 3.15.1 (torch backend): results batch by batch, with and
without sample weights, reset, per-sample functions, names, the compile-time ``accuracy``
rule, serialization, and bad input."""

import os
import zlib

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras as tk  # noqa: E402  (real Keras, the reference)
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from keras.src.backend.common import global_state as tk_global_state  # noqa: E402
from keras.src.trainers import compile_utils as tk_compile  # noqa: E402

import chainrule as cr  # noqa: E402
from chainrule.keras import metrics as M  # noqa: E402

KM = tk.metrics
RTOL = 1e-6
BATCHES = (7, 5, 3)  # uneven sizes, so a mean of batch means would differ from the true mean


def _np(x):
    return np.asarray(x.detach().cpu().numpy() if hasattr(x, "detach") else x)


# -- data makers: (y_true, y_pred) for one batch of n samples ------------------------------------
def _binary(rng, n):
    return rng.integers(0, 2, (n, 1)).astype("float32"), rng.uniform(0, 1, (n, 1)).astype("f4")


def _binary_flat(rng, n):
    return rng.integers(0, 2, (n,)).astype("float32"), rng.uniform(0, 1, (n, 1)).astype("f4")


def _probs(rng, n, c=5):
    z = rng.normal(size=(n, c))
    return (np.exp(z) / np.exp(z).sum(-1, keepdims=True)).astype("float32")


def _onehot(rng, n, c=5):
    return np.eye(c, dtype="float32")[rng.integers(0, c, n)], _probs(rng, n, c)


def _sparse(rng, n, c=5):
    return rng.integers(0, c, (n,)), _probs(rng, n, c)


def _sparse_col(rng, n, c=5):
    return rng.integers(0, c, (n, 1)), _probs(rng, n, c)


def _logits(rng, n, c=5):
    return np.eye(c, dtype="float32")[rng.integers(0, c, n)], rng.normal(0, 3, (n, c)).astype("f4")


def _regress(rng, n):
    return rng.normal(size=(n, 3)).astype("float32"), rng.normal(size=(n, 3)).astype("float32")


def _positive(rng, n):
    return rng.uniform(0.1, 3, (n, 3)).astype("float32"), rng.uniform(0.1, 3, (n, 3)).astype("f4")


def _regress_flat(rng, n):  # (N,) targets against (N, 1) predictions: Keras aligns, not (N, N)
    return rng.normal(size=(n,)).astype("float32"), rng.normal(size=(n, 1)).astype("float32")


def _exact(rng, n):
    return rng.integers(0, 3, (n, 1)), rng.integers(0, 3, (n, 1)).astype("float32")


def _pm_one(rng, n):
    return rng.choice([-1.0, 1.0], (n, 4)).astype("f4"), rng.normal(size=(n, 4)).astype("f4")


def _zero_one_hinge(rng, n):
    return rng.integers(0, 2, (n, 4)).astype("f4"), rng.normal(size=(n, 4)).astype("f4")


def _multilabel(rng, n):
    return rng.integers(0, 2, (n, 3)).astype("f4"), rng.uniform(0, 1, (n, 3)).astype("f4")


def _binary_logits(rng, n):
    return rng.integers(0, 2, (n, 1)).astype("f4"), rng.normal(0, 3, (n, 1)).astype("f4")


# (id, our factory, Keras factory, data maker)
STREAM_CASES = [
    ("accuracy", lambda: M.Accuracy(), lambda: KM.Accuracy(), _exact),
    ("binary_accuracy", lambda: M.BinaryAccuracy(), lambda: KM.BinaryAccuracy(), _binary),
    ("binary_accuracy_flat", lambda: M.BinaryAccuracy(), lambda: KM.BinaryAccuracy(),
     _binary_flat),
    ("binary_accuracy_t0.7", lambda: M.BinaryAccuracy(threshold=0.7),
     lambda: KM.BinaryAccuracy(threshold=0.7), _binary),
    ("categorical_accuracy", lambda: M.CategoricalAccuracy(), lambda: KM.CategoricalAccuracy(),
     _onehot),
    ("sparse_cat_acc", lambda: M.SparseCategoricalAccuracy(),
     lambda: KM.SparseCategoricalAccuracy(), _sparse),
    ("sparse_cat_acc_col", lambda: M.SparseCategoricalAccuracy(),
     lambda: KM.SparseCategoricalAccuracy(), _sparse_col),
    ("top_k", lambda: M.TopKCategoricalAccuracy(k=2), lambda: KM.TopKCategoricalAccuracy(k=2),
     _onehot),
    ("sparse_top_k", lambda: M.SparseTopKCategoricalAccuracy(k=3),
     lambda: KM.SparseTopKCategoricalAccuracy(k=3), _sparse),
    ("mse", lambda: M.MeanSquaredError(), lambda: KM.MeanSquaredError(), _regress),
    ("mse_flat", lambda: M.MeanSquaredError(), lambda: KM.MeanSquaredError(), _regress_flat),
    ("mae", lambda: M.MeanAbsoluteError(), lambda: KM.MeanAbsoluteError(), _regress),
    ("mape", lambda: M.MeanAbsolutePercentageError(), lambda: KM.MeanAbsolutePercentageError(),
     _regress),
    ("msle", lambda: M.MeanSquaredLogarithmicError(), lambda: KM.MeanSquaredLogarithmicError(),
     _positive),
    ("rmse", lambda: M.RootMeanSquaredError(), lambda: KM.RootMeanSquaredError(), _regress),
    ("rmse_flat", lambda: M.RootMeanSquaredError(), lambda: KM.RootMeanSquaredError(),
     _regress_flat),
    ("cosine", lambda: M.CosineSimilarity(), lambda: KM.CosineSimilarity(), _regress),
    ("logcosh", lambda: M.LogCoshError(), lambda: KM.LogCoshError(), _regress),
    ("hinge", lambda: M.Hinge(), lambda: KM.Hinge(), _pm_one),
    ("hinge01", lambda: M.Hinge(), lambda: KM.Hinge(), _zero_one_hinge),
    ("squared_hinge", lambda: M.SquaredHinge(), lambda: KM.SquaredHinge(), _zero_one_hinge),
    ("categorical_hinge", lambda: M.CategoricalHinge(), lambda: KM.CategoricalHinge(), _onehot),
    ("kld", lambda: M.KLDivergence(), lambda: KM.KLDivergence(), lambda r, n: (
        _probs(r, n), _probs(r, n))),
    ("poisson", lambda: M.Poisson(), lambda: KM.Poisson(), _positive),
    ("bce", lambda: M.BinaryCrossentropy(), lambda: KM.BinaryCrossentropy(), _binary),
    ("bce_logits_ls", lambda: M.BinaryCrossentropy(from_logits=True, label_smoothing=0.1),
     lambda: KM.BinaryCrossentropy(from_logits=True, label_smoothing=0.1), _binary_logits),
    ("cce", lambda: M.CategoricalCrossentropy(), lambda: KM.CategoricalCrossentropy(), _onehot),
    ("cce_logits_ls", lambda: M.CategoricalCrossentropy(from_logits=True, label_smoothing=0.2),
     lambda: KM.CategoricalCrossentropy(from_logits=True, label_smoothing=0.2), _logits),
    ("scce", lambda: M.SparseCategoricalCrossentropy(),
     lambda: KM.SparseCategoricalCrossentropy(), _sparse),
    ("scce_logits", lambda: M.SparseCategoricalCrossentropy(from_logits=True),
     lambda: KM.SparseCategoricalCrossentropy(from_logits=True),
     lambda r, n: (r.integers(0, 5, (n, 1)), r.normal(0, 3, (n, 5)).astype("f4"))),
    ("scce_ignore", lambda: M.SparseCategoricalCrossentropy(ignore_class=2),
     lambda: KM.SparseCategoricalCrossentropy(ignore_class=2), _sparse),
    ("tp", lambda: M.TruePositives(), lambda: KM.TruePositives(), _binary),
    ("fp", lambda: M.FalsePositives(thresholds=[0.2, 0.6]),
     lambda: KM.FalsePositives(thresholds=[0.2, 0.6]), _binary),
    ("tn", lambda: M.TrueNegatives(), lambda: KM.TrueNegatives(), _multilabel),
    ("fn", lambda: M.FalseNegatives(), lambda: KM.FalseNegatives(), _binary),
    ("precision", lambda: M.Precision(), lambda: KM.Precision(), _binary),
    ("precision_thr", lambda: M.Precision(thresholds=[0.3, 0.6]),
     lambda: KM.Precision(thresholds=[0.3, 0.6]), _multilabel),
    ("precision_even", lambda: M.Precision(thresholds=[0.0, 0.25, 0.5, 0.75, 1.0]),
     lambda: KM.Precision(thresholds=[0.0, 0.25, 0.5, 0.75, 1.0]), _binary),
    ("precision_topk", lambda: M.Precision(top_k=2), lambda: KM.Precision(top_k=2), _multilabel),
    ("precision_class", lambda: M.Precision(class_id=1), lambda: KM.Precision(class_id=1),
     _multilabel),
    ("recall", lambda: M.Recall(), lambda: KM.Recall(), _binary),
    ("recall_topk_class", lambda: M.Recall(top_k=1, class_id=2),
     lambda: KM.Recall(top_k=1, class_id=2), _onehot),
    ("recall_thr", lambda: M.Recall(thresholds=[0.1, 0.9]),
     lambda: KM.Recall(thresholds=[0.1, 0.9]), _multilabel),
    ("auc", lambda: M.AUC(), lambda: KM.AUC(), _binary),
    ("auc_flat", lambda: M.AUC(), lambda: KM.AUC(), _binary_flat),
    ("auc_pr", lambda: M.AUC(curve="PR"), lambda: KM.AUC(curve="PR"), _binary),
    ("auc_roc_minoring", lambda: M.AUC(summation_method="minoring"),
     lambda: KM.AUC(summation_method="minoring"), _multilabel),
    ("auc_pr_majoring", lambda: M.AUC(curve="PR", summation_method="majoring"),
     lambda: KM.AUC(curve="PR", summation_method="majoring"), _binary),
    ("auc_prgain", lambda: M.AUC(curve="PRGAIN"), lambda: KM.AUC(curve="PRGAIN"), _binary),
    ("auc_thresholds", lambda: M.AUC(thresholds=[0.1, 0.35, 0.5, 0.8]),
     lambda: KM.AUC(thresholds=[0.1, 0.35, 0.5, 0.8]), _binary),
    ("auc_20_logits", lambda: M.AUC(num_thresholds=20, from_logits=True),
     lambda: KM.AUC(num_thresholds=20, from_logits=True), _binary_logits),
    ("auc_multilabel", lambda: M.AUC(multi_label=True), lambda: KM.AUC(multi_label=True),
     _multilabel),
    ("auc_multilabel_pr_lw", lambda: M.AUC(multi_label=True, curve="PR", label_weights=[1, 2, 0]),
     lambda: KM.AUC(multi_label=True, curve="PR", label_weights=[1, 2, 0]), _multilabel),
    ("auc_label_weights", lambda: M.AUC(label_weights=[0.5, 2.0, 1.0]),
     lambda: KM.AUC(label_weights=[0.5, 2.0, 1.0]), _multilabel),
]  # fmt: skip


def _assert_close(ours, ref, msg="", atol=1e-12):
    ref = _np(ref)
    assert isinstance(ours, float) if ref.ndim == 0 else isinstance(ours, np.ndarray), type(ours)
    np.testing.assert_allclose(ours, ref, rtol=RTOL, atol=atol, err_msg=msg)


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("case", STREAM_CASES, ids=[c[0] for c in STREAM_CASES])
def test_results_match_keras_batch_by_batch(case, weighted):
    _, ours_factory, ref_factory, make = case
    ours, ref = ours_factory(), ref_factory()
    rng = np.random.default_rng(zlib.crc32(case[0].encode()))
    batches = []
    for n in BATCHES:
        y_true, y_pred = make(rng, n)
        sw = rng.uniform(0, 2, n).astype("float32") if weighted else None
        if weighted:
            sw[0] = 0.0  # a masked sample
        batches.append((y_true, y_pred, sw))
    # NOTE: PRGAIN sums terms of both signs; Keras's own float32 result is only good to about
    # 1e-6 absolute there (checked against a float64 evaluation of the same counts).
    atol = 2e-6 if "prgain" in case[0] else 1e-12
    for i, (y_true, y_pred, sw) in enumerate(batches):
        ours.update_state(y_true, y_pred, sample_weight=sw)
        ref.update_state(y_true, y_pred, sample_weight=sw)
        _assert_close(ours.result(), ref.result(), f"after batch {i}", atol)
    # The state arrays match Keras's variables, in order.
    assert len(ours.variables) == len(ref.variables)
    for a, b in zip(ours.variables, ref.variables, strict=True):
        b = _np(b.value)
        # NOTE: tn/fn are totals minus counts; where they are 0 both sides keep float32
        # cancellation noise of about one ulp of the largest count.
        np.testing.assert_allclose(a, b, rtol=RTOL, atol=1e-6 * max(1.0, np.abs(b).max()))
    ours.reset_state()
    ref.reset_state()
    assert all(not np.any(v) for v in ours.variables)
    y_true, y_pred, sw = batches[-1]
    ours.update_state(y_true, y_pred, sample_weight=sw)
    ref.update_state(y_true, y_pred, sample_weight=sw)
    _assert_close(ours.result(), ref.result(), "after reset")


def test_mean_and_sum_match_keras_with_2d_weights():
    rng = np.random.default_rng(1)
    for ours, ref in [(M.Mean(), KM.Mean()), (M.Sum(), KM.Sum())]:
        for shape, w_shape in [((6, 4), (6,)), ((5, 3), (5, 3)), ((4,), None), ((3, 2, 2), (3, 2))]:
            v = rng.normal(size=shape).astype("float32")
            w = None if w_shape is None else rng.uniform(0, 1, w_shape).astype("float32")
            ours.update_state(v, sample_weight=w)
            ref.update_state(v, sample_weight=w)
            # NOTE: signed sums cancel; float32 summation order differs by ~1e-7 absolute.
            _assert_close(ours.result(), ref.result(), f"{type(ours).__name__} {shape}", 1e-6)
        ours.update_state(2.5)  # a scalar counts as one value
        ref.update_state(2.5)
        _assert_close(ours.result(), ref.result(), atol=1e-6)


def test_weighted_mean_is_sum_vw_over_sum_w():
    v = np.array([1.0, 3.0, 5.0, 7.0])
    w = np.array([0.5, 1.0, 0.0, 2.0])
    m = M.Mean()
    m.update_state(v[:2], sample_weight=w[:2])
    m.update_state(v[2:], sample_weight=w[2:])
    assert m.result() == pytest.approx(float((v * w).sum() / w.sum()), rel=1e-6)


def test_rmse_is_root_of_the_mean_over_all_batches():
    m = M.RootMeanSquaredError()
    m.update_state([[0.0], [0.0], [0.0]], [[1.0], [1.0], [1.0]])  # squared errors 1, 1, 1
    m.update_state([[0.0]], [[3.0]])  # squared error 9
    assert m.result() == pytest.approx(np.sqrt(12 / 4), rel=1e-6)  # not mean(1, 3) = 2


def test_mean_metric_wrapper_matches_keras_with_custom_fn_and_tensors():
    def fn(y_true, y_pred, scale=1.0):
        return scale * np.abs(np.asarray(y_true) - np.asarray(y_pred)).max(axis=-1)

    ours = M.MeanMetricWrapper(fn, name="maxerr", scale=2.0)
    ref = KM.MeanMetricWrapper(lambda t, p, scale: fn(_np(t), _np(p), scale), name="maxerr",
                               scale=2.0)  # fmt: skip
    rng = np.random.default_rng(2)
    for n in BATCHES:
        y_true, y_pred = _regress(rng, n)
        ours.update_state(cr.tensor(y_true), cr.tensor(y_pred))  # chainrule Tensors accepted
        ref.update_state(y_true, y_pred)
        _assert_close(ours.result(), ref.result())
    assert ours.name == "maxerr"


# -- per-sample functions -----------------------------------------------------------------------
FUNCTION_CASES = [
    ("binary_accuracy", {}, _binary),
    ("binary_accuracy", {"threshold": 0.3}, _binary_flat),
    ("categorical_accuracy", {}, _onehot),
    ("sparse_categorical_accuracy", {}, _sparse_col),
    ("top_k_categorical_accuracy", {"k": 2}, _onehot),
    ("sparse_top_k_categorical_accuracy", {}, lambda r, n: _sparse(r, n, 8)),
    ("mean_squared_error", {}, _regress),
    ("mean_squared_error", {}, _regress_flat),
    ("mean_absolute_error", {}, _regress),
    ("mean_absolute_percentage_error", {}, _regress),
    ("mean_squared_logarithmic_error", {}, _regress),
    ("log_cosh", {}, _regress),
    ("huber", {"delta": 0.7}, _regress),
    ("hinge", {}, _zero_one_hinge),
    ("squared_hinge", {}, _pm_one),
    ("categorical_hinge", {}, _onehot),
    ("kl_divergence", {}, lambda r, n: (_probs(r, n), _probs(r, n))),
    ("poisson", {}, _positive),
    ("binary_crossentropy", {}, _multilabel),
    ("binary_crossentropy", {"from_logits": True, "label_smoothing": 0.2}, _binary_logits),
    ("binary_focal_crossentropy", {"apply_class_balancing": True}, _multilabel),
    ("categorical_crossentropy", {}, _onehot),
    ("categorical_crossentropy", {"from_logits": True, "label_smoothing": 0.1}, _logits),
    ("categorical_focal_crossentropy", {}, _onehot),
    ("sparse_categorical_crossentropy", {}, _sparse),
    ("sparse_categorical_crossentropy", {"from_logits": True}, lambda r, n: (
        r.integers(0, 5, (n,)), r.normal(0, 3, (n, 5)).astype("f4"))),
]  # fmt: skip


@pytest.mark.parametrize("name,kwargs,make", FUNCTION_CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(FUNCTION_CASES)])  # fmt: skip
def test_functions_match_keras(name, kwargs, make):
    y_true, y_pred = make(np.random.default_rng(3), 9)
    ours = getattr(M, name)(y_true, y_pred, **kwargs)
    ref = _np(getattr(KM, name)(y_true, y_pred, **kwargs))
    assert isinstance(ours, np.ndarray) and ours.shape == ref.shape
    np.testing.assert_allclose(ours, ref, rtol=2e-6, atol=1e-6)


def test_batch1_crossentropy_and_shape_cases():
    # Case 01: probabilities exactly 0 or 1 stay finite (Keras's float32 clipping).
    bce = M.binary_crossentropy([[1, 0, 1, 0]], np.array([[1, 0, 0, 1]], "float32"))
    assert bce[0] == pytest.approx(8.01512, rel=1e-5)
    assert M.categorical_crossentropy([[1, 0, 0]], [[0.0, 0.5, 0.5]])[0] == pytest.approx(
        16.1181, rel=1e-5
    )
    assert M.categorical_crossentropy([[1, 0, 0]], [[0.0, 0.0, 0.0]])[0] == pytest.approx(
        16.1181, rel=1e-5
    )  # an all-zero row: no NaN
    assert M.categorical_crossentropy([[1, 0, 0]], [[0.2, 0.2, 0.1]])[0] == pytest.approx(
        0.916291, rel=1e-5
    )  # renormalised
    # Case 06: both label shapes; the sparse metric's mean.
    y_pred = [[0.1, 0.7, 0.2], [0.3, 0.3, 0.4]]
    for y_true in ([1, 2], [[1], [2]]):
        np.testing.assert_allclose(
            M.sparse_categorical_crossentropy(y_true, y_pred), [0.356675, 0.916291], rtol=1e-5
        )
        assert M.SparseCategoricalCrossentropy()(y_true, y_pred) == pytest.approx(0.636483, 1e-5)
    # Case 07: (N,) against (N, 1) is aligned, never broadcast to (N, N).
    y_true, y_pred = [1, 2, 3, 4], [[1.5], [2.5], [2.5], [4.5]]
    np.testing.assert_allclose(M.mean_squared_error(y_true, y_pred), [0.25] * 4, rtol=1e-6)
    np.testing.assert_allclose(M.mean_absolute_error(y_true, y_pred), [0.5] * 4, rtol=1e-6)
    assert M.MeanSquaredError()(y_true, y_pred) == pytest.approx(0.25, rel=1e-6)


# -- names, get, resolve ------------------------------------------------------------------------
def _reset_names():
    """Restart both name counters (Keras's is what ``clear_session`` resets, minus its 1.5 s)."""
    M.reset_name_uids()
    tk_global_state.set_global_attribute("object_name_uids", None)


@pytest.mark.parametrize(
    "identifier",
    ["mae", "MSE", "mape", "msle", "bce", "binary_accuracy", "categorical_crossentropy",
     "kl_divergence", "poisson", "hinge", "AUC", "auc", "Precision", "recall",
     "root_mean_squared_error", "log_cosh_error", "top_k_categorical_accuracy", "Accuracy"],
)  # fmt: skip
def test_get_builds_the_keras_class_with_its_default_name(identifier):
    _reset_names()
    ours, ref = M.get(identifier), KM.get(identifier)
    assert type(ours).__name__ == type(ref).__name__
    assert ours.name == ref.name
    assert ours.get_config() == ref.get_config()


def test_default_names_are_uniquified_like_keras():
    _reset_names()
    ours = [M.Precision().name, M.Precision().name, M.AUC().name, M.Recall().name]
    ref = [KM.Precision().name, KM.Precision().name, KM.AUC().name, KM.Recall().name]
    assert ours == ref == ["precision", "precision_1", "auc", "recall"]


def test_get_passes_functions_instances_and_configs():
    assert M.get(M.binary_accuracy) is M.binary_accuracy
    m = M.AUC(name="my_auc")
    assert M.get(m) is m
    assert M.get(None) is None
    got = M.get({"class_name": "CategoricalCrossentropy", "config": {"from_logits": True}})
    assert isinstance(got, M.CategoricalCrossentropy) and got.from_logits


SHAPES = [
    ((8, 1), (8, 1)),  # binary
    ((8,), (8, 1)),  # binary, flat labels
    ((8,), (8, 4)),  # sparse: lower rank
    ((8, 1), (8, 4)),  # sparse: trailing 1 against > 1
    ((8, 4), (8, 4)),  # categorical
    ((8, 5, 4), (8, 5, 4)),  # categorical, sequence
    ((8, 5), (8, 5, 4)),  # sparse, sequence
]


@pytest.mark.parametrize("identifier", ["accuracy", "acc", "ACC"])
@pytest.mark.parametrize("t_shape,p_shape", SHAPES)
def test_resolve_accuracy_follows_keras_compile_rule(identifier, t_shape, p_shape):
    y_true, y_pred = np.zeros(t_shape), np.zeros(p_shape, "float32")
    ours = M.resolve(identifier, y_true, y_pred, loss="binary_crossentropy")
    ref = tk_compile.get_metric(identifier, y_true, y_pred)
    assert type(ours).__name__ == type(ref).__name__
    assert ours.name == ref.name == identifier


@pytest.mark.parametrize("t_shape,p_shape", SHAPES)
def test_resolve_crossentropy_uses_the_keras_loss_rule(t_shape, p_shape):
    y_true, y_pred = np.zeros(t_shape), np.zeros(p_shape, "float32")
    expected = tk_compile.get_loss("crossentropy", y_true, y_pred).fn.__name__  # the loss rule
    ours = M.resolve("ce", y_true, y_pred)
    assert M.registry.to_snake_case(type(ours).__name__) == expected
    assert ours.name == "ce"


@pytest.mark.parametrize(
    "identifier",
    ["mae", "mse", "AUC", "binary_accuracy", "Precision", "kl_divergence",
     "mean_absolute_percentage_error"],
)  # fmt: skip
def test_resolve_keeps_string_names_like_keras(identifier):
    y = np.zeros((4, 1), "float32")
    ours = M.resolve(identifier, y, y)
    ref = tk_compile.get_metric(identifier, y, y)
    assert type(ours).__name__ == type(ref).__name__ and ours.name == ref.name == identifier


def test_resolve_names_functions_and_instances_like_keras():
    y = np.zeros((4, 1), "float32")
    pairs = [
        (M.mean_squared_error, KM.mean_squared_error),
        (M.binary_accuracy, KM.binary_accuracy),
        (M.Precision(name="p"), KM.Precision(name="p")),
    ]
    for ours_id, ref_id in pairs:
        ours, ref = M.resolve(ours_id, y, y), tk_compile.get_metric(ref_id, y, y)
        assert ours.name == ref.name
        assert isinstance(ours, M.Metric)


def test_history_keys_and_values_match_a_real_keras_evaluate():
    # Multi-label sigmoid outputs with a binary cross-entropy loss: Keras 3 still picks
    # CategoricalAccuracy for "accuracy" (it decides by shapes alone).
    rng = np.random.default_rng(5)
    x = rng.normal(size=(23, 4)).astype("float32")
    y = rng.integers(0, 2, (23, 3)).astype("float32")
    model = tk.Sequential([tk.Input((4,)), tk.layers.Dense(3, activation="sigmoid")])
    ids = ["accuracy", "mae", "AUC", "Precision"]
    model.compile(loss="binary_crossentropy", metrics=[*ids, tk.metrics.mean_squared_error])
    ref = model.evaluate(x, y, batch_size=10, return_dict=True, verbose=0)
    y_pred = _np(model.predict(x, batch_size=10, verbose=0))
    ours = [M.resolve(i, y, y_pred, loss="binary_crossentropy") for i in ids]
    ours.append(M.resolve(M.mean_squared_error, y, y_pred))
    for start in range(0, 23, 10):
        for m in ours:
            m.update_state(y[start : start + 10], y_pred[start : start + 10])
    assert set(ref) == {"loss"} | {m.name for m in ours}
    assert isinstance(ours[0], M.CategoricalAccuracy)
    for m in ours:
        np.testing.assert_allclose(m.result(), ref[m.name], rtol=1e-5, err_msg=m.name)


# -- serialization ------------------------------------------------------------------------------
SERIAL_CASES = [
    (lambda mod: mod.AUC(name="a", curve="PR", num_thresholds=50)),
    (lambda mod: mod.AUC(name="a", thresholds=[0.2, 0.4])),
    (lambda mod: mod.BinaryAccuracy(name="b", threshold=0.3)),
    (lambda mod: mod.Precision(name="p", thresholds=[0.2, 0.7], class_id=1)),
    (lambda mod: mod.SparseCategoricalCrossentropy(name="s", from_logits=True, ignore_class=0)),
    (lambda mod: mod.TopKCategoricalAccuracy(name="t", k=3)),
    (lambda mod: mod.MeanMetricWrapper(mod.mean_squared_error, name="w")),
    (lambda mod: mod.Mean(name="m")),
]


@pytest.mark.parametrize("make", SERIAL_CASES)
def test_serialize_matches_keras_and_round_trips(make):
    ours, ref = make(M), make(KM)
    config = M.serialize(ours)
    assert config == KM.serialize(ref)
    back = M.deserialize(config)
    assert type(back) is type(ours) and back.get_config() == ours.get_config()
    # Real Keras reads our config back too.
    assert KM.deserialize(config).get_config() == ref.get_config()


def test_serialize_functions_like_keras():
    assert M.serialize(M.mean_squared_error) == KM.serialize(KM.mean_squared_error)
    assert M.deserialize(M.serialize(M.hinge)) is M.hinge


# -- bad input ----------------------------------------------------------------------------------
def test_unknown_names_list_the_valid_ones():
    with pytest.raises(ValueError, match="acuracy") as err:
        M.get("acuracy")
    for valid in ("accuracy", "binary_accuracy", "mae", "AUC", "Precision"):
        assert valid in str(err.value)
    with pytest.raises(ValueError, match="not implemented in chainrule"):
        M.get("F1Score")
    with pytest.raises(ValueError, match="acuracy"):
        M.resolve("acuracy", np.zeros((2, 1)), np.zeros((2, 1)))
    with pytest.raises(ValueError, match="None"):
        M.resolve(None, np.zeros((2, 1)), np.zeros((2, 1)))


@pytest.mark.parametrize(
    "fn,t_shape,p_shape",
    [
        (lambda t, p: M.MeanSquaredError().update_state(t, p), (4, 3), (4, 2)),
        (M.mean_absolute_error, (4, 1), (4, 3)),
        (lambda t, p: M.Accuracy().update_state(t, p), (4, 2), (4, 3)),
        (lambda t, p: M.BinaryAccuracy().update_state(t, p), (4, 2), (4, 3)),
        (M.categorical_accuracy, (4,), (4, 3)),
        (lambda t, p: M.SparseCategoricalAccuracy().update_state(t, p), (4, 3), (4, 3)),
        (M.sparse_categorical_crossentropy, (4, 3), (4, 3)),  # one-hot given to the sparse one
        (M.categorical_crossentropy, (4,), (4, 3)),
        (M.kl_divergence, (4, 3), (4, 2)),
        (lambda t, p: M.Precision().update_state(t, p), (4, 2), (4, 3)),
        (lambda t, p: M.AUC().update_state(t, p), (4, 2), (4, 3)),
        (lambda t, p: M.RootMeanSquaredError().update_state(t, p), (4, 2), (4, 3)),
    ],
)
def test_mismatched_shapes_name_both_shapes(fn, t_shape, p_shape):
    with pytest.raises(ValueError) as err:
        fn(np.zeros(t_shape), np.full(p_shape, 0.5))
    msg = str(err.value)
    assert f"y_true.shape={t_shape}" in msg and f"y_pred.shape={p_shape}" in msg, msg


def test_bad_sample_weight_and_labels_are_named():
    with pytest.raises(ValueError, match=r"sample_weight of shape \(3,\).*\(4,\)"):
        M.MeanSquaredError().update_state(np.zeros((4, 2)), np.zeros((4, 2)), np.ones(3))
    y_pred = [[0.1, 0.7, 0.2], [0.3, 0.3, 0.4]]
    for bad in (3, -1):  # Case 06: no NaN and no negative-index wrap-around
        with pytest.raises(ValueError, match=rf"\[0, 3\).*{bad}"):
            M.sparse_categorical_crossentropy([0, bad], y_pred)
        with pytest.raises(ValueError, match=rf"\[0, 3\).*{bad}"):
            M.SparseTopKCategoricalAccuracy(k=1).update_state([0, bad], y_pred)
    with pytest.raises(ValueError, match="k must be a positive integer"):
        M.top_k_categorical_accuracy(np.eye(3), np.eye(3), k=0)


def test_bad_constructor_arguments():
    with pytest.raises(ValueError, match="curve"):
        M.AUC(curve="XY")
    with pytest.raises(ValueError, match="summation"):
        M.AUC(summation_method="sideways")
    with pytest.raises(ValueError, match="num_thresholds"):
        M.AUC(num_thresholds=1)
    with pytest.raises(ValueError, match=r"thresholds must be in \[0, 1\]"):
        M.Precision(thresholds=[0.5, 1.5])
    with pytest.raises(ValueError, match="top_k"):
        M.Recall(top_k=0)
    with pytest.raises(TypeError, match="fn must be callable"):
        M.MeanMetricWrapper("mse")


def test_results_are_python_floats_and_empty_metrics_are_zero():
    assert M.Mean().result() == 0.0 and isinstance(M.Mean().result(), float)
    assert M.AUC().result() == 0.0
    assert isinstance(M.Precision(thresholds=[0.2, 0.5]).result(), np.ndarray)
    assert M.Mean(name="m").variable_paths == ["m/total", "m/count"]
