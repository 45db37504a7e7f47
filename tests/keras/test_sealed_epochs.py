"""Fit's sealed epochs (``array_step.sealed_steps``): with no batch-level callback and only
chainrule's code in a step, an epoch's array steps run with their checks made once, at the
epoch's start. The numbers are the ordinary step's bit for bit; wherever user code could run
within a step, or a check fails at an epoch's start, no step is sealed.

The reference is the ordinary step (``jit_compile=False``) on the same model, data and
initial weights (``test_array_step.both``); it is checked against Keras 3 elsewhere.
"""

import numpy as np
import pytest

from chainrule import keras

from ._array_step_util import assert_same
from .test_array_step import RNG, Y_CLS, X, both, mlp

Y4 = RNG.standard_normal((50, 4)).astype("float32")
EPOCHS, BATCH = 3, 16  # 50 rows: batches of 16, 16, 16 and 2


def sealed_count(epochs=EPOCHS):
    # epoch 1 makes the plans (ordinary steps first); in epoch 2 the last, smaller batch has
    # no plan yet and goes back to the ordinary loop; every later step is sealed
    return (epochs - 1) * 4 - 1


def user_metric(y_true, y_pred):
    return keras.ops.mean(keras.ops.abs(y_true - y_pred), axis=-1)


@pytest.mark.parametrize(
    "optimizer",
    ["sgd", ("SGD", 0.05, 0.9, True), "adam", ("Adam", 0.01, 0.9, 0.999, 1e-7, True), "adamw",
     "nadam", "adamax", "rmsprop", ("RMSprop", 0.01, 0.9, 0.5, 1e-7, True), "adagrad",
     "adadelta", "lion", lambda: keras.optimizers.SGD(0.1, clipnorm=0.5),
     lambda: keras.optimizers.AdamW(weight_decay=0.1, global_clipnorm=1.0)],
)  # fmt: skip
def test_every_builtin_optimizer_is_sealed_and_bit_for_bit(optimizer, taken):
    # (the last two clip, and so update through `Optimizer._update`)
    results = both(mlp, {"optimizer": optimizer, "loss": "mse", "metrics": ["mae"]}, X, Y4,
                   epochs=EPOCHS, batch_size=BATCH)  # fmt: skip
    assert_same(results)
    assert taken.sealed == sealed_count()


@pytest.mark.parametrize(
    "metrics", [["accuracy"], ["sparse_categorical_accuracy", "sparse_top_k_categorical_accuracy"],
                [keras.metrics.SparseCategoricalAccuracy(name="acc")]],
)  # fmt: skip
def test_builtin_metrics_are_sealed(metrics, taken):
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    results = both(mlp, {"optimizer": "adam", "loss": loss, "metrics": metrics}, X, Y_CLS,
                   epochs=EPOCHS, batch_size=BATCH)  # fmt: skip
    assert_same(results)
    assert taken.sealed == sealed_count()


def test_a_builtin_schedule_is_sealed(taken):
    def optimizer():
        return keras.optimizers.SGD(keras.optimizers.schedules.ExponentialDecay(0.1, 2, 0.5))

    results = both(mlp, {"optimizer": optimizer, "loss": "mse"}, X, Y4, epochs=EPOCHS,
                   batch_size=BATCH)  # fmt: skip
    assert_same(results)
    assert taken.sealed == sealed_count()


class _MyMAE(keras.metrics.MeanAbsoluteError):  # (its methods may be overridden any time)
    pass


class _MySGD(keras.optimizers.SGD):
    def update_step(self, gradient, variable, learning_rate):
        super().update_step(gradient, variable, learning_rate)


class _MyDense(keras.layers.Dense):
    pass


class _BatchHook(keras.callbacks.Callback):
    def on_train_batch_end(self, batch, logs=None):
        pass


class _Tracking(keras.Sequential):
    def _track_loss(self, loss, batch_size):
        super()._track_loss(loss, batch_size)


