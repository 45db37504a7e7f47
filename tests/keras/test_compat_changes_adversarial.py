"""Adversarial tests of the Keras-compatibility changes (fcdefaa, 9db3119, a0b5d4a, df73fcd,
9ee8877, a8f594b, b62d19c, 9243fe8, 23480d8), each against real Keras 3.15.1 (torch backend).

Each program runs in both libraries and its observable results (batches read, PyDataset hooks,
losses, log keys and their order, error messages, predictions) are compared. Passing tests are
regression tests. Found here and fixed: a validation generator was wrapped (two batches read)
before the training data; a custom test_step's nested logs stayed nested in evaluate (so fit's
history had validation values under training keys, and evaluate's list held a dict); class_weight
string keys were taken as ints; a nested model's shape error showed the placeholder batch;
EarlyStopping/ModelCheckpoint in "auto" mode guessed a direction for a per-output metric;
batches Keras refuses (a generator yielding lists or bare arrays, a list's iterator) were
accepted.
"""

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import json  # noqa: E402
import re  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import warnings  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from chainrule import keras as crk  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _run(program):
    """``program(k, log)`` with Keras and with chainrule: ``[(log, result), (log, result)]``;
    an exception's type and message stand for the result."""
    out = []
    for k in (keras, crk):
        log = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                result = program(k, log)
            except Exception as e:  # noqa: BLE001 - the error is the compared result
                result = f"{type(e).__name__}: {e}"
        out.append((log, result))
    return out


def _close(a, b, path="result"):
    """Equal structure, floats within float32 rounding."""
    if isinstance(a, dict):
        assert isinstance(b, dict) and list(a) == list(b), (path, a, b)
        for k in a:
            _close(a[k], b[k], f"{path}[{k!r}]")
    elif isinstance(a, (list, tuple)):
        assert isinstance(b, (list, tuple)) and len(a) == len(b), (path, a, b)
        for i, (x, y) in enumerate(zip(a, b)):
            _close(x, y, f"{path}[{i}]")
    elif isinstance(a, float):
        assert isinstance(b, float), (path, a, b)
        np.testing.assert_allclose(b, a, rtol=2e-5, atol=2e-6, err_msg=path)
    else:
        assert a == b, (path, a, b)


def _same(program):
    (k_log, k_out), (c_log, c_out) = _run(program)
    assert c_log == k_log
    _close(k_out, c_out)


def _hist(h, key="loss"):
    return [float(v) for v in h.history.get(key, [])]


def _lv(h, other="val_loss"):
    return [_hist(h), _hist(h, other)]


def _fit_then_evaluate(model, data, kwargs):
    return [_hist(model.fit(data, epochs=1, verbose=0, **kwargs)),
            model.evaluate(data, verbose=0)]  # fmt: skip


def _evaluate_twice(model, data):
    # the second evaluate wraps what the first left of the generator (Keras: peeks again)
    return [model.evaluate(data, verbose=0) for _ in range(2)]


# -- generators ---------------------------------------------------------------------------
def _gen(read, n=None, sizes=(2,), form="tuple"):
    # batch i: x = i, y = 2 i + 1 (rows per batch from `sizes`, cycled); `read` logs the reads
    def gen():
        i = 0
        while n is None or i < n:
            read.append(i)
            b = sizes[i % len(sizes)]
            x, y = np.full((b, 1), i, "float32"), np.full((b, 1), 2 * i + 1, "float32")
            yield {"tuple": (x, y), "list": [x, y], "bare": x, "1-tuple": (x,)}[form]
            i += 1

    return gen()


def _model(k, built=True, metrics=None):
    layers = [k.Input((1,))] if built else []
    dense = k.layers.Dense(1, kernel_initializer="ones", bias_initializer="zeros")
    model = k.Sequential([*layers, dense])
    model.compile(optimizer=k.optimizers.SGD(0.01), loss="mse", metrics=metrics)
    return model


X1 = np.ones((4, 1), "float32")

