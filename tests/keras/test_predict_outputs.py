"""What ``predict`` and ``predict_on_batch`` hand back: new C-contiguous arrays of Keras's
shapes, never the caller's own data (checked against real Keras 3.15.1)."""

import numpy as np
import pytest

from ._keras_ref import ck, tk


def _models(lib):
    L = lib.layers
    return {
        "Identity": lib.Sequential([lib.Input((3,)), L.Identity()]),
        "linear": lib.Sequential([lib.Input((3,)), L.Activation("linear")]),
        "Flatten": lib.Sequential([lib.Input((3,)), L.Flatten()]),
        "Dropout": lib.Sequential([lib.Input((3,)), L.Dropout(0.5)]),
    }


@pytest.mark.parametrize("name", ["Identity", "linear", "Flatten", "Dropout"])
@pytest.mark.parametrize("how", ["predict", "predict-batched", "predict_on_batch"])
def test_predict_never_returns_the_callers_array(name, how):
    ours, ref = _models(ck)[name], _models(tk)[name]
    x = np.arange(12, dtype="float32").reshape(4, 3)
    keep = x.copy()
    for model in (ours, ref):
        if how == "predict":
            out = model.predict(x, verbose=0)
        elif how == "predict-batched":
            out = model.predict(x, batch_size=4, verbose=0)  # one batch: a slice of x
        else:
            out = model.predict_on_batch(x)
        out = np.asarray(out)
        assert not np.shares_memory(out, x), model
        np.testing.assert_array_equal(out, keep)
        out[:] = -1
        np.testing.assert_array_equal(x, keep)  # the caller's data is untouched


def test_a_scalar_output_keeps_keras_shape():
    x = np.ones((2, 3), "float32")
    shapes = []
    for lib in (ck, tk):
        i = lib.Input((3,))
        m = lib.Model(i, lib.layers.Lambda(lambda t, lib=lib: lib.ops.sum(t))(i))
        shapes.append((np.shape(m.predict_on_batch(x)), float(m.predict_on_batch(x))))
    assert shapes[0] == shapes[1] == ((), 6.0)
