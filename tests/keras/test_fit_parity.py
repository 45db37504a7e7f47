"""fit/evaluate/predict against real Keras 3.15.1: same weights, data and shuffle=False give
the same History, weights and predictions."""

import numpy as np
import pytest

from ._keras_ref import assert_history_close, assert_weights_close, build_pair, ck, tk

RNG = np.random.default_rng(42)
X = RNG.normal(size=(70, 5)).astype("float32")
Y_REG = (X @ RNG.normal(size=(5, 2))).astype("float32")
Y_INT = RNG.integers(0, 3, size=70)
Y_BIN = (X[:, :1] > 0).astype("float32")


def _fit_both(spec, loss, y, opt_name, opt_kwargs, metrics=None, epochs=3, **fit_kwargs):
    ours, ref = build_pair(spec, X.shape[1])
    ours.compile(optimizer=getattr(ck.optimizers, opt_name)(**opt_kwargs), loss=loss,
                 metrics=metrics)
    ref.compile(optimizer=getattr(tk.optimizers, opt_name)(**opt_kwargs), loss=loss,
                metrics=metrics)
    h1 = ours.fit(X, y, epochs=epochs, batch_size=16, shuffle=False, verbose=0, **fit_kwargs)
    h2 = ref.fit(X, y, epochs=epochs, batch_size=16, shuffle=False, verbose=0, **fit_kwargs)
    return ours, ref, h1, h2


ACTIVATIONS = ["relu", "sigmoid", "tanh", "elu", "selu", "gelu", "softplus", "softsign",
               "silu", "leaky_relu", "exponential", "hard_sigmoid", "linear"]


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_activation_stacks_match_keras(activation):
    spec = [(8, activation, {}), (2, None, {})]
    ours, ref, h1, h2 = _fit_both(spec, "mse", Y_REG, "SGD", {"learning_rate": 0.05})
    assert_history_close(h1, h2)
    assert_weights_close(ours, ref)
    np.testing.assert_allclose(ours.predict(X, verbose=0), ref.predict(X, verbose=0),
                               rtol=1e-5, atol=1e-6)


LOSS_CASES = [
    ("mse", Y_REG, None), ("mae", Y_REG, None), ("huber", Y_REG, None),
    ("log_cosh", Y_REG, None), ("mean_squared_logarithmic_error", np.abs(Y_REG), "softplus"),
    ("mean_absolute_percentage_error", np.abs(Y_REG) + 1, None),
    ("binary_crossentropy", Y_BIN, "sigmoid"), ("poisson", np.abs(Y_REG), "softplus"),
    ("sparse_categorical_crossentropy", Y_INT, "softmax"),
    ("categorical_crossentropy", np.eye(3, dtype="float32")[Y_INT], "softmax"),
    ("kl_divergence", np.eye(3, dtype="float32")[Y_INT], "softmax"),
    ("hinge", Y_BIN * 2 - 1, "tanh"), ("squared_hinge", Y_BIN * 2 - 1, "tanh"),
    ("categorical_hinge", np.eye(3, dtype="float32")[Y_INT], "softmax"),
    ("cosine_similarity", Y_REG, None),
]


@pytest.mark.parametrize("loss,y,out_act", LOSS_CASES, ids=[c[0] for c in LOSS_CASES])
def test_each_loss_matches_keras(loss, y, out_act):
    units = 1 if y.ndim == 2 and y.shape[1] == 1 else (3 if y.ndim == 1 or y.shape[1] == 3
                                                         else 2)
    spec = [(6, "tanh", {}), (units, out_act, {})]
    ours, ref, h1, h2 = _fit_both(spec, loss, y, "Adam", {"learning_rate": 0.01})
    assert_history_close(h1, h2, rtol=2e-5)
    assert_weights_close(ours, ref, rtol=2e-5)


OPTIMIZERS = [
    ("SGD", {}), ("SGD", {"momentum": 0.9}), ("SGD", {"momentum": 0.9, "nesterov": True}),
    ("SGD", {"learning_rate": 0.1, "clipnorm": 0.5}), ("SGD", {"clipvalue": 0.01}),
    ("SGD", {"global_clipnorm": 0.1}),
    ("Adam", {}), ("Adam", {"amsgrad": True}), ("Adam", {"weight_decay": 0.1}),
    ("AdamW", {}), ("RMSprop", {}), ("RMSprop", {"momentum": 0.5, "centered": True}),
    ("Adagrad", {}), ("Adadelta", {"learning_rate": 1.0}), ("Adamax", {}), ("Nadam", {}),
]


@pytest.mark.parametrize("name,kwargs", OPTIMIZERS, ids=[f"{n}-{k}" for n, k in OPTIMIZERS])
def test_each_optimizer_matches_keras(name, kwargs):
    spec = [(8, "relu", {}), (3, "softmax", {})]
    ours, ref, h1, h2 = _fit_both(spec, "sparse_categorical_crossentropy", Y_INT, name, kwargs,
                                  metrics=["accuracy"])
    assert_history_close(h1, h2, rtol=2e-5)
    assert_weights_close(ours, ref, rtol=2e-5)


