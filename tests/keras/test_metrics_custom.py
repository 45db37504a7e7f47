"""Custom metrics written as Keras's guides write them (``add_variable``, ``assign_add``,
``keras.ops``), run against real Keras 3.15.1 (torch backend): standalone, in ``fit`` with
validation and in ``evaluate``; their variables; and the errors of ``add_variable``."""

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras as tk  # noqa: E402  (real Keras, the reference)
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from chainrule import keras as ck  # noqa: E402
from chainrule.autodiff.tensor import Tensor  # noqa: E402

BOTH = [ck, tk]


def guide_metrics(keras):
    """Three custom metrics, the same source for both frameworks (``keras`` is either)."""
    ops = keras.ops

    class BinaryTruePositives(keras.metrics.Metric):
        """The Keras guide's metric: result is the state Variable itself."""

        def __init__(self, name="binary_true_positives", **kwargs):
            super().__init__(name=name, **kwargs)
            self.true_positives = self.add_variable(
                shape=(), initializer="zeros", name="true_positives"
            )

        def update_state(self, y_true, y_pred, sample_weight=None):
            y_true = ops.cast(y_true, "bool")
            y_pred = ops.cast(y_pred, "bool")
            values = ops.cast(
                ops.logical_and(ops.equal(y_true, True), ops.equal(y_pred, True)), self.dtype
            )
            if sample_weight is not None:
                sample_weight = ops.cast(sample_weight, self.dtype)
                if len(ops.shape(values)) == 2:
                    sample_weight = ops.expand_dims(sample_weight, -1)
                values = ops.multiply(values, sample_weight)
            self.true_positives.assign_add(ops.sum(values))

        def result(self):
            return self.true_positives

    class PredictedClassShare(keras.metrics.Metric):
        """A vector state with a non-zero initializer (a prior of 0.5 per class) and an int
        counter made with ``add_weight``; reset_state zeroes both, as in Keras."""

        def __init__(self, num_classes=3, name="predicted_class_share", **kwargs):
            super().__init__(name=name, **kwargs)
            self.num_classes = num_classes
            self.counts = self.add_variable(
                shape=(num_classes,),
                initializer=keras.initializers.Constant(0.5),
                name="counts",
            )
            self.seen = self.add_weight(shape=(), initializer="ones", dtype="int32",
                                        name="seen")  # fmt: skip

        def update_state(self, y_true, y_pred, sample_weight=None):
            hits = ops.one_hot(ops.argmax(y_pred, axis=-1), self.num_classes)
            if sample_weight is not None:
                hits = hits * ops.expand_dims(ops.cast(sample_weight, self.dtype), -1)
            self.counts.assign(self.counts + ops.sum(hits, axis=0))
            self.seen.assign_add(ops.shape(y_pred)[0])

        def result(self):
            return ops.divide(ops.max(self.counts), ops.sum(self.counts))

    class BinaryF1(keras.metrics.Metric):
        """A computed Tensor result from three scalar states (a callable initializer, a
        named one, an Initializer object)."""

        def __init__(self, threshold=0.5, name="binary_f1", **kwargs):
            super().__init__(name=name, **kwargs)
            self.threshold = threshold

            def zeros(shape, dtype=None):
                return ops.zeros(shape, dtype=dtype)

            self.tp = self.add_variable(shape=(), initializer=zeros, name="tp")
            self.fp = self.add_variable(shape=(), initializer="zeros", name="fp",
                                        aggregation="mean")  # fmt: skip
            self.fn = self.add_variable((), keras.initializers.Zeros(), name="fn")

        def update_state(self, y_true, y_pred, sample_weight=None):
            y_true = ops.cast(y_true, self.dtype)
            pred = ops.cast(ops.greater(y_pred, self.threshold), self.dtype)
            w = ops.ones_like(y_true)
            if sample_weight is not None:
                w = w * ops.expand_dims(ops.cast(sample_weight, self.dtype), -1)
            self.tp.assign_add(ops.sum(y_true * pred * w))
            self.fp.assign_add(ops.sum((1 - y_true) * pred * w))
            self.fn.assign(self.fn + ops.sum(y_true * (1 - pred) * w))

        def result(self):
            two_tp = 2.0 * self.tp
            return two_tp / ops.maximum(two_tp + self.fp + self.fn, keras.config.epsilon())

    return BinaryTruePositives, PredictedClassShare, BinaryF1


