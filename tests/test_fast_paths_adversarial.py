"""Adversarial checks of the training step's fast paths.

Each fast path (the engine's heap walk and single-output ``grad``, the fused ``dense``, the
one-node ``mse_mean``, fit's per-fit cache and ``_apply_from_fit``, the layer input-check
caches, the plain-array batches, the lazy imports) must give what the general path gives for
every input a user can pass. References: real Keras 3.15.1 (torch backend), PyTorch, float64
central differences, or the general path itself (the composite ops, a cache-free call, a
memmap that takes the converting batch path).
"""

import copy
import os
import pickle
import subprocess
import sys

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras as tk  # noqa: E402  (real Keras, the reference)
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

import chainrule as cr  # noqa: E402
from chainrule import keras as ck  # noqa: E402
from chainrule.keras.layers.rnn.masking import attach_mask  # noqa: E402
from chainrule.keras.losses import loss as loss_module  # noqa: E402
from chainrule.keras.variables import Variable  # noqa: E402

RNG = np.random.default_rng(1234)


def _f32(*shape):
    return RNG.normal(size=shape).astype("float32")


# -- engine ----------------------------------------------------------------------------------
def test_grad_wrt_a_tensor_whose_masked_twin_is_also_used():
    # attach_mask gives a second Tensor on the same node: one value, so d/dh sums both uses
    x = cr.tensor([1.0, -2.0, 0.5], dtype="float64", requires_grad=True)
    h = cr.tanh(x)
    hm = attach_mask(h, np.array([True, False, True]))
    loss = (h * 3.0 + hm * hm).sum()
    tx = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64, requires_grad=True)
    th = torch.tanh(tx)
    tloss = (th * 3.0 + th * th).sum()
    g_h, g_x = cr.grad(loss, [h, x])
    r_h, r_x = torch.autograd.grad(tloss, [th, tx])
    np.testing.assert_allclose(g_h, r_h.numpy(), rtol=1e-12)
    np.testing.assert_allclose(g_x, r_x.numpy(), rtol=1e-12)
    # only the masked twin used: the gradient still reaches h (it was 0 before)
    (g_only,) = cr.grad((hm * 2.0).sum(), [h])
    np.testing.assert_allclose(g_only, np.full(3, 2.0))
    # and with several outputs (the general path of grad)
    g_multi = cr.grad([(hm * 2.0).sum(), (h * 1.0).sum()], [h])[0]
    np.testing.assert_allclose(g_multi, np.full(3, 3.0))


def test_masked_leaf_passes_its_gradient_to_the_leaf():
    # a leaf has no node to share: attach_mask gives the masked output one (it was a separate
    # leaf, so the user's tensor got a zero gradient)
    x = cr.tensor([1.0, -2.0, 0.5], dtype="float64", requires_grad=True)
    xm = attach_mask(x, np.array([True, False, True]))
    (g,) = cr.grad((xm * xm).sum() + (x * 3.0).sum(), [x])
    tx = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64, requires_grad=True)
    ((tx * tx).sum() + (tx * 3.0).sum()).backward()
    np.testing.assert_allclose(g, tx.grad.numpy(), rtol=1e-12)
    assert xm._keras_mask.tolist() == [True, False, True]


def _random_graph(rng):
    """A random DAG in chainrule and torch: values reused many times, created in a random
    order, with masked twins sharing nodes."""
    nleaf = int(rng.integers(1, 4))
    leaves = [rng.normal(size=3) for _ in range(nleaf)]
    ct = [cr.tensor(a, requires_grad=True) for a in leaves]
    tt = [torch.tensor(a, requires_grad=True) for a in leaves]
    for _ in range(int(rng.integers(1, 12))):
        i, j = (int(k) for k in rng.integers(0, len(ct), 2))
        op = int(rng.integers(0, 6))
        if op == 0:
            c, t = ct[i] + ct[j], tt[i] + tt[j]
        elif op == 1:
            c, t = ct[i] * ct[j], tt[i] * tt[j]
        elif op == 2:
            c, t = cr.tanh(ct[i]), torch.tanh(tt[i])
        elif op == 3:
            c, t = ct[i] - ct[j] * 0.5, tt[i] - tt[j] * 0.5
        elif op == 4:
            c, t = ct[i].reshape(3, 1).reshape(3), tt[i].reshape(3, 1).reshape(3)
        elif ct[i]._node is not None:  # a masked twin of an intermediate: the same value
            c, t = attach_mask(ct[i], np.ones(3, bool)), tt[i]
        else:
            c, t = ct[i] * 1.0, tt[i] * 1.0
        ct.append(c)
        tt.append(t)
    return ct, tt


