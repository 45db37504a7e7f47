"""Dict (and nested) inputs and outputs of functional models are ordered as Keras 3.15.1 orders
them (sorted keys: ``keras/src/tree/torchtree_impl.py``), wherever the order shows: names,
``outputs``, ``predict``'s dicts, list targets, loss/metric lists, summary, config, saving.
Checked against real Keras 3.15.1 (torch backend) with the same weights."""

import json
import warnings
import zipfile

import numpy as np
import pytest

from ._keras_ref import ck, tk


def _two_heads(lib, order=("zz", "aa")):
    """One input, two Dense heads in a dict written in ``order`` (not sorted)."""
    x = lib.Input((2,), name="x")
    h = lib.layers.Dense(3, activation="tanh", name="h")(x)
    heads = {"zz": lib.layers.Dense(1, name="zz")(h), "aa": lib.layers.Dense(2, name="aa")(h)}
    return lib.Model(x, {k: heads[k] for k in order})


def _pair(build=_two_heads, seed=0):
    ours, ref = build(ck), build(tk)
    rng = np.random.default_rng(seed)
    weights = [rng.uniform(-0.8, 0.8, w.shape).astype("float32") for w in ref.get_weights()]
    ref.set_weights(weights)
    ours.set_weights(weights)
    return ours, ref


X = np.linspace(-1, 1, 12, dtype="float32").reshape(6, 2)
Y = {"zz": np.linspace(0, 1, 6, dtype="float32")[:, None],
     "aa": np.linspace(-1, 2, 12, dtype="float32").reshape(6, 2)}  # fmt: skip


def _close(a, b, tol=1e-5):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=tol, atol=tol)


def _dict_close(got, want, tol=1e-5):
    assert list(got) == list(want)
    for k in want:
        _close(got[k], want[k], tol)


def test_names_outputs_layers_and_weights_in_keras_order():
    ours, ref = _pair()
    assert ref.output_names == ["aa", "zz"]  # the case as reported
    assert ours.output_names == ref.output_names
    assert [t.shape for t in ours.outputs] == [tuple(t.shape) for t in ref.outputs]
    assert list(ours.output) == list(ref.output) == ["zz", "aa"]  # the structure as given
    assert ours.output_shape == ref.output_shape
    assert [la.name for la in ours.layers] == [la.name for la in ref.layers]
    assert [w.path for w in ours.weights] == [w.path for w in ref.weights]


def test_predict_and_call_give_dicts_in_keras_key_order():
    ours, ref = _pair()
    got, want = ours.predict(X, verbose=0), ref.predict(X, verbose=0)
    assert list(want) == ["aa", "zz"]
    _dict_close(got, want)
    called = ours(X)
    assert list(called) == list(ref(X))
    _close(called["aa"].numpy(), want["aa"])


def test_evaluate_list_targets_follow_output_names():
    ours, ref = _pair()
    # targets equal to the predictions, listed in output_names order: Keras's loss is 0
    pred = ref.predict(X, verbose=0)
    for m in (ours, ref):
        m.compile(optimizer="sgd", loss="mse")
    targets = [pred[n] for n in ref.output_names]
    want = ref.evaluate(X, targets, verbose=0, return_dict=True)
    assert want["loss"] < 1e-10
    _dict_close(ours.evaluate(X, targets, verbose=0, return_dict=True), want)
    # the written order is not the order: Keras broadcasts (6, 1) against (6, 2) to a wrong
    # loss; chainrule's mse refuses the shapes (its rule: no silent broadcast, batch1 case 07)
    wrong = [pred["zz"], pred["aa"]]
    assert ref.evaluate(X, wrong, verbose=0, return_dict=True)["loss"] > 0.1
    with pytest.raises(ValueError, match=r"\(6, 1\).*\(6, 2\)"):
        ours.evaluate(X, wrong, verbose=0)


