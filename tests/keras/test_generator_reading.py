"""How fit, evaluate and predict read a Python generator, against Keras 3.15.1.

Keras reads a generator's first two batches when it wraps it (``GeneratorDataAdapter``'s
``peek_and_restore``) and starts every pass with them again: an unbuilt model is built on the
first batch without losing it, a finite generator gives its first two batches again in each
later epoch, a validation generator is read from its first batch in every epoch, and
``steps_per_epoch`` carries one pass on across epochs. Each test runs the same program in
both libraries and compares which batches were read and the logged losses.
"""

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import warnings

import keras
import numpy as np
import pytest

from chainrule import keras as crk


def _source(read, n=None):
    # batch i is x = y = i (2 samples); a zero model's mse on it is i**2
    def gen():
        i = 0
        while n is None or i < n:
            read.append(i)
            yield np.full((2, 1), i, "float32"), np.full((2, 1), i, "float32")
            i += 1

    return gen()


def _model(k, built=True):
    layers = [k.Input((1,))] if built else []
    dense = k.layers.Dense(1, kernel_initializer="zeros", bias_initializer="zeros")
    model = k.Sequential([*layers, dense])
    model.compile(optimizer=k.optimizers.SGD(0.0), loss="mse")
    return model


def _both(program):
    """``program(k, read)`` run with Keras and with chainrule: (read, result) for each."""
    out = []
    for k in (keras, crk):
        read = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out.append((read, program(k, read)))
    return out


def _losses(history, key="loss"):
    return [round(v, 4) for v in history.history.get(key, [])]


X = np.zeros((4, 1), "float32")

PROGRAMS = {
    "unbuilt model, fit": lambda k, r: _losses(
        _model(k, built=False).fit(_source(r, 3), epochs=1, verbose=0)),
    "finite generator, three epochs": lambda k, r: _losses(
        _model(k).fit(_source(r, 3), epochs=3, verbose=0)),
    "steps_per_epoch carries on": lambda k, r: _losses(
        _model(k).fit(_source(r), steps_per_epoch=2, epochs=3, verbose=0)),
    "steps_per_epoch, runs out": lambda k, r: _losses(
        _model(k).fit(_source(r, 3), steps_per_epoch=2, epochs=3, verbose=0)),
    "validation generator with validation_steps": lambda k, r: _losses(
        _model(k).fit(X, X, batch_size=2, epochs=3, verbose=0,
                      validation_data=_source(r), validation_steps=3), "val_loss"),
    "finite validation generator": lambda k, r: _losses(
        _model(k).fit(X, X, batch_size=2, epochs=3, verbose=0,
                      validation_data=_source(r, 5)), "val_loss"),
    "evaluate with steps=1, three calls": lambda k, r: [
        round(m.evaluate(g, steps=1, verbose=0), 4)
        for m, g in [(_model(k), _source(r))] for _ in range(3)],
    "predict with steps=1, twice": lambda k, r: [
        m.predict(g, steps=1, verbose=0).shape
        for m, g in [(_model(k), _source(r))] for _ in range(2)],
}


@pytest.mark.parametrize("name", list(PROGRAMS))
def test_batches_read_and_losses_match_keras(name):
    (k_read, k_out), (c_read, c_out) = _both(PROGRAMS[name])
    assert c_read == k_read
    assert c_out == k_out


def test_the_unbuilt_model_trains_on_the_first_batch_too():
    # before: building on the first batch took it from the generator, so fit trained on
    # batches 1 and 2 only (mean of 1 and 4 = 2.5, where Keras logs (0 + 1 + 4) / 3)
    (_, (k_out)), (_, c_out) = _both(PROGRAMS["unbuilt model, fit"])
    assert c_out == k_out == [round(5 / 3, 4)]


def test_an_empty_generator_is_refused_as_keras_does():
    for k in (keras, crk):
        with pytest.raises(ValueError, match="must yield at least one batch"):
            _model(k).fit((batch for batch in ()), epochs=1, verbose=0)


def test_running_out_within_steps_per_epoch_warns():
    with pytest.warns(UserWarning, match="ran out of data"):
        _model(crk).fit(_source([], 3), steps_per_epoch=2, epochs=2, verbose=0)


def _pydataset_log(k, log):
    class Logged(k.utils.PyDataset):
        def __len__(self):
            return 3

        def __getitem__(self, i):
            log.append(i)
            return np.full((2, 1), i, "float32"), np.full((2, 1), i, "float32")

        def on_epoch_begin(self):
            log.append("B")

        def on_epoch_end(self):
            log.append("E")

    return Logged()


