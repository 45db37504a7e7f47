"""Adversarial use of the Keras API, as a user moving code over would write it.

Each test compares chainrule with real Keras 3.15.1 (torch backend) on the same data and the
same initial weights, or asserts a deliberate, documented difference (a clear error where Keras
accepts nonsense). Regression tests for the bugs this file found are marked "regression".
"""

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import warnings  # noqa: E402

import keras as tk  # noqa: E402  (real Keras, the reference)
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from chainrule import keras as ck  # noqa: E402

RS = np.random.default_rng(0)
X = RS.normal(size=(16, 3)).astype("float32")
Y = RS.normal(size=(16, 1)).astype("float32")
Y3 = np.array([0, 1, 2, 1] * 4)


def _np(v):
    return np.asarray(v.detach().cpu() if hasattr(v, "detach") else v)


def _pair(units=(4, 1), acts=("tanh", None), n_in=3, seed=1):
    """The same Dense stack in both frameworks with identical initial weights."""
    models = []
    for K in (ck, tk):
        models.append(K.Sequential([K.Input((n_in,))] + [
            K.layers.Dense(u, activation=a) for u, a in zip(units, acts, strict=True)]))
    rng = np.random.default_rng(seed)
    w = [rng.uniform(-0.5, 0.5, a.shape).astype("float32") for a in models[0].get_weights()]
    for m in models:
        m.set_weights(w)
    return models


def _fit_both(compile_kw=None, units=(4, 1), acts=("tanh", None), **fit_kw):
    ours, ref = _pair(units, acts)
    hs = []
    for K, m in ((ck, ours), (tk, ref)):
        kw = dict(compile_kw or {})
        kw.setdefault("loss", "mse")
        m.compile(optimizer=K.optimizers.SGD(0.1), **kw)
        fkw = {"verbose": 0, "shuffle": False, **fit_kw}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            hs.append(m.fit(**fkw).history)
    return (ours, hs[0]), (ref, hs[1])


def _assert_same_history(h_ours, h_ref):
    assert set(h_ours) == set(h_ref), (h_ours, h_ref)
    for k in h_ref:
        np.testing.assert_allclose(h_ours[k], h_ref[k], rtol=1e-5, atol=1e-6, err_msg=k)


def _assert_same_weights(ours, ref):
    for a, b in zip(ours.get_weights(), ref.get_weights(), strict=True):
        np.testing.assert_allclose(a, _np(b), rtol=1e-5, atol=1e-6)


# -- weights order ---
def _bn_model(K):
    return K.Sequential([K.Input((3,)), K.layers.Dense(4), K.layers.BatchNormalization(),
                         K.layers.Dense(4)])

@pytest.mark.parametrize("freeze", [False, True])
def test_regression_weights_are_listed_layer_by_layer_as_keras(freeze):
    ours, ref = _bn_model(ck), _bn_model(tk)
    if freeze:
        ours.layers[0].trainable = False
        ref.layers[0].trainable = False
    assert [w.shape for w in ours.weights] == [tuple(w.shape) for w in ref.weights]
    kinds = [p.rsplit("/", 1)[1] for p in (w.path for w in ours.weights)]
    assert kinds == [w.path.rsplit("/", 1)[1] for w in ref.weights]
    assert kinds == ["kernel", "bias", "gamma", "beta", "moving_mean", "moving_variance",
                     "kernel", "bias"]

def test_regression_freezing_a_layer_keeps_get_set_weights_order():
    # Transfer-learning pattern: save the weights, freeze the first layer, restore.
    # Two Dense(4) layers on 4 features have the same shapes, so a reordering is silent.
    m = ck.Sequential([ck.Input((4,)), ck.layers.Dense(4), ck.layers.Dense(4)])
    before = m.get_weights()
    m.layers[0].trainable = False
    after = m.get_weights()
    for a, b in zip(before, after, strict=True):
        np.testing.assert_array_equal(a, b)
    m.set_weights(before)
    np.testing.assert_array_equal(m.layers[0].kernel.numpy(), before[0])
    # trainable_weights still excludes the frozen layer
    assert [w.path for w in m.trainable_weights] == [w.path for w in m.layers[1].weights]