def test_random_graphs_match_torch_for_mixed_leaves_and_intermediates():
    torch_dtype = torch.get_default_dtype()
    rng = np.random.default_rng(7)
    checked = 0
    for _ in range(150):
        ct, tt = _random_graph(rng)
        idx = rng.choice(len(ct), size=int(rng.integers(1, len(ct) + 1)))
        out_c = sum((ct[k] * float(k + 1)).sum() for k in idx)
        out_t = sum((tt[k] * float(k + 1)).sum() for k in idx)
        wanted = [int(k) for k in rng.choice(len(ct), size=int(rng.integers(1, 6)))]
        got = cr.grad(out_c, [ct[k] for k in wanted])
        ref = torch.autograd.grad(out_t, [tt[k] for k in wanted], allow_unused=True)
        for g, r in zip(got, ref, strict=True):
            r = np.zeros(3) if r is None else r.numpy()
            np.testing.assert_allclose(g, r, rtol=1e-5, atol=1e-6)
            assert g.flags.writeable
        for a in range(len(got)):
            for b in range(a + 1, len(got)):
                assert not np.shares_memory(got[a], got[b])
        checked += 1
    assert checked == 150
    assert torch.get_default_dtype() == torch_dtype


def test_results_never_alias_each_other_or_the_seed():
    x = cr.tensor(_f32(4), requires_grad=True)
    y = x + 0.0  # add passes g through: y's and x's gradients would be one array
    z = y.reshape(2, 2).reshape(4)
    seed = np.ones(4, "float32")
    outs = cr.grad(z, [x, y, z, x], grad_outputs=seed)
    for g in outs:
        np.testing.assert_array_equal(g, seed)
        assert not np.shares_memory(g, seed)
    for a in range(4):
        for b in range(a + 1, 4):
            assert not np.shares_memory(outs[a], outs[b])
    s = (x * 1.0).sum()
    single = cr.grad(s, [s, x, x])  # the single-output path: the output itself, a leaf twice
    assert not np.shares_memory(single[1], single[2])
    np.testing.assert_array_equal(single[0], 1.0)


def test_output_that_is_a_leaf_and_graphs_built_out_of_order():
    x = cr.tensor(2.0, dtype="float64", requires_grad=True)
    assert cr.grad(x, [x])[0] == 1.0
    b = cr.exp(x)  # created first, used last
    a = x * 3.0
    c = a * a
    d = c + b * a
    tx = torch.tensor(2.0, dtype=torch.float64, requires_grad=True)
    tb = torch.exp(tx)
    ta = tx * 3.0
    td = ta * ta + tb * ta
    got = cr.grad(d, [a, b, x])
    ref = torch.autograd.grad(td, [ta, tb, tx])
    for g, r in zip(got, ref, strict=True):
        np.testing.assert_allclose(g, r.numpy(), rtol=1e-12)


def test_deep_chain_needs_no_recursion_and_is_exact():
    x = cr.tensor(1.0, dtype="float64", requires_grad=True)
    y = x
    n = 20000
    for _ in range(n):
        y = y * 1.0001
    (g,) = cr.grad(y, [x])
    np.testing.assert_allclose(g, 1.0001**n, rtol=1e-9)