@pytest.mark.parametrize("loss, loss_weights", [
    (["mse", "mae"], None), (["mse", "mae"], [1.0, 0.25]), ({"zz": "mae", "aa": "mse"}, None),
    ({"zz": "mae", "aa": "mse"}, {"zz": 2.0, "aa": 0.5}), ([None, "mae"], None),
    (["mae", "mse"], {"aa": 3.0, "zz": 1.0})])  # fmt: skip
@pytest.mark.parametrize("targets", ["list", "dict"])
def test_loss_lists_and_targets_match_outputs_as_keras(loss, loss_weights, targets):
    ours, ref = _pair()
    ys = [Y[n] for n in ref.output_names] if targets == "list" else Y
    for m in (ours, ref):
        m.compile(optimizer="sgd", loss=loss, loss_weights=loss_weights)
    _dict_close(ours.evaluate(X, ys, verbose=0, return_dict=True),
                ref.evaluate(X, ys, verbose=0, return_dict=True))  # fmt: skip


@pytest.mark.parametrize("metrics", [["mae", "mse"], [["mae"], ["mse", "mae"]],
                                     [None, "mae"], {"zz": "mae"}, ("mse", "mae")])  # fmt: skip
def test_metric_lists_are_one_entry_per_output_as_keras(metrics):
    ours, ref = _pair()
    for m in (ours, ref):
        m.compile(optimizer="sgd", loss="mse", metrics=metrics)
    _dict_close(ours.evaluate(X, Y, verbose=0, return_dict=True),
                ref.evaluate(X, Y, verbose=0, return_dict=True))  # fmt: skip


@pytest.mark.parametrize("metrics", [["mae"], ["mae", "mse", "mape"]])
def test_metric_list_of_another_length_is_refused_as_keras(metrics):
    ours, ref = _pair()
    for m in (ours, ref):
        m.compile(optimizer="sgd", loss="mse", metrics=metrics)
        with pytest.raises(ValueError):
            m.evaluate(X, Y, verbose=0)
    ours.compile(optimizer="sgd", loss="mse", metrics=metrics)
    with pytest.raises(ValueError, match=r"\['aa', 'zz'\].*one entry per output"):
        ours.evaluate(X, Y, verbose=0)


def test_fit_with_list_targets_matches_keras():
    ours, ref = _pair()
    ys = [Y[n] for n in ref.output_names]
    for m, lib in ((ours, ck), (ref, tk)):
        m.compile(optimizer=lib.optimizers.SGD(0.1), loss=["mse", "mae"], metrics=[["mae"], None])
    h_ref = ref.fit(X, ys, batch_size=4, epochs=3, shuffle=False, verbose=0)
    h_ours = ours.fit(X, ys, batch_size=4, epochs=3, shuffle=False, verbose=0)
    assert set(h_ours.history) == set(h_ref.history)
    for k in h_ref.history:
        _close(h_ours.history[k], h_ref.history[k])
    for a, b in zip(ours.get_weights(), ref.get_weights(), strict=True):
        _close(a, b)


def test_summary_lists_heads_in_keras_order():
    ours, _ = _pair()
    lines = []
    ours.summary(print_fn=lines.append)
    text = "\n".join(lines)
    assert text.index("aa (Dense)") < text.index("zz (Dense)")


def test_config_keeps_the_written_dict_and_round_trips(tmp_path):
    ours, ref = _pair()
    for key in ("input_layers", "output_layers"):
        got, want = ours.get_config()[key], ref.get_config()[key]
        assert json.dumps(got) == json.dumps(want)  # the same keys in the same order
    again = ck.Model.from_config(ours.get_config())
    again.set_weights(ours.get_weights())
    assert again.output_names == ["aa", "zz"]
    _dict_close(again.predict(X, verbose=0), ref.predict(X, verbose=0))