GENERATOR_PROGRAMS = {
    "batch sizes 3, 1, 2": lambda k, r: _hist(
        _model(k).fit(_gen(r, 3, sizes=(3, 1, 2)), epochs=2, verbose=0)),
    "steps_per_epoch equal to the batches": lambda k, r: _hist(
        _model(k).fit(_gen(r, 3), steps_per_epoch=3, epochs=2, verbose=0)),
    "steps_per_epoch one more than the batches": lambda k, r: _hist(
        _model(k).fit(_gen(r, 3), steps_per_epoch=4, epochs=2, verbose=0)),
    "steps_per_epoch=1 on 3 batches, 5 epochs": lambda k, r: _hist(
        _model(k).fit(_gen(r, 3), steps_per_epoch=1, epochs=5, verbose=0)),
    "initial_epoch=1": lambda k, r: _hist(
        _model(k).fit(_gen(r, 3), epochs=3, initial_epoch=1, verbose=0)),
    "metrics on a generator": lambda k, r: _lv(
        _model(k, metrics=["mae"]).fit(_gen(r, 3), epochs=2, verbose=0), "mae"),
    "validation_freq=2, finite validation generator": lambda k, r: _lv(_model(k).fit(
        X1, X1, batch_size=2, epochs=4, verbose=0, validation_data=_gen(r, 3),
        validation_freq=2)),
    "validation_freq=2, validation_steps=2": lambda k, r: _lv(_model(k).fit(
        X1, X1, batch_size=2, epochs=4, verbose=0, validation_data=_gen(r),
        validation_freq=2, validation_steps=2)),
    "evaluate, unbuilt model": lambda k, r: _model(k, built=False).evaluate(
        _gen(r, 3), verbose=0),
    "predict, unbuilt model": lambda k, r: _model(k, built=False).predict(
        _gen(r, 3), verbose=0).ravel().tolist(),
    "predict on 1-tuples": lambda k, r: _model(k).predict(
        _gen(r, 3, form="1-tuple"), verbose=0).ravel().tolist(),
    "evaluate the same finite generator twice": lambda k, r: _evaluate_twice(
        _model(k), _gen(r, 5)),
    "fit then evaluate the same generator": lambda k, r: _fit_then_evaluate(
        _model(k), _gen(r, 5), {}),
}


@pytest.mark.parametrize("name", list(GENERATOR_PROGRAMS))
def test_generator_reads_and_results_match_keras(name):
    _same(GENERATOR_PROGRAMS[name])


def _shared_train_and_validation(k, r, built=True):
    # one generator object as the training and the validation data (Keras wraps the
    # validation one at the first validation, after the first training epoch)
    g = _gen(r)
    h = _model(k, built=built).fit(g, steps_per_epoch=2, epochs=3, verbose=0,
                                   validation_data=g, validation_steps=1)  # fmt: skip
    return [_hist(h), _hist(h, "val_loss")]


@pytest.mark.parametrize("built", [True, False])
def test_one_generator_for_training_and_validation_matches_keras(built):
    _same(lambda k, r: _shared_train_and_validation(k, r, built))


def test_validation_generator_is_read_after_the_first_training_epoch():
    def program(k, r):
        h = _model(k, built=False).fit(_gen(r, 3), epochs=2, verbose=0,
                                       validation_data=_gen_tagged(r, 2))  # fmt: skip
        return [_hist(h), _hist(h, "val_loss")]

    _same(program)


def _gen_tagged(read, n):
    for i in range(n):
        read.append(f"v{i}")
        yield np.full((2, 1), i, "float32"), np.full((2, 1), 2 * i + 1, "float32")


@pytest.mark.parametrize("form", ["list", "bare", "list_iterator"])
def test_batches_keras_refuses_are_refused(form):
    def program(k, r):
        if form == "list_iterator":
            data = iter([(np.full((2, 1), i, "float32"),) for i in range(3)])
        else:
            data = _gen(r, 3, form=form)
        return _model(k).predict(data, verbose=0).ravel().tolist()

    (_, k_out), (_, c_out) = _run(program)
    assert isinstance(k_out, str) and k_out.startswith("ValueError")
    # the same message (the two iterators' addresses aside)
    assert re.sub(r"0x[0-9a-f]+", "0x_", c_out) == re.sub(r"0x[0-9a-f]+", "0x_", k_out)


