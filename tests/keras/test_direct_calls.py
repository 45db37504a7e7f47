"""The models' direct layer calls (``layers/direct_calls.py``) and the one-node
sparse cross-entropy mean from logits (``losses/_fused.py sparse_cce_logits_mean``).

Both are fast paths: each must give what the general path gives, bit for bit, for every input
a user can pass. References: the general path itself (every layer through ``__call__``, the
two-node loss), PyTorch for the loss, real Keras 3.15.1 (torch backend) for a fit.
"""

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

import chainrule as cr  # noqa: E402
from chainrule import keras as ck  # noqa: E402
from chainrule.keras.layers import direct_calls  # noqa: E402
from chainrule.keras.losses.loss import Loss  # noqa: E402
from chainrule.keras.variables import GENERATION  # noqa: E402

from ._direct_calls_util import layer_by_layer, no_direct_calls, recorded  # noqa: E402

RNG = np.random.default_rng(77)
L = ck.layers


def _x(*shape, dtype="float32"):
    return RNG.normal(size=shape).astype(dtype)


def _assert_same_fits(direct, general):
    """``(losses, weights, predictions, replayed)`` of a fit with and without direct calls."""
    assert direct[3] and not general[3]
    assert direct[0] == general[0]
    for a, b in zip(direct[1] + [direct[2]], general[1] + [general[2]], strict=True):
        np.testing.assert_array_equal(a, b)


def _mlp(seed=0, dropout=0.0, batchnorm=False):
    ck.utils.set_random_seed(seed)
    stack = [ck.Input((6,)), L.Dense(8, activation="relu")]
    if batchnorm:
        stack.append(L.BatchNormalization())
    if dropout:
        stack.append(L.Dropout(dropout))
    stack.append(L.Dense(3))
    return ck.Sequential(stack)


# -- the Sequential's direct calls -------------------------------------------------------------
def test_second_call_is_direct_and_equals_the_layer_by_layer_path():
    model = _mlp()
    x = _x(5, 6)
    first = model(x, training=False).numpy()
    assert len(recorded(model)) == 1  # recorded by the first call
    second = model(x, training=False).numpy()
    np.testing.assert_array_equal(first, second)
    np.testing.assert_array_equal(second, layer_by_layer(model, x, False).numpy())


def test_each_input_shape_and_training_value_has_its_own_record():
    model = _mlp(dropout=0.5)
    for x in (_x(5, 6), _x(2, 6)):
        for training in (False, True, None):
            model(x, training=training)
    assert len(recorded(model)) == 6
    x = _x(2, 6)
    # training=False: dropout off, through the direct calls as well
    np.testing.assert_array_equal(model(x, training=False).numpy(),
                                  layer_by_layer(model, x, False).numpy())  # fmt: skip


def test_dropout_draws_a_fresh_mask_on_every_direct_call():
    x = np.ones((64, 6), "float32")
    model = _mlp(dropout=0.5)
    model(x, training=True)  # records
    ck.utils.set_random_seed(3)
    direct = [model(x, training=True).numpy() for _ in range(3)]
    ck.utils.set_random_seed(3)
    general = [layer_by_layer(model, x, True).numpy() for _ in range(3)]
    assert not np.array_equal(direct[0], direct[1])
    for d, g in zip(direct, general, strict=True):
        np.testing.assert_array_equal(d, g)


def test_batchnorm_moving_statistics_update_on_every_direct_call():
    x = _x(16, 6)
    a, b = _mlp(batchnorm=True), _mlp(batchnorm=True)
    b.set_weights(a.get_weights())
    for _ in range(4):
        a(x, training=True)
        layer_by_layer(b, x, True)
    for wa, wb in zip(a.get_weights(), b.get_weights(), strict=True):
        np.testing.assert_array_equal(wa, wb)
    assert not np.array_equal(a.layers[1].moving_mean.numpy(), np.zeros(8, "float32"))


def test_an_activity_regularizer_set_later_is_applied():
    model = _mlp()
    x = _x(4, 6)
    model(x), model(x)
    assert model.losses == []
    model.layers[0].activity_regularizer = ck.regularizers.L2(0.1)
    for _ in range(3):  # the first call after the change, and the ones a record could replay
        out = model(x)
        assert len(model.losses) == 1
    hidden = model.layers[0](x).numpy()
    np.testing.assert_allclose(float(model.losses[0].numpy()),
                               0.1 * np.sum(hidden.astype("float64") ** 2) / 4, rtol=1e-6)
    np.testing.assert_array_equal(out.numpy(), layer_by_layer(model, x, None).numpy())


class _Penalised(ck.layers.Layer):
    def call(self, x):
        self.add_loss(cr.sum(x * x))
        return x