CK_METRICS, TK_METRICS = guide_metrics(ck), guide_metrics(tk)
NAMES = ["true_positives", "class_share", "f1"]


def _np(x):
    """A value of either framework as a float64 NumPy array."""
    if isinstance(x, Tensor):
        return np.asarray(x.data, np.float64)
    return np.asarray(tk.ops.convert_to_numpy(x), np.float64)


def _batches(seed, n_batches=4, weighted=False):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n_batches):
        n = int(rng.integers(3, 9))
        y_true = (rng.random((n, 3)) > 0.5).astype("float32")
        # some exact zeros, so that casting y_pred to bool is not always True
        y_pred = np.maximum(rng.normal(0.3, 0.5, (n, 3)), 0).astype("float32")
        sw = rng.uniform(0, 2, n).astype("float32") if weighted else None
        out.append((y_true, y_pred, sw))
    return out


def _assert_variables_equal(ours, ref):
    assert len(ours.variables) == len(ref.variables)
    for a, b in zip(ours.variables, ref.variables, strict=True):
        assert a.shape == tuple(b.shape) and a.name == b.name and a.path == b.path
        assert np.dtype(a.dtype).name == str(b.dtype)
        assert a.trainable is False and b.trainable is False
        assert a.aggregation == b.aggregation and a.synchronization == b.synchronization
        np.testing.assert_allclose(_np(a), _np(b), rtol=1e-6, atol=1e-6, err_msg=a.path)


# -- standalone -------------------------------------------------------------------------------
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("which", range(3), ids=NAMES)
def test_update_result_reset_sequence(which, weighted):
    ours, ref = CK_METRICS[which](), TK_METRICS[which]()
    _assert_variables_equal(ours, ref)  # the initial values (Constant(0.5), ones)
    batches = _batches(which + 10 * weighted, weighted=weighted)
    for i, (y_true, y_pred, sw) in enumerate(batches):
        ours.update_state(y_true, y_pred, sample_weight=sw)
        ref.update_state(y_true, y_pred, sample_weight=sw)
        np.testing.assert_allclose(_np(ours.result()), _np(ref.result()), rtol=1e-6,
                                   err_msg=f"after batch {i}")  # fmt: skip
        _assert_variables_equal(ours, ref)
    ours.reset_state()
    ref.reset_state()
    _assert_variables_equal(ours, ref)  # zeros, whatever the initializer was
    assert not any(np.any(v.data) for v in ours.variables)
    y_true, y_pred, sw = batches[0]
    np.testing.assert_allclose(_np(ours(y_true, y_pred, sample_weight=sw)),
                               _np(ref(y_true, y_pred, sample_weight=sw)), rtol=1e-6)  # fmt: skip


def test_result_is_the_state_variable_itself_as_in_keras():
    """The guide's result() returns its state Variable, live, as Keras's does; fit reads
    results as values (``get_metrics_result``), so its logs keep the value read."""
    m = CK_METRICS[0]()
    m.update_state([1, 1, 0], [1, 0, 1])
    first = m.result()
    assert first is m.true_positives
    m.update_state([1, 1], [1, 1])
    assert float(first) == 3.0
    m.reset_state()
    assert float(m.result()) == 0.0


def test_state_is_a_variable_usable_in_ops():
    m = CK_METRICS[0]()
    v = m.true_positives
    assert isinstance(v, ck.Variable) and m.variables == [v] and v.value is v.data
    v.assign(3.0)
    v.assign_sub(1.0)
    assert float(ck.ops.add(v, 1.0)) == 3.0 and float(v * 2) == 4.0 and v.numpy() == 2.0