# -- PyDatasets ---------------------------------------------------------------------------
def _pyds(k, log, n=3, y="reg", sw=False):
    class Logged(k.utils.PyDataset):
        def __len__(self):
            return n

        def __getitem__(self, i):
            log.append(i)
            x = np.arange(8, dtype="float32").reshape(4, 2) * (i + 1) / 8
            labels = [0, 1, 2, i % 3]
            t = {"reg": np.full((4, 1), 2 * i + 1, "float32"),
                 "sparse": np.array(labels, "int64"),
                 "sparse_col": np.array(labels, "int64")[:, None],
                 "onehot": np.eye(3, dtype="float32")[labels],
                 "float": np.array([0.4, 0.6, 1.5, 2.5], "float32"),
                 "binary_col": np.array([[0.0], [1.0], [1.0], [0.0]], "float32")}[y]  # fmt: skip
            return (x, t, np.array([1, 2, 3, 4], "float32")) if sw else (x, t)

        def on_epoch_begin(self):
            log.append("B")

        def on_epoch_end(self):
            log.append("E")

    return Logged()


def _model2(k, units=1, loss="mse", activation=None):
    dense = k.layers.Dense(units, activation=activation, bias_initializer="zeros",
                           kernel_initializer=k.initializers.Constant(0.1))  # fmt: skip
    model = k.Sequential([k.Input((2,)), dense])
    model.compile(optimizer=k.optimizers.SGD(0.05), loss=loss)
    return model


def _cls(k, y):
    loss = {"sparse": "sparse_categorical_crossentropy", "onehot": "categorical_crossentropy"}
    return _model2(k, 3, loss[y.split("_")[0]], "softmax")


CW = {0: 0.5, 1: 3.0, 2: 2.0}


def _fit_cw(y, cw=CW, **kw):
    def program(k, log, kw=kw):
        kw = dict(kw)  # each library's run gets the same arguments
        if y in ("reg", "float"):
            model = _model2(k)
        elif y == "binary_col":
            model = _model2(k, 1, "binary_crossentropy", "sigmoid")
        else:
            model = _cls(k, y)
        h = model.fit(_pyds(k, log, y=y, sw=kw.pop("sw", False)), epochs=kw.pop("epochs", 2),
                      shuffle=False, verbose=0, class_weight=cw, **kw)  # fmt: skip
        return [_hist(h), _hist(h, "val_loss")]

    return program


PYDATASET_PROGRAMS = {
    "validation_steps=2": lambda k, log: _lv(_model2(k).fit(
        _pyds(k, log), epochs=3, shuffle=False, verbose=0, validation_data=_pyds(k, log),
        validation_steps=2)),
    "validation_steps=5 (more than a pass)": lambda k, log: _lv(_model2(k).fit(
        _pyds(k, log), epochs=2, shuffle=False, verbose=0, validation_data=_pyds(k, log),
        validation_steps=5)),
    "validation_freq=2": lambda k, log: _lv(_model2(k).fit(
        _pyds(k, log), epochs=4, shuffle=False, verbose=0, validation_data=_pyds(k, log, 2),
        validation_freq=2)),
    "class_weight, sparse labels": _fit_cw("sparse"),
    "class_weight, sparse (N, 1) labels": _fit_cw("sparse_col"),
    "class_weight, one-hot labels": _fit_cw("onehot"),
    "class_weight, float labels (rounded)": _fit_cw("float", epochs=1),
    "class_weight, binary (N, 1) labels": _fit_cw("binary_col", cw={0: 1.0, 1: 4.0}),
    "class_weight with steps_per_epoch": _fit_cw("sparse", epochs=3, steps_per_epoch=2),
    "class_weight, validation not weighed": lambda k, log: _fit_cw(
        "sparse", validation_data=_pyds(k, log, y="sparse"))(k, log),
    "class_weight and sample weights in the batches": _fit_cw("reg", sw=True),
    "sample weights in the batches": lambda k, log: _hist(_model2(k).fit(
        _pyds(k, log, sw=True), epochs=1, shuffle=False, verbose=0)),
    "evaluate twice": lambda k, log: [_model2(k).evaluate(_pyds(k, log), verbose=0)
                                      for _ in range(2)],
    "evaluate, steps above a pass": lambda k, log: _model2(k).evaluate(
        _pyds(k, log), steps=5, verbose=0),
    "predict, steps=2": lambda k, log: _model2(k).predict(
        _pyds(k, log), steps=2, verbose=0).ravel().tolist(),
    "fit then evaluate the same PyDataset": lambda k, log: _fit_then_evaluate(
        _model2(k), _pyds(k, log), {"shuffle": False}),
    "shuffle=True: hooks around the reads": lambda k, log: _shuffled_pattern(k, log),
}


