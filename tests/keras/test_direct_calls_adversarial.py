"""Adversarial tests of two fast paths: a model's direct layer calls
(``layers/direct_calls.py``, ``Sequential._run_stack``) and the one-node sparse cross-entropy
mean from logits (``losses/categorical.py _sparse_cce_fast``, ``losses/_fused.py``).

The claim under test: each gives exactly what its general path gives (every layer through
``Layer.__call__``; ``Loss.__call__``), value, gradient and error, for anything a user can
build. References: the general path itself, real Keras 3.15.1 (torch backend) and PyTorch.
Tests marked ``# FIXED:`` failed when they were written (the comment says why) and pin the fix.
"""

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from keras.src.losses.losses import LossFunctionWrapper as KerasLossFunctionWrapper  # noqa: E402

import chainrule as cr  # noqa: E402
from chainrule import keras as ck  # noqa: E402
from chainrule.keras.layers.layer import Layer  # noqa: E402
from chainrule.keras.losses.loss import Loss  # noqa: E402

from ._direct_calls_util import layer_by_layer  # noqa: E402

L = ck.layers
RNG = np.random.default_rng(2024)


def _x(*shape, dtype="float32"):
    return RNG.normal(size=shape).astype(dtype)


def _spy_dunder_calls(monkeypatch):
    """Count the calls that go through ``Layer.__call__`` (a direct call skips it). Patched on
    the class, so ``type(layer).__call__ is Layer.__call__`` still holds for every layer."""
    names = []
    original = Layer.__call__

    def counting(self, *args, **kwargs):
        names.append(self.name)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Layer, "__call__", counting)
    return names


def _twin_mlps(seed=0):
    def make():
        ck.utils.set_random_seed(seed)
        return ck.Sequential([ck.Input((4,)), L.Dense(5, activation="tanh"), L.Dense(3)])

    return make(), make()


# ======================================================================================
# 1. Sequential direct calls
# ======================================================================================
def test_a_call_method_replaced_on_the_instance_is_used():
    # Failed at 4cf4bf2: the record kept the bound method taken at the first call. Setting
    # `call` on a layer now moves GENERATION (eb04ecb); this pins it.
    model, _ = _twin_mlps()
    x = _x(6, 4)
    model(x), model(x)
    dense = model.layers[0]
    original = dense.call
    dense.call = lambda inputs: original(inputs) * 2.0
    np.testing.assert_array_equal(model(x).numpy(), layer_by_layer(model, x).numpy())


def test_a_call_method_patched_on_the_class_is_used(monkeypatch):
    # FIXED: a `call` patched on the class (monkeypatch.setattr(Dense, "call", ...), as
    # tests and profilers do) goes through no layer's __setattr__, so GENERATION stays; the
    # record keeps the old bound method while Layer.__call__ looks `self.call` up again.
    model, _ = _twin_mlps()
    x = _x(6, 4)
    model(x), model(x)
    original = L.Dense.call

    def doubled(self, inputs, *args, **kwargs):
        return original(self, inputs, *args, **kwargs) * 2.0

    monkeypatch.setattr(L.Dense, "call", doubled)
    np.testing.assert_array_equal(model(x).numpy(), layer_by_layer(model, x).numpy())


@pytest.mark.parametrize("where", ["instance", "class"])
def test_a_functional_model_uses_a_replaced_call_method_too(monkeypatch, where):
    # FIXED (where="class"): the functional model's records keep the bound method too
    # (the instance case passes since eb04ecb).
    ck.utils.set_random_seed(3)
    inp = ck.Input((4,))
    d1, d2 = L.Dense(5), L.Dense(2)
    model = ck.Model(inp, d2(d1(inp)))
    x = _x(6, 4)
    model(x), model(x)
    original = L.Dense.call
    if where == "instance":
        d1.call = lambda inputs: original(d1, inputs) + 1.0
    else:
        monkeypatch.setattr(L.Dense, "call", lambda self, inputs: original(self, inputs) + 1.0)
    np.testing.assert_array_equal(model(x).numpy(), d2(d1(x)).numpy())


def _chain(kind, seed):
    """Two Dense layers as a Sequential or a functional model, and the layers in order."""
    ck.utils.set_random_seed(seed)
    layers = [L.Dense(5, activation="tanh"), L.Dense(3)]
    if kind == "sequential":
        return ck.Sequential([ck.Input((4,)), *layers]), layers
    inp = ck.Input((4,))
    return ck.Model(inp, layers[1](layers[0](inp))), layers


