"""Import cost: ``import chainrule.keras`` leaves out what it does not need (the convolution and
recurrent op families, ``numpy.random``, Python's ``random``, the Keras layers), and every public
name stays reachable exactly as when everything was imported eagerly. Each check runs in a fresh
interpreter, since this test session has long imported everything."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

LAZY_MODULES = ["chainrule.ops.conv", "chainrule.ops.pooling", "chainrule.ops.recurrent",
                "numpy.random", "random", "secrets", "chainrule.keras.layers",
                "chainrule.keras.models"]  # fmt: skip


def _fresh(code: str):
    """Run ``code`` in a new interpreter; it prints one JSON value, returned here."""
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)  # fmt: skip
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout.strip().splitlines()[-1])


def test_import_chainrule_keras_leaves_out_the_lazy_modules():
    loaded = _fresh(
        "import sys, json; import chainrule.keras; "
        f"print(json.dumps([m for m in {LAZY_MODULES!r} if m in sys.modules]))"
    )
    assert loaded == []


def test_the_probe_sees_a_loaded_module():
    # The check above cannot pass vacuously: the same probe reports modules once they load.
    loaded = _fresh(
        "import sys, json; import chainrule.keras; chainrule.keras.layers.LSTM; "
        "import chainrule as cr; cr.conv; cr.max_pool; cr.lstm_scan; cr.backend.rng(); "
        f"print(json.dumps([m for m in {LAZY_MODULES!r} if m in sys.modules]))"
    )
    assert set(loaded) >= {"chainrule.ops.conv", "chainrule.ops.pooling",
                           "chainrule.ops.recurrent", "numpy.random",
                           "chainrule.keras.layers"}  # fmt: skip


def test_lazy_name_lists_match_the_submodules():
    from chainrule import ops
    from chainrule.ops import conv, max_pool, recurrent  # noqa: F401  (loads all three)

    mods = {"conv": sys.modules["chainrule.ops.conv"],
            "pooling": sys.modules["chainrule.ops.pooling"],
            "recurrent": sys.modules["chainrule.ops.recurrent"]}  # fmt: skip
    for name, names in ops._LAZY.items():
        assert list(names) == list(mods[name].__all__), name


@pytest.mark.parametrize(
    "code,expected",
    [
        # attribute access on the packages
        ("import chainrule as cr; from chainrule.ops import conv as c; "
         "print(json.dumps([callable(cr.conv), cr.conv is c, cr.lstm_scan.__name__, "
         "type(cr.ops.recurrent).__name__]))", [True, True, "lstm_scan", "module"]),
        # a direct import of the submodule first: the op `conv` still wins over the module
        ("import chainrule.ops.conv, chainrule.ops as ops, chainrule as cr; "
         "print(json.dumps([callable(ops.conv), ops.conv is cr.conv, ops.max_pool.__name__, "
         "type(ops.recurrent).__name__]))", [True, True, "max_pool", "module"]),
        ("from chainrule.ops.recurrent import gru_scan; import chainrule.ops as ops; "
         "print(json.dumps([ops.gru_scan is gru_scan, callable(ops.conv), "
         "ops.conv.__name__, type(ops.recurrent).__name__]))", [True, True, "conv", "module"]),
    ],
)  # fmt: skip
def test_lazy_names_resolve_in_a_fresh_interpreter(code, expected):
    assert _fresh("import json; " + code) == expected


def test_star_imports_give_every_public_name():
    got = _fresh(
        "import json, chainrule, chainrule.ops; ns = {}; exec('from chainrule import *', ns); "
        "ns2 = {}; exec('from chainrule.ops import *', ns2); "
        "print(json.dumps([sorted(set(chainrule.__all__) - set(ns)), "
        "sorted(set(chainrule.ops.__all__) - set(ns2)), "
        "sorted(n for n in chainrule.ops.__all__ if n not in chainrule.__all__), "
        "'lstm_scan' in dir(chainrule), 'conv9d' in dir(chainrule)]))"
    )
    missing_top, missing_ops, ops_not_top, has_lstm, has_bogus = got
    assert missing_top == [] and missing_ops == [] and ops_not_top == []
    assert has_lstm and not has_bogus


def test_unknown_attributes_raise_attribute_error():
    import chainrule
    from chainrule import ops

    with pytest.raises(AttributeError, match="no attribute 'conv9d'"):
        ops.conv9d  # noqa: B018
    with pytest.raises(AttributeError, match="no attribute 'conv9d'"):
        chainrule.conv9d  # noqa: B018


def test_lazy_generator_is_seeded_like_numpy_and_python():
    import random

    import numpy as np

    from chainrule import backend

    backend.set_random_seed(123)
    ours = backend.rng().random(4)
    np.testing.assert_array_equal(ours, np.random.default_rng(123).random(4))
    assert random.random() == random.Random(123).random()
    got = _fresh(
        "import json, chainrule.backend as b; g = b.rng(); "
        "print(json.dumps([g is b.rng(), type(g).__name__]))"
    )
    assert got == [True, "Generator"]
