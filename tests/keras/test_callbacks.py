"""keras.callbacks against real Keras 3.15.1 (torch backend), driven with the same logs.

Each test runs our callback with a small fake model and Keras's callback with a real compiled
Keras model (it provides everything Keras's callbacks touch: ``stop_training``,
``optimizer.learning_rate``, ``get_weights``/``set_weights``, ``metrics``), feeds both the same
sequence of epoch (or batch) logs, and compares the decisions: epochs run, restored weights,
learning rates, history, CSV bytes and printed lines.
"""

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import re  # noqa: E402
import warnings  # noqa: E402

import keras as tk  # noqa: E402  (real Keras, the reference)
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from keras.src.utils.python_utils import pythonify_logs as tk_pythonify  # noqa: E402

import chainrule as cr  # noqa: E402
from chainrule import keras as ck  # noqa: E402
from chainrule.keras import callbacks as C  # noqa: E402
from chainrule.keras.callbacks import progbar as progbar_mod  # noqa: E402
from chainrule.keras.callbacks.callback_list import pythonify_logs  # noqa: E402

# --------------------------------------------------------------------------------------------
# models and a fit-like driver


class FakeOptimizer:
    def __init__(self, lr):
        self.learning_rate = lr
        self.name = "sgd"


class FakeModel:
    """What our callbacks may use: stop_training, optimizer.learning_rate, get/set_weights."""

    def __init__(self, lr=0.1):
        self.stop_training = False
        self.optimizer = FakeOptimizer(lr)
        self.history = None
        self._w = [np.zeros((2, 1), "float32"), np.zeros((1,), "float32")]

    def get_weights(self):
        return list(self._w)  # no copies: the callback must copy (our optimizers work in place)

    def set_weights(self, weights):
        for mine, new in zip(self._w, weights, strict=True):
            mine[...] = new  # in place, as chainrule's optimizers update weights


_KERAS_MODELS = {}


def keras_model(lr=0.1, metrics=None):
    """A compiled real Keras model with built metrics (cached by its metrics)."""
    key = tuple(metrics or ())
    if key not in _KERAS_MODELS:
        m = tk.Sequential([tk.Input((2,)), tk.layers.Dense(1, activation="sigmoid")])
        mets = [tk.metrics.AUC() if x == "AUC" else x for x in key]
        m.compile(optimizer=tk.optimizers.SGD(lr), loss="binary_crossentropy", metrics=mets)
        m.evaluate(np.zeros((2, 2)), np.zeros((2, 1)), verbose=0)  # builds the metrics
        _KERAS_MODELS[key] = m
    m = _KERAS_MODELS[key]
    m.optimizer.learning_rate = lr
    m.stop_training = False
    return m


def weights_at(epoch):
    """Distinct weights for each epoch, so that restored weights tell which epoch they are."""
    return [np.full((2, 1), epoch + 1.0, "float32"), np.full((1,), -(epoch + 1.0), "float32")]


def drive(cbs, model, epoch_logs):
    """Run fit's epoch-level protocol; returns (epochs run, per-epoch lr, logs seen)."""
    cbs.on_train_begin()
    ran, lrs, logs = [], [], {}
    for epoch, given in enumerate(epoch_logs):
        cbs.on_epoch_begin(epoch)
        model.set_weights(weights_at(epoch))  # "training" this epoch
        logs = dict(given)
        cbs.on_epoch_end(epoch, logs)
        ran.append(epoch)
        lrs.append(float(np.asarray(model.optimizer.learning_rate)))
        if model.stop_training:
            break
    cbs.on_train_end(logs)
    return ran, lrs


def _our_metrics(metrics):
    """The built compiled metrics of a chainrule model compiled as ``keras_model`` compiles
    its Keras twin (what a callback's "auto" mode looks up by name)."""
    m = ck.Sequential([ck.Input((2,)), ck.layers.Dense(1, activation="sigmoid")])
    mets = [ck.metrics.AUC() if x == "AUC" else x for x in metrics]
    m.compile(optimizer=ck.optimizers.SGD(0.1), loss="binary_crossentropy", metrics=mets)
    m.evaluate(np.zeros((2, 2)), np.zeros((2, 1)), verbose=0)
    return m.metrics