@pytest.mark.parametrize("kind", ["sequential", "functional"])
def test_a_layer_marked_unbuilt_is_built_again_as_layer_call_does(kind):
    # FIXED: `layer.built = False` (to re-create its weights) makes Layer.__call__ build
    # it again, as Keras's Layer.__call__ does; `built` is not in _RESTRUCTURING, so the
    # replay calls `call` on the old weights and the layer stays unbuilt.
    (direct, d_layers), (general, g_layers) = _chain(kind, 11), _chain(kind, 11)
    x = _x(6, 4)
    for model in (direct, general):
        model(x), model(x)
    d_layers[1].built = g_layers[1].built = False
    ck.utils.set_random_seed(5)  # the rebuild draws new weights: the same draws for both
    got = direct(x).numpy()
    ck.utils.set_random_seed(5)
    want = g_layers[1](g_layers[0](x)).numpy()
    assert d_layers[1].built
    np.testing.assert_array_equal(got, want)


def test_a_keras_mask_that_appears_later_reaches_the_recurrent_layer():
    # FIXED: the replay never looks at its intermediate values. After `mask_zero` is set
    # on the Embedding, its call returns a MaskedTensor; Layer.__call__ of the Dense passes
    # the mask on to the SimpleRNN, the replayed Dense.call drops it and the RNN runs over
    # the padding steps (a silent wrong answer).
    ck.utils.set_random_seed(4)
    model = ck.Sequential([ck.Input((5,), dtype="int32"), L.Embedding(10, 4), L.Dense(4),
                           L.SimpleRNN(3)])  # fmt: skip
    x = np.array([[1, 2, 3, 0, 0], [4, 5, 0, 0, 0]], dtype="int32")
    model(x), model(x)
    model.layers[0].mask_zero = True
    np.testing.assert_array_equal(model(x).numpy(), layer_by_layer(model, x).numpy())


def test_an_intermediate_shape_that_changes_still_meets_the_input_spec():
    # FIXED: after the Reshape's target shape changes, BatchNormalization's input spec
    # (ndim=2, axis -1 of size 4) rejects the (5, 4, 1) input in Layer.__call__; the replay
    # skips the check and BatchNormalization.call broadcasts its (4,) statistics against
    # (5, 4, 1) into a (5, 4, 4) result.
    model = ck.Sequential([ck.Input((4,)), L.Reshape((4,)), L.BatchNormalization()])
    x = _x(5, 4)
    model(x), model(x)
    model.layers[0].target_shape = (4, 1)
    with pytest.raises(ValueError, match="incompatible"):
        layer_by_layer(model, x)  # the general path's answer
    with pytest.raises(ValueError, match="incompatible"):
        model(x)


class _CastTo(L.Layer):
    """Casts its input to ``self.to`` (a plain attribute, as a user's layer would keep)."""

    def __init__(self, to, **kwargs):
        super().__init__(**kwargs)
        self.to = to

    def call(self, inputs):
        return ck.ops.cast(inputs, self.to)


def test_an_intermediate_dtype_that_changes_is_autocast_for_the_next_layer():
    # FIXED: once the first layer returns float64, Layer.__call__ of the float32 Dense
    # autocasts its input (so the model still returns float32, as in Keras); the replay
    # hands the float64 array to Dense.call and the model returns float64.
    ck.utils.set_random_seed(2)
    model = ck.Sequential([ck.Input((4,)), _CastTo("float32"), L.Dense(3)])
    x = _x(5, 4)
    model(x), model(x)
    model.layers[0].to = "float64"
    want = layer_by_layer(model, x)
    got = model(x)
    assert want.dtype == np.float32
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got.numpy(), want.numpy())


class _Twice(L.Layer):
    """Applies one Dense (with an activity regularizer) twice: two loss terms per call."""

    def __init__(self, module, **kwargs):
        super().__init__(**kwargs)
        self.inner = module.layers.Dense(4, activity_regularizer="l2")

    def call(self, inputs):
        return self.inner(self.inner(inputs))


