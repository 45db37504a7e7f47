"""Cases from ../shared/cases/batch1.md about models and training, with the values given there
(each was computed independently in float64 NumPy), plus the seed program."""

import os
import runpy
import sys

import numpy as np
import pytest

from chainrule import keras
from chainrule.keras import initializers, layers, losses, models, optimizers

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def one_weight(k):
    return models.Sequential([layers.Input((1,)), layers.Dense(
        1, use_bias=False, kernel_initializer=initializers.Constant(k))])


def test_seed_program_learns_the_least_squares_line():
    np.random.seed(0)
    ns = runpy.run_path(os.path.join(ROOT, "examples", "seed_linear_regression.py"))
    x, y, model = ns["x"], ns["y"], ns["model"]
    w, b = model.get_weights()
    slope, intercept = np.polyfit(x, y, 1)  # the exact minimiser of the mse
    # minibatch SGD (lr 0.01, batch 32) hovers around the minimiser with a spread of ~0.02
    assert abs(w[0, 0] - slope) < 0.1 and abs(b[0] - intercept) < 0.1
    assert abs(w[0, 0] - 2) < 0.5 and abs(b[0]) < 0.3
    assert ns["preds"].shape == (100, 1) and ns["preds"].dtype == np.float32


def test_case01_6_saturated_sigmoid_trains_finite():
    m = models.Sequential([layers.Input((1,)), layers.Dense(
        1, activation="sigmoid", kernel_initializer=initializers.Constant(100.0),
        bias_initializer="zeros")])
    m.compile(loss="binary_crossentropy", optimizer=optimizers.SGD(0.1))
    h = m.fit(x=np.array([[1.0], [-1.0]]), y=np.array([[1.0], [0.0]]), epochs=3, batch_size=2,
              verbose=0)
    assert np.all(np.isfinite(h.history["loss"])) and max(h.history["loss"]) < 1e-6
    assert all(np.all(np.isfinite(w)) for w in m.get_weights())
    p = m.predict(np.array([[1.0], [-1.0]]), verbose=0)
    np.testing.assert_allclose(p, [[1.0], [0.0]], atol=1e-6)


def test_case04_5_dense_gradient_shapes():
    import chainrule as cr

    d = layers.Dense(2, kernel_initializer="zeros", bias_initializer="zeros")
    x = np.array([[1, 0], [0, 1], [1, 1]], dtype="float32")
    y = np.array([[1, 2], [3, 4], [5, 6]], dtype="float32")
    loss = cr.mean(losses.mean_squared_error(y, d(x)))
    gk, gb = cr.grad(loss, [d.kernel, d.bias])
    assert gb.shape == (2,) and gk.shape == (2, 2)
    np.testing.assert_allclose(gb, [-3.0, -4.0], rtol=1e-5)
    np.testing.assert_allclose(gk, [[-2.0, -2.66667], [-2.66667, -3.33333]], rtol=1e-5)


def test_case05_5_two_kernels_are_distinct():
    import chainrule as cr

    m = models.Sequential([layers.Input((1,)),
                           layers.Dense(1, use_bias=False, kernel_initializer="ones"),
                           layers.Dense(1, use_bias=False, kernel_initializer="ones")])
    m.compile(loss="mse", optimizer=optimizers.SGD(0.01))
    x, y = np.array([[2.0]]), np.array([[0.0]])
    loss = losses.MeanSquaredError()(y, m(x))
    grads = cr.grad(loss, m.trainable_weights)
    np.testing.assert_allclose([g.item() for g in grads], [8.0, 8.0])
    m.fit(x, y, epochs=1, batch_size=1, verbose=0)
    np.testing.assert_allclose([w.item() for w in m.get_weights()], [0.92, 0.92], rtol=1e-6)


def test_case06_5_sparse_labels_both_shapes_fit():
    for y in (np.array([0, 1, 2]), np.array([[0], [1], [2]])):
        m = models.Sequential([layers.Input((2,)), layers.Dense(3, activation="softmax")])
        m.compile(loss="sparse_categorical_crossentropy", optimizer="sgd")
        h = m.fit(x=np.array([[0, 1], [1, 1], [1, 0]], "float32"), y=y, verbose=0)
        assert np.all(np.isfinite(h.history["loss"]))