@pytest.mark.parametrize("keras", BOTH, ids=["ours", "keras"])
def test_sub_metrics_and_assigned_variables_are_tracked(keras):
    """Own variables first (an attribute Variable included), then sub-metrics'; reset zeroes
    them all. Compared with Keras below by running the same class on both."""

    class Wrapped(keras.metrics.Metric):
        def __init__(self):
            super().__init__(name="wrapped")
            self.inner = keras.metrics.Mean(name="inner")
            self.scale = self.add_variable((2,), "ones", name="scale")
            self.extra = keras.Variable(np.full((2,), 3.0, "float32"), trainable=False,
                                        name="extra")  # fmt: skip

        def update_state(self, values):
            self.inner.update_state(values)

        def result(self):
            return self.inner.result()

    m = Wrapped()
    m.update_state([1.0, 2.0])
    assert [v.name for v in m.variables] == ["scale", "extra", "total", "count"]
    assert [v.path for v in m.variables][2:] == ["inner/total", "inner/count"]
    assert float(_np(m.result())) == 1.5
    m.reset_state()
    assert all(not np.any(_np(v)) for v in m.variables)


@pytest.mark.parametrize("dtype", [None, "float64"])
def test_default_variable_dtype_is_floatx_not_the_metrics(dtype):
    def make(keras):
        class M(keras.metrics.Metric):
            def __init__(self):
                super().__init__(name="m", dtype=dtype)
                self.a = self.add_variable((2,), keras.initializers.Constant(2.5), name="a")
                self.b = self.add_variable((2,), keras.initializers.Constant(2.5),
                                           dtype="int32", name="b")  # fmt: skip
                self.c = self.add_variable((1, 2), lambda shape, dtype=None: np.full(shape, 7.0),
                                           name="c")  # fmt: skip

        return M()

    ours, ref = make(ck), make(tk)
    assert ours.dtype == ref.dtype
    _assert_variables_equal(ours, ref)


def test_unnamed_variables_are_named_as_keras():
    def make(keras):
        class M(keras.metrics.Metric):
            def __init__(self):
                super().__init__(name="m")
                self.a = self.add_variable((), "zeros")
                self.b = self.add_weight((), "zeros")

        return M()

    ck.backend.clear_session()
    tk.backend.clear_session()
    ours, ref = make(ck), make(tk)
    assert [v.path for v in ours.variables] == [v.path for v in ref.variables]


# -- fit and evaluate -------------------------------------------------------------------------
def _data(seed, n):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4)).astype("float32")
    y = (rng.random((n, 3)) > 0.5).astype("float32")
    sw = rng.uniform(0.2, 2.0, n).astype("float32")
    return x, y, sw


class _BatchLogs:
    """A callback (made for either framework) that keeps each training batch's logs."""

    def __new__(cls, keras):
        class Recorder(keras.callbacks.Callback):
            def __init__(self):
                super().__init__()
                self.logs = []

            def on_train_batch_end(self, batch, logs=None):
                self.logs.append({k: float(_np(v)) for k, v in logs.items()})

        return Recorder()


def _run(keras, metrics_classes, weights, validation, batch_logs=False):
    """fit (3 epochs, optional validation) then evaluate, from ``weights``."""
    x, y, sw = _data(0, 96)
    xv, yv, swv = _data(1, 40)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"),
                              keras.layers.Dense(3, activation="relu")])  # fmt: skip
    model.set_weights(weights)
    btp, share, f1 = metrics_classes
    model.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse",
                  metrics=[btp(), share()], weighted_metrics=[f1()])  # fmt: skip
    rec = _BatchLogs(keras) if batch_logs else None
    hist = model.fit(x, y, sample_weight=sw, epochs=3, batch_size=32, shuffle=False, verbose=0,
                     validation_data=(xv, yv, swv) if validation else None,
                     callbacks=[rec] if rec else None)  # fmt: skip
    ev = model.evaluate(x, y, sample_weight=sw, batch_size=32, verbose=0, return_dict=True)
    after = {k: float(_np(v)) for k, v in model.get_metrics_result().items()}
    return hist.history, ev, after, model.get_weights(), rec and rec.logs


@pytest.fixture(scope="module")
def runs():
    rng = np.random.default_rng(5)
    shapes = [(4, 8), (8,), (8, 3), (3,)]
    weights = [rng.uniform(-0.7, 0.7, s).astype("float32") for s in shapes]
    weights[-1] += 0.3  # biases that keep most outputs positive
    return {
        "ours": _run(ck, CK_METRICS, weights, validation=True, batch_logs=True),
        "keras_val": _run(tk, TK_METRICS, weights, validation=True),
        "keras_plain": _run(tk, TK_METRICS, weights, validation=False, batch_logs=True),
    }


def _close(a, b, what):
    np.testing.assert_allclose(a, b, rtol=2e-5, atol=1e-6, err_msg=what)


