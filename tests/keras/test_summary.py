"""``model.summary()`` against real Keras 3.15.1 (torch backend): the printed text, line by line.

Each model is built the same way in both libraries (layer and model names given, so Keras's
global name counters play no part) and both summaries are captured as plain text.
"""

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras as tk  # noqa: E402  (real Keras, the reference)
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from chainrule import keras as ck  # noqa: E402


@pytest.fixture(autouse=True)
def wide_console(monkeypatch):
    # Both libraries size the table from the terminal (shutil) and cut lines at the console
    # width (rich's rule, ours too): fix them so that the result does not depend on the host.
    monkeypatch.setenv("COLUMNS", "200")


# -- the models, built alike in both libraries ---------------------------------------------------
def mlp(k):
    L = k.layers
    return k.Sequential([k.Input((784,)), L.Dense(128, activation="relu", name="hidden"),
                         L.Dropout(0.2, name="dropout"), L.Dense(10, name="logits")],
                        name="mlp")  # fmt: skip


def digits_cnn(k):
    L = k.layers
    return k.Sequential([
        k.Input((8, 8, 1)), L.Conv2D(16, 3, padding="same", activation="relu", name="conv2d"),
        L.BatchNormalization(name="batch_normalization"), L.MaxPooling2D(name="max_pooling2d"),
        L.Conv2D(32, 3, padding="same", activation="relu", name="conv2d_1"),
        L.GlobalAveragePooling2D(name="global_average_pooling2d"),
        L.Dense(10, activation="softmax", name="dense")], name="digits_cnn")  # fmt: skip


def long_name(k):
    L = k.layers
    x = k.Input((5,), name="an_input_with_a_rather_long_name_of_many_characters")
    y = L.Dense(3, name="dense_layer_with_a_very_very_long_name_that_cannot_fit_in_its_cell")(x)
    return k.Model(x, L.Dense(1, name="out")(y), name="a model with a long name")


def chain(k):
    L = k.layers
    x = k.Input((6,), name="x")
    h = L.BatchNormalization(name="bn")(L.Dense(4, activation="tanh", name="h1")(x))
    return k.Model(x, L.Dense(2, name="head")(h), name="chain")


def two_input(k):
    L = k.layers
    a, b = k.Input((4,), name="a"), k.Input((3,), name="b")
    c = L.Concatenate(name="concat")([L.Dense(5, name="da")(a), b])
    return k.Model([a, b], L.Dense(1, name="out")(c), name="two_input")


def nested(k):
    L = k.layers
    i = k.Input((4,), name="inner_in")
    inner = k.Model(i, L.Dense(3, name="inner_dense")(i), name="inner")
    seq = k.Sequential([k.Input((3,)), L.Dense(2, name="s1"), L.Dense(2, name="s2")],
                       name="seq_block")  # fmt: skip
    o = k.Input((4,), name="outer_in")
    return k.Model(o, seq(inner(o)), name="outer")


def frozen(k):
    L = k.layers
    m = k.Sequential([k.Input((3,)), L.Dense(4, name="d1"), L.BatchNormalization(name="bn"),
                      L.Dense(2, name="d2")], name="frozen")  # fmt: skip
    m.get_layer("d1").trainable = False
    return m


def trained_adam(k):
    m = mlp(k)
    m.compile(optimizer="adam", loss="mse")
    m.fit(np.zeros((4, 784), "float32"), np.zeros((4, 10), "float32"), verbose=0)
    return m


def trained_sgd_momentum(k):
    m = chain(k)
    m.compile(optimizer=k.optimizers.SGD(0.1, momentum=0.9), loss="mse")
    m.fit(np.zeros((4, 6), "float32"), np.zeros((4, 2), "float32"), verbose=0)
    return m


def compiled_only(k):
    m = mlp(k)
    m.compile(optimizer="adam", loss="mse")
    return m


def unbuilt(k):
    return k.Sequential([k.layers.Dense(4, name="d1"), k.layers.Dense(1, name="d2")],
                        name="unbuilt")  # fmt: skip


def shared(k):
    L = k.layers
    a, b = k.Input((3,), name="a"), k.Input((3,), name="b")
    d = L.Dense(2, name="shared")
    return k.Model([a, b], L.Add(name="add")([d(a), d(b)]), name="shared_model")


def shared_chain(k):  # one chain, but a layer called twice: not sequential-like
    a = k.Input((3,), name="a")
    d = k.layers.Dense(3, name="shared")
    return k.Model(a, d(d(a)), name="shared_chain")


def two_outputs(k):
    x = k.Input((3,), name="x")
    h = k.layers.Dense(4, name="h")(x)
    return k.Model(x, [h, k.layers.Dense(1, name="y")(h)], name="two_outputs")


def subclassed(k):
    class Net(k.Model):
        def __init__(self):
            super().__init__(name="net")
            self.d1 = k.layers.Dense(4, name="d1")
            self.d2 = k.layers.Dense(1, name="d2")

        def call(self, x):
            return self.d2(self.d1(x))

    m = Net()
    m(np.zeros((2, 3), "float32"))
    return m


def long_model_name(k):
    return k.Sequential([k.Input((3,)), k.layers.Dense(2, name="d")],
                        name="m" * 190 + " with words " + "z" * 30)  # fmt: skip


MODELS = [mlp, digits_cnn, long_name, chain, two_input, nested, frozen, trained_adam,
          trained_sgd_momentum, compiled_only, unbuilt, shared, shared_chain, two_outputs,
          subclassed, long_model_name]  # fmt: skip