def test_case07_3_evaluate_does_not_broadcast():
    y_true = np.array([1, 2, 3, 4], dtype="float32")
    y_pred = np.array([[1.5], [2.5], [2.5], [4.5]], dtype="float32")
    m = one_weight(1.0)
    m.compile(loss="mse", optimizer="sgd")
    assert m.evaluate(x=y_pred, y=y_true, verbose=0) == pytest.approx(0.25, rel=1e-6)


def test_case08_rank1_input_and_single_sample():
    m = models.Sequential([layers.Input((3,)), layers.Dense(
        2, kernel_initializer="ones", bias_initializer="zeros")])
    with pytest.raises(ValueError, match=r"\(3,\)") as err:
        m.predict(np.array([1.0, 2.0, 3.0]), verbose=0)
    assert "None, 3" in str(err.value) and "x[None]" in str(err.value)
    np.testing.assert_array_equal(m.predict(np.array([[1.0, 2.0, 3.0]]), verbose=0), [[6, 6]])
    with pytest.raises(ValueError, match=r"min_ndim=2, found ndim=1.*\(3,\)"):
        layers.Dense(2)(np.ones(3, "float32"))
    X = np.array([[1, 2, 3], [0, 1, 0]], dtype="float32")
    np.testing.assert_array_equal(m.predict(X[:1], verbose=0)[0], m.predict(X, verbose=0)[0])


@pytest.mark.parametrize("batch_size", [1, 2, 3, 32])
def test_case09_epoch_loss_is_sample_weighted(batch_size):
    m = one_weight(0.0)
    m.compile(loss="mse", optimizer=optimizers.SGD(0.0))
    x, y = np.zeros((3, 1)), np.array([[1.0], [3.0], [5.0]])
    assert m.evaluate(x, y, batch_size=batch_size, verbose=0) == pytest.approx(35 / 3, rel=1e-6)
    h = m.fit(x, y, batch_size=batch_size, epochs=1, verbose=0)
    assert h.history["loss"][0] == pytest.approx(35 / 3, rel=1e-6)


def test_case09_4_batch_larger_than_data():
    m = one_weight(0.0)
    m.compile(loss="mse", optimizer=optimizers.SGD(0.0))
    h = m.fit(np.zeros((3, 1)), np.array([[1.0], [3.0], [5.0]]), batch_size=100, epochs=2,
              verbose=0)
    assert int(m.optimizer.iterations) == 2
    np.testing.assert_allclose(h.history["loss"], [35 / 3, 35 / 3], rtol=1e-6)


@pytest.mark.parametrize("n,split,loss,val_loss", [
    (4, 0.25, 14 / 3, 16.0), (3, 0.2, 2.5, 9.0)])
def test_case10_validation_split_takes_last_samples(n, split, loss, val_loss):
    m = one_weight(0.0)
    m.compile(loss="mse", optimizer=optimizers.SGD(0.0))
    y = np.arange(1, n + 1, dtype="float32").reshape(-1, 1)
    h = m.fit(np.zeros((n, 1)), y, validation_split=split, shuffle=True, epochs=1, verbose=0)
    assert h.history["loss"][0] == pytest.approx(loss, rel=1e-6)
    assert h.history["val_loss"][0] == pytest.approx(val_loss, rel=1e-6)


@pytest.mark.parametrize("n,split", [(1, 0.5), (10, 0.99)])
def test_case10_split_leaving_nothing_raises(n, split):
    m = one_weight(0.0)
    m.compile(loss="mse", optimizer=optimizers.SGD(0.0))
    with pytest.raises(ValueError, match="validation_split"):
        m.fit(np.zeros((n, 1)), np.ones((n, 1)), validation_split=split, verbose=0)