@pytest.mark.parametrize("kind", ["sequential", "functional"])
def test_model_call_invoked_directly_keeps_every_loss_term_as_keras(kind):
    # FIXED: `model.call(x)` (not `model(x)`) runs at call depth 0. Replayed, `_Twice.call`
    # runs at depth 0 too, so each of the inner Dense's __call__ is "top level" and clears
    # the term the previous one added: 1 term where Keras (and the general path) keep 2.
    x = _x(5, 4)
    kmodel = keras.Sequential([keras.Input((4,)), _KerasTwice(keras)])
    kmodel(x)
    kmodel.call(x)
    if kind == "sequential":
        model = ck.Sequential([ck.Input((4,)), _Twice(ck)])
    else:
        inp = ck.Input((4,))
        model = ck.Model(inp, _Twice(ck)(inp))
    model(x)
    assert len(model.losses) == len(kmodel.losses) == 2
    model.call(x)
    assert len(model.losses) == len(kmodel.losses) == 2


class _KerasTwice(keras.layers.Layer):
    def __init__(self, module, **kwargs):
        super().__init__(**kwargs)
        self.inner = module.layers.Dense(4, activity_regularizer="l2")

    def call(self, inputs):
        return self.inner(self.inner(inputs))


def test_a_zero_d_array_as_training_works_as_in_the_general_path():
    # At b345fca a 0-d array `training` made the record key unhashable (TypeError); it must
    # give what the general path gives (Dropout reads it with `if training`).
    model = ck.Sequential([ck.Input((4,)), L.Dense(8), L.Dropout(0.5)])
    x = _x(16, 4)
    for flag in (np.array(True), np.array(False)):
        ck.utils.set_random_seed(8)
        got = [model(x, training=flag).numpy() for _ in range(2)]
        ck.utils.set_random_seed(8)
        want = [layer_by_layer(model, x, training=flag).numpy() for _ in range(2)]
        for g, w in zip(got, want, strict=True):
            np.testing.assert_array_equal(g, w)


def _seq_float64():
    return ck.Sequential([ck.Input((4,)), L.Dense(3, dtype="float64"),
                         L.Dense(2, dtype="float64")]), _x(5, 4, dtype="float64")  # fmt: skip


def _seq_time_distributed():
    return ck.Sequential([ck.Input((3, 4)), L.TimeDistributed(L.Dense(2)), L.Flatten(),
                          L.Dense(2)]), _x(2, 3, 4)  # fmt: skip


def _seq_bidirectional():
    return ck.Sequential([ck.Input((3, 4)), L.Bidirectional(L.LSTM(2)), L.Dense(1)]), _x(2, 3, 4)


def _seq_embedding():
    x = RNG.integers(0, 10, (3, 5)).astype("int32")
    return ck.Sequential([ck.Input((5,), dtype="int32"), L.Embedding(10, 3), L.Flatten(),
                          L.Dense(2)]), x  # fmt: skip


def _seq_conv():
    return ck.Sequential([ck.Input((6, 6, 2)), L.Conv2D(3, 3, padding="same"),
                          L.BatchNormalization(), L.MaxPooling2D(), L.Flatten(),
                          L.Dense(2)]), _x(2, 6, 6, 2)  # fmt: skip


@pytest.mark.parametrize(
    "make", [_seq_float64, _seq_time_distributed, _seq_bidirectional, _seq_embedding, _seq_conv]
)
@pytest.mark.parametrize("training", [None, True])
def test_replayed_models_equal_the_general_path(monkeypatch, make, training):
    ck.utils.set_random_seed(6)
    model, x = make()
    model(x, training=training)
    calls = _spy_dunder_calls(monkeypatch)
    got = model(x, training=training).numpy()
    # replayed: no top-level layer went through Layer.__call__ (a wrapper's inner layer does)
    assert not {layer.name for layer in model.layers} & set(calls)
    want = layer_by_layer(model, x, training).numpy()
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)


def test_gradients_through_the_replay_equal_the_general_path():
    model, twin = _twin_mlps(seed=21)
    x, y = _x(6, 4), RNG.integers(0, 3, 6)
    loss = ck.losses.SparseCategoricalCrossentropy(from_logits=True)
    model(x, training=True)
    grads = cr.grad([loss(y, model(x, training=True))], model.trainable_weights)
    ref = cr.grad([loss(y, layer_by_layer(twin, x, True))], twin.trainable_weights)
    for g, r in zip(grads, ref, strict=True):
        np.testing.assert_array_equal(g, r)


def test_pop_add_and_set_weights_after_replayed_calls():
    model, _ = _twin_mlps(seed=1)
    x = _x(4, 4)
    model(x), model(x)
    popped = model.pop()
    assert model(x).shape == (4, 5)
    model.add(popped)
    model.set_weights([np.full_like(w, 0.5) for w in model.get_weights()])
    np.testing.assert_array_equal(model(x).numpy(), layer_by_layer(model, x).numpy())


