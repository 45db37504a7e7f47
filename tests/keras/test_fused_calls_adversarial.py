"""Adversarial tests of the fused Conv2D(relu) -> MaxPooling2D(2) replays
(``keras/layers/fused_calls.py``, ``ops.pooling.conv_relu_max_pool``, the 2x2 routes of
``ops/_conv_fast.max_pool_2x2``).

The claim under test: a model that replays a pair as one op gives bit for bit what the two
layers' own calls give (values, gradients for the weights and the input, fits, predictions),
in every case; a pair that cannot be fused, or that changes after it was recorded, runs the
layers' own calls. References: the same model with the fusion off (``fuse_steps`` and
``fuse_node_steps`` patched to keep every step), the layers called one by one, and PyTorch.
Tests that fail document a fault in the code under test (see each docstring).
"""

from __future__ import annotations

import copy
import gc
import importlib
import os
import pickle
import weakref

os.environ.setdefault("KERAS_BACKEND", "torch")  # (before any import of real Keras)

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import chainrule as cr
from chainrule import keras
from chainrule.keras.layers import convolutional, fused_calls, pooling
from chainrule.ops import _conv_fast
from chainrule.ops import pooling as pooling_ops

from ._direct_calls_util import layer_by_layer, recorded

L = keras.layers


# -- helpers -----------------------------------------------------------------------------------
def _images(n=6, size=10, channels=2, seed=0, dtype="float32"):
    """Random images with ties: a flat image, a constant negative image, flat patches."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, size, size, channels))
    x[0] = 0.0
    if n > 1:
        x[1] = -1.0
    if n > 2:
        x[2, 2:6, 2:6] = 0.5
    return x.astype(dtype), rng.integers(0, 3, n)


def _pairs(model):
    """The fused pairs in ``model``'s records (a functional model's entries are ``(step,
    input id, output id[, True])``, or None)."""
    steps = [s for steps in recorded(model).values() for s in steps if s is not None]
    steps = [s[0] if isinstance(s[0], tuple) else s for s in steps]
    return [s[0] for s in steps if isinstance(s[0], fused_calls.ConvReluPool)]


def _fusion_off(mp):
    from chainrule.keras.models import functional, sequential  # noqa: PLC0415

    mp.setattr(sequential, "fuse_steps", tuple)
    mp.setattr(functional, "fuse_node_steps", lambda record, read_once: tuple(record))


def _probe(model, x, inf_grad=False):
    """Predictions, a replayed call's output and its gradients (input and weights)."""
    with np.errstate(all="ignore"):  # (NaN and inf inputs: inf - inf, inf * 0 in the GEMMs)
        return _probe_quiet(model, x, inf_grad)


def _probe_quiet(model, x, inf_grad):
    model(x)  # records the array key
    pred = model(x).numpy()
    model(cr.tensor(x, requires_grad=True))  # records the Tensor key
    t = cr.tensor(x, requires_grad=True)
    out = model(t)
    g = np.random.default_rng(7).standard_normal(out.shape).astype(out.dtype)
    if inf_grad:  # non-finite upstream gradients
        g.reshape(-1)[::5] = np.inf
        g.reshape(-1)[1::7] = -np.inf
        g.reshape(-1)[2::9] = np.nan
    grads = cr.grad((out * g).sum(), [t, *model.trainable_weights])
    return [pred, out.numpy(), *grads]


def _same(a, b):
    assert len(a) == len(b)
    for u, v in zip(a, b, strict=True):
        u, v = np.asarray(u), np.asarray(v)
        assert u.dtype == v.dtype and u.shape == v.shape
        np.testing.assert_array_equal(u, v)  # NaN where NaN
        np.testing.assert_array_equal(np.signbit(u), np.signbit(v))


def _fused_vs_plain(build, run, fused_pairs=True):
    """``run(build())`` with the fusion on and off; asserts whether the fused model used a
    pair, and that the unfused one did not."""
    model = build()
    got = run(model)
    assert bool(_pairs(model)) == fused_pairs
    with pytest.MonkeyPatch.context() as mp:
        _fusion_off(mp)
        plain_model = build()
        want = run(plain_model)
        assert _pairs(plain_model) == []
    _same(got, want)
    return model


