"""Smoke test of the benchmark suite (``benchmarks/run.py``) on tiny sizes, so it cannot rot.

It checks that every task runs and that its implementations do the same work: with the
shuffling off, chainrule, PyTorch and hand-written NumPy start from the same weights on the
same data, so their epoch losses must agree. Timings are never asserted.
"""

from __future__ import annotations

import math
import os
import sys

import numpy as np
import pytest

BENCH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks")
sys.path.insert(0, BENCH)

from tasks import cnn, lstm, memmap_fit, mlp, predict1, seed, startup  # noqa: E402

pytest.importorskip("torch")  # the suite compares against PyTorch; a test extra installs it


def test_seed_three_implementations_agree():
    x, y, w, b = seed.data()
    losses = [fn(x, y, w, b, 2, shuffle=False)[1]
              for fn in (seed.run_chainrule, seed.run_torch, seed.run_numpy)]  # fmt: skip
    assert all(math.isfinite(v) and v > 0 for v in losses)
    np.testing.assert_allclose(losses[1:], losses[0], rtol=1e-5)


def test_mlp_three_implementations_agree():
    import torch

    x, y = mlp.data(200)
    init = mlp.weights()
    ours = mlp.chainrule_epoch(mlp.chainrule_model(init), x, y, shuffle=False)[1]
    theirs = mlp.torch_epoch(mlp.torch_model(init), torch.from_numpy(x), torch.from_numpy(y),
                             shuffle=False)[1]  # fmt: skip
    floor = mlp.NumpyMLP(init).epoch(x, y, shuffle=False)[1]
    assert abs(ours - math.log(10)) < 0.5  # near chance for random labels
    np.testing.assert_allclose([theirs, floor], ours, rtol=1e-4)


@pytest.mark.parametrize("task", [cnn, lstm], ids=["cnn", "lstm"])
def test_cnn_and_lstm_match_pytorch(task):
    import torch

    x, y = task.data(2 * task.BATCH)
    init = task.weights()
    ours, theirs = task.chainrule_model(init), task.torch_model(init)
    xt, yt = (cnn.to_torch(x, y) if task is cnn
              else (torch.from_numpy(x), torch.from_numpy(y)))  # fmt: skip
    b = task.BATCH
    # One batch: the loss is computed before the update, so it must agree tightly.
    first = task.chainrule_epoch(ours, x[:b], y[:b], shuffle=False)[1]
    first_t = task.torch_epoch(theirs, xt[:b], yt[:b], shuffle=False)[1]
    assert math.isfinite(first) and first > 0
    np.testing.assert_allclose(first_t, first, rtol=1e-5)
    # After updates the two Adams differ (gradients agree to 1e-7): Keras adds epsilon to
    # sqrt(v), torch to sqrt(v / (1 - beta_2**t)), so at step 1 a weight whose gradient is
    # near 3e-6 moves by lr/4 in Keras and by lr in torch; the LSTM's recurrent kernel has
    # many such weights, and its loss drifts about 1% apart after three steps.
    later = task.chainrule_epoch(ours, x, y, shuffle=False)[1]
    later_t = task.torch_epoch(theirs, xt, yt, shuffle=False)[1]
    np.testing.assert_allclose(later_t, later, rtol=1e-2 if task is cnn else 3e-2)


def test_predict1_outputs_agree():
    init, x = predict1.setup()
    predict, call = predict1.chainrule_fns(init, x)
    outs = [np.asarray(f()).ravel() for f in (predict, call, predict1.torch_fn(init, x),
                                               predict1.numpy_fn(init, x))]  # fmt: skip
    assert outs[0].shape == (1,)
    np.testing.assert_allclose(np.stack(outs[1:]), np.broadcast_to(outs[0], (3, 1)), rtol=1e-5)
    seconds, value = predict1.per_call(predict, 3)()
    assert seconds > 0 and value == pytest.approx(float(outs[0][0]), rel=1e-6)


def test_scale_memmap_and_import_paths(tmp_path):
    per_epoch = mlp.scale((128, 256), 1)
    assert sorted(per_epoch) == [128, 256] and all(t > 0 for t in per_epoch.values())
    m = memmap_fit.measure(0.002, str(tmp_path))
    assert m["rows"] == int(0.002e9) // (4 * 784) and math.isfinite(m["loss"])
    assert 0 <= m["growth_mb"] < 1000 and not list(tmp_path.iterdir())  # the file is removed
    imp = startup.measure("chainrule.keras", 1)
    assert 0 < imp["seconds"] < 60 and 10 < imp["rss_mb"] < 2000
    assert 0 < imp["importtime"] < 60


def test_run_writes_the_table(tmp_path, capsys):
    import run

    out = tmp_path / "results.md"
    assert run.main(["--quick", "--only", "seed,predict1", "--out", str(out)]) == 0
    text = out.read_text()
    assert text.startswith("# chainrule benchmarks")
    rows = [ln for ln in text.splitlines() if ln.startswith(("| seed", "| predict1"))]
    assert len(rows) == 3 and all(ln.count("|") == 9 for ln in rows)
    assert "| seed" in capsys.readouterr().out