def test_case10_5_small_split_trains():
    m = one_weight(0.0)
    m.compile(loss="mse", optimizer=optimizers.SGD(0.0))
    h = m.fit(np.zeros((10, 1)), np.ones((10, 1)), validation_split=0.05, verbose=0)
    assert len(h.history["val_loss"]) == 1


def test_case11_adam_steps():
    m = one_weight(1.0)
    m.compile(loss="mse", optimizer=optimizers.Adam(0.1))
    got = []
    for _ in range(3):
        m.fit(np.array([[1.0]]), np.array([[0.0]]), batch_size=1, verbose=0)
        got.append(m.get_weights()[0].item())
    # the case's default tolerance (1e-5); real Keras 3.15.1 gives the same float32 values
    # (0.9000008, 0.8004141, 0.7015886) as we do
    np.testing.assert_allclose(got, [0.9, 0.800412, 0.701587], atol=1e-5)
    m = one_weight(1.0)
    m.compile(loss="mse", optimizer=optimizers.Adam(0.1))
    m.fit(np.array([[1000.0]]), np.array([[0.0]]), batch_size=1, verbose=0)
    assert m.get_weights()[0].item() == pytest.approx(0.9, abs=1e-6)


def test_case12_float64_and_int_inputs():
    m = models.Sequential([layers.Input((2,)), layers.Dense(
        1, kernel_initializer=initializers.Constant([[0.5], [0.25]]),
        bias_initializer=initializers.Constant(0.1))])
    m.compile(loss="mse", optimizer=optimizers.SGD(0.1))
    x64, y64 = np.array([[1.0, 2.0]]), np.array([[0.0]])
    p = m.predict(x64, verbose=0)
    assert p.dtype == np.float32
    np.testing.assert_allclose(p, [[1.1]], rtol=1e-6)
    assert m.evaluate(x64, y64, verbose=0) == pytest.approx(1.21, rel=1e-5)
    m.fit(x64, y64, epochs=1, batch_size=1, verbose=0)
    k, b = m.get_weights()
    assert k.dtype == np.float32 and b.dtype == np.float32
    np.testing.assert_allclose(k, [[0.28], [-0.19]], rtol=1e-5)
    np.testing.assert_allclose(b, [-0.12], rtol=1e-5)
    p_int = m.predict(np.array([[1, 2]], dtype="int64"), verbose=0)
    assert p_int.dtype == np.float32  # integer inputs are cast to the model's dtype (Keras)
    np.testing.assert_allclose(p_int, [[-0.22]], rtol=1e-5)
    assert m.predict(np.ones((40, 2), dtype="int32"), verbose=0).dtype == np.float32


# -- bad input: a clear error naming what was expected and what was received ---------------

def _compiled(units=1, dim=2, loss="mse"):
    m = models.Sequential([layers.Input((dim,)), layers.Dense(units)])
    m.compile(optimizer="sgd", loss=loss)
    return m


def test_mismatched_lengths():
    with pytest.raises(ValueError, match="10.*9|x: 10"):
        _compiled().fit(np.zeros((10, 2)), np.zeros((9, 1)), verbose=0)


def test_feature_count_differs():
    with pytest.raises(ValueError, match=r"\(None, 2\).*\(4, 3\)"):
        _compiled().predict(np.zeros((4, 3)), verbose=0)