@pytest.mark.filterwarnings("ignore:Skipping variable loading")  # an optimizer never built
def test_keras_files_each_way_keep_order_and_values(tmp_path):
    ours, ref = _pair()
    for m in (ours, ref):
        m.compile(optimizer="adam", loss=["mse", "mae"])
    want = ref.predict(X, verbose=0)
    ours.save(tmp_path / "ours.keras")
    ref.save(tmp_path / "ref.keras")
    by_keras = tk.models.load_model(tmp_path / "ours.keras")
    by_us = ck.models.load_model(tmp_path / "ref.keras")
    for m in (by_keras, by_us):
        assert m.output_names == ["aa", "zz"]
        assert list(m.output) == ["zz", "aa"]
        _dict_close(m.predict(X, verbose=0), want)
    ys = [Y["aa"], Y["zz"]]
    _dict_close(by_us.evaluate(X, ys, verbose=0, return_dict=True),
                by_keras.evaluate(X, ys, verbose=0, return_dict=True))  # fmt: skip
    with zipfile.ZipFile(tmp_path / "ours.keras") as z:
        cfg = json.loads(z.read("config.json"))["config"]
    assert list(cfg["output_layers"]) == ["zz", "aa"]


def _dict_inputs(lib, keys=("b", "a")):
    ins = {"a": lib.Input((2,), name="a"), "b": lib.Input((3,), name="b")}
    h = lib.layers.Concatenate(name="cat")([ins["a"], ins["b"]])
    return lib.Model({k: ins[k] for k in keys}, lib.layers.Dense(2, name="out")(h))


XA = np.linspace(-1, 1, 8, dtype="float32").reshape(4, 2)
XB = np.linspace(0, 2, 12, dtype="float32").reshape(4, 3)


def test_dict_inputs_are_ordered_as_keras():
    ours, ref = _pair(_dict_inputs)
    assert [t.name for t in ours.inputs] == [t.name for t in ref.inputs] == ["a", "b"]
    assert ours.input_names == ["a", "b"]
    assert ours.input_shape == ref.input_shape
    assert list(ours.input) == list(ref.input) == ["b", "a"]
    _close(ours.predict({"b": XB, "a": XA}, verbose=0),
           ref.predict({"b": XB, "a": XA}, verbose=0))  # fmt: skip


def test_list_for_unsorted_dict_inputs_is_refused_as_keras():
    ours, ref = _pair(_dict_inputs)
    for m in (ours, ref):
        with pytest.raises(ValueError):
            m.predict([XB, XA], verbose=0)
        with pytest.raises(ValueError):
            m.predict([XA, XB], verbose=0)
    with pytest.raises(ValueError, match=r"keys \['b', 'a'\].*Pass a dict"):
        ours([XA, XB])


def test_list_for_sorted_dict_inputs_is_read_in_key_order_as_keras():
    ours, ref = _pair(lambda lib: _dict_inputs(lib, ("a", "b")))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        got = ours.predict([XA, XB], verbose=0)
    assert any("structure of `inputs`" in str(w.message) for w in caught)  # Keras warns too
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _close(got, ref.predict([XA, XB], verbose=0))


def _nested(lib):
    x = lib.Input((2,), name="x")
    d = lambda n: lib.layers.Dense(1, name=n)(x)  # noqa: E731
    return lib.Model(x, {"z": [d("z0"), d("z1")], "b": {"y": d("by"), "c": d("bc")},
                         "a": d("a0")})  # fmt: skip


def test_nested_outputs_are_ordered_as_keras_torch_backend():
    ours, ref = _pair(_nested)
    # the top dict sorted; the dict inside it kept as written (Keras's torch tree)
    assert ours.output_names == ref.output_names == ["a0", "by", "bc", "z0", "z1"]
    assert [la.name for la in ours.layers] == [la.name for la in ref.layers]
    got, want = ours.predict(X, verbose=0), ref.predict(X, verbose=0)
    assert list(got) == list(want) == ["a", "b", "z"]
    assert list(got["b"]) == list(want["b"]) == ["y", "c"]
    for g, w in zip([got["a"], *got["b"].values(), *got["z"]],
                    [want["a"], *want["b"].values(), *want["z"]], strict=True):  # fmt: skip
        _close(g, w)