def _shuffled_pattern(k, log):
    # shuffled orders come from different generators: the hook/read pattern is compared
    _model2(k).fit(_pyds(k, log), epochs=2, shuffle=True, verbose=0)
    pattern = [e if isinstance(e, str) else "read" for e in log]
    log.clear()
    return pattern


@pytest.mark.parametrize("name", list(PYDATASET_PROGRAMS))
def test_pydataset_reads_and_results_match_keras(name):
    _same(PYDATASET_PROGRAMS[name])


def test_class_weight_with_string_keys_is_as_keras_or_refused():
    program = _fit_cw("sparse", cw={"1": 5.0}, epochs=1)
    (_, k_out), (_, c_out) = _run(program)
    refused = isinstance(c_out, str) and c_out.startswith("ValueError") and "class_weight" in c_out
    if not refused:
        _close(k_out, c_out)


# -- compiled metric names, logs and callbacks ---------------------------------------------
_rng = np.random.default_rng(0)
XM = _rng.normal(size=(12, 3)).astype("float32")
YM = {"cls": _rng.integers(0, 3, size=(12,)).astype("int64"),
      "reg": _rng.normal(size=(12, 1)).astype("float32")}  # fmt: skip
SWM = _rng.uniform(0.5, 2, size=(12,)).astype("float32")


def _two_outputs(k, metrics, weighted):
    i = k.Input((3,))
    h = k.layers.Dense(4, activation="tanh", name="h",
                       kernel_initializer=k.initializers.Constant(0.2))(i)  # fmt: skip
    c = k.layers.Dense(3, activation="softmax", name="cls",
                       kernel_initializer=k.initializers.Constant(0.1))(h)  # fmt: skip
    r = k.layers.Dense(1, name="reg", kernel_initializer=k.initializers.Constant(0.3))(h)
    model = k.Model(i, {"cls": c, "reg": r})
    model.compile(optimizer=k.optimizers.SGD(0.1), metrics=metrics, weighted_metrics=weighted,
                  loss={"cls": "sparse_categorical_crossentropy", "reg": "mse"})  # fmt: skip
    return model


def _metric_program(forms, monitor):
    def program(k, log):
        metrics, weighted = forms(k)
        model = _two_outputs(k, metrics, weighted)
        path = log_dir = os.path.join(_TMP[0], f"{k.__name__}_{len(os.listdir(_TMP[0]))}")
        os.makedirs(log_dir)
        csv_path = os.path.join(path, "log.csv")
        cbs = [k.callbacks.CSVLogger(csv_path),
               k.callbacks.EarlyStopping(monitor=monitor, patience=0, mode="max"),
               k.callbacks.ModelCheckpoint(os.path.join(path, "best.weights.h5"), mode="max",
                                           monitor=monitor, save_best_only=True,
                                           save_weights_only=True)]  # fmt: skip
        h = model.fit(XM, YM, sample_weight=SWM, batch_size=4, epochs=4, verbose=0,
                      shuffle=False, validation_data=(XM, YM), callbacks=cbs)  # fmt: skip
        with open(csv_path) as f:
            header = f.readline().strip()
        ev = model.evaluate(XM, YM, verbose=0)
        evd = model.evaluate(XM, YM, verbose=0, return_dict=True)
        return {"history": {key: _hist(h, key) for key in h.history}, "csv": header,
                "evaluate": [float(v) for v in ev], "evaluate_dict": evd,
                "metrics_names": model.metrics_names}  # fmt: skip

    return program


_TMP = [None]