# -- models ---
@pytest.mark.parametrize("action", ["fit", "predict", "call", "build"])
def test_regression_empty_sequential_raises_like_keras(action):
    # Before: predict returned its input unchanged and fit failed inside the loss.
    for K in (ck, tk):
        m = K.Sequential()
        m.compile(optimizer="sgd", loss="mse")
        run = {"fit": lambda m=m: m.fit(X, Y, verbose=0),
               "predict": lambda m=m: m.predict(X, verbose=0),
               "call": lambda m=m: m(X),
               "build": lambda m=m: m.build((None, 3))}[action]
        with pytest.raises(ValueError, match="cannot be built because it has no layers"):
            run()


def test_sequential_add_rejects_non_layers():
    # Keras raises ValueError; we raise TypeError (the wrong type), naming what was received.
    for bad in (3, ck.layers.Dense, "dense"):
        with pytest.raises(TypeError, match="expects a Layer instance, received"):
            ck.Sequential().add(bad)


# -- class_weight / sample_weight ---
@pytest.mark.parametrize("targets", ["sparse", "sparse_float_n1", "onehot"])
@pytest.mark.parametrize("class_weight", [{0: 1.0, 1: 3.0, 2: 0.5}, {1: 3.0}, {2: 0.0, 7: 9.0}])
def test_regression_class_weight_missing_classes_weigh_one_as_keras(targets, class_weight):
    # Before: a class absent from class_weight raised; Keras gives it weight 1.0.
    y = {"sparse": Y3, "sparse_float_n1": Y3[:, None].astype("float32"),
         "onehot": np.eye(3, dtype="float32")[Y3]}[targets]
    loss = "categorical_crossentropy" if targets == "onehot" else "sparse_categorical_crossentropy"
    (ours, h1), (ref, h2) = _fit_both({"loss": loss, "metrics": ["accuracy"]}, units=(4, 3),
                                      acts=("tanh", "softmax"), x=X, y=y, batch_size=5,
                                      epochs=2, class_weight=class_weight)
    _assert_same_history(h1, h2)
    _assert_same_weights(ours, ref)


def _refusal(fn):
    with pytest.raises(ValueError) as info:
        fn()
    return str(info.value)


def test_class_weight_refusals_are_keras_own():
    # class_weight with sample_weight (fit, train_on_batch) or several outputs, and
    # validation_split with a generator: Keras refuses each, and so do we, in its words (we
    # used to multiply the weights and to drop the split)
    yb = (Y > 0).astype("float32")
    sw = np.ones(16, "float32")

    def gen():
        while True:
            yield X[:4], yb[:4]

    for k in (ck, tk):
        m = _pair()[0] if k is ck else _pair()[1]
        m.compile(optimizer="sgd", loss="mse")
        fits = [lambda: m.fit(X, yb, sample_weight=sw, class_weight={0: 2.0}, verbose=0),
                lambda: m.train_on_batch(X, yb, sample_weight=sw, class_weight={0: 2.0}),
                lambda: m.fit(gen(), validation_split=0.5, steps_per_epoch=1, verbose=0)]
        got = [_refusal(f) for f in fits]
        if k is ck:
            ours = got
        else:
            theirs = got
    assert ours[0] == theirs[0] == "You cannot `class_weight` and `sample_weight` at the same time."
    assert ours[1] == theirs[1]
    split = "Argument `validation_split` is only supported for tensors or NumPy arrays."
    assert ours[2].startswith(split) and theirs[2].startswith(split)
    inp = ck.Input((X.shape[1],))
    two = ck.Model(inp, [ck.layers.Dense(1)(inp), ck.layers.Dense(1)(inp)])
    two.compile(optimizer="sgd", loss="mse")
    assert _refusal(lambda: two.fit(X, [yb, yb], class_weight={0: 2.0}, verbose=0)) == (
        "`class_weight` is only supported for Models with a single output.")


