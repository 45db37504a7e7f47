"""Adversarial checks of fit's array step on losses reached through ``Loss._values``
(``keras/trainers/array_step.py:_loss_through_values``): per-sample values that are one graph
node on the prediction, averaged with ``ops.mean``, and otherwise the loss's own graph on the
prediction. (The first version of this file found the loss run twice when the array step
turned the values down and fell back; it no longer falls back once the loss has run.)

The reference is the ordinary step on the same model, data and initial weights
(``compile(..., jit_compile=False)``): weights equal bit for bit, histories equal with ``==``,
the same errors. The ``taken`` fixture (``conftest.py``) says whether array steps ran.
"""

import warnings

import numpy as np
import pytest

from chainrule import backend, keras, ops
from chainrule.keras.losses.loss import Loss, LossFunctionWrapper

from ._array_step_util import assert_same

RNG = np.random.default_rng(11)
X = RNG.standard_normal((40, 5)).astype("float32")
X3 = RNG.standard_normal((40, 3, 5)).astype("float32")
LABELS = RNG.integers(0, 4, 40)
ONE_HOT = np.eye(4, dtype="float32")[LABELS]
BINARY = (RNG.random((40, 1)) > 0.5).astype("float32")
MULTI_BINARY = (RNG.random((40, 3)) > 0.5).astype("float32")
FIT = {"epochs": 3, "batch_size": 16}
# every batch kind's first step records the layers' direct calls (an ordinary step); with
# 40 rows in batches of 16 there are two kinds (16 and 8 rows)


def net(out, activation, dtype=None, *, inputs=(5,)):
    kw = {} if dtype is None else {"dtype": dtype}
    return keras.Sequential([keras.Input(inputs), keras.layers.Dense(6, activation="tanh", **kw),
                             keras.layers.Dense(out, activation=activation, **kw)])  # fmt: skip


def both(build, loss, x, y, *, optimizer="sgd", metrics=None, before_fit=None, **fit_kwargs):
    """Fit two copies of ``build()`` from the same weights: with the array step (``jit_compile
    ="auto"``), then without. Returns ``[(weights, history), (weights, history)]``."""
    results, init = [], None
    for jit in ("auto", False):
        keras.utils.set_random_seed(5)
        model = build()
        lo = loss() if getattr(loss, "_factory", False) else loss
        model.compile(optimizer=optimizer, loss=lo, metrics=metrics, jit_compile=jit)
        if init is None:
            init = model.get_weights()
        model.set_weights(init)
        if before_fit is not None:
            before_fit(model)
        keras.utils.set_random_seed(9)  # the same draws from here on in both fits
        hist = model.fit(x, y, verbose=0, **fit_kwargs)
        results.append((model.get_weights(), hist.history))
    return results


def factory(fn):
    """Mark ``fn`` as making a fresh loss for each of the two fits."""
    fn._factory = True
    return fn


