"""Adversarial tests of the seed-step speed changes of commit c3efe42.

Under test: ``SGD._sgd_steps`` (every variable in one loop, constants made per dtype),
``Optimizer._apply_from_fit``'s ``attrgetter`` checks of the extras, ``LossTracker.add``
without its outer float32 conversions, ``_fused._mse_mean_dpred``'s kept scale
(``_MSE_SCALES``) and ``array_step._Plan.kept``'s list equality.

References: real Keras 3.15.1 (torch backend), PyTorch (CPU) autograd, the parent commit's
rules written out here in NumPy (compared bit for bit), and the ordinary training step
(``compile(..., jit_compile=False)``, compared bit for bit). The ``taken`` fixture counts the
steps fit ran as array steps.

Found by this file, and fixed (the tests now pass): a method patched on a layer class with
an object that compares equal to chainrule's own (a wrapt-style proxy, a MagicMock with a
configured ``__eq__``) was skipped by the array step; one whose ``__eq__`` raised made ``fit``
raise; the sign of a zero MSE gradient depended on earlier calls (``-0.0 == 0.0`` in the
scale's key); and (older than c3efe42) fit's fast path skipped an optimizer subclass's
``_clip_gradients``, which Keras calls on every step.
"""

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import functools  # noqa: E402
import threading  # noqa: E402
from unittest import mock  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

import chainrule as cr  # noqa: E402
from chainrule.keras.losses import _fused  # noqa: E402
from chainrule.keras.trainers.compile_utils import LossTracker  # noqa: E402
from chainrule.keras.variables import Variable  # noqa: E402

from ._keras_ref import ck, tk  # noqa: E402

RNG = np.random.default_rng(41)
X = RNG.standard_normal((14, 3)).astype("float32")
Y = RNG.standard_normal((14, 2)).astype("float32")
INIT = [RNG.standard_normal((3, 2)).astype("float32"), RNG.standard_normal(2).astype("float32")]
OPTIMIZERS = ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Nadam", "Lion", "Adamax", "Adadelta"]


def fit(k, optimizer, *, callbacks=(), constraint=None, epochs=3, batch_size=4):
    """A one-Dense model of ``k`` (chainrule's or Keras's keras) fitted from ``INIT``."""
    model = k.Sequential([k.Input((3,)), k.layers.Dense(2, kernel_constraint=constraint)])
    model.compile(optimizer=optimizer, loss="mse")
    model.set_weights(INIT)
    hist = model.fit(X, Y, batch_size=batch_size, epochs=epochs, shuffle=False, verbose=0,
                     callbacks=list(callbacks))  # fmt: skip
    return [np.asarray(w) for w in model.get_weights()], hist.history


def assert_matches_keras(ours, ref, rtol=1e-5, atol=1e-6):
    for a, b in zip(ours[0], ref[0], strict=True):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)
    np.testing.assert_allclose(ours[1]["loss"], ref[1]["loss"], rtol=1e-6)


# ---- 1. SGD: every variable in one loop ---------------------------------------------------


def _parent_sgd(start, grads, lr, momentum, nesterov):
    """The parent commit's ``SGD.update_step`` per variable, constants in its dtype."""
    ws, ms = [w.copy() for w in start], [np.zeros_like(w) for w in start]
    for gs in grads:
        for w, m, g in zip(ws, ms, gs, strict=True):
            t = w.dtype.type
            s = g * t(np.float32(lr))
            if momentum == 0:
                w -= s
                continue
            m *= t(momentum)
            m -= s
            if nesterov:
                w -= s
                w += m * t(momentum)
            else:
                w += m
    return ws