def run_pair(make_ours, make_ref, epoch_logs, lr=0.1, metrics=None, fake=None, capsys=None):
    ours_model = fake or FakeModel(lr)
    if metrics:
        ours_model.metrics = _our_metrics(metrics)
    ref_model = keras_model(lr, metrics)
    ours_cb, ref_cb = make_ours(), make_ref()
    ours = C.CallbackList([ours_cb], add_history=True, model=ours_model)
    ref = tk.callbacks.CallbackList([ref_cb], add_history=True, model=ref_model)
    with warnings.catch_warnings(record=True) as w_ours:
        warnings.simplefilter("always")
        ran_o, lrs_o = drive(ours, ours_model, epoch_logs)
    out_ours = capsys.readouterr().out if capsys else ""
    with warnings.catch_warnings(record=True) as w_ref:
        warnings.simplefilter("always")
        ran_r, lrs_r = drive(ref, ref_model, epoch_logs)
    if capsys:
        # the same text, up to float32 vs float64 printing of learning rates
        out_ref = capsys.readouterr().out
        assert NUM.sub(_short, out_ours) == NUM.sub(_short, out_ref)
    assert ran_o == ran_r
    np.testing.assert_allclose(lrs_o, lrs_r, rtol=1e-6)
    for a, b in zip(ours_model.get_weights(), ref_model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, np.asarray(b))
    assert ours_model.history is ours._history
    h_o, h_r = ours_model.history, ref_model.history
    assert h_o.epoch == h_r.epoch
    assert list(h_o.history) == list(h_r.history)
    for k in h_r.history:
        np.testing.assert_allclose(h_o.history[k], h_r.history[k], rtol=1e-6, err_msg=k)
    msgs_o = [str(x.message) for x in w_ours if "conditioned" in str(x.message)]
    msgs_r = [str(x.message) for x in w_ref if "conditioned" in str(x.message)]
    assert msgs_o == msgs_r
    return ours_cb, ref_cb, out_ours


NUM = re.compile(r"\d+\.\d+(e-?\d+)?")


def _short(match):
    return f"{float(match.group(0)):.6g}"


# --------------------------------------------------------------------------------------------
# EarlyStopping


def _seq(*vals, key="val_loss", extra=None):
    return [{"loss": 1.0 + i, key: v, **(extra or {})} for i, v in enumerate(vals)]


ES_CASES = [
    (dict(patience=2), _seq(1.0, 0.8, 0.9, 0.85, 0.7)),
    (dict(patience=0), _seq(1.0, 1.1, 0.5)),
    (dict(patience=1, min_delta=0.1), _seq(1.0, 0.95, 0.91, 0.8)),
    (dict(patience=2, baseline=0.5), _seq(0.9, 0.8, 0.7, 0.6)),
    (dict(patience=2, baseline=0.5, restore_best_weights=True), _seq(0.9, 0.8, 0.85, 0.6, 0.7)),
    # runs to the last epoch without stopping: Keras 3 still restores the best epoch
    (dict(patience=5, restore_best_weights=True), _seq(1.0, 0.5, 0.7, 0.8)),
    (dict(patience=1, restore_best_weights=True), _seq(1.0, 1.2, 1.3, 0.1)),
    (dict(patience=1, start_from_epoch=2), _seq(1.0, 2.0, 3.0, 4.0, 5.0)),
    (dict(patience=1, start_from_epoch=2, restore_best_weights=True), _seq(1, 2, 3, 2.5, 4)),
    (dict(monitor="loss", patience=1, mode="max"), _seq(1.0, 1.0, 1.0)),
    (dict(monitor="val_accuracy", patience=1), _seq(0.5, 0.7, 0.6, 0.65, key="val_accuracy")),
    (dict(monitor="val_acc", patience=1), _seq(0.5, 0.7, 0.6, 0.65, key="val_acc")),
    (dict(monitor="val_auc", patience=1), _seq(0.5, 0.7, 0.6, 0.65, key="val_auc")),
    (dict(patience=1), _seq(1.0, float("nan"), 0.9, float("nan"), float("nan"))),
    # equal in float32, different in float64: Keras's ops compare in float32
    (dict(patience=0), _seq(0.3000000001, 0.30000000001, 0.3)),
    (dict(patience=1, verbose=1, restore_best_weights=True), _seq(3.0, 2.0, 2.5, 2.6)),
]
ES_METRICS = {"val_accuracy": ["accuracy"], "val_acc": ["acc"], "val_auc": ["AUC"]}