ARRAY_CASES = {
    "bce_string": (lambda: net(1, "sigmoid"), "binary_crossentropy", X, BINARY),
    "bce_function": (lambda: net(1, "sigmoid"), keras.losses.binary_crossentropy, X, BINARY),
    "bce_smoothed": (lambda: net(1, "sigmoid"), factory(
        lambda: keras.losses.BinaryCrossentropy(label_smoothing=0.3)), X, BINARY),
    "bce_labels_rank1": (lambda: net(1, "sigmoid"), "binary_crossentropy", X, BINARY[:, 0]),
    "bce_three_outputs": (lambda: net(3, "sigmoid"), factory(
        lambda: keras.losses.BinaryCrossentropy(reduction="mean")), X, MULTI_BINARY),
    "bce_int_labels": (lambda: net(1, "sigmoid"), "binary_crossentropy", X,
                       BINARY.astype("int64")),
    "cce_string": (lambda: net(4, "softmax"), "categorical_crossentropy", X, ONE_HOT),
    "cce_class_smoothed": (lambda: net(4, "softmax"), factory(
        lambda: keras.losses.CategoricalCrossentropy(label_smoothing=0.25)), X, ONE_HOT),
    "cce_logits": (lambda: net(4, None), factory(
        lambda: keras.losses.CategoricalCrossentropy(from_logits=True)), X, ONE_HOT),
    "cce_logits_axis0_of_rows": (lambda: net(4, None, inputs=(3, 5)), factory(
        lambda: keras.losses.CategoricalCrossentropy(from_logits=True, axis=1)), X3,
        np.eye(3, dtype="float32")[RNG.integers(0, 3, (40, 4))].transpose(0, 2, 1)),
    "cce_3d_probabilities": (lambda: net(4, "softmax", inputs=(3, 5)),
                             "categorical_crossentropy", X3,
                             np.eye(4, dtype="float32")[RNG.integers(0, 4, (40, 3))]),
    "cce_probabilities_axis1": (lambda: net(4, "sigmoid", inputs=(3, 5)), factory(
        lambda: keras.losses.CategoricalCrossentropy(axis=1, label_smoothing=0.1)), X3,
        np.eye(3, dtype="float32")[RNG.integers(0, 3, (40, 4))].transpose(0, 2, 1)),
    "scce_probabilities": (lambda: net(4, "softmax"), "sparse_categorical_crossentropy", X,
                           LABELS),
    "scce_labels_n1": (lambda: net(4, "softmax"), "sparse_categorical_crossentropy", X,
                       LABELS[:, None]),
    "scce_float_labels": (lambda: net(4, "softmax"), "sparse_categorical_crossentropy", X,
                          LABELS.astype("float32")),
    "crossentropy_shortcut": (lambda: net(4, "softmax"), "crossentropy", X, LABELS),
    "wrapper_one_primitive": (lambda: net(2, None), factory(lambda: LossFunctionWrapper(
        lambda t, p: ops.sigmoid_cross_entropy(t, p))), X, MULTI_BINARY[:, :2]),
    "plain_function_one_primitive": (lambda: net(2, None),
                                     lambda t, p: ops.sigmoid_cross_entropy(t, p), X,
                                     MULTI_BINARY[:, :2]),
    "values_cast_to_float64": (lambda: net(2, "sigmoid"),
                               lambda t, p: ops.astype(p, "float64"), X, MULTI_BINARY[:, :2]),
    "values_over_the_batch_axis": (lambda: net(4, None),
                                   lambda t, p: ops.softmax_cross_entropy(t, p, axis=0), X,
                                   ONE_HOT),
}  # fmt: skip


@pytest.mark.parametrize("name", list(ARRAY_CASES))
def test_array_step_is_bit_for_bit_the_ordinary_step(name, taken):
    build, loss, x, y = ARRAY_CASES[name]
    assert_same(both(build, loss, x, y, **FIT))
    steps = 3 * 3
    assert taken == [steps - 2, 2 + steps], name


def test_metrics_validation_and_early_stopping_match(taken):
    def stop():
        return [keras.callbacks.EarlyStopping(monitor="val_loss", patience=1,
                                              restore_best_weights=True)]  # fmt: skip

    results = []
    for jit in ("auto", False):
        keras.utils.set_random_seed(5)
        model = net(4, "softmax")
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                      metrics=["accuracy", "sparse_categorical_crossentropy"],
                      jit_compile=jit)  # fmt: skip
        if not results:
            init = model.get_weights()
        model.set_weights(init)
        hist = model.fit(X[:30], LABELS[:30], validation_data=(X[30:], LABELS[30:]),
                         epochs=6, batch_size=8, verbose=0, callbacks=stop())  # fmt: skip
        results.append((model.get_weights(), hist.history))
        results[-1][1]["evaluate"] = model.evaluate(X, LABELS, verbose=0)
    assert_same(results)
    assert taken[0] > 0


ORDINARY_CASES = {
    "reduction_sum": (lambda: net(1, "sigmoid"), factory(
        lambda: keras.losses.BinaryCrossentropy(reduction="sum")), X, BINARY, {}),
    "reduction_mean_with_sample_weight": (lambda: net(4, "softmax"), factory(
        lambda: keras.losses.CategoricalCrossentropy(reduction="mean_with_sample_weight")),
        X, ONE_HOT, {}),
    "ignore_class": (lambda: net(4, "softmax"), factory(
        lambda: keras.losses.SparseCategoricalCrossentropy(ignore_class=0)), X, LABELS, {}),
    "loss_float64_on_float32_model": (lambda: net(4, "softmax"), factory(
        lambda: keras.losses.CategoricalCrossentropy(dtype="float64")), X, ONE_HOT, {}),
    # float64 layers never record a direct call (their __call__ casts): no array step at all
    "float64_model_and_loss": (lambda: net(4, "softmax", "float64"), factory(
        lambda: keras.losses.CategoricalCrossentropy(dtype="float64")), X.astype("float64"),
        ONE_HOT.astype("float64"), {}),
    "float64_model_float32_loss": (lambda: net(4, "softmax", "float64"),
                                   "categorical_crossentropy", X.astype("float64"), ONE_HOT, {}),
    "bce_squeezed_prediction": (lambda: net(1, "sigmoid", inputs=(3, 5)),
                                "binary_crossentropy", X3,
                                (RNG.random((40, 3)) > 0.5).astype("float32"), {}),
    "bce_from_logits": (lambda: net(1, None), factory(
        lambda: keras.losses.BinaryCrossentropy(from_logits=True)), X, BINARY, {}),
    "class_weight": (lambda: net(4, "softmax"), "sparse_categorical_crossentropy", X, LABELS,
                     {"class_weight": {0: 3.0, 1: 0.5}}),
    "sample_weight": (lambda: net(1, "sigmoid"), "binary_crossentropy", X, BINARY,
                      {"sample_weight": RNG.random(40)}),
    "prediction_used_twice": (lambda: net(2, "sigmoid"), lambda t, p: ops.multiply(p, p), X,
                              MULTI_BINARY[:, :2], {}),
    "scalar_values": (lambda: net(2, "sigmoid"), lambda t, p: ops.mean(ops.square(p - t)), X,
                      MULTI_BINARY[:, :2], {}),
}  # fmt: skip