def test_sparse_label_out_of_range_names_label():
    m = _compiled(units=3, loss="sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match=r"label 5.*\[0, 3\)"):
        m.fit(np.zeros((4, 2)), np.array([0, 1, 5, 2]), verbose=0)


def test_one_hot_vs_integer_labels():
    m = _compiled(units=3, loss="sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match=r"\(4, 3\)"):
        m.fit(np.zeros((4, 2)), np.eye(3)[[0, 1, 2, 0]], verbose=0)
    m = _compiled(units=3, loss="categorical_crossentropy")
    with pytest.raises(ValueError, match=r"\(4,\).*\(4, 3\)|\(4, 3\).*\(4,\)"):
        m.fit(np.zeros((4, 2)), np.array([0, 1, 2, 0]), verbose=0)


def test_fit_or_evaluate_before_compile():
    # a ValueError starting with Keras's own words (Keras 3.15.1 raises ValueError too)
    m = models.Sequential([layers.Input((2,)), layers.Dense(1)])
    with pytest.raises(ValueError, match=r"^You must call `compile\(\)` before using the model"):
        m.fit(np.zeros((4, 2)), np.zeros((4, 1)), verbose=0)
    with pytest.raises(ValueError, match=r"^You must call `compile\(\)` before using the model"):
        m.evaluate(np.zeros((4, 2)), np.zeros((4, 1)), verbose=0)


@pytest.mark.parametrize("kind,kwargs,match", [
    ("loss", {"loss": "msee"}, "mean_squared_error"),
    ("optimizer", {"optimizer": "adamm", "loss": "mse"}, "adam"),
    ("metric", {"loss": "mse", "metrics": ["acuracy"]}, "accuracy"),
])
def test_unknown_names_list_valid_ones(kind, kwargs, match):
    m = models.Sequential([layers.Input((2,)), layers.Dense(1)])
    with pytest.raises(ValueError, match=match):
        m.compile(**kwargs)
    with pytest.raises(ValueError, match="relu"):
        layers.Dense(2, activation="rellu")


@pytest.mark.parametrize("kwargs,match", [
    ({"batch_size": 0}, "batch_size"), ({"batch_size": -3}, "batch_size"),
    ({"epochs": -1}, "epochs"), ({"validation_split": 1.0}, "validation_split"),
    ({"validation_split": -0.1}, "validation_split")])
def test_bad_fit_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        _compiled().fit(np.zeros((4, 2)), np.zeros((4, 1)), verbose=0, **kwargs)


def test_empty_x_and_zero_units():
    with pytest.raises(ValueError, match="empty"):
        _compiled().fit(np.zeros((0, 2)), np.zeros((0, 1)), verbose=0)
    with pytest.raises(ValueError, match="units must be a positive integer, received units=0"):
        layers.Dense(units=0)


def test_nan_is_not_an_error_and_terminate_on_nan_stops():
    m = _compiled()
    x = np.ones((8, 2), "float32")
    y = np.ones((8, 1), "float32")
    y[3] = np.nan
    h = m.fit(x, y, batch_size=2, epochs=5, verbose=0, shuffle=False,
              callbacks=[keras.callbacks.TerminateOnNaN()])
    assert len(h.history["loss"]) == 1 and np.isnan(h.history["loss"][0])
    assert m.optimizer.iterations == 2  # stopped after the batch where NaN appeared


def test_verbose_output(capsys):
    m = _compiled()
    m.fit(np.zeros((4, 2)), np.zeros((4, 1)), epochs=2, verbose=0)
    m.predict(np.zeros((4, 2)), verbose=0)
    assert capsys.readouterr().out == ""
    m.fit(np.zeros((4, 2)), np.zeros((4, 1)), epochs=2, verbose=2)
    out = capsys.readouterr().out
    assert "Epoch 1/2" in out and "Epoch 2/2" in out and "loss:" in out


def test_summary_lists_layers_and_counts(capsys):
    m = models.Sequential([layers.Input((4,)), layers.Dense(3, name="hidden"),
                           layers.Dense(1, name="out")])
    m.summary()
    out = capsys.readouterr().out
    assert "hidden (Dense)" in out and "(None, 3)" in out and "Total params: 19" in out
    assert m.count_params() == 19


def test_sequential_add_pop_and_lazy_build():
    m = models.Sequential()
    m.add(layers.Dense(4, activation="relu"))
    m.add(layers.Dense(1))
    assert not m.built
    m.compile("adam", "mse")
    m.fit(np.zeros((5, 3)), np.zeros(5), verbose=0)
    assert m.built and m.layers[0].kernel.shape == (3, 4)
    popped = m.pop()
    assert popped.units == 1 and len(m.layers) == 1


def test_early_stopping_restores_best_weights_in_fit():
    keras.utils.set_random_seed(1)
    x = np.random.default_rng(0).normal(size=(64, 3)).astype("float32")
    y = x.sum(axis=1, keepdims=True)
    m = _compiled(dim=3)
    m.compile(optimizer=optimizers.SGD(1.5), loss="mse")  # diverges: val_loss grows
    best = []
    cb = keras.callbacks.LambdaCallback(on_epoch_end=lambda e, logs: best.append(
        (logs["val_loss"], m.get_weights())))
    es = keras.callbacks.EarlyStopping(patience=2, restore_best_weights=True)
    m.fit(x, y, validation_split=0.25, epochs=20, callbacks=[cb, es], verbose=0)
    want = min(best, key=lambda t: t[0])[1]
    for a, b in zip(m.get_weights(), want):
        np.testing.assert_array_equal(a, b)


def test_set_random_seed_makes_fit_reproducible():
    def run():
        keras.utils.set_random_seed(123)
        m = models.Sequential([layers.Input((3,)), layers.Dense(4, activation="relu"),
                               layers.Dropout(0.5), layers.Dense(1)])
        m.compile("adam", "mse")
        x = np.arange(60, dtype="float32").reshape(20, 3) / 60
        m.fit(x, x.sum(1), epochs=2, batch_size=4, verbose=0)
        return m.get_weights()

    for a, b in zip(run(), run()):
        np.testing.assert_array_equal(a, b)


def test_model_call_and_weights_api():
    import chainrule as cr

    m = models.Sequential([layers.Input((2,)), layers.Dense(3), layers.Dense(1)])
    out = m(np.ones((4, 2), "float32"), training=True)
    assert isinstance(out, cr.Tensor) and out.shape == (4, 1)
    assert len(m.weights) == 4 and len(m.trainable_weights) == 4
    m.layers[0].trainable = False
    assert len(m.trainable_weights) == 2 and len(m.non_trainable_weights) == 2
    m.layers[0].trainable = True
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(3, 3\)|\(3, 3\).*\(2, 3\)"):
        m.set_weights([np.zeros((3, 3))] + m.get_weights()[1:])


def test_module_level_names_exist():
    assert sys.modules["chainrule.keras"] is keras
    for name in ("Sequential", "Model", "Input", "layers", "losses", "metrics", "optimizers",
                 "callbacks", "initializers", "activations", "regularizers", "utils"):
        assert getattr(keras, name) is not None
    y = keras.utils.to_categorical([0, 2, 1])
    np.testing.assert_array_equal(y, np.eye(3)[[0, 2, 1]])
    np.testing.assert_allclose(np.linalg.norm(keras.utils.normalize([[3.0, 4.0]]), axis=-1), 1)


def test_model_subclass_built_from_inputs_and_outputs_is_functional():
    inp = keras.Input((3,))
    out = layers.Dense(2, kernel_initializer="ones")(inp)

    class WithExtra(keras.Model):
        def describe(self):
            return f"{len(self.layers)} layers"

    m = WithExtra(inp, out)
    assert isinstance(m, WithExtra) and m.describe() == "2 layers"
    np.testing.assert_allclose(m.predict(np.ones((1, 3)), verbose=0), [[3.0, 3.0]])
    plain = keras.Model(inp, out, name="plain")
    assert plain.name == "plain" and len(plain.layers) == 2


def test_fit_interrupted_by_an_exception_leaves_no_stale_trainable_list():
    m = models.Sequential([layers.Input((2,)), layers.Dense(2), layers.Dense(1)])
    m.compile(optimizer=optimizers.SGD(0.1), loss="mse")

    class Boom(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            raise RuntimeError("boom")

    x, y = np.ones((4, 2), "float32"), np.zeros((4, 1), "float32")
    with pytest.raises(RuntimeError, match="boom"):
        m.fit(x, y, verbose=0, callbacks=[Boom()])
    m.layers[0].trainable = False
    frozen = m.layers[0].get_weights()
    m.train_on_batch(x, y)
    for a, b in zip(m.layers[0].get_weights(), frozen):
        np.testing.assert_array_equal(a, b)