@pytest.mark.parametrize("kwargs,logs", ES_CASES)
def test_early_stopping_matches_keras(kwargs, logs, capsys):
    metrics = ES_METRICS.get(kwargs.get("monitor"))
    # (AUC() takes an automatic name, "auc_1" after another AUC in the same process, in
    # both libraries: start the names afresh)
    ck.backend.clear_session()
    tk.backend.clear_session()
    ours, ref, _ = run_pair(
        lambda: C.EarlyStopping(**kwargs), lambda: tk.callbacks.EarlyStopping(**kwargs), logs,
        metrics=metrics, capsys=capsys,
    )
    assert (ours.stopped_epoch, ours.best_epoch, ours.wait) == (
        ref.stopped_epoch, ref.best_epoch, ref.wait,
    )
    assert ours.best == ref.best or (np.isnan(ours.best) and np.isnan(ref.best))


def test_early_stopping_random_sequences_match_keras():
    rng = np.random.default_rng(0)
    for trial in range(25):
        vals = np.round(rng.uniform(0, 1, size=rng.integers(2, 9)), 1).tolist()
        kwargs = dict(
            patience=int(rng.integers(0, 3)),
            min_delta=float(rng.choice([0, 0.05, 0.1])),
            restore_best_weights=bool(trial % 2),
            baseline=[None, 0.3][trial % 3 == 0],
            start_from_epoch=int(rng.integers(0, 2)),
        )
        run_pair(lambda: C.EarlyStopping(**kwargs), lambda: tk.callbacks.EarlyStopping(**kwargs),
                 _seq(*vals))  # fmt: skip


def test_early_stopping_missing_monitor_warns_like_keras():
    run_pair(lambda: C.EarlyStopping(monitor="val_loss"),
             lambda: tk.callbacks.EarlyStopping(monitor="val_loss"),
             [{"loss": 1.0}, {"loss": 0.5}])  # fmt: skip


def test_early_stopping_unknown_direction_raises_like_keras():
    for make in (C.EarlyStopping, tk.callbacks.EarlyStopping):
        cb = make(monitor="val_widget")
        cb.set_model(keras_model() if make is tk.callbacks.EarlyStopping else FakeModel())
        cb.on_train_begin()
        with pytest.raises(ValueError, match="monitor=val_widget"):
            cb.on_epoch_end(0, {"val_widget": 1.0})


def test_monitor_bad_mode_warns_and_bad_args_raise():
    for make in (C.EarlyStopping, tk.callbacks.EarlyStopping):
        with pytest.warns(UserWarning, match="mode 'bigger' is unknown"):
            assert make(mode="bigger").mode == "auto"
    with pytest.raises(ValueError, match="patience must be an integer >= 0, received patience=-1"):
        C.EarlyStopping(patience=-1)
    with pytest.raises(TypeError, match="min_delta must be a number"):
        C.EarlyStopping(min_delta="0.1")


# --------------------------------------------------------------------------------------------
# ReduceLROnPlateau and LearningRateScheduler


RLR_CASES = [
    (dict(patience=1), _seq(1.0, 1.0, 1.0, 0.5, 0.6, 0.7, 0.8)),
    (dict(patience=2, factor=0.5, cooldown=2), _seq(1, 1, 1, 1, 1, 1, 1, 1, 1)),
    (dict(patience=0, factor=0.1, min_lr=0.001), _seq(1, 1, 1, 1, 1, 1)),
    (dict(patience=1, min_delta=0.2), _seq(1.0, 0.9, 0.85, 0.5, 0.45)),
    (dict(monitor="val_accuracy", patience=1, factor=0.2), _seq(0.1, 0.2, 0.2, 0.15, 0.3,
                                                                key="val_accuracy")),
    (dict(monitor="loss", patience=1, mode="max", verbose=1), _seq(1, 1, 1)),
    (dict(patience=1), [{"loss": 1.0}, {"loss": 1.0}]),  # monitor missing: warns
]


