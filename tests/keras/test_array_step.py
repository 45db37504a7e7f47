"""Fit's array step (``keras/trainers/array_step.py``): the same numbers as the ordinary step,
bit for bit, and the ordinary step wherever the array step does not apply.

The reference is the ordinary step on the same model, data and initial weights: ``compile(...,
jit_compile=False)`` turns the array step off. (The ordinary step is itself checked against
Keras 3 and torch elsewhere: ``test_fit_parity.py``.)
"""

import numpy as np
import pytest

from chainrule import keras
from chainrule.keras.trainers import array_step

from ._array_step_util import assert_same

RNG = np.random.default_rng(7)
X = RNG.standard_normal((50, 6)).astype("float32")
Y_REG = RNG.standard_normal((50,)).astype("float32")
Y_CLS = RNG.integers(0, 4, 50)
SPARSE_LOGITS = keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def mlp(out=4, activation="relu", *, extra=()):
    return keras.Sequential([keras.Input((6,)), keras.layers.Dense(8, activation=activation),
                             *extra, keras.layers.Dense(out)])  # fmt: skip


def both(build, compile_kwargs, x, y, *, before_fit=None, **fit_kwargs):
    """Fit two copies of ``build()`` (same initial weights): with the array step, then with
    ``jit_compile=False``. Returns ``(weights, losses)`` of each."""
    results = []
    init = None
    for jit in ("auto", False):
        keras.utils.set_random_seed(3)
        model = build()
        kwargs = dict(compile_kwargs)
        if isinstance(kwargs["optimizer"], tuple):  # a fresh optimizer for each model
            name, *args = kwargs["optimizer"]
            kwargs["optimizer"] = getattr(keras.optimizers, name)(*args)
        elif callable(kwargs["optimizer"]):  # (a function making one)
            kwargs["optimizer"] = kwargs["optimizer"]()
        model.compile(jit_compile=jit, **kwargs)
        if init is None:
            init = model.get_weights()
        model.set_weights(init)
        if before_fit is not None:
            before_fit(model)
        hist = model.fit(x, y, verbose=0, **fit_kwargs)
        results.append((model.get_weights(), hist.history))
    return results


