"""``Layer.add_loss`` / ``Model.add_loss`` against real Keras 3.15.1 (torch backend): the terms in
``layer.losses`` / ``model.losses`` (values and Keras's order), when they are cleared, what is
refused, and ``fit``/``evaluate``/``train_on_batch`` histories and weights with the same
initial weights and data (``shuffle=False``)."""

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

import chainrule as cr  # noqa: E402
from chainrule.keras.layers import layer as layer_module  # noqa: E402

from ._keras_ref import assert_history_close, assert_weights_close, ck, tk  # noqa: E402

RNG = np.random.default_rng(7)
X = RNG.normal(size=(48, 4)).astype("float32")
Y = (X @ RNG.normal(size=(4, 2))).astype("float32")


def _classes(mod):
    """The same custom layers written against chainrule's or real Keras's API."""
    ops = mod.ops

    class Penalty(mod.layers.Layer):
        """Identity that adds ``rate * mean(x**2)`` (an activity penalty)."""

        def __init__(self, rate=0.1, only_when_active=False, **kwargs):
            super().__init__(**kwargs)
            self.rate = rate
            self.active = not only_when_active

        def call(self, x):
            if self.active:
                self.add_loss(self.rate * ops.mean(ops.square(x)))
            return x

    class Outer(mod.layers.Layer):
        """Its own term, two Penalty sub-layers and a Dense with both regularizers."""

        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.a = Penalty(0.1, name="a")
            self.b = Penalty(0.2, name="b")
            self.d = mod.layers.Dense(
                3,
                kernel_regularizer=mod.regularizers.L2(0.01),
                activity_regularizer=mod.regularizers.L1(0.02),
            )

        def call(self, x):
            self.add_loss(0.5 * ops.mean(ops.abs(x)))
            return self.b(self.a(self.d(x)))

    class Deep(mod.layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.inner = Outer(name="inner")
            self.p = Penalty(0.3, name="p")

        def call(self, x):
            return self.p(self.inner(x))

    class Twice(mod.layers.Layer):
        """A shared sub-layer called twice in one call adds two terms."""

        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.p = Penalty(0.1)

        def call(self, x):
            return self.p(self.p(x) * 2.0)

    class Scored(mod.Model):
        """A subclassed model whose call adds a term of its own."""

        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.d1 = mod.layers.Dense(6, activation="tanh")
            self.pen = Penalty(0.05)
            self.d2 = mod.layers.Dense(2)

        def call(self, x):
            h = self.pen(self.d1(x))
            self.add_loss(0.01 * ops.sum(ops.square(h)))
            return self.d2(h)

    return {"Penalty": Penalty, "Outer": Outer, "Deep": Deep, "Twice": Twice, "Scored": Scored}


OURS, REF = _classes(ck), _classes(tk)


def _same_weights(ours, ref, seed=0):
    """Copy one set of random weights into both (Dense by Dense, as the trees agree)."""
    rng = np.random.default_rng(seed)
    dense_o = [la for la in ours._flatten_layers() if isinstance(la, ck.layers.Dense)]
    dense_r = [la for la in ref._flatten_layers() if isinstance(la, tk.layers.Dense)]
    assert [la.name.split("_")[0] for la in dense_o] == [la.name.split("_")[0] for la in dense_r]
    for lo, lr in zip(dense_o, dense_r, strict=True):
        ws = [rng.uniform(-0.6, 0.6, w.shape).astype("float32") for w in lo.get_weights()]
        lo.set_weights(ws)
        lr.set_weights(ws)


def _values(losses):
    return [
        float(t.detach().sum()) if isinstance(t, torch.Tensor) else float(np.sum(t.numpy()))
        for t in losses
    ]


def _pair(name, x=X[:5]):
    ours, ref = OURS[name](), REF[name]()
    ours(x)
    ref(x)
    _same_weights(ours, ref)
    return ours, ref


# -- layer.losses ------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["Outer", "Deep", "Twice"])
def test_losses_after_a_call_match_keras_values_and_order(name):
    ours, ref = _pair(name)
    ours(X[:5])
    ref(X[:5])
    # Outer: own term, a, b, Dense's activity term, then the kernel regularizer. Deep: Keras's
    # _flatten_layers puts a layer's children in front reversed (inner, d, b, a, p).
    np.testing.assert_allclose(_values(ours.losses), _values(ref.losses), rtol=1e-6)
    assert len(ours.losses) == len(ref.losses)
    for sub_o, sub_r in zip(ours._flatten_layers(), ref._flatten_layers(), strict=True):
        np.testing.assert_allclose(_values(sub_o.losses), _values(sub_r.losses), rtol=1e-6)


def test_terms_are_cleared_at_each_top_level_call_only():
    ours, ref = _pair("Outer")
    for _ in range(3):  # no piling up across calls
        ours(X[:5])
        ref(X[:5])
    assert len(ours.losses) == len(ref.losses) == 5
    # a sub-layer called on its own clears and refills its own terms only
    ours.a(X[5:9])
    ref.a(X[5:9])
    np.testing.assert_allclose(_values(ours.losses), _values(ref.losses), rtol=1e-6)
    np.testing.assert_allclose(_values(ours.a.losses), _values(ref.a.losses), rtol=1e-6)


def test_add_loss_outside_call_lasts_until_the_next_call_as_keras():
    ours, ref = OURS["Penalty"](), REF["Penalty"]()
    ours.add_loss(cr.tensor(3.0))
    ref.add_loss(torch.tensor(3.0))
    ours.add_loss([cr.tensor(1.0), {"k": cr.tensor(2.0)}])  # a structure is flattened
    ref.add_loss([torch.tensor(1.0), {"k": torch.tensor(2.0)}])
    assert _values(ours.losses) == _values(ref.losses) == [3.0, 1.0, 2.0]
    ours(X[:4])
    ref(X[:4])
    np.testing.assert_allclose(_values(ours.losses), _values(ref.losses), rtol=1e-6)
    assert len(ours.losses) == 1


@pytest.mark.parametrize("value", [np.float32(2.0), 3.0, np.array([1.0, 2.0]), "variable"])
def test_add_loss_refuses_what_keras_refuses(value):
    ours, ref = OURS["Penalty"](), REF["Penalty"]()
    is_var = isinstance(value, str)
    ours_v = ck.Variable(1.0) if is_var else value
    ref_v = tk.Variable(1.0) if is_var else value
    with pytest.raises(ValueError, match="can only be called from inside"):
        ref.add_loss(ref_v)
    with pytest.raises(ValueError, match=r"can only be called from inside .*Received invalid"):
        ours.add_loss(ours_v)
    assert ours.losses == []


def test_under_no_grad_the_term_is_kept_without_a_graph():
    ours, ref = _pair("Outer")
    with cr.no_grad():
        ours(X[:5])
    with torch.no_grad():
        ref(X[:5])
    np.testing.assert_allclose(_values(ours.losses), _values(ref.losses), rtol=1e-6)
    own = ours._losses[0]
    assert own._node is None and not own.requires_grad


def test_with_grad_the_term_differentiates_like_torch():
    ours = OURS["Penalty"](0.1, dtype="float64")  # no cast to float32 on the way in
    x = cr.tensor(X[:3].astype("float64"), requires_grad=True)
    ours(x)
    (g,) = cr.grad(ours.losses[0], [x])
    tx = torch.tensor(X[:3].astype("float64"), requires_grad=True)
    (0.1 * (tx**2).mean()).backward()
    np.testing.assert_allclose(g, tx.grad.numpy(), rtol=1e-12)


# -- models ------------------------------------------------------------------------------------
def _functional(mod, classes):
    inp = mod.Input((4,))
    h = classes["Penalty"](0.5, name="pf")(mod.layers.Dense(5, activation="tanh")(inp))
    out = mod.layers.Dense(2, activity_regularizer=mod.regularizers.L2(0.1))(h)
    return mod.Model(inp, out)


def test_functional_model_terms_and_refusal_as_keras():
    ours, ref = _functional(ck, OURS), _functional(tk, REF)
    assert ours.losses == [] and ref.losses == []  # nothing from the symbolic build
    _same_weights(ours, ref)
    ours(X[:6])
    ref(X[:6])
    np.testing.assert_allclose(_values(ours.losses), _values(ref.losses), rtol=1e-6)
    assert len(ours.losses) == 2
    with pytest.raises(NotImplementedError):
        ref.add_loss(torch.tensor(1.0))
    with pytest.raises(NotImplementedError, match="functional model"):
        ours.add_loss(cr.tensor(1.0))


def _sequential(mod, classes, **penalty_kwargs):
    return mod.Sequential(
        [
            mod.Input((4,)),
            mod.layers.Dense(8, activation="relu"),
            classes["Penalty"](0.2, **penalty_kwargs),
            mod.layers.Dense(2),
        ]
    )


def _fit_pair(make, compile_kwargs, fit_args, callbacks=None, **fit_kwargs):
    ours, ref = make(ck, OURS), make(tk, REF)
    if not ours.built:
        ours(X[:2])
        ref(X[:2])
    _same_weights(ours, ref)
    hs = []
    for model, mod in ((ours, ck), (ref, tk)):
        model.compile(optimizer=mod.optimizers.Adam(0.01), **compile_kwargs)
        cbs = None if callbacks is None else [callbacks(mod)]
        hs.append(
            model.fit(
                *fit_args,
                epochs=2,
                batch_size=16,
                shuffle=False,
                verbose=0,
                callbacks=cbs,
                **fit_kwargs,
            )
        )
    assert_history_close(hs[0], hs[1], rtol=1e-5)
    assert_weights_close(ours, ref, rtol=1e-5, atol=1e-6)
    return ours, ref


@pytest.mark.parametrize(
    "make",
    [_sequential, _functional, lambda mod, classes: classes["Scored"]()],
    ids=["sequential", "functional", "subclassed"],
)
def test_fit_with_add_loss_matches_keras(make):
    ours, ref = _fit_pair(make, {"loss": "mse"}, (X, Y), validation_data=(X[:16], Y[:16]))
    # the last step's terms only, not one per step
    np.testing.assert_allclose(_values(ours.losses), _values(ref.losses), rtol=1e-5)
    np.testing.assert_allclose(
        ours.evaluate(X, Y, verbose=0), ref.evaluate(X, Y, verbose=0), rtol=1e-5
    )
    np.testing.assert_allclose(
        ours.train_on_batch(X[:8], Y[:8]), ref.train_on_batch(X[:8], Y[:8]), rtol=1e-5
    )
    np.testing.assert_allclose(
        ours.test_on_batch(X[:8], Y[:8]), ref.test_on_batch(X[:8], Y[:8]), rtol=1e-5
    )


def _nested(mod, classes):
    return mod.Sequential([mod.Input((4,)), classes["Deep"](), mod.layers.Dense(2)])


def test_nested_layers_fit_and_evaluate_match_keras():
    ours, ref = _fit_pair(_nested, {"loss": "mse"}, (X, Y))
    assert len(ours.losses) == len(ref.losses) == 6
    np.testing.assert_allclose(
        ours.evaluate(X, Y, verbose=0), ref.evaluate(X, Y, verbose=0), rtol=1e-5
    )


def test_model_without_a_compiled_loss_trains_on_add_loss_alone():
    ours, ref = _fit_pair(_sequential, {}, (X,))
    np.testing.assert_allclose(ours.evaluate(X, verbose=0), ref.evaluate(X, verbose=0), rtol=1e-5)
    np.testing.assert_allclose(ours.train_on_batch(X[:8]), ref.train_on_batch(X[:8]), rtol=1e-5)
    assert_weights_close(ours, ref, rtol=1e-5, atol=1e-6)


def test_no_loss_at_all_raises_as_keras():
    for mod in (tk, ck):
        model = mod.Sequential([mod.Input((4,)), mod.layers.Dense(2)])
        model.compile(optimizer="sgd")
        with pytest.raises(ValueError, match="No loss to compute"):
            model.fit(X, epochs=1, verbose=0)
        with pytest.raises(ValueError, match="No loss to compute"):
            model.evaluate(X, verbose=0)


def test_first_add_loss_after_fit_started_is_seen():
    # the penalty switches on at the end of epoch 0: fit's cache of loss-adding layers was
    # made without it and must be reread at its first add_loss
    def switch_on(mod):
        class SwitchOn(mod.callbacks.Callback):
            def on_epoch_end(self, epoch, logs=None):
                self.model.layers[1].active = True

        return SwitchOn()

    def make(mod, classes):
        return _sequential(mod, classes, only_when_active=True)

    ours, ref = _fit_pair(make, {"loss": "mse"}, (X, Y), callbacks=switch_on)
    assert ours.layers[1]._adds_losses and len(ours.losses) == 1


def test_integer_and_non_scalar_terms_are_summed_as_keras():
    def make(mod):
        ops = mod.ops

        class Odd(mod.layers.Layer):
            def call(self, x):
                self.add_loss(ops.convert_to_tensor(np.array([1, 2], "int32")))
                self.add_loss(0.1 * ops.square(x[:2]))
                return x

        return mod.Sequential([mod.Input((4,)), Odd(), mod.layers.Dense(1)])

    ours, ref = make(ck), make(tk)
    ref.set_weights(ours.get_weights())
    y = Y[:, :1]
    for model in (ours, ref):
        model.compile(optimizer="sgd", loss="mse")
    np.testing.assert_allclose(
        ours.evaluate(X, y, verbose=0), ref.evaluate(X, y, verbose=0), rtol=1e-5
    )
    assert [t.shape for t in ours.losses] == [tuple(t.shape) for t in ref.losses]


def test_models_without_add_loss_keep_the_lossless_fast_path():
    model = ck.Sequential([ck.Input((4,)), ck.layers.Dense(3), ck.layers.Dense(2)])
    model.compile(optimizer="sgd", loss="mse")
    seen = []

    class Spy(ck.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            seen.append(model._fit_cache.lossless)

    model.fit(X, Y, epochs=1, batch_size=16, verbose=0, callbacks=[Spy()])
    assert seen == [True, True, True]
    before = layer_module.GENERATION[0]
    model(X[:2])  # calling adds nothing and moves nothing
    assert layer_module.GENERATION[0] == before and model.losses == []


def test_a_term_added_to_a_sequential_outside_call_is_dropped_by_the_next_step():
    ours, ref = _sequential(ck, OURS), _sequential(tk, REF)
    _same_weights(ours, ref)
    for model, mod, t in ((ours, ck, cr.tensor(100.0)), (ref, tk, torch.tensor(100.0))):
        model.compile(optimizer=mod.optimizers.SGD(0.05), loss="mse")
        model.add_loss(t)
    np.testing.assert_allclose(
        ours.train_on_batch(X[:8], Y[:8]), ref.train_on_batch(X[:8], Y[:8]), rtol=1e-5
    )
    ours.add_loss(cr.tensor(100.0))
    ref.add_loss(torch.tensor(100.0))
    np.testing.assert_allclose(
        ours.evaluate(X, Y, verbose=0), ref.evaluate(X, Y, verbose=0), rtol=1e-5
    )
    assert_weights_close(ours, ref, rtol=1e-5, atol=1e-6)