@pytest.mark.parametrize("kwargs,logs", RLR_CASES)
def test_reduce_lr_on_plateau_matches_keras(kwargs, logs, capsys):
    metrics = ["accuracy"] if kwargs.get("monitor") == "val_accuracy" else None
    ours, ref, _ = run_pair(
        lambda: C.ReduceLROnPlateau(**kwargs), lambda: tk.callbacks.ReduceLROnPlateau(**kwargs),
        logs, metrics=metrics, capsys=capsys,
    )
    assert (ours.wait, ours.cooldown_counter) == (ref.wait, ref.cooldown_counter)


def test_reduce_lr_with_float32_optimizer_stops_at_min_lr_like_keras():
    class F32Optimizer(FakeOptimizer):  # stores the rate as Keras and chainrule do: float32
        @property
        def learning_rate(self):
            return self._lr

        @learning_rate.setter
        def learning_rate(self, v):
            self._lr = np.float32(v)

    fake = FakeModel()
    fake.optimizer = F32Optimizer(0.1)
    kwargs = dict(patience=0, factor=0.1, min_lr=0.001)
    run_pair(lambda: C.ReduceLROnPlateau(**kwargs),
             lambda: tk.callbacks.ReduceLROnPlateau(**kwargs), _seq(*[1] * 6), fake=fake)


def test_reduce_lr_bad_factor_raises_like_keras():
    for make in (C.ReduceLROnPlateau, tk.callbacks.ReduceLROnPlateau):
        with pytest.raises(ValueError, match="factor >= 1.0. Received factor=1.0"):
            make(factor=1.0)
    with pytest.raises(ValueError, match="cooldown must be an integer >= 0"):
        C.ReduceLROnPlateau(cooldown=-1)


SCHEDULES = [
    lambda epoch, lr: lr * 0.9,
    lambda epoch, lr: lr if epoch < 2 else lr * float(np.exp(-0.1)),
    lambda epoch: 0.1 / (epoch + 1),  # the older one-argument form
    lambda epoch, lr: np.float32(0.05 * (epoch + 1)),
]


@pytest.mark.parametrize("schedule", SCHEDULES)
@pytest.mark.parametrize("verbose", [0, 1])
def test_learning_rate_scheduler_matches_keras(schedule, verbose, capsys):
    *_, out = run_pair(lambda: C.LearningRateScheduler(schedule, verbose=verbose),
                       lambda: tk.callbacks.LearningRateScheduler(schedule, verbose=verbose),
                       _seq(1, 2, 3, 4, 5), capsys=capsys)  # fmt: skip
    assert out.count("LearningRateScheduler setting learning rate to") == 5 * verbose


def test_learning_rate_scheduler_rejects_non_float_like_keras():
    for mod in (C, tk.callbacks):
        cb = mod.LearningRateScheduler(lambda epoch, lr: 1)
        cb.set_model(keras_model() if mod is tk.callbacks else FakeModel())
        with pytest.raises(ValueError, match="should be a float. Got: 1"):
            cb.on_epoch_begin(0)
    with pytest.raises(TypeError, match="schedule must be a callable"):
        C.LearningRateScheduler(0.1)


# --------------------------------------------------------------------------------------------
# TerminateOnNaN, LambdaCallback


def drive_batches(cbs, model, batch_losses, epochs=2):
    """fit's batch protocol: stop after the batch that set stop_training."""
    cbs.on_train_begin()
    seen = []
    for epoch in range(epochs):
        cbs.on_epoch_begin(epoch)
        for step, loss in enumerate(batch_losses):
            cbs.on_train_batch_begin(step)
            cbs.on_train_batch_end(step, {"loss": loss})
            seen.append((epoch, step))
            if model.stop_training:
                break
        cbs.on_epoch_end(epoch, {"loss": 1.0})
        if model.stop_training:
            break
    cbs.on_train_end()
    return seen


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_terminate_on_nan_matches_keras(bad, capsys):
    losses = [1.0, 2.0, bad, 3.0]
    ours_m, ref_m = FakeModel(), keras_model()
    ours = drive_batches(C.CallbackList([C.TerminateOnNaN()], model=ours_m), ours_m, losses)
    ours_out = capsys.readouterr().out
    ref = drive_batches(tk.callbacks.CallbackList([tk.callbacks.TerminateOnNaN()], model=ref_m),
                        ref_m, losses)  # fmt: skip
    assert ours == ref == [(0, 0), (0, 1), (0, 2)]
    assert ours_out == capsys.readouterr().out == "Batch 2: Invalid loss, terminating training\n"
    assert C.CallbackList([C.TerminateOnNaN()]).has_batch_hooks