CONFIGS = {
    "seed": (lambda: keras.Sequential([keras.layers.Dense(1, input_shape=(1,))]),
             {"optimizer": "sgd", "loss": "mse"}, np.linspace(-1, 1, 40).reshape(-1, 1),
             2 * np.linspace(-1, 1, 40) + 0.5),  # float64 data, as the seed program
    "mlp_sparse_logits": (mlp, {"optimizer": "adam", "loss": SPARSE_LOGITS,
                                "metrics": ["accuracy"]}, X, Y_CLS),
    "mlp_mse_linear": (lambda: mlp(1, None), {"optimizer": ("SGD", 0.05, 0.9),
                                              "loss": "mean_squared_error"}, X, Y_REG[:, None]),
    "flatten_first": (lambda: keras.Sequential([keras.Input((2, 3)), keras.layers.Flatten(),
                                                keras.layers.Dense(4)]),
                      {"optimizer": "rmsprop", "loss": "mse", "metrics": ["mae"]},
                      X.reshape(50, 2, 3), RNG.standard_normal((50, 4))),
    "no_bias": (lambda: keras.Sequential([keras.Input((6,)), keras.layers.Dense(3, use_bias=False,
                                                                               activation="relu"),
                                          keras.layers.Dense(2, use_bias=False)]),
                {"optimizer": "adamw", "loss": "mse"}, X, RNG.standard_normal((50, 2))),
    "activations": (lambda: keras.Sequential([
        keras.Input((6,)), keras.layers.Dense(8, activation="tanh"),
        keras.layers.Activation("sigmoid"), keras.layers.Dense(7, activation="softplus"),
        keras.layers.Activation("relu"), keras.layers.Activation("linear"),
        keras.layers.Dense(6, activation="selu"), keras.layers.Dense(5, activation="swish"),
        keras.layers.Dense(4, activation="softmax")]),
        {"optimizer": "adam", "loss": "mse"}, X, RNG.random((50, 4))),
    # losses whose per-sample values are one primitive on the prediction (Loss._values),
    # reduced by ops.mean: binary and categorical cross-entropy on probabilities
    "sigmoid_binary_crossentropy": (lambda: keras.Sequential([
        keras.Input((6,)), keras.layers.Dense(8, activation="relu"),
        keras.layers.Dense(1, activation="sigmoid")]),
        {"optimizer": "adam", "loss": "binary_crossentropy", "metrics": ["accuracy"]},
        X, (Y_REG > 0).astype("float32")),
    "softmax_sparse_probabilities": (lambda: keras.Sequential([
        keras.Input((6,)), keras.layers.Dense(8, activation="relu"),
        keras.layers.Dense(4, activation="softmax")]),
        {"optimizer": "rmsprop", "loss": "sparse_categorical_crossentropy",
         "metrics": ["accuracy"]}, X, Y_CLS),
    "softmax_categorical": (lambda: keras.Sequential([
        keras.Input((6,)), keras.layers.Dense(4, activation="softmax")]),
        {"optimizer": "sgd", "loss": keras.losses.CategoricalCrossentropy(label_smoothing=0.1)},
        X, np.eye(4, dtype="float32")[Y_CLS]),
    "categorical_logits_smoothed": (lambda: mlp(4, None),
        {"optimizer": "adam",
         "loss": keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.2)},
        X, np.eye(4, dtype="float32")[Y_CLS]),
    "smoothed_binary": (lambda: mlp(1, "relu", extra=[keras.layers.Activation("sigmoid")]),
        {"optimizer": "sgd", "loss": keras.losses.BinaryCrossentropy(label_smoothing=0.1)},
        X, (Y_REG > 0).astype("float32")),
    "log_softmax_logits": (lambda: mlp(4, "softsign", extra=[
        keras.layers.Activation("hard_sigmoid"), keras.layers.Activation("log_softmax")]),
        {"optimizer": "nadam", "loss": SPARSE_LOGITS}, X, Y_CLS),
}  # fmt: skip


