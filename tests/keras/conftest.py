"""Fixtures shared by the Keras API tests."""

import pytest


@pytest.fixture
def taken(monkeypatch):
    """Counts of the training steps ``fit`` ran as array steps ([0]) and as ordinary ones
    ([1]) (``keras/trainers/array_step.py``); ``.sealed``: how many of the array steps ran in
    sealed epochs (``array_step.sealed_steps``)."""
    from chainrule.keras.trainers import array_step, trainer  # noqa: PLC0415

    counts = _Counts([0, 0])
    run, step = array_step.run, array_step._step

    def counting(*args):
        done = run(*args)
        counts[0 if done else 1] += 1
        return done

    def counting_sealed(*args):
        done = step(*args)
        if done and args[-1] is not None:  # (a sealed step not taken is counted by `run`)
            counts[0] += 1
            counts.sealed += 1
        return done

    monkeypatch.setattr(trainer, "_array_step", counting)
    monkeypatch.setattr(array_step, "_step", counting_sealed)
    return counts


class _Counts(list):
    sealed = 0
