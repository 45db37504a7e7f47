"""Fixtures shared by the Keras API tests."""

import pytest


@pytest.fixture
def taken(monkeypatch):
    """Counts of the training steps ``fit`` ran as array steps ([0]) and as ordinary ones
    ([1]) (``keras/trainers/array_step.py``)."""
    from chainrule.keras.trainers import array_step, trainer  # noqa: PLC0415

    counts = [0, 0]
    run = array_step.run

    def counting(*args):
        done = run(*args)
        counts[0 if done else 1] += 1
        return done

    monkeypatch.setattr(trainer, "_array_step", counting)
    return counts
