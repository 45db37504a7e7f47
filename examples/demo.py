"""``make demo``: chainrule trains real networks on real data, then prints a summary table.

In order: the seed program and its report, handwritten digits (MLP), breast cancer, diabetes,
then the digits CNN and the wide & deep model when those example files are present. Plots go
to ``out/``. The exit status is 1 when any example misses its bar or fails, so the demo doubles
as a smoke test.

Run: ``python examples/demo.py [--out-dir out] [--quiet]``.
"""

from __future__ import annotations

import argparse
import importlib.util
import inspect
import os
import sys
import time
import traceback
from dataclasses import dataclass, field

HERE = os.path.dirname(os.path.abspath(__file__))


@dataclass
class Row:
    """One line of the summary table."""

    name: str
    metric: str = ""
    value: float | None = None
    bar: str = ""
    ok: bool = False
    seconds: float = 0.0
    note: str = ""
    plots: list = field(default_factory=list)


def load_example(name: str):
    """Import ``examples/<name>.py`` by path (examples/ is not a package); None if absent."""
    path = os.path.join(HERE, f"{name}.py")
    if not os.path.exists(path):
        return None
    spec = importlib.util.spec_from_file_location(f"chainrule_example_{name}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses and pickling look modules up by name
    spec.loader.exec_module(module)
    return module


def call_main(module, **kwargs):
    """Call ``module.main`` with those of ``kwargs`` that its signature accepts."""
    params = inspect.signature(module.main).parameters
    return module.main(**{k: v for k, v in kwargs.items() if k in params})


def banner(title: str) -> None:
    print(f"\n{'=' * 78}\n{title}\n{'=' * 78}", flush=True)


def run_seed(out_dir, verbose) -> Row:
    module = load_example("seed_report")
    result = module.main(verbose=1, out_dir=out_dir)
    ok = module.passed(result)
    gap = max(abs(result["weight"] - result["lstsq_weight"]),
              abs(result["bias"] - result["lstsq_bias"]))  # fmt: skip
    return Row("seed linear regression", "|w,b - least squares|", gap,
               f"<= {module.TOLERANCE}", ok, plots=result["plots"],
               note=f"w={result['weight']:.3f} b={result['bias']:.3f} (true 2, 0)")  # fmt: skip


def run_accuracy(name, title, out_dir, verbose, default_bar=None) -> Row | None:
    module = load_example(name)
    if module is None:
        print(f"(examples/{name}.py is not present: skipped)")
        return None
    bar = getattr(module, "THRESHOLD", default_bar)
    result = call_main(module, verbose=verbose, out_dir=out_dir)
    acc = float(result["test_accuracy"] if isinstance(result, dict) else result)
    plots = result.get("plots", []) if isinstance(result, dict) else []
    ok = bar is None or acc >= bar
    note = f"{result['epochs_run']} epochs" if isinstance(result, dict) else ""
    return Row(title, "test accuracy", acc, f">= {bar}" if bar is not None else "", ok,
               note=note, plots=plots)  # fmt: skip


def run_diabetes(out_dir, verbose) -> Row:
    result = load_example("diabetes").main(verbose=verbose, out_dir=out_dir)
    ok = result["test_mse"] <= result["linear_regression_mse"]
    return Row("diabetes (regression)", "test MSE", result["test_mse"],
               f"<= {result['linear_regression_mse']:.1f}", ok,
               note="bar: sklearn LinearRegression", plots=result["plots"])  # fmt: skip


def _number(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:.4f}" if abs(value) < 100 else f"{value:.1f}"


def summary(rows: list[Row], total: float, out_dir: str) -> str:
    lines = [f"{'example':<28}{'metric':<24}{'value':>9}  {'bar':<12}{'time':>7}  result"]
    lines.append("-" * len(lines[0]))
    for r in rows:
        status = "ok" if r.ok else "FAILED"
        note = f"  {r.note}" if r.note else ""
        lines.append(f"{r.name:<28}{r.metric:<24}{_number(r.value):>9}  {r.bar:<12}"
                     f"{r.seconds:6.1f}s  {status}{note}")  # fmt: skip
    plots = sorted(os.path.basename(p) for r in rows for p in r.plots)
    lines.append(f"total {total:.1f} s; plots in {out_dir}/: {', '.join(plots) or 'none'}")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", default="out", help="where the plots go (default: out)")
    parser.add_argument("--quiet", action="store_true", help="no per-epoch output")
    args = parser.parse_args(argv)
    # Live bars redraw in a terminal; in a log file every redraw would be a line, so logs get
    # Keras's one-line-per-epoch form (verbose=2) instead.
    bars = 0 if args.quiet else 1 if sys.stdout.isatty() else 2
    lines = 0 if args.quiet else 2
    jobs = [
        ("1. The seed program: y = 2x + noise, one Dense unit, SGD",
         lambda: run_seed(args.out_dir, lines)),
        ("2. Handwritten digits (load_digits): MLP, Adam, EarlyStopping",
         lambda: run_accuracy("digits_mlp", "digits (MLP)", args.out_dir, bars)),
        ("3. Breast cancer (load_breast_cancer): sigmoid output, binary cross-entropy",
         lambda: run_accuracy("breast_cancer", "breast cancer", args.out_dir, lines)),
        ("4. Diabetes (load_diabetes): regression against LinearRegression",
         lambda: run_diabetes(args.out_dir, lines)),
        ("5. Handwritten digits: a small CNN (examples/digits_cnn.py)",
         lambda: run_accuracy("digits_cnn", "digits (CNN)", args.out_dir, lines, 0.97)),
        ("6. Handwritten digits read row by row by an LSTM (examples/digits_lstm.py)",
         lambda: run_accuracy("digits_lstm", "digits (LSTM)", args.out_dir, lines, 0.93)),
        ("7. Wide & deep on breast cancer (examples/wide_and_deep.py)",
         lambda: run_accuracy("wide_and_deep", "wide & deep", args.out_dir, lines, 0.93)),
    ]  # fmt: skip
    rows = []
    start = time.perf_counter()
    for title, job in jobs:
        banner(title)
        t0 = time.perf_counter()
        try:
            row = job()
        except Exception:  # one broken example must not hide the others' results
            traceback.print_exc()
            row = Row(title.split(": ")[0][3:], note="raised an exception (see above)")
        if row is not None:
            row.seconds = time.perf_counter() - t0
            rows.append(row)
    banner("Summary")
    print(summary(rows, time.perf_counter() - start, args.out_dir))
    failed = [r.name for r in rows if not r.ok]
    if failed:
        print(f"FAILED: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    import numpy  # noqa: F401  (loads OpenBLAS first: threadpoolctl limits loaded libraries only)
    from threadpoolctl import threadpool_limits

    # NOTE: one BLAS thread. On a busy 2-core machine OpenBLAS's worker threads make the small
    # matmuls of these models up to 50x slower (64x64 @ 64x128: 80 us on one thread, 4.6 ms
    # with the default threads while other processes compete for the cores).
    with threadpool_limits(limits=1, user_api="blas"):
        sys.exit(main())
