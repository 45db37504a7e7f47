"""Task 6, import cost: ``import chainrule.keras`` (and ``import torch`` for comparison) in a
fresh interpreter: wall time of the import, ``-X importtime``'s cumulative figure, and the
resident memory afterwards."""

from __future__ import annotations

import re
import statistics
import subprocess
import sys

_PROBE = ("import time, sys; t = time.perf_counter(); import {mod}; "
          "t = time.perf_counter() - t; "
          "rss = [l for l in open('/proc/self/status') if l.startswith('VmRSS')][0].split()[1]; "
          "print(t, int(rss) / 1024)")  # fmt: skip


def measure(module: str, repeats: int) -> dict:
    """Median import seconds, importtime's cumulative seconds, and RSS (MB) after import."""
    walls, rss, cumulative = [], [], []
    for _ in range(repeats):
        out = subprocess.run([sys.executable, "-c", _PROBE.format(mod=module)], check=True,
                             capture_output=True, text=True).stdout.split()  # fmt: skip
        walls.append(float(out[0]))
        rss.append(float(out[1]))
        err = subprocess.run([sys.executable, "-X", "importtime", "-c", f"import {module}"],
                             check=True, capture_output=True, text=True).stderr  # fmt: skip
        pattern = rf"\|\s*(\d+)\s*\|\s*{re.escape(module)}\s*$"
        found = [int(m.group(1)) for m in re.finditer(pattern, err, re.M)]
        cumulative.append(found[-1] / 1e6 if found else float("nan"))
    return {"seconds": statistics.median(walls), "importtime": statistics.median(cumulative),
            "rss_mb": statistics.median(rss)}  # fmt: skip