def test_deepcopied_graph_shares_creation_numbers_with_the_original():
    x = cr.tensor([0.3, -0.7], dtype="float64", requires_grad=True)
    y = cr.tanh(x) * 2.0
    y2 = copy.deepcopy(y)  # nodes with the same seq as y's
    out = (y * y2).sum()
    g = cr.grad(out, [y, y2])
    np.testing.assert_allclose(g[0], y2.data)
    np.testing.assert_allclose(g[1], y.data)


def test_defvjp_all_user_op_against_central_differences():
    seen = []

    @cr.primitive(nargs=2)
    def scaled_prod(a, b, scale=1.0):
        return a * b * scale

    def rule(needs, g, out, a, b, scale=1.0):
        seen.append(needs)
        return (g * b * scale if 0 in needs else None, g * a * scale if 1 in needs else None)

    cr.defvjp_all(scaled_prod, rule)
    a = cr.tensor(RNG.normal(size=3), requires_grad=True)
    b = RNG.normal(size=3)
    (ga,) = cr.grad(scaled_prod(a, b, scale=2.5).sum(), [a])
    assert seen[-1] == (0,)
    (num,), w = cr.numerical_grad(lambda t: scaled_prod(t, b, scale=2.5).sum(), [a.data])
    np.testing.assert_allclose(ga * w, num, rtol=1e-6, atol=1e-8)  # w: the 0-d output's weight


def test_backward_twice_and_no_grad_inputs():
    x = cr.tensor([1.0, 2.0], dtype="float64", requires_grad=True)
    y = (x * x).sum()
    y.backward()
    y.backward()
    np.testing.assert_allclose(x.grad, 4 * x.data)
    with cr.no_grad():
        c = x * 2.0
    assert not c.requires_grad
    np.testing.assert_allclose(cr.grad((x * c).sum(), [x])[0], c.data)


# -- dense -------------------------------------------------------------------------------------
def _general_dense(x, k, b, activation):
    out = cr.add(cr.matmul(x, k), b)
    return cr.relu(out) if activation == "relu" else out


def _dense_case(name):
    cases = {
        "2d": (_f32(4, 3), _f32(3, 5), _f32(5)),
        "bias float64": (_f32(4, 3), _f32(3, 5), _f32(5).astype("float64")),
        "bias (1, units)": (_f32(4, 3), _f32(3, 5), _f32(1, 5)),
        "bias (batch, units)": (_f32(4, 3), _f32(3, 5), _f32(4, 5)),
        "bias 0-d": (_f32(4, 3), _f32(3, 5), np.array(0.3, "float32")),
        "bias python float": (_f32(4, 3), _f32(3, 5), 0.3),
        "int x": (RNG.integers(-3, 3, (4, 3)), _f32(3, 5), _f32(5)),
        "1-D x": (_f32(3), _f32(3, 5), _f32(5)),
        "3-D x": (_f32(2, 4, 3), _f32(3, 5), _f32(5)),
        "3-D x, (T, units) bias": (_f32(2, 4, 3), _f32(3, 5), _f32(4, 5)),
        "empty batch": (_f32(0, 3), _f32(3, 5), _f32(5)),
        "float64 x": (_f32(4, 3).astype("float64"), _f32(3, 5), _f32(5)),
        "transposed x": (_f32(3, 4).T, _f32(3, 5), _f32(5)),
    }
    return cases[name]


@pytest.mark.parametrize("activation", [None, "relu"])
@pytest.mark.parametrize("name", ["2d", "bias float64", "bias (1, units)", "bias (batch, units)",
                                  "bias 0-d", "bias python float", "int x", "1-D x", "3-D x",
                                  "3-D x, (T, units) bias", "empty batch", "float64 x",
                                  "transposed x"])  # fmt: skip