def test_a_lambda_with_a_side_effect_runs_once_per_call():
    seen = []

    def record(t):
        seen.append(t.shape)
        return t * 2.0

    model = ck.Sequential([ck.Input((4,)), L.Dense(3), L.Lambda(record)])
    x = _x(5, 4)
    for _ in range(3):
        model(x)
    assert [s for s in seen if s == (5, 3)] == [(5, 3)] * 3


def test_predict_with_a_short_last_batch_and_a_model_inside_a_functional_one():
    ck.utils.set_random_seed(12)
    inner = ck.Sequential([L.Dense(6, activation="relu"), L.Dropout(0.3), L.Dense(3)])
    inp = ck.Input((4,))
    outer = ck.Model(inp, L.Dense(2)(inner(inp)))  # a symbolic call of the Sequential first
    x = _x(40, 4)
    got = outer.predict(x, batch_size=16, verbose=0)  # batches of 16, 16 and 8
    got_again = outer.predict(x, batch_size=16, verbose=0)
    want = np.concatenate([outer.layers[-1](layer_by_layer(inner, x[i:i + 16], False)).numpy()
                           for i in (0, 16, 32)])  # fmt: skip
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(got_again, want)
    # and the inner model called eagerly on its own, twice (the second call replayed)
    for _ in range(2):
        np.testing.assert_array_equal(inner(x[:8], training=False).numpy(),
                                      layer_by_layer(inner, x[:8], False).numpy())  # fmt: skip


def test_clone_and_reload_after_replayed_calls_give_the_same_outputs(tmp_path):
    model, _ = _twin_mlps(seed=9)
    x = _x(7, 4)
    model(x), model(x)
    clone = ck.models.clone_model(model)
    clone.set_weights(model.get_weights())
    path = str(tmp_path / "m.keras")
    model.save(path)
    loaded = ck.models.load_model(path)
    want = model(x).numpy()
    for other in (clone, loaded):
        np.testing.assert_array_equal(other(x).numpy(), want)
        np.testing.assert_array_equal(other(x).numpy(), want)  # its own replay


def test_a_sequential_replay_matches_keras_predictions():
    ck.utils.set_random_seed(13)
    model = ck.Sequential([ck.Input((4,)), L.Dense(6, activation="relu"),
                           L.BatchNormalization(), L.Dense(2, activation="softmax")])  # fmt: skip
    kmodel = keras.Sequential([keras.Input((4,)), keras.layers.Dense(6, activation="relu"),
                               keras.layers.BatchNormalization(),
                               keras.layers.Dense(2, activation="softmax")])  # fmt: skip
    kmodel.set_weights(model.get_weights())
    x = _x(10, 4)
    model(x, training=False)
    got = model(x, training=False).numpy()
    want = kmodel(x, training=False).detach().cpu().numpy()
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


# ======================================================================================
# 2. The fused sparse categorical cross-entropy mean from logits
# ======================================================================================
def _fast_and_general(loss, y_true, logits):
    """``(outcome, outcome)`` of the loss's own ``__call__`` (the fast path where it applies)
    and of ``Loss.__call__`` (the general path): ("ok", value, dlogits) or ("error", type,
    message)."""
    out = []
    for path in (type(loss).__call__, Loss.__call__):
        p = cr.tensor(logits, requires_grad=True)
        try:
            value = path(loss, y_true, p)
        except (ValueError, TypeError) as err:
            out.append(("error", type(err), str(err)))
            continue
        total = value if value.ndim == 0 else cr.sum(value)  # reduction="none"
        out.append(("ok", value.numpy(), cr.grad([total], [p])[0]))
    return out


def _assert_same_outcome(fast, general):
    assert fast[0] == general[0], (fast, general)
    if fast[0] == "error":
        assert fast[1:] == general[1:]
    else:
        assert fast[1].dtype == general[1].dtype and fast[2].dtype == general[2].dtype
        np.testing.assert_array_equal(fast[1], general[1])  # bit for bit, NaN where NaN
        np.testing.assert_array_equal(fast[2], general[2])


@pytest.mark.parametrize("axis", [True, 1.0, -1.0])
def test_a_non_integer_axis_is_rejected_by_the_fast_path_too(axis):
    # FIXED: `axis not in (-1, p.ndim - 1)` lets True, 1.0 and -1.0 through (they compare
    # equal to 1 and -1), and the fast path computes the loss; the general path's
    # `_check_axis` raises "axis must be an int, received axis=...".
    loss = ck.losses.SparseCategoricalCrossentropy(from_logits=True, axis=axis)
    fast, general = _fast_and_general(loss, np.array([0, 2, 1, 1]), _x(4, 3))
    assert general[0] == "error" and "axis must be an int" in general[2]
    _assert_same_outcome(fast, general)