def _seq(*layers, shape=(10, 10, 2), dtype=None, seed=0, head=True):
    def build():
        cr.set_random_seed(seed)
        made = [la() if callable(la) and not isinstance(la, keras.layers.Layer) else la
                for la in layers]  # fmt: skip
        tail = [L.Flatten(dtype=dtype), L.Dense(3, dtype=dtype)] if head else []
        model = keras.Sequential([keras.Input(shape), *made, *tail])
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        model.compile(optimizer=keras.optimizers.Adam(0.01), loss=loss)
        return model

    return build


def _conv(*a, **k):
    return lambda: L.Conv2D(*a, activation="relu", **k)


def _pool(**k):
    return lambda: L.MaxPooling2D(2, **k)


def _fit(model, x, y, epochs=2, batch_size=4):
    hist = model.fit(x, y, batch_size=batch_size, epochs=epochs, verbose=0, shuffle=False)
    return [np.array(hist.history["loss"]), *model.get_weights(), model.predict(x, verbose=0)]


# -- 1. fused models equal the unfused ones ---------------------------------------------------
class _PlainSubConv(L.Conv2D):  # a subclass without its own call: fusable, same numbers
    pass


class _PlainSubPool(L.MaxPooling2D):
    pass


class _DunderConv(L.Conv2D):  # its own __call__: no direct call at all
    def __call__(self, *args, **kwargs):
        return super().__call__(*args, **kwargs)


class _OwnCallPool(L.MaxPooling2D):
    def call(self, inputs):
        return super().call(inputs) + 0.0


_HUGE = keras.initializers.Constant(9000.0)  # float16 sums overflow to +-inf
_CASES = {
    "base": ((_conv(4, 3), _pool()), {}),
    "no_bias": ((_conv(4, 3, use_bias=False), _pool()), {}),
    "groups": ((_conv(4, 3, groups=2), _pool()), {"channels": 4}),
    "strides": ((_conv(3, 3, strides=2), _pool()), {"size": 15}),  # 7x7: a dropped row
    "dilation": ((_conv(3, 2, dilation_rate=2), _pool()), {"size": 11}),
    "same_odd": ((_conv(3, 3, padding="same"), _pool()), {"size": 11}),  # a dropped row
    "pool_same_even": ((_conv(3, 3), _pool(padding="same")), {}),
    "kernel_1x1": ((_conv(3, 1), _pool()), {}),
    "two_pairs": ((_conv(3, 3, padding="same"), _pool(), _conv(4, 3, padding="same"),
                   _pool()), {"size": 12}),  # fmt: skip
    "conv_conv_pool": ((_conv(3, 3), _conv(3, 3), _pool()), {"size": 12}),
    "subclasses": ((lambda: _PlainSubConv(3, 3, activation="relu"), _PlainSubPool), {}),
    "float64": ((lambda: L.Conv2D(3, 3, activation="relu", dtype="float64"),
                 lambda: L.MaxPooling2D(dtype="float64")), {"dtype": "float64"}),  # fmt: skip
    "float16": ((lambda: L.Conv2D(3, 3, activation="relu", dtype="float16"),
                 lambda: L.MaxPooling2D(dtype="float16")), {"dtype": "float16"}),  # fmt: skip
    "float16_overflow": ((lambda: L.Conv2D(3, 3, activation="relu", dtype="float16",
                                           kernel_initializer=_HUGE),
                          lambda: L.MaxPooling2D(dtype="float16")), {"dtype": "float16"}),
    # not fusable: the layers' own calls, and the same numbers
    "dunder_conv": ((lambda: _DunderConv(3, 3, activation="relu"), _pool()), {"fused": False}),
    "own_call_pool": ((_conv(3, 3), _OwnCallPool), {"fused": False}),
    "pool_float64": ((_conv(3, 3), lambda: L.MaxPooling2D(dtype="float64")), {"fused": False}),
    "pool_no_autocast": ((_conv(3, 3), lambda: L.MaxPooling2D(dtype="float16", autocast=False)),
                         {}),  # (its input stays float32: fusable)
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(_CASES))
@pytest.mark.parametrize("special", [None, "nan_inf"])
def test_fused_values_and_gradients_equal_the_layers_own(case, special):
    layers, opts = _CASES[case]
    dtype = opts.get("dtype", "float32")
    x, _ = _images(size=opts.get("size", 10), channels=opts.get("channels", 2), dtype=dtype)
    if special:
        x[3, 1, 1, 0] = np.nan
        x[4, 5, 5, 1] = np.inf
        x[5, 6, 2, 0] = -np.inf
    build = _seq(*layers, shape=x.shape[1:], dtype=opts.get("dtype"))
    _fused_vs_plain(build, lambda m: _probe(m, x, inf_grad=bool(special)),
                    opts.get("fused", True))  # fmt: skip


