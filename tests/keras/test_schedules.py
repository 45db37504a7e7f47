"""chainrule.keras.optimizers.schedules against real Keras 3.15.1 (torch backend)."""

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras
import numpy as np
import pytest

import chainrule as cr
from chainrule.keras.optimizers import schedules

STEPS = [0, 1, 2, 3, 5, 7, 10, 11, 15, 20, 31, 50, 99, 100, 1000]

CASES = [
    ("ExponentialDecay", {"initial_learning_rate": 0.1, "decay_steps": 10, "decay_rate": 0.9}),
    ("ExponentialDecay",
     {"initial_learning_rate": 0.5, "decay_steps": 3, "decay_rate": 0.5, "staircase": True}),
    ("PiecewiseConstantDecay", {"boundaries": [5, 10, 20], "values": [1.0, 0.5, 0.1, 0.01]}),
    ("PiecewiseConstantDecay", {"boundaries": [2.5], "values": [0.3, 0.2]}),
    ("PolynomialDecay", {"initial_learning_rate": 0.1, "decay_steps": 20}),
    ("PolynomialDecay", {"initial_learning_rate": 0.1, "decay_steps": 7,
                         "end_learning_rate": 0.01, "power": 2.0, "cycle": True}),
    ("PolynomialDecay", {"initial_learning_rate": 1.0, "decay_steps": 10, "power": 0.5}),
    ("InverseTimeDecay", {"initial_learning_rate": 0.1, "decay_steps": 5, "decay_rate": 0.5}),
    ("InverseTimeDecay", {"initial_learning_rate": 0.1, "decay_steps": 4, "decay_rate": 2.0,
                          "staircase": True}),
    ("CosineDecay", {"initial_learning_rate": 0.1, "decay_steps": 50}),
    ("CosineDecay", {"initial_learning_rate": 0.1, "decay_steps": 30, "alpha": 0.1}),
    ("CosineDecay", {"initial_learning_rate": 0.0, "decay_steps": 40, "warmup_target": 0.2,
                     "warmup_steps": 10}),
    ("CosineDecay", {"initial_learning_rate": 0.01, "decay_steps": 40, "alpha": 0.05,
                     "warmup_target": 0.1, "warmup_steps": 7}),
    ("CosineDecayRestarts", {"initial_learning_rate": 0.1, "first_decay_steps": 10}),
    ("CosineDecayRestarts", {"initial_learning_rate": 0.1, "first_decay_steps": 6,
                             "t_mul": 1.0, "m_mul": 0.5, "alpha": 0.1}),
    ("CosineDecayRestarts", {"initial_learning_rate": 0.2, "first_decay_steps": 5,
                             "t_mul": 3.0, "m_mul": 0.8}),
]  # fmt: skip


@pytest.mark.parametrize(("name", "kwargs"), CASES, ids=lambda x: str(x))
def test_values_match_keras(name, kwargs):
    ours = getattr(schedules, name)(**kwargs)
    theirs = getattr(keras.optimizers.schedules, name)(**kwargs)
    got = [ours(s) for s in STEPS]
    want = [float(theirs(s)) for s in STEPS]
    assert all(isinstance(g, np.float32) for g in got)
    np.testing.assert_allclose(np.array(got, np.float64), want, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize(("name", "kwargs"), CASES, ids=lambda x: str(x))
def test_config_and_serialization_match_keras(name, kwargs):
    ours = getattr(schedules, name)(**kwargs)
    theirs = getattr(keras.optimizers.schedules, name)(**kwargs)
    assert ours.get_config() == theirs.get_config()
    assert schedules.serialize(ours) == keras.optimizers.schedules.serialize(theirs)
    again = schedules.deserialize(keras.optimizers.schedules.serialize(theirs))
    assert type(again) is type(ours) and again.get_config() == ours.get_config()
    assert type(ours).from_config(ours.get_config()).get_config() == ours.get_config()
    # A legacy {"class_name", "config"} dict works too.
    legacy = {"class_name": name, "config": ours.get_config()}
    assert schedules.deserialize(legacy)(7) == ours(7)


def test_step_types():
    s = schedules.ExponentialDecay(0.1, 10, 0.5)
    want = s(5)
    assert s(np.int64(5)) == want
    assert s(np.array(5)) == want
    assert s(5.0) == want
    assert s(cr.tensor(5)) == want
    with pytest.raises(ValueError, match="step must be a scalar"):
        s(np.array([1, 2]))


def test_custom_schedule_subclass_and_base_errors():
    class Halve(schedules.LearningRateSchedule):
        def __init__(self, rate):
            self.rate = rate

        def __call__(self, step):
            return np.float32(self.rate * 0.5 ** int(step))

        def get_config(self):
            return {"rate": self.rate}

    ser = schedules.serialize(Halve(0.4))
    assert ser["class_name"] == "Halve" and ser["registered_name"] == "Halve"
    back = schedules.deserialize(ser, custom_objects={"Halve": Halve})
    assert back(2) == np.float32(0.1)
    with pytest.raises(ValueError, match=r"Unknown decay: 'Halve'.*ExponentialDecay"):
        schedules.deserialize(ser)
    with pytest.raises(NotImplementedError, match="__call__"):
        schedules.LearningRateSchedule()(0)
    with pytest.raises(NotImplementedError, match="get_config"):
        schedules.LearningRateSchedule().get_config()


def test_bad_arguments():
    with pytest.raises(ValueError, match=r"decay_steps` must be > 0. Received: decay_steps=0"):
        schedules.ExponentialDecay(0.1, 0, 0.5)
    with pytest.raises(ValueError, match="decay_steps"):
        schedules.PolynomialDecay(0.1, -1)
    with pytest.raises(ValueError, match="decay_steps"):
        schedules.InverseTimeDecay(0.1, 0, 0.5)
    with pytest.raises(ValueError, match="decay_steps"):
        schedules.CosineDecay(0.1, 0)
    with pytest.raises(ValueError, match="first_decay_steps"):
        schedules.CosineDecayRestarts(0.1, 0)
    with pytest.raises(ValueError, match="1 less than the length of values"):
        schedules.PiecewiseConstantDecay([1, 2], [0.1, 0.2])
    with pytest.raises(ValueError, match="non-decreasing"):
        schedules.PiecewiseConstantDecay([5, 2], [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="initial_learning_rate"):
        schedules.ExponentialDecay("0.1", 10, 0.5)
    with pytest.raises(ValueError, match="warmup_steps"):
        schedules.CosineDecay(0.1, 10, warmup_target=0.2, warmup_steps=-1)
    with pytest.raises(TypeError, match="LearningRateSchedule"):
        schedules.serialize(0.1)
