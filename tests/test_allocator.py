"""``chainrule.backend`` tunes glibc's malloc at import so that freed arrays of a few MB are
reused instead of unmapped and faulted in again on every training step; the environment
variable ``CHAINRULE_MALLOC_TUNING=0`` leaves the allocator alone. Checked by counting page
faults (``ru_minflt``) of the same allocation pattern in fresh interpreters: counts, not times,
so the check does not depend on the machine's load."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys

_PROBE = """
import json, resource
import numpy as np
import chainrule.backend as b
sizes = [3 << 20, 700 << 10, 5 << 20, 300 << 10, 2 << 20]  # bytes: like a step's activations
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(40):
    arrays = [np.ones(s // 4, np.float32) for s in sizes]
    del arrays
print(json.dumps([b.MALLOC_TUNED, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before]))
"""


def _probe(tuning: str):
    env = {**os.environ, "CHAINRULE_MALLOC_TUNING": tuning}
    res = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True,
                         env=env, timeout=120)  # fmt: skip
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout.strip().splitlines()[-1])


def test_freed_arrays_are_reused_not_faulted_in_again():
    tuned, faults_tuned = _probe("1")
    untuned, faults_untuned = _probe("0")
    assert untuned is False  # the opt-out is honoured
    if sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc":
        assert tuned is True
        # each 1-5 MB array costs ~250-1,300 faults when mapped afresh: 40 rounds of five
        # arrays is ~70,000 untuned; reused, only the first round faults
        assert faults_untuned > 20_000, faults_untuned
        assert faults_tuned * 5 < faults_untuned, (faults_tuned, faults_untuned)
    else:  # no glibc mallopt: nothing is changed
        assert tuned is False