# -- steps with array data ---
XS, YS = X[:4], Y[:4]


@pytest.mark.parametrize("kw", [
    {"steps_per_epoch": 2, "epochs": 3},  # batch_size defaults to ceil(n / steps) = 2
    {"steps_per_epoch": 3, "batch_size": 1, "epochs": 3},  # the pass continues across epochs
    {"steps_per_epoch": 3, "batch_size": 2, "epochs": 2},  # runs out: epochs end early
    {"steps_per_epoch": 1, "batch_size": 3, "epochs": 3, "validation_data": (XS, YS)},
])
def test_regression_steps_per_epoch_with_arrays_as_keras(kw):
    # Before: steps_per_epoch was ignored for arrays (every epoch was a full pass of 32).
    (ours, h1), (ref, h2) = _fit_both(x=XS, y=YS, **kw)
    _assert_same_history(h1, h2)
    _assert_same_weights(ours, ref)
    assert int(ours.optimizer.iterations) == int(_np(ref.optimizer.iterations))


def test_regression_steps_per_epoch_params_and_warning():
    m = _pair()[0]
    m.compile(optimizer="sgd", loss="mse")
    with pytest.warns(UserWarning, match="ran out of data"):
        h = m.fit(XS, YS, steps_per_epoch=3, batch_size=2, epochs=1, verbose=0)
    assert h.params["steps"] == 3
    assert int(m.optimizer.iterations) == 2


# -- steps with a generator or a PyDataset ---
def _cycle(n_batches=3, size=2):
    """An endless generator of the same ``n_batches`` batches in turn."""
    while True:
        for i in range(n_batches):
            yield X[i * size:(i + 1) * size], Y[i * size:(i + 1) * size]


def _dataset(K, n_batches=3, size=2):
    class Batches(K.utils.PyDataset):
        def __len__(self):
            return n_batches

        def __getitem__(self, i):
            return X[i * size:(i + 1) * size], Y[i * size:(i + 1) * size]

    return Batches()


@pytest.mark.parametrize("source", ["generator", "pydataset"])
@pytest.mark.parametrize("steps, epochs", [(2, 3), (3, 2), (1, 4), (4, 2)])
def test_regression_steps_per_epoch_with_a_generator_or_pydataset_as_keras(source, steps, epochs):
    # Before: each epoch drew one batch more than it trained on and dropped it (a generator:
    # batch 3 of 3 was never trained on with 2 steps), and a PyDataset started every epoch
    # at its first batch; Keras reads on across epochs (a PyDataset's pass ends an epoch
    # early when it runs out, with a warning)
    ours, ref = _pair()
    hs = []
    for K, m in ((ck, ours), (tk, ref)):
        m.compile(optimizer=K.optimizers.SGD(0.1), loss="mse")
        data = _cycle() if source == "generator" else _dataset(K)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            hs.append(m.fit(data, steps_per_epoch=steps, epochs=epochs, verbose=0,
                            shuffle=False).history)  # fmt: skip
    _assert_same_history(*hs)
    _assert_same_weights(ours, ref)
    assert int(ours.optimizer.iterations) == int(_np(ref.optimizer.iterations))


@pytest.mark.parametrize("kw", [{"steps": 1}, {"steps": 2}, {"steps": 1, "batch_size": 1},
                                {"steps": 3, "batch_size": 1}, {"steps": 9, "batch_size": 1}])
def test_regression_evaluate_and_predict_steps_with_arrays_as_keras(kw):
    ours, ref = _pair()
    for K, m in ((ck, ours), (tk, ref)):
        m.compile(optimizer=K.optimizers.SGD(0.1), loss="mse")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        np.testing.assert_allclose(ours.evaluate(XS, YS, verbose=0, **kw),
                                   ref.evaluate(XS, YS, verbose=0, **kw), rtol=1e-6)
        p_ours, p_ref = ours.predict(XS, verbose=0, **kw), ref.predict(XS, verbose=0, **kw)
    assert p_ours.shape == p_ref.shape
    np.testing.assert_allclose(p_ours, p_ref, rtol=1e-6, atol=1e-7)


