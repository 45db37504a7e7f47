"""The examples on real data, with the thresholds of ``make demo``; ``plot_history``; the demo.

Each example runs once (module-scoped fixtures) through the same functions ``demo.py`` uses,
with plots written to a temporary folder. References are independent: least squares by
``np.linalg.lstsq``, the confusion matrix by scikit-learn, accuracies recounted from ``predict``.
"""

from __future__ import annotations

import importlib.util
import os
import sys

import matplotlib.image
import matplotlib.pyplot as plt
import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from chainrule import keras
from chainrule.keras.utils import plotting

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def load(name):
    spec = importlib.util.spec_from_file_location(f"test_example_{name}", f"{EXAMPLES}/{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # the dataclasses in demo.py look their module up
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module", autouse=True)
def one_blas_thread():
    # NOTE: with several OpenBLAS threads on a shared 2-core machine these small matmuls run
    # up to 50x slower; demo.py sets the same limit.
    with threadpool_limits(limits=1, user_api="blas"):
        yield


@pytest.fixture(scope="module")
def out_dir(tmp_path_factory):
    return str(tmp_path_factory.mktemp("out"))


@pytest.fixture(scope="module")
def demo():
    return load("demo")


def assert_png(path, min_width=200):
    with open(path, "rb") as fh:
        assert fh.read(8) == PNG_MAGIC, path
    image = matplotlib.image.imread(path)
    assert image.ndim == 3 and image.shape[1] >= min_width, (path, image.shape)
    # Not a blank canvas: something was drawn.
    assert image[..., :3].std() > 0.01, path


def no_temporary_files(folder):
    return [f for f in os.listdir(folder) if f.startswith(".tmp-")] == []


# -- the seed program -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def seed_result(out_dir, demo):
    module = load("seed_report")
    result = module.main(verbose=0, out_dir=out_dir)

    class Cached:  # demo.run_seed on the same result, without running the program again
        TOLERANCE, passed = module.TOLERANCE, staticmethod(module.passed)

        @staticmethod
        def main(verbose, out_dir):
            return result

    demo.load_example, real = (lambda name: Cached), demo.load_example
    try:
        row = demo.run_seed(out_dir, 0)
    finally:
        demo.load_example = real
    return module, result, row


def test_seed_program_reaches_least_squares(seed_result):
    module, result, row = seed_result
    keras.utils.set_random_seed(0)
    # The same data the seed program draws (NumPy's global generator, seeded to 0).
    x = np.linspace(-1, 1, 100)
    y = 2 * x + np.random.randn(100)
    (w, b), *_ = np.linalg.lstsq(np.stack([x, np.ones_like(x)], axis=1), y, rcond=None)
    assert result["lstsq_weight"] == pytest.approx(w, abs=1e-9)
    assert result["lstsq_bias"] == pytest.approx(b, abs=1e-9)
    assert module.passed(result)
    assert abs(result["weight"] - w) <= module.TOLERANCE
    assert abs(result["bias"] - b) <= module.TOLERANCE
    # 100 points with unit noise: the slope is known to about +-0.17, the bias to +-0.1.
    assert abs(result["weight"] - 2.0) < 0.5 and abs(result["bias"]) < 0.3
    # The final epoch's loss is about the noise variance (1.0) plus the fit's small excess.
    residual = np.mean((y - (w * x + b)) ** 2)
    assert residual <= result["final_loss"] < residual + 0.05
    # demo.py's row reports the same run (same seed, same numbers) as passing.
    assert row.ok and row.value == pytest.approx(
        max(abs(result["weight"] - w), abs(result["bias"] - b)), abs=1e-6
    )


def test_seed_report_plots(seed_result, out_dir):
    _, result, _ = seed_result
    assert [os.path.basename(p) for p in result["plots"]] == ["seed_fit.png", "seed_loss.png"]
    for path in result["plots"]:
        assert_png(path)
    assert no_temporary_files(out_dir)


# -- handwritten digits -----------------------------------------------------------------------
@pytest.fixture(scope="module")
def digits(out_dir):
    module = load("digits_mlp")
    return module, module.main(verbose=0, out_dir=out_dir)


def test_digits_mlp_accuracy(digits):
    module, result = digits
    assert module.THRESHOLD == 0.96
    assert result["test_accuracy"] >= 0.96, result
    # EarlyStopping stopped before the 40-epoch limit, and restore_best_weights kept an
    # earlier epoch than the last one.
    assert result["epochs_run"] < 40
    assert result["best_epoch"] < result["epochs_run"]


def test_digits_split_and_scaling(digits):
    module, _ = digits
    (x_tr, y_tr), (x_te, y_te) = module.load_data(0)
    assert x_tr.shape == (1437, 64) and x_te.shape == (360, 64)
    # Stratified: each class's share of the test set is within one image of 20 %.
    counts_all = np.bincount(np.concatenate([y_tr, y_te]))
    assert np.all(np.abs(np.bincount(y_te) - counts_all * 0.2) <= 1)
    # Standardised with training statistics: the training columns have mean 0, std 1 or 0.
    np.testing.assert_allclose(x_tr.mean(axis=0), 0, atol=1e-5)
    assert set(np.round(x_tr.std(axis=0), 4)) <= {0.0, 1.0}


def test_digits_confusion_matrix_against_sklearn(digits, tmp_path):
    from sklearn.metrics import confusion_matrix

    module, result = digits
    rng = np.random.default_rng(0)
    y_true, y_pred = rng.integers(0, 10, 200), rng.integers(0, 10, 200)
    cm = module.plot_confusion_matrix(y_true, y_pred, str(tmp_path / "cm.png"))
    np.testing.assert_array_equal(cm, confusion_matrix(y_true, y_pred))
    assert_png(tmp_path / "cm.png")
    names = sorted(os.path.basename(p) for p in result["plots"])
    assert names == ["digits_confusion.png", "digits_history.png"]
    for path in result["plots"]:
        assert_png(path)


# -- breast cancer ----------------------------------------------------------------------------
def test_breast_cancer_accuracy(out_dir, demo):
    row = demo.run_accuracy("breast_cancer", "breast cancer", out_dir, 0)
    assert row.bar == ">= 0.95"
    assert row.ok and row.value >= 0.95, row
    assert_png(os.path.join(out_dir, "breast_cancer_history.png"))


def test_breast_cancer_data():
    module = load("breast_cancer")
    (x_tr, y_tr), (x_te, y_te) = module.load_data(0)
    assert x_tr.shape == (455, 30) and x_te.shape == (114, 30)
    assert set(np.unique(y_te)) == {0.0, 1.0}
    # Stratified: the benign share of the test set matches the whole set's within one sample.
    assert abs(y_te.sum() - 357 / 569 * 114) <= 1


# -- diabetes ---------------------------------------------------------------------------------
def test_diabetes_beats_linear_regression(out_dir, demo):
    module = load("diabetes")
    result = module.main(verbose=0, out_dir=out_dir)
    # An independent least-squares fit on the same split gives the baseline's MSE.
    (x_tr, y_tr), (x_te, y_te) = module.load_data(0)
    a_tr = np.hstack([x_tr, np.ones((len(x_tr), 1))]).astype(np.float64)
    coef, *_ = np.linalg.lstsq(a_tr, y_tr.astype(np.float64), rcond=None)
    pred = np.hstack([x_te, np.ones((len(x_te), 1))]) @ coef
    lstsq_mse = float(np.mean((pred - y_te) ** 2))
    assert result["linear_regression_mse"] == pytest.approx(lstsq_mse, rel=1e-4)
    assert result["test_mse"] <= result["linear_regression_mse"], result
    # Not a degenerate model: far better than predicting the training mean.
    assert result["test_mse"] < 0.7 * np.mean((y_te - y_tr.mean()) ** 2)
    for path in result["plots"]:
        assert_png(path)
    row = demo.run_diabetes(None, 0)
    assert row.ok and row.value == pytest.approx(result["test_mse"], rel=1e-5)


# -- demo.py ----------------------------------------------------------------------------------
def test_demo_skips_absent_examples_and_fails_on_a_missed_bar(demo, monkeypatch, capsys):
    assert demo.run_accuracy("no_such_example", "none", None, 0) is None
    assert "no_such_example.py is not present" in capsys.readouterr().out

    class Weak:
        THRESHOLD = 0.9

        @staticmethod
        def main(verbose=1):  # accepts verbose but not out_dir: must still be called
            return 0.5

    monkeypatch.setattr(demo, "load_example", lambda name: Weak)
    row = demo.run_accuracy("weak", "weak", "out", 0)
    assert (row.ok, row.value, row.bar) == (False, 0.5, ">= 0.9")


def test_demo_main_exit_status_and_summary(demo, monkeypatch, capsys, tmp_path):
    good = demo.Row("fake", "test accuracy", 0.97, ">= 0.96", True)
    monkeypatch.setattr(demo, "run_seed", lambda *a: good)
    monkeypatch.setattr(demo, "run_diabetes", lambda *a: good)
    monkeypatch.setattr(demo, "run_accuracy", lambda *a: good)
    assert demo.main(["--quiet", "--out-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.count("0.9700") == 7 and "FAILED" not in out  # one row per example

    bad = demo.Row("bad one", "test accuracy", 0.5, ">= 0.96", False)
    monkeypatch.setattr(demo, "run_diabetes", lambda *a: bad)
    assert demo.main(["--quiet"]) == 1
    assert "FAILED: bad one" in capsys.readouterr().out

    def boom(*a):
        raise RuntimeError("broken example")

    monkeypatch.setattr(demo, "run_diabetes", boom)
    assert demo.main(["--quiet"]) == 1
    captured = capsys.readouterr()
    assert "broken example" in captured.err and "FAILED" in captured.out


# -- plot_history -----------------------------------------------------------------------------
HISTORY = {"loss": [1.0, 0.5, 0.25], "accuracy": [0.5, 0.75, 0.875],
           "val_loss": [1.25, 0.75, 0.5], "val_accuracy": [0.25, 0.5, 0.625]}  # fmt: skip


def test_plot_history_draws_every_curve(tmp_path):
    path = tmp_path / "h.png"
    fig = keras.utils.plot_history(HISTORY, path=str(path))
    try:
        assert [ax.get_title() for ax in fig.axes] == ["loss", "accuracy"]
        for ax, name in zip(fig.axes, ["loss", "accuracy"], strict=True):
            lines = {line.get_label(): line for line in ax.get_lines()}
            assert sorted(lines) == sorted([name, f"val_{name}"])
            for key, line in lines.items():
                np.testing.assert_array_equal(line.get_xdata(), [1, 2, 3])
                np.testing.assert_array_equal(line.get_ydata(), HISTORY[key])
    finally:
        plt.close(fig)
    assert_png(path)
    assert no_temporary_files(tmp_path)


def test_plot_history_from_fit_and_metric_choice():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse", metrics=["mae"])
    x = np.random.default_rng(0).normal(size=(20, 2)).astype("float32")
    history = model.fit(x, x.sum(axis=1), epochs=2, validation_split=0.25, verbose=0)
    fig = keras.utils.plot_history(history, metrics="mae")
    try:
        assert [ax.get_title() for ax in fig.axes] == ["mae"]
        ys = {line.get_label(): list(line.get_ydata()) for line in fig.axes[0].get_lines()}
        assert ys == {"mae": history.history["mae"], "val_mae": history.history["val_mae"]}
    finally:
        plt.close(fig)
    # Validation-only histories still get their panel.
    fig = plotting.plot_history({"val_loss": [1.0, 2.0]})
    assert [ax.get_title() for ax in fig.axes] == ["loss"]
    plt.close(fig)


def test_plot_history_errors():
    with pytest.raises(ValueError, match=r"'auc'.*available keys are \['accuracy', 'loss'"):
        plotting.plot_history(HISTORY, metrics=["auc"])
    with pytest.raises(TypeError, match="History .* or a dict.*received list"):
        plotting.plot_history([1.0, 2.0])
    with pytest.raises(ValueError, match="history is empty"):
        plotting.plot_history({})


def test_plot_history_without_matplotlib(monkeypatch):
    # A None entry in sys.modules makes `import matplotlib` raise ImportError.
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ImportError, match=r"pip install matplotlib"):
        plotting.plot_history(HISTORY)


def test_save_figure_leaves_no_partial_file(tmp_path):
    fig = plt.figure()

    def broken_savefig(fh, **kwargs):
        fh.write(PNG_MAGIC)  # half an image, then a failure
        raise OSError("disk full")

    fig.savefig = broken_savefig
    with pytest.raises(OSError, match="disk full"):
        plotting.save_figure(fig, tmp_path / "sub" / "x.png")
    plt.close(fig)
    assert os.listdir(tmp_path / "sub") == []
