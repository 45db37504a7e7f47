"""``ArrayBatches``: what it converts up front and what it leaves to each batch."""

import numpy as np

from chainrule.keras.trainers import data_adapter as da


def test_small_float64_arrays_are_converted_once_with_the_same_values():
    x = np.linspace(-1, 1, 100).reshape(-1, 1)  # float64, as the seed program passes it
    y = 2 * x[:, 0] + 0.1
    batches = da.ArrayBatches(x, y, batch_size=32, shuffle=True)
    assert batches.x.dtype == np.float32 and batches.y.dtype == np.float32
    seen = np.concatenate([b[0] for b in batches])
    assert seen.dtype == np.float32
    np.testing.assert_array_equal(np.sort(seen[:, 0]), x[:, 0].astype(np.float32))


def test_memmaps_and_large_arrays_are_not_copied(tmp_path, monkeypatch):
    path = tmp_path / "x.dat"
    mm = np.memmap(path, dtype=np.float64, mode="w+", shape=(40, 3))
    mm[:] = np.arange(120).reshape(40, 3)
    big = np.ones((50, 2))
    monkeypatch.setattr(da.ArrayBatches, "_CONVERT_ONCE_BYTES", 100)  # 50x2 float32 = 400 B
    for a in (mm, big):
        batches = da.ArrayBatches(a, batch_size=16, shuffle=False)
        assert batches.x is a  # converted batch by batch instead
        first = next(iter(batches))[0]
        assert first.dtype == np.float32
        np.testing.assert_array_equal(first, np.asarray(a[:16], np.float32))