def test_fit_history_matches_keras(runs):
    ours, val_run, plain_run = runs["ours"][0], runs["keras_val"][0], runs["keras_plain"][0]
    assert set(ours) == set(val_run)
    assert all(type(v) is float for values in ours.values() for v in values)
    for key, values in ours.items():
        # NOTE: training keys against Keras's fit without validation. With validation,
        # Keras 3.15.1 logs the validation value of a metric whose result() is its own state
        # Variable under the training key too (fit keeps the live Variable while evaluate
        # resets and refills it); our fit reads the epoch's results as values first.
        ref = val_run[key] if key.startswith("val_") else plain_run[key]
        _close(values, ref, key)
    # the keys computed from a fresh Tensor are the same in both Keras runs
    _close(ours["binary_f1"], val_run["binary_f1"], "binary_f1")
    # the state is really summed over the 96 training samples, not the 40 validation ones
    assert ours["binary_true_positives"] != ours["val_binary_true_positives"]


def test_batch_logs_match_keras(runs):
    ours, ref = runs["ours"][4], runs["keras_plain"][4]
    assert len(ours) == len(ref) == 9
    for i, (a, b) in enumerate(zip(ours, ref, strict=True)):
        assert set(a) == set(b)
        for key in b:
            _close(a[key], b[key], f"batch {i} {key}")


def test_evaluate_and_metrics_result_match_keras(runs):
    ours, ref = runs["ours"], runs["keras_val"]
    assert set(ours[1]) == set(ref[1]) and all(type(v) is float for v in ours[1].values())
    for key in ref[1]:
        _close(ours[1][key], ref[1][key], f"evaluate {key}")
        _close(ours[2][key], ref[2][key], f"get_metrics_result {key}")
    for a, b in zip(ours[3], ref[3], strict=True):
        _close(a, b, "final weights")


# -- errors -----------------------------------------------------------------------------------
def _adding(keras, *args, method="add_variable", **kwargs):
    class M(keras.metrics.Metric):
        def __init__(self):
            super().__init__(name="m")
            self.v = getattr(self, method)(*args, **kwargs)

    return M


@pytest.mark.parametrize(
    "args, kwargs, exc, words",
    [
        (((2,), None), {}, ValueError, ["initializer", "None"]),
        (((2,), "bogus"), {}, ValueError, ["initializer", "bogus"]),
        (((2,), 3), {}, ValueError, ["initializer", "3"]),
        (((2,), "zeros"), {"aggregation": "bad"}, ValueError, ["aggregation", "bad"]),
        (((2,),), {}, TypeError, ["initializer"]),
        ((3, "zeros"), {}, ValueError, ["shape", "3"]),
        ((None, "zeros"), {}, ValueError, ["shape"]),
        (((2, -1), "zeros"), {}, ValueError, ["shape", "-1"]),
        (((2,), "zeros"), {"name": "a/b"}, ValueError, ["name", "a/b"]),
        (((), None), {"method": "add_weight"}, ValueError, ["initializer", "None"]),
        ((), {"method": "add_weight"}, ValueError, ["initializer", "None"]),
    ],
    ids=["init_none", "init_name", "init_int", "aggregation", "no_initializer", "shape_int",
         "shape_none", "shape_negative", "name_slash", "add_weight_none", "add_weight_default"],
)  # fmt: skip
def test_bad_arguments_raise_as_keras(args, kwargs, exc, words):
    with pytest.raises(exc):
        _adding(tk, *args, **kwargs)()
    with pytest.raises(exc) as err:
        _adding(ck, *args, **kwargs)()
    for word in words:
        assert word in str(err.value), (word, str(err.value))


def test_initializer_of_the_wrong_shape_raises():
    def bad(shape, dtype=None):
        return np.zeros((5,), "float32")

    with pytest.raises(ValueError, match=r"\(5,\).*\(2,\)"):
        _adding(ck, (2,), bad, name="v")()


@pytest.mark.parametrize("keras", BOTH, ids=["ours", "keras"])
def test_add_variable_before_super_init_raises(keras):
    class Early(keras.metrics.Metric):
        def __init__(self):
            self.v = self.add_variable((), "zeros")
            super().__init__()

    with pytest.raises(RuntimeError, match="super"):
        Early()