CASES = ["batch_callback", "user_metric_class", "user_metric_function", "user_optimizer",
         "instance_update_step", "callable_learning_rate", "user_schedule", "constraint",
         "sample_weight", "user_layer_class", "user_loss_function", "model_track_loss", "ema",
         "gradient_accumulation", "shuffle_batch_memmap"]  # fmt: skip


class _HalfSchedule(keras.optimizers.schedules.LearningRateSchedule):
    def __call__(self, step):
        return 0.05

    def get_config(self):
        return {}


@pytest.mark.parametrize("case", CASES)
def test_nothing_is_sealed_where_user_code_may_run_within_a_step(case, taken, tmp_path):
    compile_kwargs = {"optimizer": "sgd", "loss": "mse"}
    fit_kwargs = {"epochs": EPOCHS, "batch_size": BATCH}
    build, before_fit, x = mlp, None, X
    if case == "batch_callback":
        fit_kwargs["callbacks"] = [_BatchHook()]
    elif case == "user_metric_class":
        compile_kwargs["metrics"] = [_MyMAE()]
    elif case == "user_metric_function":
        compile_kwargs["metrics"] = [user_metric]
    elif case == "user_optimizer":
        compile_kwargs["optimizer"] = _MySGD
    elif case == "instance_update_step":
        def patch(model):
            opt = model.optimizer
            opt.update_step = lambda g, v, lr, _u=opt.update_step: _u(g, v, lr)

        before_fit = patch
    elif case == "callable_learning_rate":
        compile_kwargs["optimizer"] = lambda: keras.optimizers.SGD(lambda: 0.05)
    elif case == "user_schedule":
        compile_kwargs["optimizer"] = lambda: keras.optimizers.SGD(_HalfSchedule())
    elif case == "constraint":
        build = lambda: keras.Sequential([keras.Input((6,)), keras.layers.Dense(  # noqa: E731
            4, kernel_constraint=keras.constraints.MaxNorm(1.0))])
    elif case == "sample_weight":
        fit_kwargs["sample_weight"] = RNG.random(50)
    elif case == "user_layer_class":
        build = lambda: keras.Sequential([keras.Input((6,)), _MyDense(4)])  # noqa: E731
    elif case == "user_loss_function":
        compile_kwargs["loss"] = user_metric
    elif case == "model_track_loss":
        build = lambda: _Tracking([keras.Input((6,)), keras.layers.Dense(4)])  # noqa: E731
    elif case == "ema":
        compile_kwargs["optimizer"] = lambda: keras.optimizers.SGD(use_ema=True)
    elif case == "gradient_accumulation":
        compile_kwargs["optimizer"] = lambda: keras.optimizers.SGD(gradient_accumulation_steps=2)
    elif case == "shuffle_batch_memmap":
        path = tmp_path / "x.dat"
        x = np.memmap(path, dtype="float32", mode="w+", shape=X.shape)
        x[:] = X
    results = both(build, compile_kwargs, x, Y4, before_fit=before_fit, **fit_kwargs)
    assert_same(results)
    assert taken.sealed == 0, case
    if case not in ("sample_weight", "user_loss_function", "constraint", "model_track_loss",
                    "batch_callback"):  # fmt: skip
        assert taken[0] > 0, case  # (still array steps, checked on every step)


class _AtEpochEnd(keras.callbacks.Callback):
    def __init__(self, change, at=1):
        super().__init__()
        self.change, self.at = change, at

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.at:
            self.change(self.model)


def _gelu(model):
    model.layers[0].activation = keras.activations.gelu  # no array form: ordinary steps


def _eager(model):
    model.run_eagerly = True


def _rate(model):
    model.optimizer.learning_rate = 0.5


def _freeze(model):
    model.layers[0].trainable = False


@pytest.mark.parametrize("change", [_gelu, _eager, _rate, _freeze])
def test_a_change_made_between_epochs_is_seen_at_the_next_epoch(change, taken):
    results = both(mlp, {"optimizer": "adam", "loss": "mse"}, X, Y4, epochs=4,
                   batch_size=BATCH, callbacks=[_AtEpochEnd(change)])  # fmt: skip
    assert_same(results)
    # epoch 2 (index 1) is sealed but for its last batch. After the change at its end: a new
    # learning rate keeps epochs 3 and 4 sealed; a frozen layer makes new plans in epoch 3
    # (the layer tree changed), so only epoch 4 is, but for its last batch; no array form
    # or run_eagerly, none
    assert taken.sealed == 3 + {_rate: 8, _freeze: 3}.get(change, 0)