def test_terminate_on_nan_raise_error_like_keras():
    for mod in (C, tk.callbacks):
        cb = mod.TerminateOnNaN(raise_error=True)
        cb.set_model(FakeModel())
        cb.on_train_batch_end(0, {"loss": 1.0})
        with pytest.raises(RuntimeError, match="NaN or Inf loss encountered at batch 4"):
            cb.on_train_batch_end(4, {"loss": float("nan")})


def test_lambda_callback_calls_like_keras():
    def record(mod):
        calls = []
        cb = mod.LambdaCallback(
            on_train_begin=lambda logs: calls.append(("train_begin",)),
            on_epoch_end=lambda epoch, logs: calls.append(("epoch_end", epoch, dict(logs))),
            on_train_batch_end=lambda batch, logs: calls.append(("batch_end", batch, logs)),
            on_test_end=lambda logs: calls.append(("test_end", dict(logs))),
        )
        m = FakeModel() if mod is C else keras_model()
        drive_batches(mod.CallbackList([cb], model=m), m, [0.5, 0.25])
        cb.on_test_end({"loss": 2})
        return calls

    assert record(C) == record(tk.callbacks)
    assert not C.CallbackList([C.LambdaCallback(on_epoch_end=print)]).has_batch_hooks
    with pytest.raises(ValueError, match="on_epoch_ende=...*not a callback hook"):
        C.LambdaCallback(on_epoch_ende=print)


# --------------------------------------------------------------------------------------------
# CSVLogger


CSV_CASES = [
    dict(logs=[{"loss": 0.5, "accuracy": 0.25}, {"loss": 0.125, "accuracy": 1e-5}]),
    dict(logs=[{"loss": 0.5, "val_loss": 0.75}, {"loss": 0.3, "val_loss": 0.7}]),
    dict(logs=[{"loss": 0.5, "note": "hi", "vec": np.array([1.0, 2.0])}], separator=";"),
    dict(logs=[{"loss": 0.5}, {"loss": 0.4, "extra": 1.0}], append=True, runs=2),
]


@pytest.mark.parametrize("case", CSV_CASES)
def test_csv_logger_writes_the_same_bytes_as_keras(case, tmp_path):
    kwargs = {k: case[k] for k in ("separator", "append") if k in case}
    contents = []
    for mod, model in ((C, FakeModel()), (tk.callbacks, keras_model())):
        path = tmp_path / f"{mod.__name__}.csv"
        for _ in range(case.get("runs", 1)):
            cbs = mod.CallbackList([mod.CSVLogger(str(path), **kwargs)], model=model)
            cbs.on_train_begin()
            for epoch, logs in enumerate(case["logs"]):
                # the trainer passes Python floats; arrays and strings go to the logger as is
                cbs.callbacks[0].on_epoch_end(epoch, dict(logs))
            cbs.on_train_end()
        contents.append(path.read_bytes())
    assert contents[0] == contents[1]
    assert contents[0].count(b"epoch") == 1


def test_csv_logger_rows_are_on_disk_before_training_ends(tmp_path):
    path = tmp_path / "log.csv"
    cb = C.CSVLogger(path)
    cb.on_train_begin()
    cb.on_epoch_end(0, {"loss": 0.5})
    assert path.read_bytes() == b"epoch,loss,val_loss\r\n0,0.5,NA\r\n"  # not closed yet
    cb.on_train_end()
    with pytest.raises(TypeError, match="separator must be a one-character string"):
        C.CSVLogger(path, separator="::")


# --------------------------------------------------------------------------------------------
# CallbackList, History, hook flags


def test_pythonify_logs_matches_keras():
    logs = {"val_loss": np.float32(0.5), "loss": np.array(0.25), "acc": 1, "nested": {"b": 2.5},
            "name": "x", "t": cr.tensor(0.75)}
    ref = dict(logs, t=0.75)
    ours, theirs = pythonify_logs(logs), tk_pythonify(ref)
    assert list(ours.items()) == list(theirs.items())
    assert all(type(ours[k]) is type(theirs[k]) for k in ours)


