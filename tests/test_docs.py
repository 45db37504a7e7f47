"""The teaching pages in ``docs/`` stay true: every ```python block runs, and what it prints
is what the page says it prints.

Each block runs on its own (a fresh namespace, so blocks must be self-contained) in a temporary
working folder (plots written by a block land there). A line ``print(...)  # text`` declares
its output: ``text`` must be one of the lines the block printed. Relative links between pages
must point at existing files.
"""

from __future__ import annotations

import contextlib
import io
import os
import re

import matplotlib
import pytest
from threadpoolctl import threadpool_limits

DOCS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "docs")
PAGES = {
    "neural-networks.md": "Dense",
    "backpropagation.md": "gradcheck",
    "gradient-descent.md": "learning rate",
    "loss-functions.md": "half_mse",
    "faq.md": "backpropagation",
}  # the five pages of the issue, each with a word it must discuss
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)
DECLARED = re.compile(r"^\s*print\(.*\)\s+# (.+)$")


def blocks(page):
    with open(os.path.join(DOCS, page), encoding="utf-8") as fh:
        return BLOCK.findall(fh.read())


CASES = [(page, i) for page in sorted(os.listdir(DOCS)) if page.endswith(".md")
         for i in range(len(blocks(page)))]  # fmt: skip


def test_every_page_exists_with_runnable_code():
    for page, word in PAGES.items():
        assert os.path.exists(os.path.join(DOCS, page)), page
        assert blocks(page), f"{page} has no ```python block"
        with open(os.path.join(DOCS, page), encoding="utf-8") as fh:
            assert word.lower() in fh.read().lower(), (page, word)


def test_relative_links_resolve():
    for page in os.listdir(DOCS):
        with open(os.path.join(DOCS, page), encoding="utf-8") as fh:
            text = fh.read()
        for target in re.findall(r"\]\(([^)#:]+\.(?:md|py))\)", text):
            path = os.path.normpath(os.path.join(DOCS, target))
            assert os.path.exists(path), f"{page} links to missing {target}"


@pytest.mark.parametrize("page, index", CASES, ids=[f"{p}-{i}" for p, i in CASES])
def test_code_block_runs_and_prints_what_it_says(page, index, tmp_path, monkeypatch):
    code = blocks(page)[index]
    monkeypatch.chdir(tmp_path)
    matplotlib.use("Agg")
    out = io.StringIO()
    with threadpool_limits(limits=1, user_api="blas"), contextlib.redirect_stdout(out):
        exec(compile(code, f"{page}[block {index}]", "exec"), {"__name__": "__docs__"})
    printed = [line.strip() for line in out.getvalue().splitlines()]
    for line in code.splitlines():
        match = DECLARED.match(line)
        if match:
            assert match.group(1).strip() in printed, (
                f"{page} block {index}: the comment says {match.group(1)!r} but the block "
                f"printed {printed}"
            )
    import matplotlib.pyplot as plt

    plt.close("all")