def test_dense_equals_matmul_add_relu(name, activation):
    arrays = _dense_case(name)
    results = []
    for fn in (lambda *a: cr.dense(*a, activation=activation),
               lambda *a: _general_dense(*a, activation)):  # fmt: skip
        args = [cr.tensor(a, requires_grad=True) if isinstance(a, np.ndarray)
                and a.dtype.kind == "f" else a for a in arrays]  # fmt: skip
        out = fn(*args)
        diff = [a for a in args if isinstance(a, cr.Tensor)]
        g = np.linspace(-1, 1, out.size).reshape(out.shape).astype(out.dtype)
        results.append((out.data, cr.grad(out, diff, grad_outputs=g)))
    (o1, g1), (o2, g2) = results
    assert o1.dtype == o2.dtype and o1.shape == o2.shape
    np.testing.assert_allclose(o1, o2, rtol=1e-6, atol=1e-6)
    for a, b in zip(g1, g2, strict=True):
        assert a.shape == b.shape and a.dtype == b.dtype
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    if name == "bias 0-d" or name == "2d":
        assert not np.shares_memory(o1, arrays[2])  # the bias is never written in place


def test_dense_nan_inf_and_variables_match_the_general_path():
    x = _f32(4, 3)
    x[0, 0], x[1, 1] = np.nan, np.inf
    k, b = Variable(_f32(3, 5)), Variable(_f32(5))
    with np.errstate(invalid="ignore"):
        for act in (None, "relu"):
            o1 = cr.dense(x, k, b, activation=act)
            o2 = _general_dense(x, k, b, act)
            np.testing.assert_array_equal(o1.data, o2.data)
            g1 = cr.grad(o1, [k, b], grad_outputs=np.ones(o1.shape, "float32"))
            g2 = cr.grad(o2, [k, b], grad_outputs=np.ones(o2.shape, "float32"))
            for a, r in zip(g1, g2, strict=True):
                np.testing.assert_array_equal(a, r)


@pytest.mark.parametrize("kshape", [(3,), (2, 3, 5)])
def test_dense_rejects_a_kernel_that_is_not_2d(kshape):
    # the fused rule is written for (in, units): a 1-D kernel gave an unclear error (or, for
    # a square x, a gradient of the wrong shape) only at backward time
    x = cr.tensor(_f32(3, 3), requires_grad=True)
    with pytest.raises(ValueError, match=r"kernel must be 2-D .*received kernel.shape"):
        cr.dense(x, _f32(*kshape), _f32(3))


# -- losses ------------------------------------------------------------------------------------
_MSE_CASES = {
    "(N,) vs (N,1)": (_f32(5), _f32(5, 1)),
    "(N,1) vs (N,)": (_f32(5, 1), _f32(5)),
    "(N,T) vs (N,T,1)": (_f32(4, 3), _f32(4, 3, 1)),
    "(N,T,1) vs (N,T)": (_f32(4, 3, 1), _f32(4, 3)),
    "int y_true": (RNG.integers(0, 3, size=(4, 3)), _f32(4, 3)),
    "float64 y_true": (RNG.normal(size=(4, 3)), _f32(4, 3)),
    "bool y_true": (RNG.integers(0, 2, size=(4, 3)).astype(bool), _f32(4, 3)),
    "0-d": (np.float32(1.5), np.float32(0.25)),
    "1-D": (_f32(4), _f32(4)),
    "empty (0,3)": (np.zeros((0, 3), "float32"), np.zeros((0, 3), "float32")),
    "empty (0,) vs (0,1)": (np.zeros((0,), "float32"), np.zeros((0, 1), "float32")),
}


@pytest.mark.parametrize("kwargs", [{}, {"reduction": "sum"}, {"reduction": None},
                                    {"reduction": "mean"}, {"dtype": "float64"}])  # fmt: skip
@pytest.mark.parametrize("case", list(_MSE_CASES))
def test_mse_matches_keras(case, kwargs):
    y_true, y_pred = _MSE_CASES[case]
    p = torch.tensor(np.asarray(y_pred), requires_grad=True)
    ref = tk.losses.MeanSquaredError(**kwargs)(torch.tensor(np.asarray(y_true)), p)
    ref_grad = torch.autograd.grad(ref, [p])[0].numpy() if ref.ndim == 0 and ref.numel() else None
    ref = ref.detach().numpy()
    as_tensor = [None] if np.asarray(y_true).dtype.kind != "f" else [None, False, True]
    for t_grad in as_tensor:
        t = y_true if t_grad is None else cr.tensor(y_true, requires_grad=t_grad)
        for fn in (ck.losses.MeanSquaredError(**kwargs), ck.losses.LossFunctionWrapper(
                ck.losses.mean_squared_error, **kwargs)):  # fmt: skip
            pred = cr.tensor(y_pred, requires_grad=True)
            got = fn(t, pred)
            assert got.shape == ref.shape
            np.testing.assert_allclose(got.numpy(), ref, rtol=1e-6, atol=1e-7)
            if ref_grad is not None:
                np.testing.assert_allclose(cr.grad(got, [pred])[0], ref_grad, rtol=1e-5,
                                           atol=1e-7)  # fmt: skip