def test_the_function_form_with_one_class_raises_as_the_general_path_and_keras():
    # FIXED: LossFunctionWrapper.call matches ranks before the loss function (a (2, 3)
    # target squeezes the (2, 3, 1) logits to (2, 3)), so the general path and Keras raise;
    # the fast path only drops a trailing 1 from the labels and returns a loss of 0.
    y_true, logits = np.zeros((2, 3), "int64"), _x(2, 3, 1)
    kloss = KerasLossFunctionWrapper(keras.losses.sparse_categorical_crossentropy,
                                     from_logits=True)  # fmt: skip
    with pytest.raises(ValueError):
        kloss(y_true, logits)
    loss = ck.losses.LossFunctionWrapper(ck.losses.sparse_categorical_crossentropy,
                                         from_logits=True)  # fmt: skip
    fast, general = _fast_and_general(loss, y_true, logits)
    assert general[0] == "error"
    _assert_same_outcome(fast, general)


_LABEL_CASES = [
    ("int8", (6,), (6, 4)),
    ("uint8", (6, 1), (6, 4)),
    ("int64", (3, 5), (3, 5, 4)),
    ("float32", (3, 5, 1), (3, 5, 4)),
    ("int32", (6,), (6, 1)),  # one class
    ("int64", (1,), (1, 7)),
]