@pytest.mark.parametrize("momentum, nesterov", [(0.0, False), (0.9, False), (0.9, True)])
def test_sgd_on_float16_32_64_variables_is_the_parent_rule_and_keras(momentum, nesterov):
    rng = np.random.default_rng(0)
    dtypes = ["float16", "float32", "float64", "float32", "float16"]
    start = [rng.standard_normal(5).astype(d) for d in dtypes]
    grads = [[rng.standard_normal(5).astype(d) for d in dtypes] for _ in range(4)]
    ours = [Variable(w.copy(), dtype=w.dtype) for w in start]
    ref = [tk.Variable(w.copy(), dtype=str(w.dtype)) for w in start]
    opt = ck.optimizers.SGD(0.1, momentum=momentum, nesterov=nesterov)
    kopt = tk.optimizers.SGD(0.1, momentum=momentum, nesterov=nesterov)
    for gs in grads:
        opt.apply(gs, ours)
        kopt.apply([torch.tensor(g) for g in gs], ref)
    parent = _parent_sgd(start, grads, 0.1, momentum, nesterov)
    tol = {"float16": 2e-3, "float32": 1e-5, "float64": 1e-12}
    for v, r, p in zip(ours, ref, parent, strict=True):
        assert v.numpy().dtype == p.dtype
        np.testing.assert_array_equal(v.numpy(), p)
        np.testing.assert_allclose(v.numpy(), tk.ops.convert_to_numpy(r), rtol=tol[str(p.dtype)],
                                   atol=tol[str(p.dtype)])  # fmt: skip


def _lr_halving(k):
    return [k.callbacks.LearningRateScheduler(lambda epoch, lr: lr * 0.5)]


def _plateau(k):
    return [k.callbacks.ReduceLROnPlateau(monitor="loss", factor=0.5, patience=0, min_delta=10)]


SGD_CASES = {
    "ema_overwrite": ({"use_ema": True, "ema_overwrite_frequency": 2}, None),
    "ema": ({"use_ema": True}, None),
    "accumulation": ({"gradient_accumulation_steps": 2}, None),
    "clipnorm": ({"clipnorm": 0.1}, None),
    "global_clipnorm": ({"global_clipnorm": 0.1}, None),
    "clipvalue": ({"clipvalue": 0.05}, None),
    "weight_decay": ({"weight_decay": 0.1}, None),
    "loss_scale": ({"loss_scale_factor": 4.0}, None),
    "scheduler_callback": ({}, _lr_halving),
    "plateau_callback": ({}, _plateau),
    "non_neg": ({}, "non_neg"),
}


@pytest.mark.parametrize("momentum", [{}, {"momentum": 0.9, "nesterov": True}])
@pytest.mark.parametrize("case", list(SGD_CASES))
def test_sgd_fit_with_extras_and_callbacks_matches_keras(case, momentum):
    kwargs, extra = SGD_CASES[case]
    runs = []
    for k in (ck, tk):
        callbacks = extra(k) if callable(extra) else ()
        constraint = k.constraints.NonNeg() if extra == "non_neg" else None
        opt = k.optimizers.SGD(0.1, **momentum, **kwargs)
        runs.append(fit(k, opt, callbacks=callbacks, constraint=constraint))
    assert_matches_keras(*runs)


@pytest.mark.parametrize("lr", ["schedule", "callable"])
def test_sgd_schedules_and_callable_rates_match_keras(lr):
    def rate(k):
        if lr == "schedule":
            return k.optimizers.schedules.ExponentialDecay(0.1, decay_steps=2, decay_rate=0.5)
        return lambda: 0.05

    runs = [fit(k, k.optimizers.SGD(rate(k), momentum=0.9)) for k in (ck, tk)]
    assert_matches_keras(*runs)


def test_an_update_step_set_on_a_plain_sgd_object_is_not_called_as_in_keras():
    # Keras on torch updates a plain SGD in one `_parallel_update_step`, never through
    # `update_step`; the one loop of chainrule does the same (the parent called it)
    runs, plain = [], []
    for k in (ck, tk):
        calls = []
        opt = k.optimizers.SGD(0.1, momentum=0.9)
        opt.update_step = lambda g, v, lr, calls=calls: calls.append(1)
        runs.append((fit(k, opt), len(calls)))
        plain.append(fit(k, k.optimizers.SGD(0.1, momentum=0.9)))
    assert runs[0][1] == runs[1][1] == 0
    assert_matches_keras(runs[0][0], runs[1][0])
    for a, b in zip(runs[0][0][0], plain[0][0], strict=True):
        np.testing.assert_array_equal(a, b)