@pytest.mark.parametrize("dtype", ["float32"])  # (the only dtype the fast means take)
def test_mse_fast_path_is_bit_identical_to_the_general_path(monkeypatch, dtype):
    y_pred = (RNG.normal(size=(300, 1)) * 3).astype(dtype)
    y_true = RNG.normal(size=300).astype(dtype)
    results = []
    for fast in (True, False):
        if not fast:
            monkeypatch.setattr(loss_module, "_FAST_MEANS", {})
        p = cr.tensor(y_pred, requires_grad=True)
        loss = ck.losses.MeanSquaredError(dtype=dtype)(y_true, p)
        assert (loss._node.op.name == "mse_mean") is fast
        results.append((loss.numpy(), cr.grad(loss, [p])[0]))
    assert results[0][0].dtype == results[1][0].dtype
    np.testing.assert_array_equal(results[0][0], results[1][0])
    np.testing.assert_array_equal(results[0][1], results[1][1])


# -- fit: the per-fit cache and _apply_from_fit against real Keras ------------------------------
X = RNG.normal(size=(64, 4)).astype("float32")
Y = RNG.normal(size=(64, 2)).astype("float32")


def _pair(first_kwargs=lambda m: {}):
    ours = ck.Sequential([ck.Input((4,)), ck.layers.Dense(8, "relu", **first_kwargs(ck)),
                          ck.layers.Dense(2)])  # fmt: skip
    ref = tk.Sequential([tk.Input((4,)), tk.layers.Dense(8, "relu", **first_kwargs(tk)),
                         tk.layers.Dense(2)])  # fmt: skip
    weights = [np.random.default_rng(0).uniform(-0.5, 0.5, w.shape).astype("float32")
               for w in ours.get_weights()]  # fmt: skip
    ours.set_weights(weights)
    ref.set_weights(weights)
    return ours, ref


def _fit_both(ours, ref, make_opt, epochs=3, change=None, fits=1):
    histories = []
    for model, mod in ((ours, ck), (ref, tk)):
        class Change(mod.callbacks.Callback):
            def on_epoch_end(self, epoch, logs=None, model=model, mod=mod):
                if epoch == 0 and change is not None:
                    change(model, mod)

        model.compile(optimizer=make_opt(mod), loss="mse")
        losses = []
        for _ in range(fits):
            h = model.fit(X, Y, batch_size=16, epochs=epochs, shuffle=False, verbose=0,
                          callbacks=[Change()])  # fmt: skip
            losses += h.history["loss"]
        histories.append(losses)
    np.testing.assert_allclose(histories[0], histories[1], rtol=2e-5, atol=1e-6)
    for a, b in zip(ours.get_weights(), ref.get_weights(), strict=True):
        np.testing.assert_allclose(a, np.asarray(b), rtol=2e-4, atol=2e-5)


def _freeze_layer(model, mod):
    model.layers[0].trainable = False


def _freeze_kernel(model, mod):
    model.layers[0].kernel.trainable = False


def _swap_optimizer(model, mod):
    model.optimizer = mod.optimizers.SGD(0.05)


def _add_activity_regularizer(model, mod):
    model.layers[0].activity_regularizer = mod.regularizers.L2(0.1)


def _remove_activity_regularizer(model, mod):
    model.layers[0].activity_regularizer = None