def test_compile_on_nested_outputs_refuses_rather_than_guessing():
    ours = _nested(ck)
    ours.compile(optimizer="sgd", loss="mse")
    ys = {"z": [Y["zz"], Y["zz"]], "b": {"y": Y["zz"], "c": Y["zz"]}, "a": Y["zz"]}
    with pytest.raises(NotImplementedError, match="nest lists or dicts"):
        ours.evaluate(X, ys, verbose=0)


# -- the functional API guide's "ticket" model (keras.io/guides/functional_api) ------------

NUM_TAGS, NUM_WORDS, NUM_DEPTS = 12, 50, 4


def _tickets(lib):
    title = lib.Input(shape=(None,), name="title")
    body = lib.Input(shape=(None,), name="body")
    tags = lib.Input(shape=(NUM_TAGS,), name="tags")
    t = lib.layers.LSTM(8, name="t_lstm")(lib.layers.Embedding(NUM_WORDS, 4, name="t_emb")(title))
    b = lib.layers.LSTM(3, name="b_lstm")(lib.layers.Embedding(NUM_WORDS, 4, name="b_emb")(body))
    x = lib.layers.concatenate([t, b, tags], name="cat")
    priority = lib.layers.Dense(1, name="priority")(x)
    department = lib.layers.Dense(NUM_DEPTS, name="department")(x)
    return lib.Model(inputs=[title, body, tags],
                     outputs={"priority": priority, "department": department})  # fmt: skip


def _ticket_data():
    rng = np.random.default_rng(3)
    xs = {"title": rng.integers(0, NUM_WORDS, (16, 6)), "body": rng.integers(0, NUM_WORDS, (16, 9)),
          "tags": rng.integers(0, 2, (16, NUM_TAGS)).astype("float32")}  # fmt: skip
    ys = {"priority": rng.random((16, 1)).astype("float32"),
          "department": rng.integers(0, 2, (16, NUM_DEPTS)).astype("float32")}  # fmt: skip
    return xs, ys


@pytest.mark.filterwarnings("ignore::SyntaxWarning")  # CCE on the 1-unit head, in both
def test_ticket_model_as_in_keras():
    ours, ref = _pair(_tickets)
    assert ours.output_names == ref.output_names == ["department", "priority"]
    xs, ys = _ticket_data()
    for m, lib in ((ours, ck), (ref, tk)):
        m.compile(optimizer=lib.optimizers.RMSprop(1e-3),
                  loss=[lib.losses.BinaryCrossentropy(from_logits=True),
                        lib.losses.CategoricalCrossentropy(from_logits=True)],
                  loss_weights=[1.0, 0.2])  # fmt: skip
    h_ref = ref.fit(xs, ys, epochs=2, batch_size=8, shuffle=False, verbose=0)
    h_ours = ours.fit(xs, ys, epochs=2, batch_size=8, shuffle=False, verbose=0)
    assert set(h_ours.history) == set(h_ref.history)
    for k in h_ref.history:
        _close(h_ours.history[k], h_ref.history[k], 1e-4)
    as_list = [xs["title"], xs["body"], xs["tags"]]
    _dict_close(ours.evaluate(as_list, ys, verbose=0, return_dict=True),
                ref.evaluate(as_list, ys, verbose=0, return_dict=True), 1e-4)  # fmt: skip
    # targets listed in the written order meet the outputs in Keras's order: a shape error
    for m in (ours, ref):
        with pytest.raises(ValueError, match=r"\(8, 1\).*\(8, 4\)|\[8, 1\].*\[8, 4\]"):
            m.evaluate(as_list, [ys["priority"], ys["department"]], batch_size=8, verbose=0)