METRIC_FORMS = {
    "repeats within and across outputs": (lambda k: (
        {"cls": ["accuracy", "accuracy"], "reg": ["mae", "mae", "mse"]}, None),
        "val_cls_accuracy"),
    "custom names, the same on both outputs": (lambda k: (
        {"cls": [k.metrics.SparseCategoricalAccuracy(name="m")],
         "reg": [k.metrics.MeanAbsoluteError(name="m"), k.metrics.MeanSquaredError(name="m")]},
        None), "val_reg_m_1"),
    "custom named objects": (lambda k: (
        {"cls": [k.metrics.SparseCategoricalAccuracy(name="acc"),
                 k.metrics.SparseTopKCategoricalAccuracy(k=2, name="top2")],
         "reg": [k.metrics.MeanAbsoluteError(name="acc")]}, None), "val_cls_top2"),
    "a metric named loss": (lambda k: (
        {"reg": [k.metrics.MeanAbsoluteError(name="loss")]}, None), "val_loss"),
    "a metric named as another output's loss": (lambda k: (
        {"cls": [k.metrics.SparseCategoricalAccuracy(name="reg_loss")]}, None), "val_loss"),
    "weighted and plain": (lambda k: (
        {"cls": ["accuracy"], "reg": ["mae"]}, {"cls": ["accuracy"], "reg": ["mae"]}),
        "val_cls_weighted_accuracy"),
    "weighted only": (lambda k: (None, {"cls": ["accuracy"], "reg": ["mae"]}),
                      "val_cls_accuracy"),
    "weighted repeats": (lambda k: (
        {"cls": ["accuracy", "accuracy"]}, {"cls": ["accuracy", "accuracy"]}),
        "val_cls_weighted_accuracy_1"),
    "a list of lists": (lambda k: ([["accuracy"], ["mae"]], None), "val_reg_mae"),
}


@pytest.mark.parametrize("name", list(METRIC_FORMS))
def test_log_keys_history_csv_and_evaluate_match_keras(name, tmp_path):
    # history keys and their order, the CSV header, EarlyStopping/ModelCheckpoint on a
    # per-output key, evaluate's list order and dict, and metrics_names
    _TMP[0] = str(tmp_path)
    forms, monitor = METRIC_FORMS[name]
    _same(_metric_program(forms, monitor))


@pytest.mark.parametrize("callback", ["EarlyStopping", "ModelCheckpoint"])
def test_auto_mode_on_a_per_output_metric_is_refused_as_keras(callback, tmp_path):
    def program(k, log):
        model = _two_outputs(k, {"cls": ["accuracy"]}, None)
        if callback == "EarlyStopping":
            cb = k.callbacks.EarlyStopping(monitor="val_cls_accuracy")
        else:
            cb = k.callbacks.ModelCheckpoint(str(tmp_path / f"{k.__name__}.weights.h5"),
                                             monitor="val_cls_accuracy", save_best_only=True,
                                             save_weights_only=True)  # fmt: skip
        model.fit(XM, YM, epochs=2, verbose=0, validation_data=(XM, YM), callbacks=[cb])
        return "trained"

    (_, k_out), (_, c_out) = _run(program)
    assert k_out.startswith("ValueError") and "val_cls_accuracy" in k_out
    assert c_out.startswith("ValueError") and "mode" in c_out


# -- custom train_step / test_step ----------------------------------------------------------
XS = np.linspace(-1, 1, 16, dtype="float32").reshape(8, 2)
YS = (XS[:, :1] * 2 + 1).astype("float32")


