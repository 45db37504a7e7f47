"""Helpers shared by the tests of fit's array step (``keras/trainers/array_step.py``)."""

import numpy as np


def assert_same(results):
    """Two fits' ``(weights, history)`` are equal bit for bit."""
    (w1, h1), (w2, h2) = results
    assert len(w1) == len(w2)
    for a, b in zip(w1, w2):
        np.testing.assert_array_equal(a, b)
    assert h1 == h2