def _fit_twice(k, log, steps):
    model = _model(k)
    out = []
    for _ in range(2):  # the second fit: the compiled loss is built, no first-batch read
        out.append(_losses(model.fit(_pydataset_log(k, log), steps_per_epoch=steps, epochs=3,
                                     shuffle=False, verbose=0)))  # fmt: skip
        out.append(list(log))
        log.clear()
    return out


PYDATASET_PROGRAMS = {
    "fit, steps_per_epoch below a pass": lambda k, log: _fit_twice(k, log, 2),
    "fit, steps_per_epoch above a pass": lambda k, log: _fit_twice(k, log, 4),
    "fit with PyDataset validation": lambda k, log: _losses(
        _model(k).fit(_pydataset_log(k, log), epochs=2, shuffle=False, verbose=0,
                      validation_data=_pydataset_log(k, log)), "val_loss"),
    "evaluate, then with steps": lambda k, log: [
        round(m.evaluate(_pydataset_log(k, log), steps=s, verbose=0), 4)
        for m in [_model(k)] for s in (None, 2)],
    "predict": lambda k, log: _model(k).predict(_pydataset_log(k, log), verbose=0).shape,
}


@pytest.mark.parametrize("name", list(PYDATASET_PROGRAMS))
def test_pydataset_hooks_and_reads_match_keras(name):
    # Keras calls on_epoch_begin/on_epoch_end once per epoch (not per pass), reads a first
    # batch between them on the first fit or evaluate after compile, and calls on_epoch_end
    # before each fit's and evaluate's first epoch: the same calls in the same order here
    (k_log, k_out), (c_log, c_out) = _both(PYDATASET_PROGRAMS[name])
    assert c_log == k_log
    assert c_out == k_out


def _fit_error(k, x, **kwargs):
    try:
        _model(k).fit(x, epochs=1, verbose=0, **kwargs)
    except ValueError as e:
        return str(e)
    return None


@pytest.mark.parametrize("kwargs", [{"y": X}, {"sample_weight": np.ones(4, "float32")},
                                    {"class_weight": {0: 1.0, 1: 2.0}}])
def test_what_keras_refuses_with_a_generator_is_refused_with_its_message(kwargs):
    # (before: y raised with other words, and sample_weight and class_weight were ignored)
    messages = [_fit_error(k, _source([], 3), **kwargs) for k in (keras, crk)]
    assert messages[0] is not None and messages[1] == messages[0]


def test_a_pydataset_is_weighed_by_class_as_keras_weighs_it():
    # (before: class_weight was silently ignored for a PyDataset)
    def program(k, log):
        model = _model(k)
        ds = _pydataset_log(k, log)
        weights = {0: 0.5, 1: 3.0, 2: 2.0}
        return _losses(model.fit(ds, epochs=2, shuffle=False, verbose=0, class_weight=weights))

    (_, k_out), (_, c_out) = _both(program)
    assert c_out == k_out
    unweighted = _both(lambda k, log: _losses(_model(k).fit(_pydataset_log(k, log), epochs=2,
                                                            shuffle=False, verbose=0)))  # fmt: skip
    assert unweighted[1][1] != c_out


def test_shuffle_with_a_generator_warns_as_keras():
    for k in (keras, crk):
        with pytest.warns(UserWarning, match="`shuffle=True` was passed, but will be ignored"):
            _model(k).fit(_source([], 3), epochs=1, verbose=0)


WARNING_PROGRAMS = {
    "fit, two epochs of a finite generator": lambda m, r: m.fit(_source(r, 3), epochs=2,
                                                                 shuffle=False, verbose=0),
    "fit, steps_per_epoch within the data": lambda m, r: m.fit(
        _source(r, 5), steps_per_epoch=2, epochs=2, shuffle=False, verbose=0),
    "fit, steps_per_epoch past the data": lambda m, r: m.fit(
        _source(r, 3), steps_per_epoch=2, epochs=2, shuffle=False, verbose=0),
    "evaluate": lambda m, r: m.evaluate(_source(r, 3), verbose=0),
    "evaluate, steps within the data": lambda m, r: m.evaluate(_source(r, 5), steps=2,
                                                               verbose=0),
    "predict": lambda m, r: m.predict(_source(r, 3), verbose=0),
}  # fmt: skip


@pytest.mark.parametrize("name", list(WARNING_PROGRAMS))
def test_ran_out_of_data_warnings_as_keras(name):
    # Keras warns each time a generator runs out before the steps asked for (or at all)
    counts = []
    for k in (keras, crk):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            WARNING_PROGRAMS[name](_model(k), [])
        counts.append(sum("ran out of data" in str(w.message) for w in caught))
    assert counts[1] == counts[0]