SCHEDULES = [
    ("ExponentialDecay", {"initial_learning_rate": 0.1, "decay_steps": 3, "decay_rate": 0.5}),
    ("PiecewiseConstantDecay", {"boundaries": [3, 6], "values": [0.1, 0.05, 0.01]}),
    ("PolynomialDecay", {"initial_learning_rate": 0.1, "decay_steps": 10}),
    ("InverseTimeDecay", {"initial_learning_rate": 0.1, "decay_steps": 2, "decay_rate": 0.5}),
    ("CosineDecay", {"initial_learning_rate": 0.1, "decay_steps": 10, "warmup_target": 0.2,
                     "warmup_steps": 3}),
    ("CosineDecayRestarts", {"initial_learning_rate": 0.1, "first_decay_steps": 4}),
]


@pytest.mark.parametrize("name,kwargs", SCHEDULES, ids=[s[0] for s in SCHEDULES])
def test_schedules_in_fit_match_keras(name, kwargs):
    spec = [(4, "tanh", {}), (2, None, {})]
    ours, ref = build_pair(spec, X.shape[1])
    ours.compile(ck.optimizers.SGD(getattr(ck.optimizers.schedules, name)(**kwargs)), "mse")
    ref.compile(tk.optimizers.SGD(getattr(tk.optimizers.schedules, name)(**kwargs)), "mse")
    h1 = ours.fit(X, Y_REG, epochs=3, batch_size=16, shuffle=False, verbose=0)
    h2 = ref.fit(X, Y_REG, epochs=3, batch_size=16, shuffle=False, verbose=0)
    assert_history_close(h1, h2)
    assert_weights_close(ours, ref)


def test_validation_split_and_metrics_match_keras():
    spec = [(8, "relu", {}), (3, "softmax", {})]
    ours, ref, h1, h2 = _fit_both(spec, "sparse_categorical_crossentropy", Y_INT, "Adam",
                                  {"learning_rate": 0.01}, metrics=["accuracy"],
                                  validation_split=0.2)
    assert "val_accuracy" in h1.history
    assert_history_close(h1, h2)


def test_validation_data_sample_weight_class_weight_match_keras():
    sw = RNG.uniform(0.5, 2.0, size=70).astype("float32")
    spec = [(8, "relu", {}), (1, "sigmoid", {})]
    ours, ref, h1, h2 = _fit_both(spec, "binary_crossentropy", Y_BIN, "SGD",
                                  {"learning_rate": 0.1}, metrics=["accuracy"],
                                  validation_data=(X[:20], Y_BIN[:20]), sample_weight=sw)
    assert_history_close(h1, h2)
    ours, ref, h1, h2 = _fit_both(spec, "binary_crossentropy", Y_BIN, "SGD",
                                  {"learning_rate": 0.1}, class_weight={0: 0.3, 1: 2.0})
    assert_history_close(h1, h2)
    assert_weights_close(ours, ref)


def test_regularizers_match_keras():
    spec = [(6, "relu", {"kernel_regularizer": "l2", "bias_regularizer": "l1"}),
            (2, None, {"kernel_regularizer": "l2", "activity_regularizer": "l1"})]
    ours, ref, h1, h2 = _fit_both(spec, "mse", Y_REG, "SGD", {"learning_rate": 0.05})
    assert_history_close(h1, h2)
    assert_weights_close(ours, ref)


def test_evaluate_and_on_batch_methods_match_keras():
    spec = [(8, "relu", {}), (3, "softmax", {})]
    ours, ref = build_pair(spec, X.shape[1])
    for m in (ours, ref):
        m.compile("sgd", "sparse_categorical_crossentropy", metrics=["accuracy"])
    np.testing.assert_allclose(ours.evaluate(X, Y_INT, verbose=0),
                               ref.evaluate(X, Y_INT, verbose=0), rtol=1e-5)
    d1 = ours.evaluate(X, Y_INT, verbose=0, return_dict=True)
    d2 = ref.evaluate(X, Y_INT, verbose=0, return_dict=True)
    assert d1.keys() == d2.keys()
    np.testing.assert_allclose(ours.train_on_batch(X[:10], Y_INT[:10]),
                               ref.train_on_batch(X[:10], Y_INT[:10]), rtol=1e-5)
    np.testing.assert_allclose(ours.test_on_batch(X[:10], Y_INT[:10]),
                               ref.test_on_batch(X[:10], Y_INT[:10]), rtol=1e-5)
    np.testing.assert_allclose(ours.predict_on_batch(X[:10]),
                               np.asarray(ref.predict_on_batch(X[:10])), rtol=1e-5, atol=1e-7)
    assert ours.predict(X, verbose=0).dtype == np.float32


def test_validation_pass_sends_test_hooks_to_fit_callbacks_like_keras():
    def run(mod, model):
        calls = []

        class Spy(mod.callbacks.Callback):
            def on_test_begin(self, logs=None):
                calls.append("test_begin")

            def on_test_batch_end(self, batch, logs=None):
                calls.append(f"test_batch_{batch}")

            def on_test_end(self, logs=None):
                calls.append("test_end")

            def on_epoch_end(self, epoch, logs=None):
                calls.append(f"epoch_end_{epoch}")

        model.compile("sgd", "mse")
        model.fit(X, Y_REG, validation_data=(X[:20], Y_REG[:20]), epochs=2, batch_size=16,
                  shuffle=False, verbose=0, callbacks=[Spy()])
        return calls

    ours, ref = build_pair([(2, None, {})], X.shape[1])
    got, want = run(ck, ours), run(tk, ref)
    assert got == want and "test_begin" in got