# -- optimizer state idioms from Keras code ---
def test_regression_optimizer_learning_rate_and_iterations_variable_idioms():
    # Keras 3 code reads and sets these as Variables: .numpy(), .assign(), .value.
    ours, ref = _pair()
    for K, m in ((ck, ours), (tk, ref)):
        m.compile(optimizer=K.optimizers.Adam(0.01), loss="mse")
        m.fit(XS, YS, batch_size=2, verbose=0, shuffle=False)
        assert int(m.optimizer.iterations.numpy()) == 2
        np.testing.assert_allclose(m.optimizer.learning_rate.numpy(), np.float32(0.01))
        m.optimizer.learning_rate.assign(0.05)
        np.testing.assert_allclose(float(np.asarray(m.optimizer.learning_rate)), np.float32(0.05))
        m.fit(XS, YS, batch_size=2, verbose=0, shuffle=False)
    _assert_same_weights(ours, ref)
    lr = ours.optimizer.learning_rate
    assert lr.dtype == np.float32 and lr * 2 == np.float32(0.1)
    assert int(ours.optimizer.iterations) == 4 and str(lr) == "0.05"


def test_optimizer_learning_rate_assign_on_a_schedule_raises():
    opt = ck.optimizers.SGD(ck.optimizers.schedules.ExponentialDecay(0.1, 10, 0.5))
    with pytest.raises(TypeError, match="not settable"):
        opt.learning_rate.assign(0.3)


# -- data as users pass it: parity with Keras ---
@pytest.mark.parametrize("name,x,y,kw", [
    ("float16", X.astype("float16"), Y.astype("float16"), {}),
    ("float64 x, int y", X.astype("float64"), np.rint(Y).astype("int64"), {}),
    ("uint8", (np.abs(X) * 50).astype("uint8"), (Y > 0).astype("uint8"), {}),
    ("bool", X > 0, Y > 0, {}),
    ("y (N,)", X, Y[:, 0], {}),
    ("x trailing axis 1", X[..., None], Y, {}),
    ("single sample", X[:1], Y[:1], {}),
    ("batch_size 1", X, Y, {"batch_size": 1}),
    ("n % batch_size != 0", X, Y, {"batch_size": 5}),
    ("batch_size > n", X, Y, {"batch_size": 100, "epochs": 2}),
    ("sample_weight (N,1)", X, Y, {"sample_weight": np.linspace(0, 2, 16)[:, None]}),
    ("zero sample weights", X, Y, {"sample_weight": np.zeros(16)}),
    ("validation_data 3-tuple", X, Y,
     {"validation_data": (X[:5], Y[:5], np.array([1.0, 0.0, 2.0, 0.5, 1.0]))}),
    ("validation_split + shuffle", X, Y,
     {"validation_split": 0.25, "shuffle": True, "batch_size": 16}),
    ("initial_epoch", X, Y, {"epochs": 3, "initial_epoch": 2}),
    ("epochs 0", X, Y, {"epochs": 0}),
    ("NaN in y", X, np.where(np.arange(16)[:, None] == 3, np.nan, Y), {"epochs": 2}),
])
def test_fit_matches_keras_on_user_data(name, x, y, kw):
    kw.setdefault("batch_size", 4)
    (ours, h1), (ref, h2) = _fit_both(x=x, y=y, **kw)
    _assert_same_history(h1, h2)
    if "NaN" not in name:
        _assert_same_weights(ours, ref)


