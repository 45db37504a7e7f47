"""The README stays true: each python block runs, each make target it names exists."""

import os
import re

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
README = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()


def test_python_blocks_run():
    blocks = re.findall(r"```python\n(.*?)```", README, flags=re.S)
    assert len(blocks) >= 3
    for block in blocks:
        np.random.seed(0)
        exec(compile(block, "README.md", "exec"), {"__name__": "__readme__"})


def test_quick_start_learns_the_line():
    block = re.findall(r"```python\n(.*?)```", README, flags=re.S)[0]
    np.random.seed(0)
    ns = {}
    exec(compile(block.replace("print(", "(lambda *a: None)("), "README.md", "exec"), ns)
    w, b = ns["model"].get_weights()
    slope, intercept = np.polyfit(ns["x"], ns["y"], 1)
    assert abs(w[0, 0] - slope) < 0.1 and abs(b[0] - intercept) < 0.1


def test_make_targets_exist():
    makefile = open(os.path.join(ROOT, "Makefile"), encoding="utf-8").read()
    for target in set(re.findall(r"make (\w+)", README)):
        assert re.search(rf"^{target}:", makefile, flags=re.M), target
    ci = open(os.path.join(ROOT, ".ci", "run"), encoding="utf-8").read()
    assert "make test" in ci


def test_linked_files_exist():
    for target in re.findall(r"\]\(([^)#]+)\)", README):
        if "://" not in target:
            assert os.path.exists(os.path.join(ROOT, target)), target