def test_a_layer_that_adds_losses_is_called_through_call_every_time():
    model = ck.Sequential([ck.Input((3,)), L.Dense(2), _Penalised()])
    for scale in (1.0, 2.0, 3.0):
        x = np.full((2, 3), scale, "float32")
        out = model(x).numpy()
        assert len(model.losses) == 1  # cleared and added again: not kept from a replay
        np.testing.assert_allclose(float(model.losses[0].numpy()), np.sum(out * out), rtol=1e-6)


def test_a_loss_adding_layer_keeps_its_own_clearing_when_call_is_used_directly():
    # model.call at the top level: each layer's __call__ is a top-level call that first drops
    # the loss terms of its last one; a direct call would let them pile up
    model = ck.Sequential([ck.Input((3,)), L.Dense(2), _Penalised()])
    x = _x(2, 3)
    for _ in range(3):
        model.call(x)
        assert len(model.layers[1].losses) == 1


class _CountingCall(ck.layers.Layer):
    calls = 0

    def __call__(self, *args, **kwargs):
        type(self).calls += 1
        return super().__call__(*args, **kwargs)


def test_a_layer_with_its_own_dunder_call_is_never_skipped():
    model = ck.Sequential([ck.Input((3,)), L.Dense(2), _CountingCall()])
    x = _x(2, 3)
    _CountingCall.calls = 0
    for _ in range(3):
        model(x)
    assert _CountingCall.calls == 3
    assert not recorded(model)


def test_float64_inputs_are_cast_on_every_call():
    model = _mlp()
    x = _x(3, 6, dtype="float64")
    outs = [model(x) for _ in range(3)]
    assert all(o.dtype == np.float32 for o in outs)
    np.testing.assert_array_equal(outs[2].numpy(), layer_by_layer(model, x.astype("float32"),
                                                                   None).numpy())  # fmt: skip


def test_masks_still_reach_the_recurrent_layer():
    model = ck.Sequential([ck.Input((None,), dtype="int64"), L.Embedding(10, 4, mask_zero=True),
                           L.LSTM(3)])  # fmt: skip
    x = np.array([[1, 2, 3, 0, 0], [4, 5, 0, 0, 0]])
    first = model(x).numpy()
    again = model(x).numpy()
    trimmed = model(np.array([[1, 2, 3]])).numpy()  # the padded steps must change nothing
    np.testing.assert_array_equal(first, again)
    np.testing.assert_allclose(first[0], trimmed[0], rtol=1e-6, atol=1e-7)


def test_a_changed_input_spec_is_checked_again():
    model = _mlp()
    x = _x(2, 6)
    model(x), model(x)
    model.layers[0].input_spec = ck.layers.InputSpec(ndim=3)
    with pytest.raises(ValueError, match="ndim"):
        model(x)


def test_a_call_method_replaced_on_the_instance_is_used():
    model = _mlp()
    x = _x(2, 6)
    model(x), model(x)
    dense = model.layers[0]
    original = dense.call
    dense.call = lambda inputs: cr.multiply(original(inputs), 0.0)
    assert not model(x).numpy().any()


@pytest.mark.parametrize("attr, value", [("dtype", "float64"), ("autocast", False),
                                         ("input_spec", None), ("built", False)])  # fmt: skip
def test_setting_what_direct_calls_assume_moves_the_generation(attr, value):
    layer = L.Dense(2)
    before = GENERATION[0]
    setattr(layer, attr, value)
    assert GENERATION[0] > before


def test_direct_step_refuses_what_needs_dunder_call():
    dense = L.Dense(2)
    x = _x(3, 4)
    y = dense(x)
    step, absent = direct_calls.direct_step, direct_calls._ABSENT
    assert step(dense, x, y, {}) == (dense, absent, np.ndarray, (3, 4), np.float32)
    assert step(dense, x, y, {"training": True})[:2] == (dense, True)
    assert step(dense, x.astype("float64"), y, {}) is None  # autocast
    assert step(dense, x, [y], {}) is None  # not a plain Tensor out
    assert step(dense, x, y, {"mask": None}) is None  # other keywords


def test_replay_misses_what_must_go_through_dunder_call(monkeypatch):
    dense = L.Dense(2)
    x = _x(3, 4)
    rec = direct_calls.direct_step(dense, x, dense(x), {})
    now = GENERATION[0]
    np.testing.assert_array_equal(direct_calls.replay(rec, x, now).numpy(), dense(x).numpy())
    for other in (x[:2], x.astype("float64"), cr.tensor(x)):  # another input
        assert direct_calls.replay(rec, other, now) is direct_calls.MISS
    assert direct_calls.replay(rec, x, now - 1) is direct_calls.MISS  # GENERATION moved
    monkeypatch.setattr(L.Dense, "__call__", lambda self, *a, **k: None)  # a class's own
    assert direct_calls.replay(rec, x, now) is direct_calls.MISS