def _custom(k, kind):
    class Custom(k.Model):
        def __init__(self):
            super().__init__()
            self.d = k.layers.Dense(1, kernel_initializer="ones", bias_initializer="zeros")

        def call(self, x):
            return self.d(x)

        def train_step(self, data):
            x, y = data
            if k is keras:
                import torch  # noqa: PLC0415

                self.zero_grad()
                loss = self.compute_loss(y=y, y_pred=self(x, training=True))
                loss.backward()
                with torch.no_grad():
                    self.optimizer.apply([v.value.grad for v in self.trainable_weights],
                                         self.trainable_weights)  # fmt: skip
            else:
                import chainrule as cr  # noqa: PLC0415

                loss = self.compute_loss(y=y, y_pred=self(x, training=True))
                self.optimizer.apply(cr.grad(loss, self.trainable_weights),
                                     self.trainable_weights)  # fmt: skip
            return self._out(loss, y, x)

        def test_step(self, data):
            x, y = data
            loss = k.ops.mean((self(x, training=False) - y) ** 2)
            return self._out(loss, y, x)

        def _out(self, loss, y, x):
            for m in self.metrics:
                m.update_state(loss) if m.name == "loss" else m.update_state(y, self(x))
            if kind == "flat":
                return {"zz": loss, "aa": 2 * loss, "mm": loss + 1}
            if kind == "nested":
                return {"zz": loss, "inner": {"bb": 3 * loss, "aa": 4 * loss}}
            if kind == "metrics and more":
                return {"loss": loss, "extra": 5 * loss}
            return {m.name: m.result() for m in self.metrics}

    model = Custom()
    model.compile(optimizer=k.optimizers.SGD(0.1), loss="mse", metrics=["mae"])
    return model


