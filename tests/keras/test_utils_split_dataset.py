"""keras.utils.split_dataset against real Keras 3.15.1 (torch backend) and against the
permutation Keras's tf.data path draws (Python's ``random`` seeded with ``seed``)."""

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import random  # noqa: E402

import keras as tk  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from chainrule import keras as ck  # noqa: E402

X = np.arange(40, dtype="float32").reshape(20, 2)
Y = np.arange(20) * 10


def _keras_parts(dataset, **kwargs):
    # Keras on torch returns two torch Subsets: their rows, as arrays, per element
    parts = tk.utils.split_dataset(dataset, **kwargs)
    return [[np.stack([np.asarray(part[j][k]) for j in range(len(part))])
             for k in range(len(part[0]))] for part in parts]  # fmt: skip


@pytest.mark.parametrize("sizes", [
    {"left_size": 0.8}, {"right_size": 0.25}, {"left_size": 7}, {"right_size": 3},
    {"left_size": 0.3, "right_size": 0.7}, {"left_size": 5, "right_size": 15},
    {"left_size": 0.55}])  # fmt: skip
def test_sizes_and_rows_match_keras(sizes):
    (xl, yl), (xr, yr) = ck.utils.split_dataset((X, Y), **sizes)
    ref = _keras_parts((X, Y), **sizes)
    assert [len(xl), len(xr)] == [len(ref[0][0]), len(ref[1][0])]
    # Keras's torch path permutes even with shuffle=False (torch's random_split); ours keeps
    # the order (Keras's documented, tf.data behaviour): the same rows, first left then right
    assert sorted(ref[0][1].tolist() + ref[1][1].tolist()) == sorted(Y.tolist())
    np.testing.assert_array_equal(np.concatenate([yl, yr]), Y)
    np.testing.assert_array_equal(xl, X[: len(xl)])
    np.testing.assert_array_equal(yl * 0.2, xl[:, 0])  # rows stay paired


def test_a_single_array_and_a_list():
    left, right = ck.utils.split_dataset(X, left_size=0.75)
    assert isinstance(left, np.ndarray) and left.shape == (15, 2) and right.shape == (5, 2)
    parts = ck.utils.split_dataset([X, Y], right_size=4)
    assert all(isinstance(p, list) and len(p) == 2 for p in parts)
    np.testing.assert_array_equal(parts[1][1], Y[-4:])


def test_dropped_middle_when_sizes_add_to_less_than_the_data():
    (xl, yl), (xr, yr) = ck.utils.split_dataset((X, Y), left_size=0.2, right_size=0.3)
    np.testing.assert_array_equal(yl, Y[:4])
    np.testing.assert_array_equal(yr, Y[-6:])


@pytest.mark.parametrize("seed", [0, 1, 42, 999])
def test_shuffle_with_a_seed_is_kerass_tf_path_permutation(seed):
    order = list(range(20))
    random.Random(seed).shuffle(order)  # what Keras's tf path does: random.seed; random.shuffle
    (xl, yl), (xr, yr) = ck.utils.split_dataset((X, Y), left_size=0.6, shuffle=True, seed=seed)
    np.testing.assert_array_equal(yl, Y[order[:12]])
    np.testing.assert_array_equal(yr, Y[order[12:]])
    np.testing.assert_array_equal(xl[:, 0], yl * 0.2)
    state = random.getstate()
    ck.utils.split_dataset(X, left_size=3, shuffle=True, seed=seed)
    assert random.getstate() == state  # the global `random` is left alone
    ref = _keras_parts((X, Y), left_size=0.6, shuffle=True, seed=seed)
    assert len(ref[0][1]) == len(yl)  # (Keras on torch draws its own torch permutation)


def test_shuffle_without_a_seed_follows_set_random_seed():
    ck.utils.set_random_seed(3)
    first = ck.utils.split_dataset(Y, left_size=0.5, shuffle=True)
    ck.utils.set_random_seed(3)
    again = ck.utils.split_dataset(Y, left_size=0.5, shuffle=True)
    np.testing.assert_array_equal(first[0], again[0])
    assert not np.array_equal(first[0], Y[:10])


@pytest.mark.parametrize("kwargs,error,match", [
    ({}, ValueError, "At least one of the `left_size` or `right_size`"),
    ({"left_size": 0, "right_size": 0}, ValueError, "Both `left_size` and `right_size` are zero"),
    ({"left_size": 20}, ValueError, "positive integer smaller than 20"),
    ({"left_size": 1.0}, ValueError, "Received: left_size=1.0"),
    ({"right_size": -2}, ValueError, "Received: right_size=-2"),
    ({"left_size": 0.6, "right_size": 0.5}, ValueError, "greater than 1"),
    ({"left_size": 12, "right_size": 10}, ValueError, "should be smaller than the 20"),
    ({"left_size": 0.01}, ValueError, "left side dataset split will be empty"),
    ({"left_size": "0.5"}, TypeError, "Invalid `left_size` Type"),
])  # fmt: skip
def test_bad_sizes_raise_kerass_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        ck.utils.split_dataset((X, Y), **kwargs)
    with pytest.raises(error, match=match):
        tk.utils.split_dataset((X, Y), **kwargs)


def test_bad_datasets_are_refused():
    with pytest.raises(ValueError, match=r"same length, received lengths \[20, 3\]"):
        ck.utils.split_dataset((X, Y[:3]), left_size=0.5)
    for bad in ({"x": X}, iter([X]), ()):
        with pytest.raises(TypeError, match="must be a NumPy array or a non-empty list/tuple"):
            ck.utils.split_dataset(bad, left_size=0.5)
    assert "split_dataset" in dir(ck.utils)