@settings(max_examples=20, deadline=None, derandomize=True)
@given(size=st.integers(5, 12), kernel=st.integers(1, 3), strides=st.integers(1, 2),
       dilation=st.integers(1, 2), conv_same=st.booleans(), pool_same=st.booleans(),
       groups=st.sampled_from([1, 2]), bias=st.booleans(), batch=st.integers(1, 3),
       seed=st.integers(0, 99))  # fmt: skip
def test_random_pairs_equal_the_unfused(size, kernel, strides, dilation, conv_same, pool_same,
                                        groups, bias, batch, seed):  # fmt: skip
    if strides > 1 and dilation > 1:
        dilation = 1  # (refused together, as Keras)
    pad = "same" if conv_same else "valid"
    n = size if conv_same else size - (kernel - 1) * dilation
    assume(n >= 2 and -(-n // strides) >= 2)  # a conv output the 2x2 pool can take
    x, _ = _images(n=batch, size=size, channels=2 * groups, seed=seed)
    args = {"strides": strides, "dilation_rate": dilation, "padding": pad, "groups": groups,
            "use_bias": bias}  # fmt: skip
    conv = _conv(2 * groups, kernel, **args)
    build = _seq(conv, _pool(padding="same" if pool_same else "valid"), shape=x.shape[1:])
    o = -(-n // strides)
    _fused_vs_plain(build, lambda m: _probe(m, x), fused_pairs=not pool_same or o % 2 == 0)


@pytest.mark.parametrize("case", ["base", "groups", "two_pairs", "no_bias"])
def test_fused_fits_equal_the_unfused_bit_for_bit(case):
    layers, opts = _CASES[case]
    dtype = opts.get("dtype", "float32")
    size, channels = opts.get("size", 10), opts.get("channels", 2)
    x, y = _images(n=7, size=size, channels=channels, dtype=dtype)  # last batches of 3 and 1
    build = _seq(*layers, shape=x.shape[1:], dtype=opts.get("dtype"))
    _fused_vs_plain(build, lambda m: _fit(m, x, y) + _fit(m, x[:5], y[:5], epochs=1))


def test_batch_of_one_evaluate_and_train_on_batch_equal_the_unfused():
    x, y = _images(n=7)

    def run(m):
        out = [m.predict(x[:1], verbose=0), m.predict(x[:1], verbose=0)]
        out += [m.predict(x, batch_size=3, verbose=0) for _ in range(2)]  # a last batch of 1
        out += [m(x, training=t).numpy() for t in (True, False, True, False)]
        out += [np.array(m.evaluate(x, y, verbose=0, batch_size=2))]
        out += [np.array(m.train_on_batch(x, y)) for _ in range(3)]
        return [*out, *m.get_weights()]

    _fused_vs_plain(_seq(_conv(4, 3), _pool()), run)


def test_regularizers_and_constraints_fit_as_unfused():
    x, y = _images(n=8)
    conv = lambda: L.Conv2D(4, 3, activation="relu", kernel_regularizer="l2",  # noqa: E731
                            bias_regularizer=keras.regularizers.L1(0.1),
                            kernel_constraint=keras.constraints.MaxNorm(0.5),
                            bias_constraint=keras.constraints.NonNeg())  # fmt: skip
    _fused_vs_plain(_seq(conv, _pool()), lambda m: _fit(m, x, y, epochs=2))


def test_an_activity_regularizer_keeps_the_layers_own_calls():
    x, y = _images(n=8)
    conv = lambda: L.Conv2D(4, 3, activation="relu", activity_regularizer="l2")  # noqa: E731
    _fused_vs_plain(_seq(conv, _pool()), lambda m: _fit(m, x, y, epochs=2), fused_pairs=False)


def test_a_frozen_conv_or_pool_still_gives_the_unfused_gradients():
    x, y = _images()

    def run(m):
        m.layers[0].trainable = False
        m.compile(optimizer="sgd", loss="mse")
        return _probe(m, x)

    _fused_vs_plain(_seq(_conv(4, 3), _pool()), run)


def test_the_same_layer_twice_in_one_sequential_is_refused_as_keras_does():
    # Keras 3.15.1 refuses it too ("All layers added to a Sequential model should have unique
    # names"): a pair can never meet itself in a Sequential's steps
    conv = L.Conv2D(2, 3, padding="same", activation="relu")
    with pytest.raises(ValueError, match="already in this Sequential"):
        keras.Sequential([keras.Input((12, 12, 2)), conv, L.MaxPooling2D(2), conv])


def test_the_same_pair_applied_twice_in_one_functional_model():
    def build():
        cr.set_random_seed(0)
        conv, pool = L.Conv2D(2, 3, padding="same", activation="relu"), L.MaxPooling2D(2)
        inp = keras.Input((12, 12, 2))
        return keras.Model(inp, L.Dense(3)(L.Flatten()(pool(conv(pool(conv(inp)))))))

    x, _ = _images(size=12)
    counts = []

    def run(m):
        got = _probe(m, x)
        counts.append(len(_pairs(m)))
        return got

    _fused_vs_plain(build, run)
    assert counts == [4, 0]  # two pairs per key, fused; none unfused


def test_a_custom_loop_with_chainrule_grad_equals_the_unfused():
    x, y = _images(n=8)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    def run(m):
        opt, out = keras.optimizers.SGD(0.1, momentum=0.9), []
        for i in range(4):
            xb, yb = x[i % 2 * 4 : i % 2 * 4 + 4], y[i % 2 * 4 : i % 2 * 4 + 4]
            loss = loss_fn(yb, m(xb, training=True))
            grads = cr.grad(loss, m.trainable_weights)
            opt.apply(grads, m.trainable_weights)
            out += [loss.numpy(), *grads]
        return out

    _fused_vs_plain(_seq(_conv(4, 3), _pool()), run)


def test_a_sequential_subclass_with_its_own_train_step():
    x, y = _images(n=8)

    class Stepper(keras.Sequential):
        def train_step(self, data):
            xb, yb = data
            loss = self.compute_loss(xb, yb, self(xb, training=True))
            self.optimizer.apply(cr.grad(loss, self.trainable_weights), self.trainable_weights)
            return {"loss": loss}

    def build():
        cr.set_random_seed(0)
        model = Stepper([keras.Input((10, 10, 2)), L.Conv2D(4, 3, activation="relu"),
                         L.MaxPooling2D(2), L.Flatten(), L.Dense(3)])  # fmt: skip
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        return model

    _fused_vs_plain(build, lambda m: _fit(m, x, y))


# -- 2. functional models and nesting ----------------------------------------------------------
def _functional(branch=False, conv_out=False):
    def build():
        cr.set_random_seed(0)
        inp = keras.Input((10, 10, 2))
        c = L.Conv2D(4, 3, activation="relu")(inp)
        p = L.Flatten()(L.MaxPooling2D(2)(c))
        outs = L.Dense(3)(p)
        if branch:  # a second reader of the conv output
            outs = L.Add()([outs, L.Dense(3)(L.GlobalAveragePooling2D()(c))])
        model = keras.Model(inp, [outs, c] if conv_out else outs)
        model.compile(optimizer="adam", loss="mse")
        return model

    return build


def _probe_multi(model, x):
    model(x)
    out = model(x)
    outs = out if isinstance(out, (list, tuple)) else [out]
    t = cr.tensor(x, requires_grad=True)
    model(t)
    res = model(t)
    res = res if isinstance(res, (list, tuple)) else [res]
    total = sum((r * (i + 1.5)).sum() for i, r in enumerate(res))
    return [o.numpy() for o in outs] + cr.grad(total, [t, *model.trainable_weights])


@pytest.mark.parametrize("branch,conv_out,fused", [(False, False, True), (True, False, False),
                                                   (False, True, False)])  # fmt: skip
def test_functional_models_equal_the_unfused(branch, conv_out, fused):
    x, _ = _images()
    _fused_vs_plain(_functional(branch, conv_out), lambda m: _probe_multi(m, x), fused)


def test_a_functional_model_made_from_a_sequentials_layer_outputs():
    x, _ = _images()
    seq = _seq(_conv(4, 3), _pool(), _conv(3, 3, padding="same"), _pool())

    def run(m):
        sub = keras.Model(m.inputs, [m.layers[1].output, m.layers[2].output])
        ref = layer_by_layer(m, x)
        return _probe_multi(sub, x) + [m(x).numpy(), ref.numpy()]

    _fused_vs_plain(seq, run)


@pytest.mark.parametrize("outer", ["sequential", "functional"])
def test_a_sequential_nested_in_another_model(outer):
    x, _ = _images()

    def build():
        inner = _seq(_conv(4, 3), _pool(), head=False)()
        cr.set_random_seed(1)
        if outer == "sequential":
            return keras.Sequential([keras.Input((10, 10, 2)), inner, L.Flatten(), L.Dense(3)])
        inp = keras.Input((10, 10, 2))
        return keras.Model(inp, L.Dense(3)(L.Flatten()(inner(inp))))

    counts = []

    def run(m):
        got = _probe(m, x)
        inner = [la for la in m.layers if isinstance(la, keras.Sequential)][0]
        counts.append(len(_pairs(inner)))
        return got

    _fused_vs_plain(build, run, fused_pairs=False)  # (the outer model holds no pair)
    assert counts[0] > 0 and counts[1] == 0  # the inner Sequential replays its pair


def test_a_model_on_images_of_any_size_builds_as_keras_does():
    """Fault (not the fusion's; found on the way): a symbolic call stands an unknown spatial
    size in by 2 (``input_layer.symbolic_call`` placeholders), so a 3x3 "valid" Conv2D after
    ``Input((None, None, 2))`` is refused at build ("the output size would be 0"), in a
    Sequential and in a functional model; Keras 3.15.1 builds both."""
    import keras as real  # noqa: PLC0415

    want = real.Sequential([real.Input((None, None, 2)), real.layers.Conv2D(3, 3),
                            real.layers.MaxPooling2D(2, padding="same")]).output_shape  # fmt: skip
    model = keras.Sequential([keras.Input((None, None, 2)), L.Conv2D(3, 3),
                              L.MaxPooling2D(2, padding="same")])  # fmt: skip
    assert model.output_shape == want


def test_inputs_of_any_size_fuse_only_where_the_same_pool_pads_nothing():
    def build():
        cr.set_random_seed(0)
        return keras.Sequential([keras.Input((None, None, 2)),
                                 L.Conv2D(3, 3, activation="relu", padding="same"),
                                 L.MaxPooling2D(2, padding="same"),
                                 L.GlobalMaxPooling2D()])  # fmt: skip

    images = [_images(size=s, seed=s)[0] for s in (10, 11, 10, 11)]  # 11x11: the pool pads
    _fused_vs_plain(build, lambda m: [r for x in images for r in _probe(m, x)])


def test_integer_images_cast_by_the_model_equal_the_unfused():
    x = np.random.default_rng(0).integers(0, 256, (5, 10, 10, 2)).astype("uint8")
    x[0] = 7  # a flat image

    def run(m):
        m(x)
        return [m(x).numpy(), m.predict(x, verbose=0)]

    _fused_vs_plain(_seq(_conv(4, 3), _pool()), run)


# -- 3. changes after a pair was recorded -----------------------------------------------------
def _scaled(fn):
    def call(self, inputs):
        return fn(self, inputs) * 0.5

    return call


_CHANGES = {
    "conv_strides": lambda c, p, mp: setattr(c, "strides", (2, 2)),
    "conv_dilation": lambda c, p, mp: setattr(c, "dilation_rate", (2, 2)),
    "conv_padding": lambda c, p, mp: setattr(c, "padding", "same"),
    "pool_size": lambda c, p, mp: setattr(p, "pool_size", (3, 3)),
    "pool_strides": lambda c, p, mp: setattr(p, "strides", (1, 1)),
    "pool_format": lambda c, p, mp: setattr(p, "data_format", "channels_first"),
    "conv_activation": lambda c, p, mp: setattr(c, "activation", keras.activations.gelu),
    "bias_none": lambda c, p, mp: setattr(c, "bias", None),
    "kernel_assign": lambda c, p, mp: c.kernel.assign(c.kernel.numpy() * -1.0),
    "instance_call": lambda c, p, mp: setattr(p, "call", lambda inputs: inputs * 0.5),
    "class_call_conv2d": lambda c, p, mp: mp.setattr(L.Conv2D, "call",
                                                     _scaled(convolutional.BaseConv.call)),
    # the base classes the pair checks against: replaced there, the layers' calls change
    "class_call_baseconv": lambda c, p, mp: mp.setattr(convolutional.BaseConv, "call",
                                                       _scaled(convolutional.BaseConv.call)),
    "class_call_basepool": lambda c, p, mp: mp.setattr(pooling.BasePooling, "call",
                                                       _scaled(pooling.BasePooling.call)),
    # the ops the layers' calls look up on every call
    "ops_max_pool": lambda c, p, mp: mp.setattr(
        cr.ops, "max_pool", lambda *a, f=cr.ops.max_pool, **k: f(*a, **k) * 0.5),
    "ops_conv": lambda c, p, mp: mp.setattr(
        cr.ops, "conv", lambda *a, f=cr.ops.conv, **k: f(*a, **k) * 0.5),
}  # fmt: skip


def _bare_pair(kind, pool_padding="valid"):
    """Input -> Conv2D(4, 3, relu) -> MaxPooling2D(2), as a Sequential or a functional model."""
    if kind == "sequential":
        return _seq(_conv(4, 3), _pool(padding=pool_padding), head=False)()
    cr.set_random_seed(0)
    inp = keras.Input((10, 10, 2))
    return keras.Model(inp, L.MaxPooling2D(2, padding=pool_padding)(_conv(4, 3)()(inp)))


@pytest.mark.parametrize("kind", ["sequential", "functional"])
@pytest.mark.parametrize("change", sorted(_CHANGES))
def test_a_pair_changed_after_recording_runs_the_layers_own_calls(change, kind, monkeypatch):
    """Faults: ``class_call_baseconv``, ``class_call_basepool`` (``fused_calls._own_calls``
    compares the layer's class's call with the base class's call as it is *now*, so a call
    replaced on BaseConv/BasePooling itself still looks "own"), ``ops_max_pool``, ``ops_conv``
    (the fused op never looks up ``ops.conv``/``ops.max_pool``, which the layers' calls do)."""
    x, _ = _images()
    model = _bare_pair(kind)
    model(x)
    model(x)
    assert _pairs(model)
    conv, pool = (la for la in model.layers if not isinstance(la, L.InputLayer))
    _CHANGES[change](conv, pool, monkeypatch)
    np.testing.assert_array_equal(model(x).numpy(), layer_by_layer(model, x).numpy())
    t = cr.tensor(x, requires_grad=True)
    model(t)
    got = cr.grad(model(t).sum(), [t])[0]
    np.testing.assert_array_equal(got, cr.grad(layer_by_layer(model, t).sum(), [t])[0])


@pytest.mark.parametrize("kind", ["sequential", "functional"])
def test_a_kernel_of_another_size_before_a_same_padded_pool(kind):
    """Fault: ``fused_calls.ConvReluPool.call`` (``_config``) does not check the kernel's
    spatial size. The pair was fused because the conv output (8x8) was even, so the "same"
    pool padded nothing; a plain-Tensor kernel of another size (no GENERATION move) makes it
    7x7, which the pool's own call pads to 4x4 but the fused op crops to 3x3."""
    x, _ = _images()
    model = _bare_pair(kind, "same")
    model(x)
    model(x)
    assert _pairs(model)
    conv = [la for la in model.layers if isinstance(la, L.Conv2D)][0]
    conv.kernel = cr.tensor(np.random.default_rng(3).standard_normal((4, 4, 2, 4)), "float32")
    want = layer_by_layer(model, x).numpy()
    assert want.shape == (6, 4, 4, 4)
    np.testing.assert_array_equal(model(x).numpy(), want)


def test_sequential_pop_after_a_fused_replay():
    x, _ = _images()
    model = _seq(_conv(4, 3), _pool(), head=False)()
    model(x)
    model(x)
    assert _pairs(model)
    model.pop()
    np.testing.assert_array_equal(model(x).numpy(), layer_by_layer(model, x).numpy())
    model.add(L.MaxPooling2D(2, strides=1))
    model(x)
    np.testing.assert_array_equal(model(x).numpy(), layer_by_layer(model, x).numpy())


def test_an_activity_regularizer_set_after_recording_adds_its_loss():
    x, _ = _images()
    counts = []

    def run(m):
        m(x)
        m(x)
        counts.append(len(_pairs(m)))
        m.layers[0].activity_regularizer = keras.regularizers.L2(0.1)
        out = m(x)
        return [out.numpy(), *(loss.numpy() for loss in m.losses)]

    _fused_vs_plain(_seq(_conv(4, 3), _pool()), run, fused_pairs=False)  # (none after)
    assert counts == [1, 0]


def test_layers_shared_by_two_models_and_changed_through_one():
    x, _ = _images()
    a = _seq(_conv(4, 3), _pool(), head=False)()
    b = keras.Sequential([keras.Input((10, 10, 2)), *a.layers])
    for m in (a, b, a, b):
        m(x)
    assert _pairs(a) and _pairs(b)
    b.layers[1].pool_size = (3, 3)
    b.layers[1].strides = (3, 3)
    for m in (a, b):
        np.testing.assert_array_equal(m(x).numpy(), layer_by_layer(m, x).numpy())


# -- 4. copies, saving, summary ---------------------------------------------------------------
@pytest.mark.parametrize("how", ["deepcopy", "pickle", "save"])
def test_a_copy_of_a_model_that_replayed_fused_steps(how, tmp_path):
    x, y = _images(n=8)
    model = _seq(_conv(4, 3), _pool())()
    _fit(model, x, y, epochs=1)
    assert _pairs(model)
    if how == "deepcopy":
        twin = copy.deepcopy(model)
    elif how == "pickle":
        twin = pickle.loads(pickle.dumps(model))
    else:
        model.save(tmp_path / "m.keras")
        twin = keras.saving.load_model(tmp_path / "m.keras")
    a, b = _probe(model, x), _probe(twin, x)
    _same(a, b)
    assert _pairs(twin) and all(p.conv is twin.layers[0] for p in _pairs(twin))
    twin.compile(optimizer=keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy")
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy")
    _same(_fit(model, x, y), _fit(twin, x, y))


def test_summary_after_fused_replays_lists_both_layers(capsys):
    x, y = _images(n=8)
    model = _seq(_conv(4, 3), _pool())()
    _fit(model, x, y, epochs=1)
    model.summary()
    text = capsys.readouterr().out
    assert "(None, 8, 8, 4)" in text and "(None, 4, 4, 4)" in text


# -- 5. grad mode, records and memory ---------------------------------------------------------
def test_no_grad_and_frozen_inputs_find_no_routes_and_record_no_node(monkeypatch):
    x, _ = _images()
    model = _seq(_conv(4, 3), _pool())()
    t = cr.tensor(x, requires_grad=True)
    model(t)
    assert _pairs(model)
    routes = []
    real = _conv_fast.max_pool_2x2
    monkeypatch.setattr(_conv_fast, "max_pool_2x2",
                        lambda z, r=None: routes.append(r) or real(z, r))  # fmt: skip
    with cr.no_grad():
        out = model(t)
    assert out._node is None and routes == [None]
    model(x)
    out = model(x)  # an array input and the grad mode on: the weights need the routes
    assert out._node is not None and routes[-1] and len(routes[-1]) == 1
    frozen = cr.tensor(x)
    for w in model.layers[0].weights:
        w.trainable = False
    model(frozen)
    model(frozen)  # nothing before the pooling needs a gradient: no routes
    assert routes[-1] is None
    out = model(t)
    assert out._node is not None and routes[-1] and len(routes[-1]) == 1


def _weakrefs(items, into):
    for item in items:
        if isinstance(item, (list, tuple)):
            _weakrefs(item, into)
        elif item is not None:
            into.append(weakref.ref(item))


@pytest.mark.parametrize("fused", [True, False])
def test_nothing_of_the_forward_outlives_the_graph(fused, monkeypatch):
    """The windows, pre-activations, routes and masks a node keeps die with the graph, by
    reference counting alone (no cycle left for the collector), fused or not."""
    conv_ops = importlib.import_module("chainrule.ops.conv")  # (ops.conv is the function)
    if not fused:
        _fusion_off(monkeypatch)
    x, y = _images(n=8)
    model = _seq(_conv(4, 3), _pool())()
    model.train_on_batch(x, y)
    model(x)
    kept = []

    def spying(module, name):
        real = getattr(module, name)

        def spy(*a, saved=None, **k):
            out = real(*a, saved=saved, **k)
            _weakrefs(saved or (), kept)
            return out

        monkeypatch.setattr(module, name, spy)

    spying(pooling_ops, "conv_relu_max_pool_general")
    spying(pooling_ops, "pool_general")
    spying(conv_ops, "conv_general")
    gc.collect()
    gc.disable()
    try:
        model.train_on_batch(x, y)
        alive_after_fit = [r for r in kept if r() is not None]
        count = len(kept)
        t = cr.tensor(x, requires_grad=True)
        model(t)
        out = model(t)
        cr.grad(out.sum(), [t])
        del out, t
        alive_after_grad = [r for r in kept if r() is not None]
    finally:
        gc.enable()
    assert count == (5 if fused else 4)  # windows, pre-activation or mask, routes (2)[, mask]
    assert alive_after_fit == [] and alive_after_grad == []


# -- 6. against PyTorch -------------------------------------------------------------------------
def test_a_fused_model_matches_torch_values_and_input_gradients():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((3, 13, 11, 4))
    cr.set_random_seed(0)
    model = keras.Sequential([keras.Input((13, 11, 4)), L.Conv2D(
        6, 3, strides=1, dilation_rate=2, groups=2, activation="relu", dtype="float64",
        padding="same"), L.MaxPooling2D(2, dtype="float64")])  # fmt: skip
    t = cr.tensor(x, requires_grad=True)
    model(t)
    out = model(t)
    assert _pairs(model)
    g = rng.standard_normal(out.shape)
    gx = cr.grad((out * g).sum(), [t])[0]
    kernel, bias = (w.numpy() for w in model.layers[0].weights)
    tx = torch.tensor(x.transpose(0, 3, 1, 2), requires_grad=True)
    z = F.conv2d(tx, torch.tensor(kernel.transpose(3, 2, 0, 1)), torch.tensor(bias),
                 dilation=2, groups=2, padding="same")  # fmt: skip
    ty = F.max_pool2d(F.relu(z), 2)
    (ty * torch.tensor(g.transpose(0, 3, 1, 2))).sum().backward()
    np.testing.assert_allclose(out.numpy(), ty.detach().numpy().transpose(0, 2, 3, 1),
                               rtol=1e-12, atol=1e-12)  # fmt: skip
    np.testing.assert_allclose(gx, tx.grad.numpy().transpose(0, 2, 3, 1), rtol=1e-12,
                               atol=1e-12)  # fmt: skip