@pytest.mark.parametrize("label_dtype,label_shape,logit_shape", _LABEL_CASES)
@pytest.mark.parametrize("form", ["class", "function"])
def test_fast_equals_general_and_torch_for_label_dtypes_and_shapes(
    label_dtype, label_shape, logit_shape, form
):
    c = logit_shape[-1]
    y_true = RNG.integers(0, c, label_shape).astype(label_dtype)
    logits = (_x(*logit_shape) * 4).astype("float32")
    if form == "class":
        loss = ck.losses.SparseCategoricalCrossentropy(from_logits=True)
    else:
        loss = ck.losses.LossFunctionWrapper(ck.losses.sparse_categorical_crossentropy,
                                             from_logits=True)  # fmt: skip
    fast, general = _fast_and_general(loss, y_true, logits)
    _assert_same_outcome(fast, general)
    t = torch.tensor(logits.reshape(-1, c), requires_grad=True)
    ref = F.cross_entropy(t, torch.tensor(y_true.reshape(-1).astype("int64")))
    ref.backward()
    np.testing.assert_allclose(fast[1], ref.item(), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(fast[2].reshape(-1, c), t.grad.numpy(), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("dtype", ["float16", "float64"])
def test_fast_equals_general_and_keras_in_other_float_dtypes(dtype):
    y_true = RNG.integers(0, 5, (8, 1))
    logits = (_x(8, 5) * 3).astype(dtype)
    loss = ck.losses.SparseCategoricalCrossentropy(from_logits=True, dtype=dtype)
    fast, general = _fast_and_general(loss, y_true, logits)
    _assert_same_outcome(fast, general)
    # NOTE: Keras returns float32 here even for dtype="float64" (its mean divides into
    # float32), and so do we; torch in the logits' own dtype (float16 on CPU: computed in
    # float32, then rounded)
    kloss = keras.losses.SparseCategoricalCrossentropy(from_logits=True, dtype=dtype)
    want = kloss(y_true, logits).detach().cpu().numpy()
    assert fast[1].dtype == want.dtype == np.dtype("float32" if dtype == "float64" else dtype)
    np.testing.assert_allclose(fast[1], want, rtol=2e-3 if dtype == "float16" else 1e-6)
    t = torch.tensor(logits.astype("float64"), requires_grad=True)
    F.cross_entropy(t, torch.tensor(y_true[:, 0])).backward()
    if dtype == "float64":
        np.testing.assert_allclose(fast[2], t.grad.numpy(), rtol=1e-12, atol=1e-15)
    else:
        np.testing.assert_allclose(fast[2].astype("float64"), t.grad.numpy(), atol=2e-3)


def test_extreme_logits_fast_equals_general_and_torch():
    logits = np.array([[1e8, -1e8, 0.0], [1e8, 1e8, -1e8], [-np.inf, 0.0, 1.0],
                       [-3e4, 3e4, 0.0]], "float32")  # fmt: skip
    y_true = np.array([0, 1, 2, 0])
    loss = ck.losses.SparseCategoricalCrossentropy(from_logits=True)
    fast, general = _fast_and_general(loss, y_true, logits)
    _assert_same_outcome(fast, general)
    t = torch.tensor(logits, requires_grad=True)
    ref = F.cross_entropy(t, torch.tensor(y_true))
    ref.backward()
    np.testing.assert_allclose(fast[1], ref.item(), rtol=1e-6)
    np.testing.assert_allclose(fast[2], t.grad.numpy(), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("bad", [np.inf, np.nan])
def test_non_finite_logits_fast_equals_general(bad):
    logits = _x(4, 3)
    logits[1, 2] = bad
    loss = ck.losses.SparseCategoricalCrossentropy(from_logits=True)
    with np.errstate(invalid="ignore", over="ignore"):  # inf - inf in both paths
        fast, general = _fast_and_general(loss, np.array([0, 2, 1, 0]), logits)
    _assert_same_outcome(fast, general)


def test_a_transposed_logits_view_gives_the_general_and_torch_answer():
    base = _x(3, 6)
    y_true = RNG.integers(0, 3, 6)
    loss = ck.losses.SparseCategoricalCrossentropy(from_logits=True)
    results = []
    for path in (type(loss).__call__, Loss.__call__):
        b = cr.tensor(base, requires_grad=True)
        logits = cr.transpose(b)  # (6, 3), a Tensor whose data is not C-contiguous
        value = path(loss, y_true, logits)
        results.append((value.numpy(), cr.grad([value], [b])[0]))
    np.testing.assert_array_equal(results[0][0], results[1][0])
    np.testing.assert_array_equal(results[0][1], results[1][1])
    t = torch.tensor(base, requires_grad=True)
    F.cross_entropy(t.T, torch.tensor(y_true)).backward()
    np.testing.assert_allclose(results[0][1], t.grad.numpy(), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize(
    "y_true,message",
    [
        (np.array([[0, 3], [1, 2]]), "out of range"),
        (np.array([[0, -1], [1, 2]]), "out of range"),
        (np.array([[0.0, 1.5], [1.0, 2.0]]), "integer class indices"),
        (np.array([[True, False], [True, True]]), "integer class indices"),
    ],
)
def test_label_errors_are_the_general_paths(y_true, message):
    loss = ck.losses.SparseCategoricalCrossentropy(from_logits=True)
    fast, general = _fast_and_general(loss, y_true, _x(2, 2, 3))
    assert general[0] == "error" and message in general[2]
    _assert_same_outcome(fast, general)


@pytest.mark.parametrize("kwargs", [{"reduction": "sum"}, {"reduction": "none"},
                                    {"ignore_class": 2}, {"axis": 0}])  # fmt: skip
def test_other_settings_equal_keras(kwargs):
    logits = _x(3, 3)
    y_true = np.array([0, 2, 1])
    loss = ck.losses.SparseCategoricalCrossentropy(from_logits=True, **kwargs)
    fast, general = _fast_and_general(loss, y_true, logits)
    _assert_same_outcome(fast, general)
    kloss = keras.losses.SparseCategoricalCrossentropy(from_logits=True, **kwargs)
    want = kloss(y_true, logits).detach().cpu().numpy()
    np.testing.assert_allclose(fast[1], want, rtol=1e-6, atol=1e-7)


def test_fit_with_class_weight_and_a_short_last_batch_matches_keras():
    x, y = _x(50, 5), RNG.integers(0, 3, 50)
    class_weight = {0: 1.0, 1: 2.5, 2: 0.5}
    ck.utils.set_random_seed(17)
    model = ck.Sequential([ck.Input((5,)), L.Dense(8, activation="relu"), L.Dense(3)])
    kmodel = keras.Sequential([keras.Input((5,)), keras.layers.Dense(8, activation="relu"),
                               keras.layers.Dense(3)])  # fmt: skip
    kmodel.set_weights(model.get_weights())
    histories = []
    for m, mod in ((model, ck), (kmodel, keras)):
        m.compile(optimizer=mod.optimizers.SGD(0.1),
                  loss=mod.losses.SparseCategoricalCrossentropy(from_logits=True))  # fmt: skip
        hist = m.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0,
                     class_weight=class_weight)  # fmt: skip
        histories.append(hist.history["loss"])
    np.testing.assert_allclose(histories[0], histories[1], rtol=2e-5)
    for a, b in zip(model.get_weights(), kmodel.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