def _floats(v):
    if isinstance(v, dict):
        return {k: _floats(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_floats(x) for x in v]
    return float(v) if np.size(v) == 1 else v


# Found here and fixed: fit with a custom test_step returning a nested dict (the Keras guide's
# `{m.name: m.result() for m in self.metrics}`) kept evaluate's logs nested, so the callbacks'
# flattening wrote the validation values over the training keys (history['mae'] held the
# validation mae and val_mae was missing).


@pytest.mark.parametrize("kind", [
    "flat", "metrics and more",
    pytest.param("nested"),
    pytest.param("metrics"),
])
def test_custom_train_step_history_and_batch_logs_match_keras(kind):
    def program(k, log):
        class Last(k.callbacks.Callback):
            def on_train_batch_end(self, batch, logs=None):
                log.append(list(logs))

        h = _custom(k, kind).fit(XS, YS, batch_size=4, epochs=2, verbose=0, shuffle=False,
                                 validation_data=(XS, YS), callbacks=[Last()])  # fmt: skip
        return {key: _hist(h, key) for key in h.history}

    _same(program)


def _evaluate_custom(kind, return_dict):
    def program(k, log):
        return _floats(_custom(k, kind).evaluate(XS, YS, verbose=0, return_dict=return_dict))

    return program


@pytest.mark.parametrize("kind", ["flat", "metrics and more"])
def test_custom_test_step_evaluate_list_matches_keras(kind):
    _same(_evaluate_custom(kind, False))


@pytest.mark.parametrize("kind", ["nested", "metrics"])
def test_custom_test_step_nested_dict_is_flattened_in_evaluate(kind):
    _same(_evaluate_custom(kind, False))


@pytest.mark.parametrize("kind", ["flat", "nested", "metrics and more", "metrics"])
def test_custom_test_step_evaluate_dict_matches_keras(kind):
    _same(_evaluate_custom(kind, True))


# -- saving: files written by the previous chainrule, by Keras, and configs -----------------
_SAVE_OLD = r"""
import os, sys, numpy as np
from chainrule import keras as k
out = sys.argv[1]
rng = np.random.default_rng(0)
seq = lambda: k.Sequential([k.Input((6, 2)), k.layers.Conv1D(3, 2, activation="relu"),
    k.layers.MaxPooling1D(2), k.layers.Dropout(0.2), k.layers.Flatten(), k.layers.Dense(4),
    k.layers.Activation("tanh"), k.layers.Reshape((2, 2)), k.layers.GlobalAveragePooling1D(),
    k.layers.Dense(1)])
def fun():
    i = k.Input((3,), name="x")
    h = k.layers.Dropout(0.1)(k.layers.Dense(4, activation="relu")(i))
    return k.Model(i, {"cls": k.layers.Dense(2, activation="softmax", name="cls")(h),
                       "reg": k.layers.Dense(1, name="reg")(h)})
emb = lambda: k.Sequential([k.Input((5,), dtype="int32"), k.layers.Embedding(10, 3),
    k.layers.SimpleRNN(2), k.layers.Dense(1)])
for name, make, x in [("seq", seq, rng.normal(size=(4, 6, 2)).astype("float32")),
                      ("fun", fun, rng.normal(size=(4, 3)).astype("float32")),
                      ("emb", emb, rng.integers(0, 10, size=(4, 5)).astype("int32"))]:
    for compiled in (True, False):
        m = make()
        if compiled:
            loss = "mse" if name != "fun" else {
                "cls": "sparse_categorical_crossentropy", "reg": "mse"}
            m.compile(optimizer="adam", loss=loss)
        m.set_weights([rng.normal(size=w.shape).astype("float32") for w in m.get_weights()])
        p = m.predict(x, verbose=0)
        p = p if isinstance(p, dict) else {"out": p}
        tag = f"{name}_{int(compiled)}"
        m.save(os.path.join(out, tag + ".keras"))
        np.savez(os.path.join(out, tag + ".npz"), x=x, **{"p_" + n: v for n, v in p.items()})
"""


@pytest.fixture(scope="module")
def old_files(tmp_path_factory):
    """.keras files written by chainrule at 8e89277 (before today's config changes)."""
    root = tmp_path_factory.mktemp("old")
    archive = subprocess.run(["git", "-C", REPO, "archive", "8e89277", "src"],
                             capture_output=True, check=True).stdout  # fmt: skip
    subprocess.run(["tar", "-x", "-C", str(root)], input=archive, check=True)
    out = root / "files"
    out.mkdir()
    env = {**os.environ, "PYTHONPATH": str(root / "src")}
    subprocess.run([sys.executable, "-c", _SAVE_OLD, str(out)], env=env, check=True,
                   capture_output=True)  # fmt: skip
    return out


@pytest.mark.parametrize("tag", ["seq_1", "seq_0", "fun_1", "fun_0", "emb_1", "emb_0"])
@pytest.mark.parametrize("lib", ["chainrule", "keras"])
def test_files_of_the_previous_chainrule_load_with_the_same_predictions(old_files, tag, lib):
    data = np.load(old_files / f"{tag}.npz")
    k = crk if lib == "chainrule" else keras
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = k.models.load_model(str(old_files / f"{tag}.keras"))
    pred = model.predict(data["x"], verbose=0)
    pred = pred if isinstance(pred, dict) else {"out": pred}
    assert sorted(f"p_{n}" for n in pred) == sorted(n for n in data.files if n != "x")
    for n, v in pred.items():
        np.testing.assert_allclose(np.asarray(v), data[f"p_{n}"], rtol=1e-5, atol=1e-6)
    assert model.compiled == tag.endswith("_1")


def _weightless_stack(k):
    return k.Sequential([k.Input((6, 2)), k.layers.Conv1D(3, 2), k.layers.AveragePooling1D(2),
                         k.layers.SpatialDropout1D(0.3), k.layers.GaussianNoise(0.1),
                         k.layers.ReLU(), k.layers.Masking(), k.layers.Identity(),
                         k.layers.GlobalMaxPooling1D(), k.layers.Dense(1)])  # fmt: skip


@pytest.mark.parametrize("writer", ["keras", "chainrule"])
def test_weightless_layers_round_trip_between_libraries(writer, tmp_path):
    # the layers Keras builds at __init__ write no build_config: each library reads the
    # other's file, with the same predictions and the same layer configs
    w, r = (keras, crk) if writer == "keras" else (crk, keras)
    model = _weightless_stack(w)
    rng = np.random.default_rng(1)
    model.set_weights([rng.normal(size=v.shape).astype("float32") for v in model.get_weights()])
    x = rng.normal(size=(3, 6, 2)).astype("float32")
    path = str(tmp_path / "m.keras")
    model.save(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        loaded = r.models.load_model(path)
    np.testing.assert_allclose(np.asarray(loaded.predict(x, verbose=0)),
                               np.asarray(model.predict(x, verbose=0)), rtol=1e-5, atol=1e-6)
    for a, b in zip(model.layers, loaded.layers):
        assert _json(a.get_build_config()) == _json(b.get_build_config()), a.name
    ours, ref = (_weightless_stack(crk), _weightless_stack(keras))
    assert [_json(la.get_build_config()) for la in ours.layers] == [
        _json(la.get_build_config()) for la in ref.layers]


def _json(value):
    # as written to a .keras file (Keras keeps tuples in memory, chainrule lists)
    return json.loads(json.dumps(value))


# -- symbolic calls with wrong shapes; compile; input_shape ---------------------------------
def _error(build):
    try:
        build()
    except ValueError as e:
        return str(e)
    return None


SHAPE_CASES = {
    "built Dense on another last axis": (lambda k: [d := k.layers.Dense(2, name="dd"),
                                                    d(k.Input((4,))), d(k.Input((5,)))],
                                         "(None, 5)"),
    "Dense built on (None, 4) given (None, 3, 5)": (
        lambda k: [d := k.layers.Dense(2, name="dd2"), d.build((None, 4)), d(k.Input((3, 5)))],
        "(None, 3, 5)"),
    "Conv2D on rank 3": (lambda k: k.layers.Conv2D(2, 3, name="cv")(k.Input((8, 8))),
                         "Full shape received: (None, 8, 8)"),
    "LSTM on rank 2": (lambda k: k.layers.LSTM(2, name="lstm")(k.Input((4,))),
                       "Full shape received: (None, 4)"),
    "Concatenate of two ranks": (lambda k: k.layers.Concatenate()([k.Input((3,)),
                                                                   k.Input((4, 5))]),
                                 "Received: input_shape=[(None, 3), (None, 4, 5)]"),
    "Add of two widths": (lambda k: k.layers.Add()([k.Input((3,)), k.Input((4,))]),
                          "Received shapes (3,) and (4,)"),
    "two-input layer, conv on the first": (lambda k: _two_input_layer(k)(
        k.Input((4,)), k.Input((4,))), "expected min_ndim=3, found ndim=2"),
}


def _two_input_layer(k):
    class Two(k.layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.c = k.layers.Conv1D(2, 1, name="conv_in")

        def call(self, a, b):
            return self.c(a) + b

    return Two(name="two")


@pytest.mark.parametrize("name", list(SHAPE_CASES))
def test_symbolic_shape_errors_show_keras_shapes(name):
    build, expected = SHAPE_CASES[name]
    messages = []
    for k in (keras, crk):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            messages.append(_error(lambda k=k: build(k)))
    assert messages[0] is not None and expected in messages[0]
    assert messages[1] is not None and expected in messages[1], messages[1]
    assert "(2, " not in messages[1]  # no placeholder batch of 2 shown


def test_nested_sequential_shape_error_shows_none_batch():
    def build(k):
        inner = k.Sequential([k.Input((5,)), k.layers.Dense(2)], name="inner")
        return inner(k.Input((4,)))

    k_msg, c_msg = _error(lambda: build(keras)), _error(lambda: build(crk))
    assert "(None, 4)" in k_msg
    assert c_msg is not None and "(None, 4)" in c_msg and "(2, 4)" not in c_msg


@pytest.mark.parametrize("method", ["fit", "train_on_batch", "test_on_batch"])
def test_using_an_uncompiled_model_raises_keras_value_error(method):
    for k in (keras, crk):
        model = k.Sequential([k.Input((2,)), k.layers.Dense(1)])
        with pytest.raises(ValueError, match=r"You must call `compile\(\)` before using the"):
            getattr(model, method)(XS, YS, **({"verbose": 0} if method == "fit" else {}))


def test_uncompiled_predict_works_as_in_keras():
    preds = [k.Sequential([k.Input((2,)), k.layers.Dense(1, kernel_initializer="ones")])
             .predict(XS, verbose=0) for k in (keras, crk)]  # fmt: skip
    np.testing.assert_allclose(preds[1], np.asarray(preds[0]), rtol=1e-6)


@pytest.mark.parametrize("kwargs", [{"input_shape": (2,)}, {"input_dim": 2}])
def test_input_shape_warns_and_builds_as_keras(kwargs):
    results = []
    for k in (keras, crk):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model = k.Sequential([k.layers.Dense(3, **kwargs), k.layers.Dense(1)])
        texts = [str(w.message) for w in caught if "input_shape" in str(w.message)]
        results.append((texts, model.built, [tuple(w.shape) for w in model.weights]))
    assert results[1] == results[0]
    assert len(results[0][0]) == 1