@pytest.mark.parametrize("loss,y", [
    ("sparse_categorical_crossentropy", Y3.astype("float32")),  # labels as floats 0.0, 1.0, 2.0
    ("sparse_categorical_crossentropy", Y3[:, None]),
    ("categorical_crossentropy", np.eye(3, dtype="int64")[Y3]),
])
def test_label_encodings_match_keras(loss, y):
    (ours, h1), (ref, h2) = _fit_both({"loss": loss, "metrics": ["accuracy"]}, units=(4, 3),
                                      acts=("tanh", "softmax"), x=X, y=y, batch_size=4)
    _assert_same_history(h1, h2)
    _assert_same_weights(ours, ref)


def test_lists_and_tensors_as_data_train_as_arrays():
    # Keras 3 rejects nested lists ("Unrecognized data type"); we accept them as arrays.
    hs = []
    for x, y in ((X, Y), (X.tolist(), Y.tolist()), (ck.ops.convert_to_tensor(X), Y)):
        m = _pair()[0]
        m.compile(optimizer=ck.optimizers.SGD(0.1), loss="mse")
        hs.append(m.fit(x, y, batch_size=4, verbose=0, shuffle=False).history["loss"])
    np.testing.assert_array_equal(hs[1], hs[0])
    np.testing.assert_array_equal(hs[2], hs[0])


def test_dense_on_3d_input_applies_to_last_axis_as_keras():
    ours = ck.Sequential([ck.Input((5, 3)), ck.layers.Dense(2)])
    ref = tk.Sequential([tk.Input((5, 3)), tk.layers.Dense(2)])
    ref.set_weights(ours.get_weights())
    x = RS.normal(size=(2, 5, 3)).astype("float32")
    np.testing.assert_allclose(ours.predict(x, verbose=0), ref.predict(x, verbose=0), rtol=1e-6,
                               atol=1e-6)


def test_predict_batch_size_one_keeps_order():
    m = _pair()[0]
    x = np.random.default_rng(3).normal(size=(1000, 3)).astype("float32")
    np.testing.assert_allclose(m.predict(x, batch_size=1, verbose=0), m.predict(x, verbose=0),
                               rtol=1e-6, atol=1e-7)


# -- deliberate differences: a clear error where Keras accepts nonsense ---
@pytest.mark.parametrize("kw,match", [
    ({"verbose": 3}, "verbose must be 'auto', 0, 1 or 2, received verbose=3"),
    ({"batch_size": 0}, "batch_size must be a positive integer, received batch_size=0"),
    ({"steps_per_epoch": 0}, "steps_per_epoch must be a positive integer"),
])
def test_fit_rejects_values_keras_silently_accepts(kw, match):
    m = _pair()[0]
    m.compile(optimizer="sgd", loss="mse")
    with pytest.raises(ValueError, match=match):
        m.fit(X, Y, **kw)


