"""The benchmark suite (``make bench``): chainrule against PyTorch (CPU) and hand-written NumPy,
interleaved in one run, on the same synthetic data, shapes and initial weights.

Tasks: (1) seed: the seed program's fit; (2) mlp: 784-256-128-10, Adam, one epoch of 60,000;
(3) cnn: two conv/pool blocks, one epoch of 10,000 28x28 images; (4) lstm: LSTM(64) over
10,000 sequences of 20x16; (5) predict1: one-sample inference; (6) import time and memory;
(7) scale: mlp seconds per epoch at 15k..120k samples, and the peak memory of ``fit`` on a
2 GB ``numpy.memmap``. Each timing is the median of ``--repeats`` runs; implementations run
round-robin so background load hits them alike. NumPy's BLAS keeps its thread count; torch is
given the same (``torch.set_num_threads``).

Usage: ``python benchmarks/run.py [--quick] [--repeats N] [--only seed,mlp,...] [--out FILE]``.
``--quick`` runs every code path on tiny sizes (the smoke test uses it). The Markdown table is
printed and written to ``out/benchmarks.md`` (``--out``; the published table,
``benchmarks/results.md``, is refreshed with ``--out benchmarks/results.md`` on an idle machine).
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

from tasks import cnn, lstm, memmap_fit, mlp, predict1, seed, startup  # noqa: E402
from tasks.common import blas_threads, interleaved  # noqa: E402

TASKS = ("seed", "mlp", "cnn", "lstm", "predict1", "import", "scale")
FULL = {"seed": 1000, "mlp": 60_000, "cnn": 10_000, "lstm": 10_000, "predict1": 200,
        "scale": (15_000, 30_000, 60_000, 120_000), "memmap_gb": 2.0}  # fmt: skip
QUICK = {"seed": 3, "mlp": 512, "cnn": 128, "lstm": 128, "predict1": 5,
         "scale": (256, 512), "memmap_gb": 0.01}  # fmt: skip


def _fmt_s(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} us"
    if seconds < 1:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds:.2f} s"


def _verdict(ok: bool) -> str:
    return "met" if ok else "**not met**"


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def run(args) -> dict:
    import numpy as np  # noqa: PLC0415
    import torch  # noqa: PLC0415

    sizes = QUICK if args.quick else FULL
    repeats = args.repeats or (1 if args.quick else 3)
    threads = blas_threads() or torch.get_num_threads()
    torch.set_num_threads(threads)
    only = set(args.only.split(",")) if args.only else set(TASKS)
    unknown = only - set(TASKS)
    if unknown:
        raise SystemExit(f"--only: unknown task(s) {sorted(unknown)}; choose from {TASKS}")
    rows, results = [], {}

    def add(task, cr, pt, npy, target, ok, note=""):
        ratio = f"{cr / pt:.2f}" if pt else "-"
        floor = f"{_fmt_s(npy)} ({cr / npy:.2f}x)" if npy else "-"
        rows.append(f"| {task} | {_fmt_s(cr)} | {_fmt_s(pt) if pt else '-'} | {floor} | {ratio} "
                    f"| {target} | {_verdict(ok)} | {note} |")  # fmt: skip

    def log(msg):
        print(msg, file=sys.stderr, flush=True)

    if "seed" in only:
        log("seed ...")
        r = results["seed"] = seed.run(sizes["seed"], repeats, interleaved)
        cr, pt, npy = (r[k][0] for k in ("chainrule", "pytorch", "numpy"))
        add(
            f"seed ({sizes['seed']} epochs)",
            cr,
            pt,
            npy,
            "<= 0.5, <= 2.5x NumPy",
            cr <= 0.5 * pt and cr <= 2.5 * npy,
            f"final loss {r['chainrule'][1]:.4f}",
        )
    if "mlp" in only or "scale" in only:
        gflops = mlp.gemm_gflops(256 if args.quick else 1024)
        results["gemm_gflops"] = gflops
    if "mlp" in only:
        log("mlp ...")
        r = results["mlp"] = mlp.run(sizes["mlp"], repeats, interleaved)
        cr, pt, npy = (r[k][0] for k in ("chainrule", "pytorch", "numpy"))
        reached = mlp.FLOP_PER_SAMPLE * sizes["mlp"] / cr / 1e9
        add(
            f"mlp (1 epoch, {sizes['mlp']:,})",
            cr,
            pt,
            npy,
            "<= 1.0, <= 1.15x NumPy",
            cr <= pt and cr <= 1.15 * npy,
            f"{reached:.0f} GFLOP/s = {reached / gflops:.0%} of GEMM peak {gflops:.0f}",
        )
    if "cnn" in only:
        log("cnn ...")
        r = results["cnn"] = cnn.run(sizes["cnn"], max(1, repeats - 2), interleaved)
        cr, pt = r["chainrule"][0], r["pytorch"][0]
        add(f"cnn (1 epoch, {sizes['cnn']:,})", cr, pt, None, "<= 1.2", cr <= 1.2 * pt)
    if "lstm" in only:
        log("lstm ...")
        r = results["lstm"] = lstm.run(sizes["lstm"], max(1, repeats - 2), interleaved)
        cr, pt = r["chainrule"][0], r["pytorch"][0]
        add(f"lstm (1 epoch, {sizes['lstm']:,})", cr, pt, None, "<= 1.5", cr <= 1.5 * pt)
    if "predict1" in only:
        log("predict1 ...")
        r = results["predict1"] = predict1.run(sizes["predict1"], max(repeats, 5), interleaved)
        pt, npy = r["pytorch"][0], r["numpy"][0]
        for key in ("chainrule predict", "chainrule model(x)"):
            cr = r[key][0]
            add(f"predict1: {key.split(' ', 1)[1]}", cr, pt, npy, "<= 1.0", cr <= pt)
    if "import" in only:
        log("import ...")
        n = 1 if args.quick else 5
        ours = results["import"] = startup.measure("chainrule.keras", n)
        theirs = results["import_torch"] = startup.measure("torch", n)
        ok = ours["seconds"] <= 0.2 and ours["rss_mb"] <= 80
        add(
            "import chainrule.keras",
            ours["seconds"],
            theirs["seconds"],
            None,
            "<= 0.2 s, <= 80 MB",
            ok,
            f"{ours['rss_mb']:.0f} MB resident (torch {theirs['rss_mb']:.0f} MB); "
            f"-X importtime {ours['importtime'] * 1e3:.0f} ms",
        )
    if "scale" in only:
        log("scale ...")
        per_epoch = results["scale"] = mlp.scale(sizes["scale"], 1 if args.quick else 2)
        per_sample = {n: t / n for n, t in per_epoch.items()}
        spread = max(per_sample.values()) / min(per_sample.values())
        listing = ", ".join(f"{n // 1000 if n >= 1000 else n}{'k' if n >= 1000 else ''}: "
                            f"{_fmt_s(t)}" for n, t in per_epoch.items())  # fmt: skip
        rows.append(f"| scale: mlp epoch vs samples | {listing} | - | - | - | linear "
                    f"(per-sample spread <= 1.25) | {_verdict(spread <= 1.25)} | per-sample "
                    f"time max/min {spread:.2f} |")  # fmt: skip
        log("memmap ...")
        m = results["memmap"] = memmap_fit.measure(sizes["memmap_gb"], args.tmpdir)
        ok = m["growth_mb"] <= m["model_and_batch_mb"] + 300
        rows.append(f"| scale: fit on a {m['data_mb'] / 1024:.2f} GB memmap ({m['rows']:,} rows) "
                    f"| peak +{m['growth_mb']:.0f} MB anonymous | - | - | - | <= model and batch "
                    f"({m['model_and_batch_mb']:.0f} MB) + 300 MB | {_verdict(ok)} | one epoch "
                    f"{_fmt_s(m['seconds'])}, loss {m['loss']:.4f} |")  # fmt: skip

    import chainrule  # noqa: PLC0415

    load = os.getloadavg() if hasattr(os, "getloadavg") else ("?",)
    header = [
        f"Measured {datetime.date.today().isoformat()} by `benchmarks/run.py"
        f"{' --quick' if args.quick else ''}`: chainrule {getattr(chainrule, '__version__', '?')}"
        f", PyTorch {torch.__version__} (CPU), NumPy {np.__version__}, Python "
        f"{platform.python_version()}; {_cpu_name()}, {os.cpu_count()} cores, {threads} BLAS "
        f"/ torch thread(s); load average at the end {load[0]:.1f}; median of {repeats} "
        f"runs (cnn and lstm: {max(1, repeats - 2)}), implementations interleaved.",
        "",
        "| task | chainrule | PyTorch | NumPy by hand | chainrule / PyTorch | target | "
        "result | notes |",
        "|---|---:|---:|---:|---:|---|---|---|",
    ]  # fmt: skip
    table = "\n".join(header + rows) + "\n"
    results["table"] = table
    return results


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="tiny sizes: check the code paths")
    ap.add_argument("--repeats", type=int, default=0, help="runs per timing (default 3)")
    ap.add_argument("--only", default="", help=f"comma-separated subset of {','.join(TASKS)}")
    ap.add_argument(
        "--out",
        # not the published benchmarks/results.md: a run on a busy machine must not replace it
        default=os.path.join(os.path.dirname(HERE), "out", "benchmarks.md"),
        help="where the Markdown table goes ('' for nowhere; default out/benchmarks.md)",
    )
    ap.add_argument("--tmpdir", default=tempfile.gettempdir(), help="for the memmap file")
    args = ap.parse_args(argv)
    results = run(args)
    print(results["table"])
    if args.out:
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        with open(args.out, "w") as f:
            f.write("# chainrule benchmarks\n\n" + results["table"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