# the loss's own graph on the prediction carries the step when its values are not one node
# on it (or a mask, a cast or another reduction comes in); the ordinary step runs where a
# weight applies or the layers have no recorded direct call (float64 layers cast)
STILL_ORDINARY = {"float64_model_and_loss", "float64_model_float32_loss", "class_weight",
                  "sample_weight"}  # fmt: skip


@pytest.mark.parametrize("name", list(ORDINARY_CASES))
def test_where_the_rows_form_does_not_apply_the_losss_graph_carries_the_step(name, taken):
    build, loss, x, y, extra = ORDINARY_CASES[name]
    assert_same(both(build, loss, x, y, **FIT, **extra))
    assert taken[0] == (0 if name in STILL_ORDINARY else 7), name


class _Identity(Loss):
    def call(self, y_true, y_pred):
        return ops.sigmoid_cross_entropy(y_true, y_pred)


class _WrapperCall(LossFunctionWrapper):
    """A wrapper whose own ``call`` is one primitive: ``_values`` runs it."""

    def __init__(self):
        super().__init__(keras.losses.mean_absolute_error, name="wrapper_call")

    def call(self, y_true, y_pred):
        return ops.sigmoid_cross_entropy(y_true, y_pred)


def test_custom_loss_subclass_takes_the_ordinary_step(taken):
    assert_same(both(lambda: net(2, None), factory(lambda: _Identity()), X,
                     MULTI_BINARY[:, :2], **FIT))  # fmt: skip
    assert taken[0] == 0


def test_wrapper_subclass_with_its_own_call_matches(taken):
    assert_same(both(lambda: net(2, None), factory(lambda: _WrapperCall()), X, MULTI_BINARY[:, :2],
                     **FIT))  # fmt: skip
    assert taken[0] > 0


def test_reduction_none_fails_as_the_ordinary_step():
    errors = []
    for jit in ("auto", False):
        keras.utils.set_random_seed(5)
        model = net(1, "sigmoid")
        model.compile(optimizer="sgd", jit_compile=jit,
                      loss=keras.losses.BinaryCrossentropy(reduction="none"))  # fmt: skip
        try:
            hist = model.fit(X, BINARY, verbose=0, **FIT)
            errors.append(("ok", hist.history))
        except Exception as err:  # noqa: BLE001 - compared below
            errors.append((type(err), str(err)))
    assert errors[0] == errors[1]