def summaries(build, **kwargs):
    """Both summaries as the list of strings each library hands to ``print_fn``."""
    texts = []
    for lib in (tk, ck):
        calls = []
        build(lib).summary(print_fn=calls.append, **kwargs)
        texts.append(calls)
    return texts


def assert_same(ref, ours):
    assert len(ours) == len(ref) == 1  # Keras 3.15.1 calls print_fn once, with all the text
    ref_lines, our_lines = ref[0].split("\n"), ours[0].split("\n")
    for i, (a, b) in enumerate(zip(ref_lines, our_lines, strict=False)):
        assert b == a, f"line {i} differs:\nKeras: {a!r}\nours:  {b!r}\n\nKeras:\n{ref[0]}"
    assert len(our_lines) == len(ref_lines), f"Keras:\n{ref[0]}\nours:\n{ours[0]}"


# -- the text, against Keras -----------------------------------------------------------------
@pytest.mark.parametrize("build", MODELS, ids=lambda f: f.__name__)
def test_default_layout_matches_keras(build):
    assert_same(*summaries(build))


@pytest.mark.parametrize("build", [mlp, digits_cnn, two_input, nested], ids=lambda f: f.__name__)
def test_line_length_120_matches_keras(build):
    assert_same(*summaries(build, line_length=120))


@pytest.mark.parametrize("build", [digits_cnn, two_input, nested, long_name],
                         ids=lambda f: f.__name__)  # fmt: skip
def test_narrow_to_wide_with_options_matches_keras(build):
    # narrow tables squeeze every cell: wrapping, "…" cuts, the header pushed to the bottom
    for line_length in (23, 34, 47, 61, 76, 99, 131):
        for show_trainable in (False, True):
            for expand_nested in (False, True):
                kw = dict(line_length=line_length, show_trainable=show_trainable,
                          expand_nested=expand_nested)  # fmt: skip
                try:
                    ref = []
                    build(tk).summary(print_fn=ref.append, **kw)
                except ValueError as e:  # too narrow for Keras: must be too narrow for us
                    assert "Insufficient console width" in str(e)
                    with pytest.raises(ValueError, match="Insufficient console width"):
                        build(ck).summary(print_fn=print, **kw)
                    continue
                ours = []
                build(ck).summary(print_fn=ours.append, **kw)
                assert_same(ref, ours)


def test_positions_match_keras():
    assert_same(*summaries(mlp, positions=[0.2, 0.5, 0.6, 1.0]))  # narrower than line_length
    assert_same(*summaries(two_input, positions=[0.2, 0.3, 0.9, 1.0], line_length=90))
    assert_same(*summaries(frozen, positions=[0.5, 0.7, 1.0], show_trainable=True))


def test_layer_range_matches_keras():
    assert_same(*summaries(digits_cnn, layer_range=["conv2d_1", "dense"]))
    assert_same(*summaries(digits_cnn, layer_range=["global.*", "batch.*"]))  # given reversed
    assert_same(*summaries(two_input, layer_range=["b", "concat"]))


def test_console_width_cuts_lines_and_sets_default_width(monkeypatch, capsys):
    # With an 80-column console both take 76 as the default width and cut a 120-wide table
    # at 80 columns; without print_fn the text goes to stdout.
    monkeypatch.setenv("COLUMNS", "80")
    for build in (digits_cnn, two_input, long_model_name):
        assert_same(*summaries(build))
        assert_same(*summaries(build, line_length=120))
        build(tk).summary()
        ref = capsys.readouterr().out
        build(ck).summary()
        assert capsys.readouterr().out == ref


# -- the user's three findings, stated directly ------------------------------------------------
def test_reported_layout_issues_are_fixed():
    (text,) = summaries(digits_cnn)[1]
    lines = text.splitlines()
    assert len({len(line) for line in lines[1:-3]}) == 1  # every table line is 88 wide
    i = next(i for i, line in enumerate(lines) if "batch_normalization" in line)
    assert lines[i].startswith("│ batch_normalization ") and "(None, 8, 8, 16)" in lines[i]
    assert lines[i + 1].startswith("│ (BatchNormalization) ")  # (a) the cell wraps
    assert lines[i].rstrip("│").rstrip().endswith(" 64")  # (c) Param # is right-aligned
    assert "Connected to" not in summaries(chain)[1][0]  # (b) a chain has no "Connected to"
    (text,) = summaries(two_input)[1]
    assert "Connected to" in text and "da[0][0], b[0][0]" in text


# -- bad arguments -------------------------------------------------------------------------
def test_bad_arguments_name_what_was_wrong():
    m = two_input(ck)
    with pytest.raises(ValueError, match=r"Insufficient console width.*'Param #'.*line_length=20"):
        m.summary(line_length=20)
    with pytest.raises(ValueError, match=r"positions must give .* 4 columns.*\[0.5, 1.0\]"):
        m.summary(positions=[0.5, 1.0])
    with pytest.raises(ValueError, match=r"line_length must be a positive integer.*'wide'"):
        m.summary(line_length="wide")
    with pytest.raises(ValueError, match=r"layer_range must be .* two strings.*\['a'\]"):
        m.summary(layer_range=["a"])
    with pytest.raises(ValueError, match=r"does not match the layer names.*'concat'"):
        m.summary(layer_range=["nope", "concat"])
    for args in ({"layer_range": ["nope", "concat"]}, {"line_length": 20}):
        with pytest.raises(ValueError):  # Keras refuses these too
            two_input(tk).summary(print_fn=print, **args)