@pytest.mark.parametrize("change", [_freeze_layer, _freeze_kernel, _swap_optimizer,
                                    _add_activity_regularizer])  # fmt: skip
def test_callback_changes_take_effect_at_the_next_step_as_in_keras(change):
    # fit's cache kept the trainable list, the optimizer and the loss-carrying layers of the
    # fit's start: a frozen layer kept training, the old optimizer kept stepping, an added
    # activity regularizer was ignored
    ours, ref = _pair()
    _fit_both(ours, ref, lambda m: m.optimizers.Adam(0.01), change=change)


def test_removing_an_activity_regularizer_mid_fit_as_in_keras():
    ours, ref = _pair(lambda m: {"activity_regularizer": m.regularizers.L1(0.05)})
    _fit_both(ours, ref, lambda m: m.optimizers.Adam(0.01), change=_remove_activity_regularizer)


def test_regularizer_of_a_frozen_layer_is_not_in_the_loss():
    # Keras sums weight regularizers over model.trainable_weights only
    ours, ref = _pair(lambda m: {"kernel_regularizer": m.regularizers.L2(0.5)})
    ours.layers[0].trainable = False
    ref.layers[0].trainable = False
    _fit_both(ours, ref, lambda m: m.optimizers.Adam(0.01), epochs=2)
    assert ours.losses == []


@pytest.mark.parametrize("optimizer", ["SGD", "Adam"])
def test_loss_scale_factor_leaves_the_gradients_unscaled(optimizer):
    # apply() divides by loss_scale_factor; fit's step never multiplied the loss by it
    ours, ref = _pair()
    _fit_both(ours, ref, lambda m: getattr(m.optimizers, optimizer)(
        0.01, loss_scale_factor=8.0), epochs=2)  # fmt: skip


@pytest.mark.parametrize("frequency", [None, 3])
def test_use_ema_weights_end_as_their_averages(frequency):
    ours, ref = _pair()
    _fit_both(ours, ref, lambda m: m.optimizers.Adam(
        0.01, use_ema=True, ema_overwrite_frequency=frequency), epochs=2)  # fmt: skip


@pytest.mark.parametrize("layer_kwargs, opt_kwargs, name", [
    (lambda m: {"kernel_regularizer": m.regularizers.L2(0.01)}, {}, "Adam"),
    (lambda m: {"kernel_constraint": m.constraints.MaxNorm(0.3)}, {}, "Adam"),
    (lambda m: {"activity_regularizer": m.regularizers.L1(0.01)}, {}, "Adam"),
    (lambda m: {}, {"clipnorm": 0.01}, "Adam"),
    (lambda m: {}, {"global_clipnorm": 0.01}, "Adam"),
    (lambda m: {}, {"clipvalue": 0.001}, "Adam"),
    (lambda m: {}, {"weight_decay": 0.1}, "AdamW"),
    (lambda m: {}, {"gradient_accumulation_steps": 3}, "Adam"),
    (lambda m: {}, {"momentum": 0.9, "nesterov": True}, "SGD"),
])  # fmt: skip
def test_two_fits_with_optimizer_features_match_keras(layer_kwargs, opt_kwargs, name):
    ours, ref = _pair(layer_kwargs)
    _fit_both(ours, ref, lambda m: getattr(m.optimizers, name)(0.01, **opt_kwargs), epochs=2,
              fits=2)  # fmt: skip


def test_optimizer_shared_by_two_models_raises_naming_the_variable():
    a, _ = _pair()
    b, _ = _pair()
    opt = ck.optimizers.Adam(0.01)
    a.compile(optimizer=opt, loss="mse")
    b.compile(optimizer=opt, loss="mse")
    a.fit(X, Y, epochs=1, verbose=0)
    with pytest.raises(ValueError, match="Unknown variable"):
        b.fit(X, Y, epochs=1, verbose=0)


