"""Task 7b, memory of ``fit`` on data that does not fit the budget: the MLP task for one
epoch on a float32 ``numpy.memmap`` of ``gigabytes`` GB, in a child process, while a thread
samples the anonymous resident memory (file pages of the map are the page cache, not a
copy). Reports the peak growth during ``fit`` against the size of the model and one batch.

Run as ``python -m tasks.memmap_fit PATH N`` from ``benchmarks/`` (``run.py`` does it).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time

import numpy as np


def write(path: str, gigabytes: float, features: int = 784) -> int:
    """Write ``gigabytes`` GB of random float32 rows to ``path``; returns the row count."""
    n = int(gigabytes * 1e9) // (4 * features)
    mm = np.memmap(path, dtype=np.float32, mode="w+", shape=(n, features))
    rng = np.random.default_rng(0)
    for i in range(0, n, 16384):
        mm[i : i + 16384] = rng.random((min(16384, n - i), features), dtype=np.float32)
    mm.flush()
    del mm
    return n


def child(path: str, n: int) -> dict:
    from tasks import mlp  # noqa: PLC0415
    from tasks.common import rss_mb  # noqa: PLC0415

    x = np.memmap(path, dtype=np.float32, mode="r", shape=(n, mlp.SIZES[0]))
    y = np.random.default_rng(0).integers(0, mlp.SIZES[-1], n)
    model = mlp.chainrule_model(mlp.weights())
    model.fit(x[:256], y[:256], batch_size=mlp.BATCH, verbose=0)  # builds optimizer state
    base = rss_mb("RssAnon")
    peak = [base]
    done = threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], rss_mb("RssAnon"))
            time.sleep(0.005)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    start = time.perf_counter()
    hist = model.fit(x, y, batch_size=mlp.BATCH, epochs=1, verbose=0)
    seconds = time.perf_counter() - start
    done.set()
    thread.join()
    model_mb = 3 * sum(w.nbytes for w in model.get_weights()) / 2**20  # weights + Adam slots
    batch_mb = mlp.BATCH * mlp.SIZES[0] * 4 / 2**20
    return {"rows": n, "data_mb": x.nbytes / 2**20, "growth_mb": peak[0] - base,
            "model_and_batch_mb": model_mb + batch_mb, "seconds": seconds,
            "loss": hist.history["loss"][-1], "file_rss_mb": rss_mb("RssFile")}  # fmt: skip


def measure(gigabytes: float, directory: str) -> dict:
    path = os.path.join(directory, "chainrule_bench_memmap.f32")
    try:
        n = write(path, gigabytes)
        here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        out = subprocess.run([sys.executable, "-m", "tasks.memmap_fit", path, str(n)], cwd=here,
                             check=True, capture_output=True, text=True).stdout  # fmt: skip
        return json.loads(out.strip().splitlines()[-1])
    finally:
        if os.path.exists(path):
            os.remove(path)


if __name__ == "__main__":
    print(json.dumps(child(sys.argv[1], int(sys.argv[2]))))