def test_callback_list_defaults_and_flags():
    m = FakeModel()
    cbs = C.CallbackList(None, add_history=True, add_progbar=True, model=m, verbose=1, epochs=2,
                         steps=3)  # fmt: skip
    ref = tk.callbacks.CallbackList(None, add_history=True, add_progbar=True, model=keras_model(),
                                    verbose=1, epochs=2, steps=3)  # fmt: skip
    assert [type(c).__name__ for c in cbs.callbacks] == [type(c).__name__ for c in ref.callbacks]
    assert m.history is cbs.callbacks[0] and cbs.callbacks[1].params["epochs"] == 2
    assert cbs.has_batch_hooks and cbs.has_train_batch_hooks
    quiet = C.CallbackList([], add_history=True, add_progbar=True, model=m, verbose=0, epochs=2,
                           steps=3)  # fmt: skip
    assert [type(c).__name__ for c in quiet.callbacks] == ["History"]
    assert not quiet.has_batch_hooks
    two = C.CallbackList([C.EarlyStopping(), C.History()], add_progbar=True, verbose=2, epochs=2,
                         steps=3)  # fmt: skip
    assert not two.has_batch_hooks  # verbose=2 with known steps needs epoch hooks only
    unknown = C.CallbackList([], add_progbar=True, verbose=2, epochs=2, steps=None)
    assert unknown.has_train_batch_hooks

    class OnBatch(C.Callback):
        def on_batch_end(self, batch, logs=None):
            pass

    class OnTest(C.Callback):
        def on_test_batch_begin(self, batch, logs=None):
            pass

    assert C.CallbackList([OnBatch()]).has_train_batch_hooks
    flags = C.CallbackList([OnTest()])
    assert (flags.has_train_batch_hooks, flags.has_test_batch_hooks) == (False, True)
    assert not flags.has_predict_batch_hooks and flags.has_batch_hooks
    with pytest.raises(TypeError, match="received 3 of type int"):
        C.CallbackList([3])


def test_callback_list_calls_every_hook_in_order():
    hooks = ["on_train_begin", "on_epoch_begin", "on_train_batch_begin", "on_train_batch_end",
             "on_test_begin", "on_test_batch_begin", "on_test_batch_end", "on_test_end",
             "on_epoch_end", "on_train_end", "on_predict_begin", "on_predict_batch_begin",
             "on_predict_batch_end", "on_predict_end"]  # fmt: skip

    def run(mod):
        calls = []

        def make(tag):
            return mod.LambdaCallback(**{h: (lambda *a, h=h, **k: calls.append((tag, h)))
                                         for h in hooks})  # fmt: skip

        cbs = mod.CallbackList([make("a"), make("b")])
        for h in hooks:
            fn = getattr(cbs, h)
            fn(0) if "batch" in h or "epoch" in h else fn()
        return calls

    assert run(C) == run(tk.callbacks)
    assert len(run(C)) == 2 * len(hooks)
    nested = C.CallbackList([C.History(), [C.TerminateOnNaN(), [C.History()]]])
    assert [type(c).__name__ for c in nested.callbacks] == ["History", "TerminateOnNaN", "History"]


# --------------------------------------------------------------------------------------------
# ProgbarLogger


TIME = re.compile(r"\d+s - \d+(s|ms|us)/step")


def progbar_run(mod, verbose, epoch_logs, steps, capsys, test_logs=None):
    """Drive fit (and optionally a standalone evaluate and predict) through a progbar."""
    model = FakeModel() if mod is C else keras_model()
    params = dict(verbose=verbose, epochs=len(epoch_logs), steps=steps)
    cbs = mod.CallbackList([], add_history=True, add_progbar=True, model=model, **params)
    cbs.on_train_begin()
    for epoch, logs in enumerate(epoch_logs):
        cbs.on_epoch_begin(epoch)
        for step in range(steps or 3):
            cbs.on_train_batch_begin(step)
            cbs.on_train_batch_end(step, {"loss": logs["loss"] * (step + 1)})
        cbs.on_test_begin()  # the validation pass inside fit is silent
        cbs.on_test_batch_end(0, {"loss": 9.0})
        cbs.on_test_end({"loss": 9.0})
        cbs.on_epoch_end(epoch, dict(logs))
    cbs.on_train_end(logs)
    if test_logs is not None:
        ev = mod.CallbackList([], add_progbar=True, model=model, verbose=verbose, epochs=1,
                              steps=steps)  # fmt: skip
        ev.on_test_begin()
        for step in range(steps):
            ev.on_test_batch_end(step, test_logs)
        ev.on_test_end(test_logs)
        pr = mod.CallbackList([], add_progbar=True, model=model, verbose=verbose, epochs=1,
                              steps=steps)  # fmt: skip
        pr.on_predict_begin()
        for step in range(steps):
            pr.on_predict_batch_end(step, {"outputs": np.zeros((2, 1))})
        pr.on_predict_end()
    return capsys.readouterr().out


