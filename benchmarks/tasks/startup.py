"""Task 6, import cost: ``import chainrule.keras`` (and ``import torch`` for comparison) in a
fresh interpreter: wall time of the import, ``-X importtime``'s cumulative figure, and the
resident memory afterwards."""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys

_PROBE = ("import time, sys; t = time.perf_counter(); import {mod}; "
          "t = time.perf_counter() - t; "
          "rss = [l for l in open('/proc/self/status') if l.startswith('VmRSS')][0].split()[1]; "
          "print(t, int(rss) / 1024)")  # fmt: skip


def measure(module: str, repeats: int) -> dict:
    """Median import seconds, importtime's cumulative seconds, and RSS (MB) after import.

    Imports run as an installed package runs them: with bytecode cached. A first, unmeasured
    import writes the ``.pyc`` files, so ``PYTHONDONTWRITEBYTECODE`` (set on some machines)
    does not make every measured import recompile the sources.
    """
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    subprocess.run([sys.executable, "-c", f"import {module}"], check=True, env=env)
    walls, rss, cumulative = [], [], []
    for _ in range(repeats):
        out = subprocess.run([sys.executable, "-c", _PROBE.format(mod=module)], check=True,
                             capture_output=True, text=True, env=env).stdout.split()  # fmt: skip
        walls.append(float(out[0]))
        rss.append(float(out[1]))
        cmd = [sys.executable, "-X", "importtime", "-c", f"import {module}"]
        err = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stderr
        pattern = rf"\|\s*(\d+)\s*\|\s*{re.escape(module)}\s*$"
        found = [int(m.group(1)) for m in re.finditer(pattern, err, re.M)]
        cumulative.append(found[-1] / 1e6 if found else float("nan"))
    return {"seconds": statistics.median(walls), "importtime": statistics.median(cumulative),
            "rss_mb": statistics.median(rss)}  # fmt: skip