@pytest.mark.parametrize("make,match", [
    (lambda: ck.layers.Dropout(1.0), r"rate must be a float in \[0, 1\), received rate=1.0"),
    (lambda: ck.layers.Dropout(-0.1), "received rate=-0.1"),
    (lambda: ck.layers.Dense(True), "units must be a positive integer, received units=True"),
    (lambda: ck.layers.Dense(3.0), "received units=3.0"),
    (lambda: ck.layers.Dense("3"), "received units='3'"),
    (lambda: ck.optimizers.SGD(-0.1), "learning_rate"),
])
def test_constructors_reject_bad_arguments(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_predict_on_empty_input_raises_clearly():
    # Keras crashes with UnboundLocalError; we name the empty shape.
    with pytest.raises(ValueError, match=r"x is empty: received an array of shape \(0, 3\)"):
        _pair()[0].predict(np.zeros((0, 3), "float32"), verbose=0)


# -- callbacks ---
def test_stop_training_in_on_train_batch_end_as_keras():
    iters = []
    for K, m in zip((ck, tk), _pair(), strict=True):
        class Stop(K.callbacks.Callback):
            def on_train_batch_end(self, batch, logs=None):
                if batch == 1:
                    self.model.stop_training = True

        m.compile(optimizer=K.optimizers.SGD(0.1), loss="mse")
        m.fit(X, Y, batch_size=4, epochs=3, verbose=0, shuffle=False, callbacks=[Stop()])
        iters.append(int(_np(m.optimizer.iterations)))
    assert iters == [2, 2]


def test_early_stopping_restores_first_epoch_weights_as_keras():
    out = []
    for K, m in zip((ck, tk), _pair(), strict=True):
        m.compile(optimizer=K.optimizers.SGD(5.0), loss="mse")  # diverges: epoch 0 is best
        cb = K.callbacks.EarlyStopping(monitor="loss", patience=2, restore_best_weights=True)
        h = m.fit(X, Y, batch_size=16, epochs=10, verbose=0, shuffle=False, callbacks=[cb])
        out.append((len(h.history["loss"]), cb.stopped_epoch, cb.best_epoch, m.get_weights()))
    assert out[0][:3] == out[1][:3] == (3, 2, 0)
    for a, b in zip(out[0][3], out[1][3], strict=True):
        np.testing.assert_allclose(a, _np(b), rtol=1e-5)


def test_callback_exception_propagates_unchanged():
    class Boom(ck.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            raise KeyError("boom")

    m = _pair()[0]
    m.compile(optimizer="sgd", loss="mse")
    with pytest.raises(KeyError, match="boom"):
        m.fit(X, Y, verbose=0, callbacks=[Boom()])


# -- determinism ---
def test_set_random_seed_repeats_weights_and_history_with_dropout_and_shuffle():
    def run(seed):
        ck.utils.set_random_seed(seed)
        m = ck.Sequential([ck.Input((3,)), ck.layers.Dense(8, activation="relu"),
                           ck.layers.Dropout(0.5), ck.layers.Dense(1)])
        m.compile(optimizer="adam", loss="mse")
        h = m.fit(X, Y, epochs=3, batch_size=4, verbose=0, validation_split=0.25)
        return m.get_weights(), h.history

    (w1, h1), (w2, h2), (w3, _) = run(7), run(7), run(8)
    assert h1 == h2
    assert all(np.array_equal(a, b) for a, b in zip(w1, w2, strict=True))
    assert not all(np.array_equal(a, b) for a, b in zip(w1, w3, strict=True))


@pytest.mark.parametrize("inputs", [[[1.0, 2.0, 3.0]], ([1.0, 2.0, 3.0],), {"x": [1.0, 2.0, 3.0]}])
@pytest.mark.parametrize("with_input", [True, False])
def test_a_sequential_called_on_a_list_raises_a_clear_error_as_keras_raises(inputs, with_input):
    # Before: AttributeError ('list' object has no attribute 'shape') or a TypeError from deep
    # inside; Keras 3.15.1 raises a ValueError too
    layers = [ck.Input((3,))] if with_input else []
    model = ck.Sequential([*layers, ck.layers.Dense(2)])
    with pytest.raises(ValueError, match=f"received a {type(inputs).__name__}"):
        model(inputs)
    ref = tk.Sequential([tk.Input((3,)), tk.layers.Dense(2)])
    with pytest.raises(ValueError):
        ref(inputs)


@pytest.mark.parametrize("wrap", [list, tuple])
def test_a_sequential_takes_a_one_element_list_as_keras(wrap):
    # Before: AttributeError ('list' object has no attribute 'shape') in model(), fit and
    # predict; Keras 3.15.1 unwraps a one-element list for a one-input model
    ours, ref = _pair()
    x = np.asarray(X)
    with pytest.warns(UserWarning, match="structure of `inputs`"):
        np.testing.assert_array_equal(ours(wrap([x])).numpy(), ours(x).numpy())
    with pytest.warns(UserWarning, match="structure of `inputs`"):
        np.testing.assert_array_equal(_np(ref(wrap([x]))), _np(ref(x)))
    (ours, h1), (ref, h2) = _fit_both(x=wrap([X]), y=Y, batch_size=5, epochs=2)
    _assert_same_history(h1, h2)
    _assert_same_weights(ours, ref)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got, want = ours.predict(wrap([X]), verbose=0), ref.predict(wrap([X]), verbose=0)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)