class _SwitchReduction(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        self.model._compile_loss._built[0][0].reduction = "sum" if epoch == 0 else "mean"


def test_reduction_changed_during_fit(taken):
    cce = factory(lambda: keras.losses.CategoricalCrossentropy())
    assert_same(both(lambda: net(4, "softmax"), cce, X, ONE_HOT,
                     callbacks=[_SwitchReduction()], **FIT))  # fmt: skip
    assert taken[0] > 0  # the first epoch's


class _SwitchSmoothing(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        self.model._compile_loss._built[0][0]._fn_kwargs["label_smoothing"] = 0.4


def test_label_smoothing_changed_during_fit_is_used(taken):
    bce = factory(lambda: keras.losses.BinaryCrossentropy())
    assert_same(both(lambda: net(1, "sigmoid"), bce, X, BINARY,
                     callbacks=[_SwitchSmoothing()], **FIT))  # fmt: skip
    assert taken[0] > 0


def test_out_of_range_label_in_a_later_batch_raises_the_same_and_keeps_the_same_weights(taken):
    bad = LABELS.copy()
    bad[37] = 4  # in the last batch of the first epoch, after array steps
    outcome = []
    for jit in ("auto", False):
        keras.utils.set_random_seed(5)
        model = net(4, "softmax")
        model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", jit_compile=jit)
        if not outcome:
            init = model.get_weights()
        model.set_weights(init)
        model.fit(X[:32], LABELS[:32], epochs=1, batch_size=8, verbose=0)
        with pytest.raises(ValueError) as info:
            model.fit(X, bad, epochs=1, batch_size=8, verbose=0, shuffle=False)
        outcome.append((str(info.value), model.get_weights()))
    assert outcome[0][0] == outcome[1][0]
    assert "label 4 is out of range" in outcome[0][0]
    for a, b in zip(outcome[0][1], outcome[1][1]):
        np.testing.assert_array_equal(a, b)
    assert taken[0] > 0


def _counting(calls, fn):
    def loss(y_true, y_pred):
        calls.append(1)
        return fn(y_true, y_pred)

    return loss


@pytest.mark.parametrize("reduction", ["sum_over_batch_size", "sum"])
@pytest.mark.parametrize("one_node", [True, False])
def test_the_loss_function_is_called_once_per_step(reduction, one_node, taken):
    # A loss function is user code: the ordinary step calls it once a step
    def rows(t, p):
        if one_node:
            return ops.sigmoid_cross_entropy(t, p)
        return ops.mean(ops.sigmoid_cross_entropy(t, p), axis=-1)

    counts = []
    for jit in ("auto", False):
        calls = []
        keras.utils.set_random_seed(5)
        model = net(2, None)
        model.compile(optimizer="sgd", jit_compile=jit,
                      loss=LossFunctionWrapper(_counting(calls, rows), reduction=reduction))
        model.fit(X, MULTI_BINARY[:, :2], verbose=0, **FIT)
        counts.append(len(calls))
    assert counts[0] == counts[1] == 9


def test_a_loss_that_draws_random_numbers_matches(taken):
    # noisy targets drawn from the seeded generator: the stream must be consumed as the
    # ordinary step consumes it
    def noisy(t, p):
        noise = backend.rng().normal(0.0, 0.1, np.shape(t)).astype("float32")
        return ops.multiply(ops.subtract(p, t + noise), 1.0)

    assert_same(both(lambda: net(2, None), noisy, X, MULTI_BINARY[:, :2], **FIT))


def test_warnings_from_the_loss_are_not_repeated(taken):
    # categorical cross-entropy on one class warns once per call (as Keras)
    counts = []
    for jit in ("auto", False):
        keras.utils.set_random_seed(5)
        model = net(1, "sigmoid")
        model.compile(optimizer="sgd", jit_compile=jit,
                      loss=keras.losses.CategoricalCrossentropy(reduction="sum"))
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            model.fit(X, BINARY, verbose=0, **FIT)
        counts.append(sum(issubclass(w.category, SyntaxWarning) for w in seen))
    assert counts[0] == counts[1]


def test_values_match_a_float64_finite_difference_reference(taken):
    # an independent check of the recorded rows' gradient on one batch: the array step's
    # first-layer update equals the one from float64 central differences of the loss
    keras.utils.set_random_seed(5)
    model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(4, activation="softmax")])
    model.compile(optimizer=keras.optimizers.SGD(1.0), loss="categorical_crossentropy")
    model.fit(X[:8], ONE_HOT[:8], epochs=1, batch_size=8, verbose=0)  # records the calls
    k0, b0 = (w.astype("float64") for w in model.get_weights())
    model.fit(X[:8], ONE_HOT[:8], epochs=1, batch_size=8, verbose=0)  # an array step
    k1, _ = model.get_weights()

    def loss(kernel):
        z = X[:8].astype("float64") @ kernel + b0
        p = np.exp(z - z.max(-1, keepdims=True))
        p /= p.sum(-1, keepdims=True)
        return -np.mean(np.sum(ONE_HOT[:8] * np.log(np.clip(p, 1e-7, 1 - 1e-7)), -1))

    h = 1e-6
    fd = np.zeros_like(k0)
    for i in np.ndindex(k0.shape):
        e = np.zeros_like(k0)
        e[i] = h
        fd[i] = (loss(k0 + e) - loss(k0 - e)) / (2 * h)
    np.testing.assert_allclose(k0 - k1, fd, rtol=1e-4, atol=1e-6)
    assert taken == [1, 1]