def test_fit_with_direct_calls_equals_fit_without(monkeypatch):
    x, y = _x(96, 6), RNG.integers(0, 3, 96)

    def fit():
        model = _mlp(seed=5, dropout=0.3, batchnorm=True)
        model.compile(optimizer="adam", loss=ck.losses.SparseCategoricalCrossentropy(
            from_logits=True))  # fmt: skip
        ck.utils.set_random_seed(9)
        hist = model.fit(x, y, batch_size=20, epochs=3, verbose=0)
        replayed = bool(recorded(model))
        return hist.history["loss"], model.get_weights(), model.predict(x, verbose=0), replayed

    direct = fit()
    no_direct_calls(monkeypatch)
    _assert_same_fits(direct, fit())


# -- the functional model's direct calls --------------------------------------------------------
def _wide_and_deep(seed=0):
    ck.utils.set_random_seed(seed)
    wide, deep = ck.Input((3,), name="wide"), ck.Input((6,), name="deep")
    shared = L.Dense(5, activation="relu")
    h = L.Dropout(0.25)(shared(deep))
    h = L.BatchNormalization()(h)
    h2 = shared(L.Dense(6)(h))  # the shared layer called twice
    merged = L.Concatenate()([wide, h, h2])  # a multi-input node: always through __call__
    out = L.Dense(2)(merged)
    return ck.Model([wide, deep], out)


def test_functional_calls_equal_the_general_path(monkeypatch):
    a, b = _wide_and_deep(), _wide_and_deep()
    b.set_weights(a.get_weights())
    xs = [_x(7, 3), _x(7, 6)]
    outs_a = [a(xs, training=t).numpy() for t in (False, False, None)]
    assert len(recorded(a)) == 2
    no_direct_calls(monkeypatch)
    outs_b = [b(xs, training=t).numpy() for t in (False, False, None)]
    for oa, ob in zip(outs_a, outs_b, strict=True):
        np.testing.assert_array_equal(oa, ob)
    assert all(s is None for record in recorded(b).values() for s in record)


class _Float64Sometimes(ck.layers.Layer):
    """Returns float64 when the first input value is positive: a node whose output dtype
    changes between calls on inputs of one shape."""

    def call(self, x):
        return cr.multiply(x, 1.0)

    def __call__(self, x, **kwargs):  # its own __call__: never a direct call itself
        out = super().__call__(x, **kwargs)
        if not isinstance(out, cr.Tensor):  # the symbolic call that builds the graph
            return out
        return cr.astype(out, "float64") if float(out.numpy().flat[0]) > 0 else out


def test_functional_direct_step_checks_its_input_after_a_general_node():
    inp = ck.Input((4,))
    out = L.Dense(3)(_Float64Sometimes()(inp))
    model = ck.Model(inp, out)
    neg, pos = -np.ones((2, 4), "float32"), np.ones((2, 4), "float32")
    model(neg), model(neg)  # records the Dense step for a float32 input
    got = model(pos)  # the Dense now receives float64: autocast through __call__
    assert got.dtype == np.float32
    through_dunder_call = model.layers[2](cr.astype(cr.tensor(pos), "float64"))
    np.testing.assert_array_equal(got.numpy(), through_dunder_call.numpy())


def test_functional_fit_with_direct_calls_equals_fit_without(monkeypatch):
    xs, y = [_x(64, 3), _x(64, 6)], RNG.integers(0, 2, 64)

    def fit():
        model = _wide_and_deep(seed=4)
        model.compile(optimizer="adam", loss=ck.losses.SparseCategoricalCrossentropy(
            from_logits=True))  # fmt: skip
        ck.utils.set_random_seed(2)
        hist = model.fit(xs, y, batch_size=24, epochs=3, verbose=0)
        steps = [s for record in recorded(model).values() for s in record]
        return (hist.history["loss"], model.get_weights(), model.predict(xs, verbose=0),
                any(s is not None for s in steps))  # fmt: skip

    direct = fit()
    no_direct_calls(monkeypatch)
    _assert_same_fits(direct, fit())


def test_a_functional_model_inside_another_replays_like_the_general_path(monkeypatch):
    ck.utils.set_random_seed(1)
    inner_in = ck.Input((4,))
    inner = ck.Model(inner_in, L.Dense(3, activation="relu")(inner_in))
    outer_in = ck.Input((4,))
    outer = ck.Model(outer_in, L.Dense(2)(inner(outer_in)))
    x = _x(5, 4)
    first, second = outer(x).numpy(), outer(x).numpy()
    no_direct_calls(monkeypatch)
    outer._records = None
    np.testing.assert_array_equal(first, second)
    np.testing.assert_array_equal(second, outer(x).numpy())


# -- the one-node sparse cross-entropy mean from logits ----------------------------------------
CASES = [((128, 10), (128,)), ((5, 7, 3), (5, 7)), ((4, 3), (4, 1)), ((1, 2), (1,))]