def test_a_subclass_backend_update_step_is_used_as_in_keras():
    runs = []
    for k in (ck, tk):

        class Doubled(k.optimizers.SGD):
            def _backend_update_step(self, grads, variables, learning_rate):
                super()._backend_update_step([g * 2 for g in grads], variables, learning_rate)

        runs.append(fit(k, Doubled(0.05, momentum=0.5, nesterov=True)))
    assert_matches_keras(*runs)


@pytest.mark.parametrize("start, new", [((0.9, False), (0.0, True)), ((0.5, True), (0.9, False))])
def test_momentum_and_nesterov_changed_mid_fit_match_keras(start, new):
    runs = []
    for k in (ck, tk):

        class Change(k.callbacks.Callback):
            def on_epoch_end(self, epoch, logs=None):
                self.model.optimizer.momentum, self.model.optimizer.nesterov = new

        opt = k.optimizers.SGD(0.1, momentum=start[0], nesterov=start[1])
        runs.append(fit(k, opt, callbacks=[Change()]))
    assert_matches_keras(*runs)


def test_update_step_called_directly_reads_the_momentum_of_each_call_as_keras():
    # the parent kept (lr, momentum) per step in `_const_cache`, which direct calls never
    # cleared; the loop reads `self.momentum` on every call, as Keras
    rng = np.random.default_rng(4)
    start = rng.standard_normal((3, 2)).astype("float32")
    grads = [rng.standard_normal((3, 2)).astype("float32") for _ in range(3)]
    out = []
    for k, make in ((ck, Variable), (tk, tk.Variable)):
        v = make(start.copy())
        opt = k.optimizers.SGD(0.1, momentum=0.9)
        opt.build([v])
        for g, mu in zip(grads, (0.9, 0.5, 0.1), strict=True):
            opt.momentum = mu
            opt.update_step(g if k is ck else torch.tensor(g), v, opt.learning_rate)
        out.append(np.asarray(v.numpy() if k is ck else tk.ops.convert_to_numpy(v)))
    np.testing.assert_allclose(out[0], out[1], rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_apply_gradients_on_a_reordered_subset_with_a_none_matches_keras(momentum):
    rng = np.random.default_rng(12)
    start = [rng.standard_normal(s).astype("float32") for s in ((3, 2), (2,), (4,))]
    out = []
    for k, make, conv in ((ck, Variable, np.asarray), (tk, tk.Variable, torch.tensor)):
        vs = [make(w.copy()) for w in start]
        opt = k.optimizers.SGD(0.1, momentum=momentum, nesterov=True)
        opt.build(vs)
        for step in range(3):
            gs = [conv(np.full(w.shape, step + 1.0, "float32") * w) for w in start]
            pairs = [(gs[2], vs[2]), (None, vs[1]), (gs[0], vs[0])]
            with pytest.warns(UserWarning, match="Gradients do not exist"):
                opt.apply_gradients(pairs)
        out.append([np.asarray(tk.ops.convert_to_numpy(v) if k is tk else v.numpy()) for v in vs])
    for a, b in zip(*out, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(out[0][1], start[1])


def test_saved_sgd_state_resumes_the_fit_bit_for_bit(tmp_path):
    whole = fit(ck, ck.optimizers.SGD(0.1, momentum=0.9, nesterov=True), epochs=2)
    model = ck.Sequential([ck.Input((3,)), ck.layers.Dense(2)])
    model.compile(optimizer=ck.optimizers.SGD(0.1, momentum=0.9, nesterov=True), loss="mse")
    model.set_weights(INIT)
    model.fit(X, Y, batch_size=4, epochs=1, shuffle=False, verbose=0)
    model.save(tmp_path / "m.keras")
    again = ck.saving.load_model(tmp_path / "m.keras")
    again.fit(X, Y, batch_size=4, epochs=1, shuffle=False, verbose=0)
    for a, b in zip(again.get_weights(), whole[0], strict=True):
        np.testing.assert_array_equal(a, b)


# ---- 2. _apply_from_fit: the extras read by attrgetter ------------------------------------


FALSY = [
    {"clipnorm": 0, "global_clipnorm": np.float32(0), "clipvalue": 0.0, "weight_decay": 0.0,
     "use_ema": 0, "gradient_accumulation_steps": 0, "loss_scale_factor": None},
    {"clipnorm": False, "global_clipnorm": 0.0, "clipvalue": np.float64(0), "weight_decay": False,
     "use_ema": None, "gradient_accumulation_steps": False},
]  # fmt: skip


@pytest.mark.parametrize("falsy", FALSY, ids=["zeros", "false_none"])
@pytest.mark.parametrize("name", OPTIMIZERS)
def test_falsy_extras_set_after_construction_match_keras_and_the_plain_fit(name, falsy):
    # 0, 0.0, np.float32(0) are "set" for the attrgetter check (apply/_update's path); they
    # must still clip, decay, average and accumulate nothing, as in Keras and the parent
    runs = []
    for k in (ck, tk):
        opt = getattr(k.optimizers, name)(learning_rate=0.05)
        for attr, value in falsy.items():
            setattr(opt, attr, value)
        runs.append(fit(k, opt))
    assert_matches_keras(*runs)
    kwargs = {"weight_decay": 0.0} if name == "AdamW" else {}
    plain = fit(ck, getattr(ck.optimizers, name)(learning_rate=0.05, **kwargs))
    for a, b in zip(runs[0][0], plain[0], strict=True):
        np.testing.assert_array_equal(a, b)
    assert runs[0][1] == plain[1]


def test_a_clip_gradients_override_runs_in_fit_as_in_keras():
    runs = []
    for k in (ck, tk):

        class Halved(k.optimizers.SGD):
            def _clip_gradients(self, grads):
                return [g * 0.5 for g in grads]

        runs.append(fit(k, Halved(0.1, momentum=0.9)))
    assert_matches_keras(*runs)


def test_a_keras_style_weight_decay_override_runs_in_fit_as_in_keras():
    # Keras's signature, _apply_weight_decay(self, variables): chainrule's is the same now
    runs = []
    for k in (ck, tk):

        class Shrink(k.optimizers.SGD):
            def _apply_weight_decay(self, variables):
                for v in variables:
                    v.assign(v * 0.99)

        runs.append(fit(k, Shrink(0.1)))
    assert_matches_keras(*runs)


# ---- 3. LossTracker.add: float32 sums -----------------------------------------------------


def _mixed_values(n, rng):
    kinds = [lambda v: np.asarray(v, "float16"), lambda v: np.asarray(v, "float64"),
             lambda v: np.asarray(v, "float32"), float, lambda v: np.asarray(round(v)),
             np.float64]  # fmt: skip
    weights = [32, 7, 1, 2.5, np.float64(3.3), np.int64(5)]
    out = []
    for i in range(n):
        v = rng.standard_normal() * 10.0 ** rng.integers(-6, 4)
        out.append((kinds[i % 6](v), weights[(i // 6 + i) % 6]))
    return out


def test_loss_tracker_is_keras_mean_to_the_last_digit_over_many_steps():
    seq = _mixed_values(300, np.random.default_rng(7))
    for stop in (1, 50, 300):
        ours, ref = LossTracker(), tk.metrics.Mean()
        for value, weight in seq[:stop]:
            ours.add(value, weight)
            ref.update_state(value, sample_weight=weight)
        assert type(ours.total) is np.float32 and type(ours.count) is np.float32
        assert ours.result() == float(ref.result())


@pytest.mark.parametrize("special", [np.inf, -np.inf, np.nan, 3e38, 1e-45, np.float64(1e300)])
def test_loss_tracker_special_values_are_keras_mean(special):
    ours, ref = LossTracker(), tk.metrics.Mean()
    with np.errstate(all="ignore"):
        for value, weight in [(1.5, 4), (special, 4), (np.asarray(2.0, "float16"), 3)]:
            ours.add(value, weight)
            ref.update_state(value, sample_weight=weight)
    np.testing.assert_array_equal(ours.result(), float(ref.result()))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_logged_fit_and_evaluate_losses_are_keras_mean_of_the_batch_losses(dtype):
    # learning rate 0: the weights stay put, so fit's epoch loss and evaluate's are Keras's
    # Mean of the per-batch losses (13 samples in batches of 5: weights 5, 5, 3)
    model = ck.Sequential([ck.Input((3,)), ck.layers.Dense(2, dtype=dtype)])
    model.compile(optimizer=ck.optimizers.SGD(0.0), loss="mse")
    model.set_weights([w.astype(dtype) for w in INIT])
    x, y = X[:13], Y[:13]
    mean = tk.metrics.Mean()
    for i in range(0, 13, 5):
        batch_loss = model.test_on_batch(x[i : i + 5], y[i : i + 5])
        mean.update_state(batch_loss, sample_weight=len(x[i : i + 5]))
    hist = model.fit(x, y, batch_size=5, epochs=2, shuffle=False, verbose=0).history
    assert hist["loss"] == [float(mean.result())] * 2
    assert model.evaluate(x, y, batch_size=5, verbose=0) == float(mean.result())


# ---- 4. mean squared error's kept gradient scale -----------------------------------------


def _parent_mse_grad(g, t, p):
    """The parent commit's ``_mse_mean_dpred`` for a 0-d ``g``."""
    k = max(p.shape[-1], 1)
    n = max(p.size // k, 1)
    d = p - t
    c = d.dtype.type
    return c(c(float(g) / n) * c(2.0 / k)) * d


def _mse_grad(g, t, p):
    pt = cr.tensor(p, requires_grad=True)
    return cr.grad(_fused.mse_mean(t, pt), [pt], grad_outputs=[np.asarray(g)])[0]


def test_the_sign_of_a_zero_mse_gradient_does_not_depend_on_earlier_calls():
    rng = np.random.default_rng(5)
    t, p = (rng.standard_normal((4, 3)).astype("float32") for _ in range(2))
    for g in (0.0, -0.0):
        got = _mse_grad(np.float32(g), t, p)
        tp = torch.tensor(p, requires_grad=True)
        torch.nn.functional.mse_loss(tp, torch.tensor(t)).backward(torch.tensor(g))
        np.testing.assert_array_equal(np.signbit(got), np.signbit(tp.grad.numpy()))


def test_mse_gradient_for_special_upstreams_dtypes_and_same_size_shapes():
    # interleaved so each (g, rows, columns, dtype) is asked for again with the others kept
    rng = np.random.default_rng(6)
    shapes = [(2, 6), (3, 4), (12, 1), (6, 2), (2, 3, 2), (4, 3)]
    gs = [np.nan, np.inf, -np.inf, 1e-30, 3.0, 1e30, 0.7]
    for _ in range(2):
        for dtype in ("float16", "float32", "float64"):
            for shape in shapes:
                t, p = (rng.standard_normal(shape).astype(dtype) for _ in range(2))
                for g in gs:
                    with np.errstate(all="ignore"):
                        g = np.asarray(g, dtype)
                        got, want = _mse_grad(g, t, p), _parent_mse_grad(g, t, p)
                    assert got.dtype == want.dtype
                    np.testing.assert_array_equal(got, want)
                    if np.isfinite(g) and dtype != "float16":
                        ref = 2 * float(g) * (p.astype("float64") - t) / p.size
                        np.testing.assert_allclose(got, ref, rtol=2e-6, atol=1e-300)
    assert len(_fused._MSE_SCALES) <= 64


def test_mse_gradient_from_many_threads_is_the_parent_rule():
    rng = np.random.default_rng(8)
    cases = []
    for i in range(60):
        shape = [(4, 3), (3, 4), (6, 2), (12, 1)][i % 4]
        t, p = (rng.standard_normal(shape).astype("float32") for _ in range(2))
        cases.append((np.float32(rng.choice([0.5, 1.0, 2.0, rng.standard_normal()])), t, p))
    bad, barrier = [], threading.Barrier(6)

    def work(seed):
        order = np.random.default_rng(seed).permutation(len(cases) * 5) % len(cases)
        barrier.wait()
        for j in order:
            g, t, p = cases[j]
            if not np.array_equal(_mse_grad(g, t, p), _parent_mse_grad(g, t, p)):
                bad.append(j)

    threads = [threading.Thread(target=work, args=(s,)) for s in range(6)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert bad == []


@pytest.mark.parametrize("units", [1, 3])
def test_fit_with_several_batch_shapes_matches_the_ordinary_step_and_keras(units, taken):
    rng = np.random.default_rng(9)
    x = rng.standard_normal((23, 3)).astype("float32")
    y = rng.standard_normal((23, units)).astype("float32")
    init = [rng.standard_normal((3, units)).astype("float32"), np.zeros(units, "float32")]
    runs = []
    for k, jit in ((ck, "auto"), (ck, False), (tk, "auto")):
        model = k.Sequential([k.Input((3,)), k.layers.Dense(units)])
        model.compile(optimizer=k.optimizers.SGD(0.05, momentum=0.9), loss="mse",
                      **({"jit_compile": jit} if k is ck else {}))  # fmt: skip
        model.set_weights(init)
        hist = {}
        for bs in (4, 5, 23, 7):  # last batches of 3, 3, 23 and 2 rows
            h = model.fit(x, y, batch_size=bs, epochs=1, shuffle=False, verbose=0).history
            hist.setdefault("loss", []).extend(h["loss"])
        runs.append(([np.asarray(w) for w in model.get_weights()], hist))
        if jit == "auto" and k is ck:
            assert taken[0] > 0
    for a, b in zip(runs[0][0], runs[1][0], strict=True):
        np.testing.assert_array_equal(a, b)
    assert runs[0][1] == runs[1][1]
    assert_matches_keras(runs[0], runs[2])


# ---- 5. _Plan.kept: a list equality in place of identity ----------------------------------


class EqualsAnything:
    """A callable whose ``__eq__`` says True to anything (as ``mock.ANY`` does)."""

    def __init__(self, fn):
        self.fn = fn

    def __call__(self, *args, **kwargs):
        return self.fn(*args, **kwargs)

    def __eq__(self, other):
        return True

    __hash__ = object.__hash__


class Proxy:
    """A method decorator in the style of ``wrapt.FunctionWrapper``: bound on access, and
    equal to (hashing as) the function it wraps, as wrapt's ``ObjectProxy`` is."""

    def __init__(self, wrapped, wrapper):
        self.__wrapped__, self._wrapper = wrapped, wrapper

    def __get__(self, obj, cls=None):
        return self if obj is None else functools.partial(self._wrapper, obj)

    def __call__(self, *args, **kwargs):
        return self._wrapper(*args, **kwargs)

    def __eq__(self, other):
        return self.__wrapped__ == other

    def __hash__(self):
        return hash(self.__wrapped__)


class StrictEq(Proxy):
    """A method decorator whose ``__eq__`` expects another of its kind (AttributeError)."""

    def __eq__(self, other):
        return self._wrapper is other._wrapper

    __hash__ = object.__hash__


class Scaler:
    """Another object whose bound method stands in for a layer's ``call``."""

    def __init__(self, layer, call, calls):
        self.layer, self.call, self.calls = layer, call, calls

    def forward(self, inputs, *args, **kwargs):
        self.calls.append(1)
        return self.call(self.layer, inputs, *args, **kwargs) * 0.5 + 1.0


def _patch(k, model, kind, calls):
    """Apply patch ``kind`` to ``model`` (of keras module ``k``); return its undo."""
    dense, layer = k.layers.Dense, model.layers[-1]
    orig = dense.call

    def doubled(self, inputs, *args, **kwargs):
        calls.append(1)
        return orig(self, inputs, *args, **kwargs) * 2.0

    def on_class(obj):
        dense.call = obj
        return lambda: setattr(dense, "call", orig)

    def on_object(obj, target=layer, name="call"):
        setattr(target, name, obj)
        return lambda: delattr(target, name)

    if kind == "class_function":
        return on_class(doubled)
    if kind == "class_proxy":
        return on_class(Proxy(orig, doubled))
    if kind == "class_strict_eq":
        return on_class(StrictEq(orig, doubled))
    if kind == "class_mock_eq":
        m = mock.MagicMock(side_effect=lambda inputs, *a, **kw: doubled(layer, inputs, *a, **kw))
        m.__eq__.return_value = True
        return on_class(m)
    if kind == "object_mock":
        return on_object(mock.MagicMock(side_effect=functools.partial(doubled, layer)))
    if kind == "object_partial":
        return on_object(functools.partial(doubled, layer))
    if kind == "object_equals_anything":
        return on_object(EqualsAnything(functools.partial(doubled, layer)))
    if kind == "object_other_bound":
        return on_object(Scaler(layer, orig, calls).forward)  # a method of another object
    if kind == "model_mock":
        m = mock.MagicMock(side_effect=lambda *a, **kw: (calls.append(1), orig_model(*a, **kw))[1])
        orig_model = model.call
        return on_object(m, model)
    raise AssertionError(kind)


def _patched_runs(kind, when, taken):
    """Fit with the patch applied before fit or by a callback after epoch 0: chainrule with the
    array step, chainrule's ordinary step, Keras. Returns ``[(weights, history, calls)]``."""
    runs = []
    for k, jit in ((ck, "auto"), (ck, False), (tk, None)):
        model = k.Sequential([k.Input((3,)), k.layers.Dense(2)])
        model.compile(optimizer=k.optimizers.SGD(0.05, momentum=0.9), loss="mse",
                      **({"jit_compile": jit} if k is ck else {}))  # fmt: skip
        model.set_weights(INIT)
        calls, undo = [], []

        class Patch(k.callbacks.Callback):
            def on_epoch_end(self, epoch, logs=None):
                if epoch == 0 and when == "mid":
                    undo.append(_patch(k, model, kind, calls))

        if when == "before":
            undo.append(_patch(k, model, kind, calls))
        try:
            hist = model.fit(X, Y, batch_size=4, epochs=3, shuffle=False, verbose=0,
                             callbacks=[Patch()]).history  # fmt: skip
        finally:
            for u in undo:
                u()
        runs.append(([np.asarray(w) for w in model.get_weights()], hist, len(calls)))
    return runs


def _assert_patch_honoured(runs, when):
    (w1, h1, c1), (w2, h2, c2), ref = runs
    steps = 12 if when == "before" else 8  # (Keras may add a symbolic call of its own)
    assert c1 == c2 == steps <= ref[2]  # the patched method ran on every step, as in Keras
    for a, b in zip(w1, w2, strict=True):
        np.testing.assert_array_equal(a, b)
    assert h1 == h2
    assert_matches_keras(runs[0][:2], ref[:2])


OBJECT_KINDS = ["object_mock", "object_partial", "object_equals_anything", "object_other_bound",
                "model_mock", "class_function"]  # fmt: skip


@pytest.mark.parametrize("when", ["before", "mid"])
@pytest.mark.parametrize("kind", OBJECT_KINDS)
def test_a_patched_method_gives_the_ordinary_step_as_keras_runs_it(kind, when, taken):
    _assert_patch_honoured(_patched_runs(kind, when, taken), when)
    if when == "mid":
        assert taken[0] > 0  # the array step ran before the patch


@pytest.mark.parametrize("when", ["before", "mid"])
@pytest.mark.parametrize("kind", ["class_proxy", "class_mock_eq"])
def test_a_class_patch_equal_to_the_original_is_run_as_keras_runs_it(kind, when, taken):
    _assert_patch_honoured(_patched_runs(kind, when, taken), when)


@pytest.mark.parametrize("when", ["before", "mid"])
def test_a_class_patch_whose_eq_raises_is_run_as_keras_runs_it(when, taken):
    _assert_patch_honoured(_patched_runs("class_strict_eq", when, taken), when)