def test_a_class_patched_between_epochs_is_seen_at_the_next_epoch(taken, monkeypatch):
    calls = []
    original = keras.layers.Dense.call

    def spy(self, inputs):
        calls.append(1)
        return original(self, inputs)

    def patch(model):
        monkeypatch.setattr(keras.layers.Dense, "call", spy)

    model = mlp()
    model.compile(optimizer="sgd", loss="mse")
    model.fit(X, Y4, epochs=4, batch_size=BATCH, verbose=0, callbacks=[_AtEpochEnd(patch)])
    assert taken.sealed == 3
    assert len(calls) == 2 * 2 * 4  # epochs 3 and 4: two Dense layers, 4 batches


def _spoil(labels):
    def spoil(model):
        labels[23] = 9  # in the third batch of the next epoch (fit reads the array as given)

    return spoil


def test_a_step_that_raises_in_a_sealed_epoch_raises_as_the_ordinary_step(taken):
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    fitted, errors = [], []
    for jit in ("auto", False):
        keras.utils.set_random_seed(3)
        model = mlp()
        model.compile(optimizer="sgd", loss=loss, jit_compile=jit)
        labels = Y_CLS.copy()
        with pytest.raises(ValueError, match="label 9 is out of range") as info:
            model.fit(X, labels, epochs=3, batch_size=10, verbose=0, shuffle=False,
                      callbacks=[_AtEpochEnd(_spoil(labels), at=0)])  # fmt: skip
        fitted.append(model.get_weights())
        errors.append(str(info.value))
    assert taken.sealed == 2  # the second epoch's first two batches, then the bad one
    assert errors[0] == errors[1]
    for a, b in zip(*fitted):
        np.testing.assert_array_equal(a, b)  # the bad batch applied in neither


class _EpochHook(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        pass


@pytest.mark.parametrize(
    "fit_kwargs, asked",
    [({}, 3), ({"validation_split": 0.2}, 3), ({"validation_data": (X[:8], Y4[:8])}, 3),
     ({"callbacks": [_EpochHook()]}, 10),
     ({"callbacks": [keras.callbacks.History()]}, 3)],
)  # fmt: skip
def test_a_verdict_holds_while_only_chainrules_code_runs_between_epochs(
    fit_kwargs, asked, taken, monkeypatch
):
    # epoch 1 has no plans, epoch 2 sends its last batch (no plan yet) to the ordinary loop,
    # epoch 3 is all sealed: its verdict holds from then on unless user code runs between
    # epochs (a callback of the user's)
    from chainrule.keras.trainers import array_step

    calls = []
    plans = array_step._sealed_plans

    def counting(*args):
        calls.append(1)
        return plans(*args)

    monkeypatch.setattr(array_step, "_sealed_plans", counting)
    results = both(mlp, {"optimizer": "adam", "loss": "mse", "metrics": ["mae"]}, X, Y4,
                   epochs=10, batch_size=BATCH, **fit_kwargs)  # fmt: skip
    assert_same(results)
    assert len(calls) == asked + 10  # (the reference fit, jit_compile=False, asks each epoch)
    rows = 40 if "validation_split" in fit_kwargs else 50
    per_epoch = -(-rows // BATCH)
    assert taken.sealed == 9 * per_epoch - 1


def test_a_plain_model_and_its_parts_are_chainrules_own():
    from chainrule.keras.trainers.array_step import is_own

    model = mlp()
    model.compile(optimizer="adam", loss="mse", metrics=["mae", "mse"])
    model.fit(X, Y4, epochs=1, verbose=0)
    assert is_own(model) and is_own(model.optimizer)
    assert all(is_own(m) for m in model._compile_metrics.metrics)
    model.optimizer.build = lambda variables: None  # a method set on the object itself
    assert not is_own(model.optimizer)