@pytest.mark.parametrize("shape, label_shape", CASES)
@pytest.mark.parametrize("dtype", ["float32"])  # (the only dtype the fast means take)
@pytest.mark.parametrize("as_function", [False, True])
def test_sparse_cce_mean_equals_the_two_node_form_bit_for_bit(shape, label_shape, dtype,
                                                              as_function):  # fmt: skip
    x = cr.tensor(_x(*shape, dtype=dtype) * 5, requires_grad=True)
    labels = RNG.integers(0, shape[-1], label_shape)
    if as_function:
        loss = ck.losses.LossFunctionWrapper(ck.losses.sparse_categorical_crossentropy,
                                             from_logits=True, dtype=dtype)  # fmt: skip
    else:
        loss = ck.losses.SparseCategoricalCrossentropy(from_logits=True, dtype=dtype)
    fused, general = loss(labels, x), Loss.__call__(loss, labels, x)
    assert fused._node.op.name == "sparse_cce_logits_mean"
    assert general._node.op.name == "mean"
    np.testing.assert_array_equal(fused.numpy(), general.numpy())
    assert fused.dtype == general.dtype == np.dtype(dtype)
    gf, gg = cr.grad(fused, [x])[0], cr.grad(general, [x])[0]
    np.testing.assert_array_equal(gf, gg)
    # and against PyTorch (float64 for the reference)
    tx = torch.tensor(x.numpy().astype("float64").reshape(-1, shape[-1]), requires_grad=True)
    tl = torch.nn.functional.cross_entropy(tx, torch.from_numpy(labels.reshape(-1)))
    tl.backward()
    tol = 1e-5 if dtype == "float32" else 1e-12
    np.testing.assert_allclose(float(fused.numpy()), tl.item(), rtol=tol, atol=tol)
    np.testing.assert_allclose(gf.reshape(-1, shape[-1]), tx.grad.numpy(), rtol=tol, atol=tol)


def test_sparse_cce_mean_keeps_the_label_checks():
    loss = ck.losses.SparseCategoricalCrossentropy(from_logits=True)
    x = cr.tensor(_x(3, 4))
    with pytest.raises(ValueError, match="label 4 is out of range"):
        loss(np.array([0, 1, 4]), x)
    with pytest.raises(ValueError, match="label -1 is out of range"):
        loss(np.array([0, -1, 2]), x)
    with pytest.raises(ValueError, match="integer class indices"):
        loss(np.array([0.0, 1.5, 2.0]), x)
    # whole-number float labels are class indices, as in the general path
    np.testing.assert_array_equal(loss(np.array([0.0, 1.0, 2.0]), x).numpy(),
                                  Loss.__call__(loss, np.array([0, 1, 2]), x).numpy())  # fmt: skip


def test_sparse_cce_mean_leaves_other_cases_to_the_general_path():
    x = cr.tensor(_x(4, 3))
    labels = np.array([0, 1, 2, 1])
    probs = ck.losses.SparseCategoricalCrossentropy()(labels, x)  # probabilities: general
    ignored = ck.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=1)(labels, x)
    axis0 = ck.losses.SparseCategoricalCrossentropy(from_logits=True, axis=0)(
        np.array([0, 1, 2]), x)  # fmt: skip
    one_class = ck.losses.SparseCategoricalCrossentropy(from_logits=True)(
        np.zeros(4, "int64"), cr.tensor(_x(4, 1)))  # fmt: skip
    for out in (probs, ignored, axis0, one_class):
        assert out._node is None or out._node.op.name != "sparse_cce_logits_mean"


def test_sparse_cce_fit_matches_keras():
    import keras as tk  # noqa: PLC0415

    x, y = _x(64, 6), RNG.integers(0, 3, 64)
    ref = tk.Sequential([tk.Input((6,)), tk.layers.Dense(8, activation="relu"),
                         tk.layers.Dense(3)])  # fmt: skip
    ours = ck.Sequential([ck.Input((6,)), L.Dense(8, activation="relu"), L.Dense(3)])
    ours.set_weights([w.detach().cpu().numpy() if hasattr(w, "detach") else np.asarray(w)
                      for w in ref.get_weights()])  # fmt: skip
    for m, losses in ((ref, tk.losses), (ours, ck.losses)):
        m.compile(optimizer="adam", loss=losses.SparseCategoricalCrossentropy(from_logits=True))
    h_ref = ref.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0).history["loss"]
    h_ours = ours.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0).history["loss"]
    np.testing.assert_allclose(h_ours, h_ref, rtol=1e-5)
    for a, b in zip(ours.get_weights(), ref.get_weights(), strict=True):
        np.testing.assert_allclose(a, np.asarray(b), rtol=1e-4, atol=1e-6)
