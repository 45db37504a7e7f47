"""The names of compiled metrics and the order of ``evaluate``'s results, against Keras 3.15.1:
the metrics keep their own names, the logs prefix ``<output>_`` on a model of several outputs,
number repeated names (``mae_1``), name a weighted metric whose name is taken
``weighted_<name>``, and ``evaluate`` lists the results in Keras's order (loss, per-output
losses, then the other keys sorted)."""

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras
import numpy as np
import pytest

from chainrule import keras as crk

RNG = np.random.default_rng(0)
X = RNG.random((16, 3)).astype("float32")
Y = RNG.random((16, 1)).astype("float32")
YC = RNG.integers(0, 2, (16, 1)).astype("float32")
SW = RNG.random(16).astype("float32")


def _single(k, **compile_kwargs):
    m = k.Sequential([k.Input((3,)), k.layers.Dense(1, kernel_initializer="ones")])
    m.compile(optimizer="sgd", loss="mse", **compile_kwargs)
    return m, X, Y, SW


def _multi(k, **compile_kwargs):
    i = k.Input((3,), name="inp")
    a = k.layers.Dense(1, activation="sigmoid", name="cls", kernel_initializer="ones")(i)
    b = k.layers.Dense(1, name="reg", kernel_initializer="ones")(i)
    m = k.Model(i, {"cls": a, "reg": b})
    m.compile(optimizer="sgd", loss={"cls": "binary_crossentropy", "reg": "mse"},
              **compile_kwargs)  # fmt: skip
    return m, X, {"cls": YC, "reg": Y}, None


CASES = {
    "one metric": (_single, {"metrics": ["mae"]}),
    "weighted only": (_single, {"weighted_metrics": ["mae"]}),
    "plain and weighted": (_single, {"metrics": ["mae"], "weighted_metrics": ["mae"]}),
    "a repeated metric": (_single, {"metrics": ["mae", "mae", "mse"]}),
    "two outputs": (_multi, {"metrics": {"cls": ["accuracy"], "reg": ["mae"]}}),
    "two outputs, weighted too": (_multi, {"metrics": {"cls": ["accuracy"], "reg": ["mae"]},
                                           "weighted_metrics": {"cls": ["accuracy"],
                                                                "reg": ["mae"]}}),
    "two outputs, two metrics each": (_multi, {"metrics": {"cls": ["accuracy", "auc"],
                                                           "reg": ["mae", "mse"]}}),
}  # fmt: skip


def _run(k, make, kwargs):
    m, x, y, sw = make(k, **kwargs)
    listed = m.evaluate(x, y, sample_weight=sw, verbose=0)
    logs = m.evaluate(x, y, sample_weight=sw, verbose=0, return_dict=True)
    history = m.fit(x, y, sample_weight=sw, epochs=1, batch_size=16, shuffle=False, verbose=0)
    subs = [s.name for c in m.metrics if hasattr(c, "metrics") for s in c.metrics]
    return [float(v) for v in np.atleast_1d(listed)], logs, list(history.history), subs


@pytest.mark.parametrize("case", list(CASES))
def test_names_and_result_order_match_keras(case):
    make, kwargs = CASES[case]
    ours, ref = _run(crk, make, kwargs), _run(keras, make, kwargs)
    np.testing.assert_allclose(ours[0], ref[0], rtol=1e-5)  # evaluate's list, in Keras's order
    assert list(ours[1]) == list(ref[1])  # return_dict: the same keys, in the same order
    np.testing.assert_allclose(list(ours[1].values()), list(ref[1].values()), rtol=1e-5)
    assert ours[2] == ref[2]  # history keys
    assert ours[3] == ref[3]  # the metrics' own names


def test_a_metric_object_starts_from_nothing_in_each_model_as_in_keras():
    # one metric object compiled into two models in turn: each model's fit starts it from
    # nothing (it was carrying the first model's counts into the second's first epoch)
    def histories(k):
        metric = k.metrics.BinaryAccuracy(name="acc")
        out = []
        for _ in range(2):
            m = k.Sequential([k.Input((3,)), k.layers.Dense(1, activation="sigmoid",
                                                            kernel_initializer="ones")])
            m.compile(optimizer="sgd", loss="binary_crossentropy", metrics=[metric])
            out.append(m.fit(X, YC, epochs=2, batch_size=4, verbose=0,
                             shuffle=False).history["acc"])  # fmt: skip
        metric.update_state(YC, 1 - YC)  # a metric used on its own, then evaluated
        m.compile(optimizer="sgd", loss="binary_crossentropy", metrics=[metric])
        out.append(m.evaluate(X, YC, verbose=0, return_dict=True)["acc"])
        return out

    ours, theirs = histories(crk), histories(keras)
    assert ours[0] == ours[1]
    np.testing.assert_allclose(np.array(ours[:2]), np.array(theirs[:2]), rtol=1e-6)
    np.testing.assert_allclose(ours[2], theirs[2], rtol=1e-6)