EPOCHS = [
    {"loss": 0.123456, "accuracy": 0.5, "val_loss": 0.2345, "val_accuracy": 0.75},
    {"loss": 0.000123, "accuracy": 1.0, "val_loss": -0.5, "val_accuracy": 1.0},
    {"loss": 12.5, "accuracy": 0.0, "val_loss": 1e-9, "val_accuracy": 0.0},
]


@pytest.mark.parametrize("steps", [32, 7, 100])
def test_progbar_verbose2_prints_the_same_lines_as_keras(steps, capsys):
    ours = progbar_run(C, 2, EPOCHS, steps, capsys, test_logs={"loss": 0.5, "mae": 2e-4})
    ref = progbar_run(tk.callbacks, 2, EPOCHS, steps, capsys, test_logs={"loss": 0.5,
                                                                          "mae": 2e-4})
    assert TIME.sub("T", ours) == TIME.sub("T", ref)
    lines = ours.splitlines()
    assert lines[0] == "Epoch 1/3"
    assert TIME.sub("T", lines[1]) == (
        f"{steps}/{steps} - T - accuracy: 0.5000 - loss: 0.1235 - val_accuracy: 0.7500 - "
        "val_loss: 0.2345"
    )
    assert len(lines) == 3 * 2 + 2  # two lines per epoch, one for evaluate, one for predict


def test_progbar_verbose2_single_epoch_has_no_epoch_header(capsys):
    ours = progbar_run(C, 2, EPOCHS[:1], 5, capsys)
    ref = progbar_run(tk.callbacks, 2, EPOCHS[:1], 5, capsys)
    assert TIME.sub("T", ours) == TIME.sub("T", ref)
    assert not ours.startswith("Epoch")


def test_progbar_verbose0_prints_nothing(capsys):
    assert progbar_run(C, 0, EPOCHS, 4, capsys, test_logs={"loss": 0.5}) == ""
    logger = C.ProgbarLogger()
    cbs = C.CallbackList([logger], verbose=0, epochs=3, steps=4)
    assert not cbs.has_batch_hooks
    drive(cbs, FakeModel(), EPOCHS)
    assert capsys.readouterr().out == ""


def test_progbar_verbose1_draws_a_tqdm_bar(capsys, monkeypatch):
    monkeypatch.setattr(progbar_mod, "_interactive", lambda: True)  # as in a terminal
    import tqdm

    monkeypatch.setattr(progbar_mod, "_TQDM", None)  # resolve the lazy import afresh
    monkeypatch.setattr(progbar_mod, "DRAW_INTERVAL", 0.0)  # draw every step
    out = progbar_run(C, 1, EPOCHS[:2], 4, capsys)
    assert progbar_mod._TQDM is tqdm.tqdm
    frames = out.split("\r")
    running = [f for f in frames if "ETA" in f]
    assert running, out
    assert "2/4" in out and "loss: 0.2469" in out  # the running loss of step 2, .4f
    # each line's last frame is what stays on screen: the epoch line, then the finished bar
    shown = [seg.split("\r")[-1] for seg in out.split("\n") if seg]
    assert shown[0] == "Epoch 1/2" and shown[2] == "Epoch 2/2", shown
    final, final2 = shown[1], shown[3]
    # keys in first-seen order: the batches' loss, then the epoch's other logs (as Keras)
    assert "loss: 0.1235 - accuracy: 0.5000 - val_accuracy: 0.7500 - val_loss: 0.2345" in final
    assert re.search(r"4/4 \S+ \d+s \d+(ms|us|s)/step", final)
    assert "loss: 1.2300e-04" in final2 and "val_loss: -0.5000" in final2
    assert out.endswith("\n") and out.count("\n") == 4  # epoch line + finished bar, twice
    # the finished lines show the same metrics as Keras's own verbose=1 bar
    ref = progbar_run(tk.callbacks, 1, EPOCHS[:2], 4, capsys)

    def tails(text):
        lines = [ln for ln in text.split("\n") if "/step" in ln]
        return [ln.rsplit("/step", 1)[1].strip() for ln in lines]

    assert tails(out) == tails(ref) and len(tails(out)) == 2


