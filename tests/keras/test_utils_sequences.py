"""``keras.utils.pad_sequences`` against real Keras 3.15.1, and what ``keras.utils`` lists."""

import numpy as np
import pytest

from ._keras_ref import ck, tk

SEQS = [[1], [2, 3], [4, 5, 6], [], [7, 8, 9, 10]]
ITEMS = [np.arange(6).reshape(3, 2), np.arange(4).reshape(2, 2) + 10]


@pytest.mark.parametrize("kwargs", [
    {}, {"maxlen": 2}, {"maxlen": 6}, {"padding": "post"}, {"truncating": "post", "maxlen": 3},
    {"padding": "post", "truncating": "post", "maxlen": 2, "value": -1},
    {"dtype": "float32", "value": 0.5}, {"maxlen": 1, "dtype": "int64"},
])  # fmt: skip
@pytest.mark.parametrize("seqs", [SEQS, ITEMS, [np.array([1.5, 2.5]), [3.25]]],
                         ids=["lists", "2-D items", "floats"])  # fmt: skip
def test_pad_sequences_matches_keras(kwargs, seqs):
    ours, ref = ck.utils.pad_sequences(seqs, **kwargs), tk.utils.pad_sequences(seqs, **kwargs)
    assert ours.dtype == ref.dtype and ours.shape == ref.shape
    np.testing.assert_array_equal(ours, ref)


def test_pad_sequences_with_strings_as_keras():
    seqs = [["a", "bb"], ["ccc"]]
    ours = ck.utils.pad_sequences(seqs, dtype=object, value="<pad>")
    np.testing.assert_array_equal(ours, tk.utils.pad_sequences(seqs, dtype=object, value="<pad>"))
    for lib in (ck, tk):
        with pytest.raises(ValueError, match="is not compatible with `value`'s type"):
            lib.utils.pad_sequences(seqs, value="<pad>")


@pytest.mark.parametrize("bad,match", [
    ({"sequences": 3}, "must be iterable"),
    ({"sequences": [[1], 2]}, "must be a list of iterables"),
    ({"sequences": [[1]], "padding": "middle"}, "not understood"),
    ({"sequences": [[1]], "truncating": "end"}, "not understood"),
    ({"sequences": [np.ones((2, 2)), np.ones((2, 3))]}, "different from expected shape"),
])  # fmt: skip
def test_pad_sequences_refuses_what_keras_refuses(bad, match):
    for lib in (ck, tk):
        with pytest.raises(ValueError, match=match):
            lib.utils.pad_sequences(**bad)


def test_utils_lists_only_its_public_names():
    assert "np" not in dir(ck.utils) and "annotations" not in dir(ck.utils)
    assert {"pad_sequences", "to_categorical", "set_random_seed"} <= set(dir(ck.utils))


def test_layers_lists_layers_not_submodules():
    names = dir(ck.layers)
    assert "Dense" in names and "ReLU" in names and "core" not in names
    assert set(names) == set(ck.layers.__all__)