# -- layer and Sequential input caches ---------------------------------------------------------
def test_input_spec_cache_still_rejects_bad_shapes():
    layer = ck.layers.Dense(3)
    layer(np.zeros((2, 4), "float32"))
    for n in range(1, 12):  # more shapes than the cache remembers
        layer(np.zeros((n, 4), "float32"))
    with pytest.raises(ValueError, match="4"):
        layer(np.zeros((2, 5), "float32"))
    layer.input_spec = ck.layers.InputSpec(ndim=3)  # replaced after calls: enforced at once
    with pytest.raises(ValueError):
        layer(np.zeros((2, 4), "float32"))


def test_autocast_with_alternating_dtypes_and_a_changed_layer_dtype():
    layer = ck.layers.Dense(3)
    fresh = ck.layers.Dense(3)
    x = _f32(2, 4)
    layer(x)
    fresh(x)
    fresh.set_weights(layer.get_weights())
    for dt in ["float64", "float16", "float32", "float64", "float32"]:
        out = layer(x.astype(dt))
        assert out.dtype == np.float32
        np.testing.assert_array_equal(out.data, fresh(x.astype(dt).astype("float32")).data)
    layer.dtype = "float64"  # after building: inputs now cast to float64
    assert layer(x).dtype == np.float64


def test_sequential_rank_cache_with_many_batch_shapes():
    model = ck.Sequential([ck.Input((4, 1)), ck.layers.Flatten(), ck.layers.Dense(2)])
    for n in range(1, 12):
        assert model(np.zeros((n, 4, 1), "float32")).shape == (n, 2)
        assert model(np.zeros((n, 4), "float32")).shape == (n, 2)  # the trailing 1 added
    with pytest.raises(ValueError, match="incompatible shape"):
        model(np.zeros((3, 5, 1), "float32"))


# -- data adapter ------------------------------------------------------------------------------
def _fit_weights(x, y, **kw):
    cr.set_random_seed(3)
    model = ck.Sequential([ck.Input((4,)), ck.layers.Dense(2)])
    model.set_weights([np.full((4, 2), 0.1, "float32"), np.zeros(2, "float32")])
    model.compile(optimizer=ck.optimizers.SGD(0.1), loss="mse")
    model.fit(x, y, batch_size=8, epochs=2, shuffle=True, verbose=0, **kw)
    return model.get_weights()


def test_plain_array_batches_equal_the_converting_path(tmp_path):
    y = RNG.integers(0, 3, size=(40, 2))
    x = _f32(40, 4)
    memmap = np.lib.format.open_memmap(tmp_path / "x.npy", mode="w+", dtype="float64",
                                       shape=x.shape)  # fmt: skip
    memmap[...] = x
    plain = _fit_weights(x, y)  # the fast path: plain float32 x, int y
    for other in (_fit_weights(x.astype("float64"), y), _fit_weights(memmap, y),
                  _fit_weights(x, y.astype("float64"))):  # fmt: skip
        for a, b in zip(plain, other, strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-6)
    weighted = _fit_weights(x, y, sample_weight=np.ones(40, "float32"))
    for a, b in zip(plain, weighted, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6)


# -- lazy imports ------------------------------------------------------------------------------
def test_ops_pickle_by_reference():
    for op in (cr.relu, cr.dense, cr.add, cr.sum, cr.conv, cr.lstm_scan):
        assert pickle.loads(pickle.dumps(op)) is op


def test_lazy_names_and_seeding_in_fresh_interpreters():
    code = ("import chainrule as cr, pickle\n"
            "from chainrule import backend\n"
            "cr.set_random_seed(5)\n"
            "a = backend.rng().random()\n"
            "from chainrule.ops import lstm_scan\n"
            "assert cr.lstm_scan is lstm_scan and callable(cr.max_pool)\n"
            "assert 'gru_scan' in dir(cr)\n"
            "import chainrule.ops.conv\n"
            "assert callable(chainrule.ops.conv)\n"
            "assert pickle.loads(pickle.dumps(cr.gru_scan)) is cr.gru_scan\n"
            "print(a)\n")  # fmt: skip
    runs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True).stdout for _ in range(2)]  # fmt: skip
    assert runs[0] == runs[1] and float(runs[0]) == np.random.default_rng(5).random()