@pytest.mark.parametrize("name", list(CONFIGS))
def test_the_array_step_trains_bit_for_bit_as_the_ordinary_step(name, taken):
    build, compile_kwargs, x, y = CONFIGS[name]
    results = both(build, compile_kwargs, x, y, epochs=3, batch_size=16)
    assert_same(results)
    # the first batch of each size is an ordinary step (it records the layers' direct
    # calls), every later one an array step; the second fit (jit_compile=False) takes none
    steps = 3 * -(-len(x) // 16)
    sizes = {min(16, len(x) - i) for i in range(0, len(x), 16)}
    assert taken == [steps - len(sizes), len(sizes) + steps]


def test_validation_and_evaluate_after_array_steps_match(taken):
    build, compile_kwargs, x, y = CONFIGS["mlp_sparse_logits"]
    results = both(build, compile_kwargs, x, y, epochs=2, batch_size=10, validation_split=0.2,
                   shuffle=False)  # fmt: skip
    assert_same(results)
    assert taken[0] > 0


def test_a_frozen_layer_gets_no_update(taken):
    def freeze(model):
        model.layers[0].trainable = False

    results = both(mlp, {"optimizer": "adam", "loss": "mse"}, X, RNG.standard_normal((50, 4)),
                   before_fit=freeze, epochs=2, batch_size=16)  # fmt: skip
    assert_same(results)
    assert taken[0] > 0


class _SetActivation(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        if epoch == 0:
            self.model.layers[0].activation = keras.activations.get("linear")
        if epoch == 1:
            self.model.layers[0].activation = keras.activations.get("gelu")


def test_an_activation_changed_during_fit_is_used_at_the_next_step(taken):
    # relu -> linear keeps the array step (both have an array form); gelu has none: from
    # then on the ordinary step runs
    results = both(mlp, {"optimizer": "sgd", "loss": "mse"}, X, RNG.standard_normal((50, 4)),
                   epochs=3, batch_size=16, callbacks=[_SetActivation()])  # fmt: skip
    assert_same(results)
    assert taken[0] > 0


@pytest.mark.parametrize(
    "case",
    ["sample_weight", "class_weight", "dropout", "gelu", "regularizer", "activity",
     "run_eagerly", "subclass_call", "instance_call", "sequential_call", "loss_weights",
     "custom_loss_class"],
)  # fmt: skip
def test_the_ordinary_step_runs_where_the_array_step_does_not_apply(case, taken, monkeypatch):
    compile_kwargs = {"optimizer": "sgd", "loss": "mse"}
    fit_kwargs = {"epochs": 2, "batch_size": 16}
    build = mlp
    before_fit = None
    y = RNG.standard_normal((50, 4))
    if case == "sample_weight":
        fit_kwargs["sample_weight"] = RNG.random(50)
    elif case == "class_weight":
        compile_kwargs["loss"] = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        y = Y_CLS
        fit_kwargs["class_weight"] = {0: 2.0}
    elif case == "dropout":
        build = lambda: mlp(extra=[keras.layers.Dropout(0.5, seed=1)])  # noqa: E731
    elif case == "gelu":  # an activation with no one-primitive form
        build = lambda: mlp(activation="gelu")  # noqa: E731
    elif case == "regularizer":
        build = lambda: keras.Sequential([keras.Input((6,)), keras.layers.Dense(  # noqa: E731
            4, kernel_regularizer="l2")])
    elif case == "activity":
        build = lambda: keras.Sequential([keras.Input((6,)), keras.layers.Dense(  # noqa: E731
            4, activity_regularizer="l1")])
    elif case == "run_eagerly":
        compile_kwargs["run_eagerly"] = True
    elif case == "subclass_call":
        class Doubling(keras.layers.Dense):
            def call(self, inputs):
                return super().call(inputs) * 2.0

        build = lambda: keras.Sequential([keras.Input((6,)), Doubling(4)])  # noqa: E731
    elif case == "instance_call":
        def patch(model):
            layer = model.layers[-1]
            layer.call = lambda inputs, _c=layer.call: _c(inputs) * 2.0

        before_fit = patch
    elif case == "sequential_call":
        class Halving(keras.Sequential):
            def call(self, inputs, training=None, mask=None):
                return super().call(inputs, training=training) * 0.5

        build = lambda: Halving([keras.Input((6,)), keras.layers.Dense(4)])  # noqa: E731
    elif case == "loss_weights":
        compile_kwargs["loss_weights"] = 0.5
    elif case == "custom_loss_class":  # a Loss that is not a LossFunctionWrapper
        class Squares(keras.losses.Loss):
            def call(self, y_true, y_pred):
                return keras.ops.square(y_pred - y_true)

        compile_kwargs["loss"] = Squares()
    assert_same(both(build, compile_kwargs, X, y, before_fit=before_fit, **fit_kwargs))
    assert taken[0] == 0, case


def test_a_label_out_of_range_raises_as_the_ordinary_step_does(taken):
    model = mlp()
    model.compile(optimizer="sgd",
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))  # fmt: skip
    model.fit(X, Y_CLS, epochs=1, batch_size=10, verbose=0)
    assert taken[0] > 0
    bad = Y_CLS.copy()
    bad[3] = 9
    before = model.get_weights()
    with pytest.raises(ValueError, match="label 9 is out of range") as info:
        model.fit(X, bad, epochs=1, batch_size=10, verbose=0, shuffle=False)
    keras.utils.set_random_seed(0)
    reference = mlp()
    reference.compile(optimizer="sgd", jit_compile=False, loss=SPARSE_LOGITS)
    reference.set_weights(before)
    with pytest.raises(ValueError) as expected:
        reference.fit(X, bad, epochs=1, batch_size=10, verbose=0, shuffle=False)
    assert str(info.value) == str(expected.value)
    for a, b in zip(model.get_weights(), before):
        np.testing.assert_array_equal(a, b)  # the bad batch is the first: nothing was applied


def test_a_class_patched_before_fit_is_called(taken, monkeypatch):
    calls = []
    original = keras.layers.Dense.call

    def spy(self, inputs):
        calls.append(1)
        return original(self, inputs)

    monkeypatch.setattr(keras.layers.Dense, "call", spy)
    model = mlp()
    model.compile(optimizer="sgd", loss="mse")
    calls.clear()
    model.fit(X, RNG.standard_normal((50, 4)), epochs=2, batch_size=16, verbose=0)
    assert taken[0] == 0
    assert len(calls) == 2 * 8  # two Dense layers, 4 batches, 2 epochs


def test_fit_under_no_grad_raises_as_the_ordinary_step(taken):
    from chainrule import no_grad

    model = mlp()
    model.compile(optimizer="sgd", loss="mse")
    model.fit(X, RNG.standard_normal((50, 4)), epochs=1, batch_size=16, verbose=0)
    with no_grad(), pytest.raises(RuntimeError, match="does not require grad"):
        model.fit(X, RNG.standard_normal((50, 4)), epochs=1, batch_size=16, verbose=0)


def test_a_model_whose_calls_are_never_recorded_stops_asking(taken, monkeypatch):
    # Embedding(mask_zero=True) passes a mask on: its __call__ has work, so the model never
    # records a direct call, and the array step gives up on a kind of batch after one more
    # try instead of looking for a record on every step
    made = []
    make = array_step._Plan.make.__func__

    def counting(cls, *args):
        made.append(1)
        return make(cls, *args)

    monkeypatch.setattr(array_step._Plan, "make", classmethod(counting))
    ids = RNG.integers(0, 9, (50, 3))

    def build():
        return keras.Sequential([keras.Input((3,)), keras.layers.Embedding(9, 4, mask_zero=True),
                                 keras.layers.Flatten(), keras.layers.Dense(2)])  # fmt: skip

    assert_same(both(build, {"optimizer": "sgd", "loss": "mse"}, ids, RNG.random((50, 2)),
                     epochs=3, batch_size=16))  # fmt: skip
    assert taken[0] == 0
    assert len(made) == 2 * 2  # two kinds of batch (16 and 2 rows), two tries each


@pytest.mark.parametrize("loss", ["mae", "huber", "log_cosh", "kl_divergence",
                                  keras.losses.MeanSquaredError(reduction="sum")])
def test_a_loss_of_several_ops_runs_on_its_own_graph_within_the_array_step(loss, taken):
    # no one-node form and values that are not one node on the prediction: the layers run on
    # arrays, the loss on its graph on the prediction (array_step._loss_through_values)
    results = both(lambda: mlp(4, "softmax"), {"optimizer": "adam", "loss": loss}, X,
                   RNG.random((50, 4)).astype("float32"), epochs=2, batch_size=16)  # fmt: skip
    assert_same(results)
    assert taken[0] == 2 * 4 - 2



@pytest.mark.parametrize("loss", [keras.losses.MeanSquaredError(dtype="float16"),
                                  keras.losses.MeanSquaredError(dtype="float64", reduction="sum"),
                                  keras.losses.CategoricalCrossentropy(dtype="float64")])
def test_a_loss_of_another_dtype_trains_as_the_ordinary_step(loss, taken):
    # the ordinary step casts such a loss to floatx (CompileLoss, as Keras); the array step
    # leaves the cast out, which changes neither the tracked loss nor the gradients
    results = both(lambda: mlp(4, "softmax"), {"optimizer": "adam", "loss": loss}, X,
                   RNG.random((50, 4)).astype("float32"), epochs=2, batch_size=16)  # fmt: skip
    assert_same(results)
    assert taken[0] > 0