def test_progbar_verbose1_text_fallback_without_tqdm(capsys, monkeypatch):
    monkeypatch.setattr(progbar_mod, "_interactive", lambda: True)  # as in a terminal
    monkeypatch.setattr(progbar_mod, "_TQDM", False)  # as if tqdm were not installed
    monkeypatch.setattr(progbar_mod, "DRAW_INTERVAL", 0.0)  # draw every step
    out = progbar_run(C, 1, EPOCHS[:1], 4, capsys, test_logs={"loss": 0.5})
    frames = [f.rstrip() for f in out.split("\r") if f.strip()]
    assert frames[0].startswith("1/4 [=====>") and "ETA" in frames[0]  # one epoch: no title
    assert "loss: 0.1235" in frames[0]
    assert frames[4].startswith("4/4 [====================] ")
    assert "val_loss: 0.2345" in frames[4] and "ETA" not in frames[4]
    assert any(f.startswith("4/4 [") and "loss: 0.5000" in f for f in frames)  # evaluate
    assert out.count("\n") == 3  # fit epoch, evaluate, predict


def test_progbar_unknown_steps_learns_the_target(capsys):
    out = progbar_run(C, 2, EPOCHS[:2], None, capsys)
    ref = progbar_run(tk.callbacks, 2, EPOCHS[:2], None, capsys)
    assert TIME.sub("T", out) == TIME.sub("T", ref)
    assert "3/3 - " in out


def test_progbar_verbose1_skips_drawing_within_interval(capsys, monkeypatch):
    monkeypatch.setattr(progbar_mod, "_interactive", lambda: True)  # as in a terminal
    monkeypatch.setattr(progbar_mod, "_TQDM", False)
    bar = progbar_mod.Progbar(target=1000, verbose=1, interval=3600)
    for step in range(1, 1000):
        bar.update(step, [("loss", 0.5)])
    assert capsys.readouterr().out.count("\r") == 1  # only the first update draws
    bar.update(1000, [("loss", 0.25)], finalize=True)
    assert "loss: 0.2500" in capsys.readouterr().out


def test_batch_hooks_reach_legacy_overrides_and_appended_callbacks_like_keras():
    def run(mod):
        calls = []

        class Legacy(mod.Callback):
            def on_batch_begin(self, batch, logs=None):
                calls.append(("begin", batch, logs))

            def on_batch_end(self, batch, logs=None):
                calls.append(("end", batch, logs))

        cbs = mod.CallbackList([mod.History()])
        cbs.on_train_begin()
        cbs.on_train_batch_end(0, {"loss": np.float32(0.5)})  # nobody listens yet
        if mod is C:
            cbs.append(Legacy())
        else:
            cbs.callbacks.append(Legacy())
        cbs.on_train_batch_begin(1)
        cbs.on_train_batch_end(1, {"loss": np.float32(0.5)})
        cbs.on_test_batch_end(1, {"loss": 1.0})  # not a train hook: Legacy is not called
        cbs.on_train_end()
        return calls

    assert run(C) == run(tk.callbacks) == [("begin", 1, {}), ("end", 1, {"loss": 0.5})]


def test_progbar_verbose1_in_a_log_file_prints_only_final_lines(capsys, monkeypatch):
    """Not a terminal (CI logs, pipes): no redraws, one finished line per bar, as Keras."""
    monkeypatch.setattr(progbar_mod, "_interactive", lambda: False)
    monkeypatch.setattr(progbar_mod, "DRAW_INTERVAL", 0.0)
    out = progbar_run(C, 1, EPOCHS[:2], 4, capsys)
    assert "\r" not in out and "ETA" not in out
    lines = out.strip().split("\n")
    assert len(lines) == 4 and lines[0] == "Epoch 1/2" and lines[1].startswith("4/4 [")
    assert "val_loss: 0.2345" in lines[1]
