"""A second adversarial pass over the models' direct layer calls (``layers/direct_calls.py``,
``Sequential._run_stack``, ``Functional.call``).

The claim under test: after a model's first call for inputs of some type, shape, dtype and
``training``, replaying ``layer.call`` gives exactly what every layer's ``Layer.__call__``
gives (outputs, gradients, losses, errors, fit/evaluate/predict). The first pass
(``test_direct_calls_adversarial.py``) covered patched ``call`` methods, ``built = False``,
later masks, changed intermediate shapes and dtypes and ``model.call`` at depth 0; this one
looks at functional graphs, class-level changes, changes made while a model call runs,
threads, re-entrancy, fit/evaluate/predict and memory. References: the general path (the
direct calls switched off), real Keras 3.15.1 (torch backend).

Tests marked ``# FIXED:`` failed when they were written (the comment says why) and pin the fix.
"""

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import gc  # noqa: E402
import threading  # noqa: E402
import weakref  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import chainrule as cr  # noqa: E402
from chainrule import keras as ck  # noqa: E402
from chainrule.keras.layers.layer import Layer  # noqa: E402

from ._direct_calls_util import no_direct_calls, recorded  # noqa: E402

L = ck.layers
RNG = np.random.default_rng(4242)


def _x(*shape, dtype="float32"):
    return RNG.normal(size=shape).astype(dtype)


def _replayed_steps(model):
    """The steps the model would replay now (empty when none are valid)."""
    return [s for steps in recorded(model).values() for s in steps if s is not None]


def _chain(kind, seed):
    """Two Dense layers as a Sequential or a functional model, and the layers in order."""
    ck.utils.set_random_seed(seed)
    layers = [L.Dense(5, activation="tanh"), L.Dense(3)]
    if kind == "sequential":
        return ck.Sequential([ck.Input((4,)), *layers]), layers
    inp = ck.Input((4,))
    return ck.Model(inp, layers[1](layers[0](inp))), layers


def _numpy(out):
    if isinstance(out, dict):
        return {k: _numpy(v) for k, v in out.items()}
    if isinstance(out, (list, tuple)):
        return [_numpy(v) for v in out]
    return out.numpy() if isinstance(out, cr.Tensor) else np.asarray(out)


def _assert_same(a, b):
    if isinstance(a, dict):
        assert a.keys() == b.keys()
        for k in a:
            _assert_same(a[k], b[k])
    elif isinstance(a, list):
        assert len(a) == len(b)
        for u, v in zip(a, b, strict=True):
            _assert_same(u, v)
    else:
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a, b)


# ======================================================================================
# 1. Class-level changes: what direct_step checked once, at recording time
# ======================================================================================
class _DoubledDense(L.Dense):
    """A Dense whose own ``__call__`` doubles the output (instrumentation that wraps calls)."""

    def __call__(self, *args, **kwargs):
        return Layer.__call__(self, *args, **kwargs) * 2.0


@pytest.mark.parametrize("kind", ["sequential", "functional"])
@pytest.mark.parametrize("how", ["patch the class", "swap the instance's class"])
def test_a_dunder_call_given_to_the_class_after_replays_is_called(monkeypatch, kind, how):
    # FIXED: direct_step checks `type(layer).__call__ is Layer.__call__` once, when it
    # records; replay never looks again. docs/faq.md promises "a layer whose class has its
    # own `__call__` is always called through it", yet a `__call__` patched on the class
    # (a profiler or logging hook: monkeypatch.setattr(Dense, "__call__", ...)) or a class
    # swapped on the instance after the model's first call is skipped: silent wrong outputs.
    model, layers = _chain(kind, 3)
    x = _x(6, 4)
    model(x), model(x)
    seen = []
    if how == "patch the class":

        def hooked(self, *args, **kwargs):
            seen.append(self.name)
            return Layer.__call__(self, *args, **kwargs) * 2.0

        monkeypatch.setattr(L.Dense, "__call__", hooked)
    else:
        layers[1].__class__ = _DoubledDense
    got = model(x).numpy()
    hooked_calls = list(seen)
    want = layers[1](layers[0](x)).numpy()  # each layer through its class's __call__
    np.testing.assert_array_equal(got, want)
    if how == "patch the class":
        assert hooked_calls == [layers[0].name, layers[1].name]


class _ArmedRegularizer(L.Layer):
    """Once ``armed``, gives ``target`` an L2 activity regularizer on its next call (a layer
    that wires a penalty into a neighbour once it sees data: the change happens inside a
    model call)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.armed = False
        self._target = None  # not tracked: the target is the model's layer, not ours

    def call(self, inputs):
        if self.armed and self._target.activity_regularizer is None:
            self._target.activity_regularizer = ck.regularizers.L2(0.5)
        return inputs


def _armed_model(kind, target_index):
    """Dense -> _ArmedRegularizer -> Dense, whose regularizer targets layer ``target_index``
    (0: the Dense before it; 2: the Dense after it)."""
    ck.utils.set_random_seed(7)
    layers = [L.Dense(4), _ArmedRegularizer(), L.Dense(2)]
    layers[1]._target = layers[target_index]
    if kind == "sequential":
        return ck.Sequential([ck.Input((3,)), *layers]), layers
    inp = ck.Input((3,))
    return ck.Model(inp, layers[2](layers[1](layers[0](inp)))), layers


def _loss_values(model):
    return [float(t.numpy()) for t in model.losses]


@pytest.mark.parametrize("kind", ["sequential", "functional"])
def test_a_change_made_during_the_recording_call_is_not_replayed_past(monkeypatch, kind):
    # FIXED: the first Dense is recorded as a direct step; later in the same call the
    # next layer sets its activity_regularizer (GENERATION moves). CallRecords.put then
    # stores the steps under the *new* generation, so every later call replays Dense.call
    # without the regularizer: no activity loss, ever (the general path adds one per call).
    x = _x(5, 3)
    results = []
    for direct in (True, False):
        if not direct:
            no_direct_calls(monkeypatch)
        model, layers = _armed_model(kind, target_index=0)
        layers[1].armed = True
        model(x)  # the recording call: the regularizer appears after the Dense's __call__
        model(x)
        results.append(_loss_values(model))
    assert len(results[1]) == 1  # the general path: the Dense's activity term
    assert results[0] == results[1]


@pytest.mark.parametrize("kind", ["sequential", "functional"])
def test_a_change_made_during_a_replay_reaches_the_later_layers(monkeypatch, kind):
    # FIXED: the steps are fetched once per model call. When a replayed layer's call
    # changes what a *later* layer's __call__ does (here: sets its activity_regularizer, so
    # GENERATION moves), the rest of that call still replays the later layer's `call`: that
    # call's activity loss is missing (the general path has it).
    x = _x(5, 3)
    results = []
    for direct in (True, False):
        if not direct:
            no_direct_calls(monkeypatch)
        model, layers = _armed_model(kind, target_index=2)
        model(x), model(x)  # recorded, then replayed
        layers[1].armed = True
        model(x)  # the replayed _ArmedRegularizer gives the last Dense its regularizer
        results.append(_loss_values(model))
    assert len(results[1]) == 1
    assert results[0] == results[1]


def test_training_follows_the_call_has_training_flag_read_by_layer_call(monkeypatch):
    # FIXED (a private flag): Layer.__call__ reads `_call_has_training`
    # on every call (it drops `training` when False); the step stores it when recorded, so
    # a later change is ignored and Dropout.call still gets training=True.
    x = np.ones((64, 8), "float32")
    outs = []
    for direct in (True, False):
        if not direct:
            no_direct_calls(monkeypatch)
        ck.utils.set_random_seed(1)
        model = ck.Sequential([ck.Input((8,)), L.Dense(8), L.Dropout(0.5)])
        model(x, training=True), model(x, training=True)
        model.layers[1]._call_has_training = False
        ck.utils.set_random_seed(2)
        outs.append(model(x, training=True).numpy())
    np.testing.assert_array_equal(outs[0], outs[1])


# ======================================================================================
# 2. Where the general path itself differs from Keras (found on the way; the direct
#    calls must follow once it is fixed)
# ======================================================================================
def test_an_input_spec_changed_in_place_is_enforced_as_keras():
    # FIXED (general path too): Keras checks the input spec on every call, so a spec
    # mutated in place (`layer.input_spec.axes[-1] = 7`) rejects the next call. Layer's
    # `_spec_checked` cache (keyed by the spec's identity) and the direct calls (which skip
    # the check) both accept it.
    kdense = keras.layers.Dense(3)
    x = _x(2, 4)
    kdense(x)
    kdense.input_spec.axes[-1] = 7
    with pytest.raises(ValueError, match="incompatible"):
        kdense(x)
    model, layers = _chain("sequential", 5)
    model(x), model(x)
    layers[0].input_spec.axes[-1] = 7
    with pytest.raises(ValueError, match="incompatible"):
        model(x)
    with pytest.raises(ValueError, match="incompatible"):
        layers[0](x)


def test_training_true_recorded_in_a_functional_graph_is_kept_as_keras():
    # FIXED (general path): Keras keeps `training=True` given to a layer in the graph
    # (Monte-Carlo dropout) and overrides it only with a model call's non-None `training`.
    # chainrule's symbolic_call (layers/input_layer.py) drops it, so model(x) is the
    # identity. Once it is kept, the direct step must replay the node's own training value
    # (the second call below), not the model call's None.
    x = np.ones((64, 8), "float32")
    kin = keras.Input((8,))
    kmodel = keras.Model(kin, keras.layers.Dropout(0.5)(kin, training=True))
    kout = kmodel(x).detach().cpu().numpy()
    assert set(np.unique(kout)) == {0.0, 2.0}
    np.testing.assert_array_equal(kmodel(x, training=False).detach().cpu().numpy(), x)
    inp = ck.Input((8,))
    model = ck.Model(inp, L.Dropout(0.5)(inp, training=True))
    for _ in range(2):  # the recording call, then the replayed one
        assert set(np.unique(_numpy(model(x)))) == {0.0, 2.0}
    np.testing.assert_array_equal(_numpy(model(x, training=False)), x)


# ======================================================================================
# 3. Functional graphs: shared layers, several inputs and outputs, nesting
# ======================================================================================
def _shared_graph(module, dense_kwargs=None):
    """Two inputs (one a sequence), a Dense shared by both (on rank 2 and rank 3), two dict
    outputs. The same graph in chainrule or Keras."""
    lay = module.layers
    a, s = module.Input((4,), name="a"), module.Input((3, 4), name="s")
    shared = lay.Dense(5, activation="relu", name="shared")
    ha = shared(a)
    hs = lay.GlobalAveragePooling1D(name="pool")(shared(s))
    h = lay.Concatenate(name="cat")([ha, hs])
    h = lay.BatchNormalization(name="bn")(lay.Dense(6, name="mid")(h))
    out1 = lay.Dense(2, name="head1")(h)
    out2 = lay.Dense(1, activation="sigmoid", name="head2")(lay.Dropout(0.3, name="drop")(h))
    return module.Model({"a": a, "s": s}, {"y1": out1, "y2": out2})


def test_a_shared_layer_on_two_ranks_with_dict_inputs_and_outputs_matches_keras(monkeypatch):
    ck.utils.set_random_seed(10)
    model = _shared_graph(ck)
    kmodel = _shared_graph(keras)
    kmodel.set_weights(model.get_weights())
    xs = {"a": _x(7, 4), "s": _x(7, 3, 4)}
    outs = [_numpy(model(xs, training=False)) for _ in range(3)]
    assert _replayed_steps(model)  # the later calls replayed something
    kout = {k: v.detach().cpu().numpy() for k, v in kmodel(xs, training=False).items()}
    for out in outs:
        _assert_same(out, outs[0])
        for k in kout:
            np.testing.assert_allclose(out[k], kout[k], rtol=1e-5, atol=1e-6)
    no_direct_calls(monkeypatch)
    model._records = None
    _assert_same(_numpy(model(xs, training=False)), outs[0])


def _nested(seed):
    """Sequential(Dense, Functional(Dense, Sequential(Dense, Dropout)), Dense)."""
    ck.utils.set_random_seed(seed)
    innermost = ck.Sequential([L.Dense(6, activation="relu"), L.Dropout(0.25)])
    mid_in = ck.Input((5,))
    mid = ck.Model(mid_in, innermost(L.Dense(5, activation="tanh")(mid_in)))
    return ck.Sequential([ck.Input((4,)), L.Dense(5), mid, L.Dense(3)])


def _outputs_and_grads(model, x, y, training):
    loss = ck.losses.SparseCategoricalCrossentropy(from_logits=True)
    out = model(x, training=training)
    value = loss(y, out)
    return [out.numpy(), value.numpy(), *cr.grad([value], model.trainable_weights)]


@pytest.mark.parametrize("training", [None, True, False])
def test_nested_sequential_and_functional_models_equal_the_general_path(monkeypatch, training):
    x, y = _x(9, 4), RNG.integers(0, 3, 9)
    results = []
    for direct in (True, False):
        if not direct:
            no_direct_calls(monkeypatch)
        model = _nested(seed=12)
        ck.utils.set_random_seed(3)
        results.append([_outputs_and_grads(model, x, y, training) for _ in range(3)])
        mid, innermost = model.layers[1], model.layers[1].layers[-1]
        assert bool(_replayed_steps(mid)) == bool(_replayed_steps(innermost)) == direct
    for got, want in zip(results[0], results[1], strict=True):
        for g, w in zip(got, want, strict=True):
            _assert_same(g, w)


def test_a_layer_shared_by_two_models_follows_changes_made_through_either(monkeypatch):
    x = _x(5, 4)
    results = []
    for direct in (True, False):
        if not direct:
            no_direct_calls(monkeypatch)
        ck.utils.set_random_seed(14)
        shared = L.Dense(4, activation="relu")
        seq = ck.Sequential([ck.Input((4,)), shared, L.Dense(2)])
        inp = ck.Input((4,))
        fun = ck.Model(inp, L.Dense(3)(shared(shared(inp))))  # twice in one graph
        got = []
        for step in range(6):
            if step == 2:
                shared.activation = ck.activations.get("tanh")  # read by call every time
            if step == 4:
                seq.layers[0].kernel.assign(np.eye(4, dtype="float32"))  # via the other model
            got += [seq(x).numpy(), fun(x).numpy()]
        assert bool(_replayed_steps(seq)) == bool(_replayed_steps(fun)) == direct
        results.append(got)
    for g, w in zip(*results, strict=True):
        np.testing.assert_array_equal(g, w)


class _Block(ck.Model):
    """A subclassed model whose call uses its layers directly (one adds an activity loss)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.d1 = L.Dense(6, activation="relu", activity_regularizer="l2")
        self.drop = L.Dropout(0.4)
        self.d2 = L.Dense(3)

    def call(self, inputs, training=None):
        return self.d2(self.drop(self.d1(inputs), training=training))


@pytest.mark.parametrize("kind", ["sequential", "functional"])
def test_a_subclassed_model_inside_a_model_equals_the_general_path(monkeypatch, kind):
    x = _x(8, 5)
    results = []
    for direct in (True, False):
        if not direct:
            no_direct_calls(monkeypatch)
        ck.utils.set_random_seed(15)
        block = _Block()
        if kind == "sequential":
            model = ck.Sequential([ck.Input((5,)), L.Dense(5), block, L.Dense(2)])
        else:
            inp = ck.Input((5,))
            model = ck.Model(inp, L.Dense(2)(block(L.Dense(5)(inp))))
        ck.utils.set_random_seed(4)
        got = []
        for training in (True, True, False, False, None):
            got += [model(x, training=training).numpy(), *_loss_values(model)]
        assert bool(_replayed_steps(model)) == direct  # the block itself is replayed
        results.append((got, len(model.losses)))
    assert results[0][1] == results[1][1] == 1
    for g, w in zip(results[0][0], results[1][0], strict=True):
        np.testing.assert_array_equal(g, w)


# ======================================================================================
# 4. Threads, re-entrancy, errors, memory
# ======================================================================================
def test_two_threads_calling_one_model_with_different_shapes_get_the_general_answers():
    ck.utils.set_random_seed(16)
    model = ck.Sequential([ck.Input((6,)), L.Dense(16, activation="relu"),
                           L.BatchNormalization(), L.Dense(4)])  # fmt: skip
    inputs = {0: _x(3, 6), 1: _x(11, 6)}
    want = {k: model.layers[2](model.layers[1](model.layers[0](v))).numpy()
            for k, v in inputs.items()}  # fmt: skip
    errors, barrier = [], threading.Barrier(2)

    def work(k):
        try:
            barrier.wait()
            for _ in range(60):
                np.testing.assert_array_equal(model(inputs[k]).numpy(), want[k])
        except Exception as err:  # noqa: BLE001 - reported by the main thread
            errors.append(err)

    threads = [threading.Thread(target=work, args=(k,)) for k in inputs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[0]
    assert len(_replayed_steps(model)) == 6  # both shapes recorded


class _CallsTheModel(L.Layer):
    """Adds the model's output on the batch's first row (a re-entrant call of the model
    that holds this layer, on another input shape)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._model = None

    def call(self, inputs):
        if self._model is None or inputs.shape[0] == 1:  # building, or the inner call
            return inputs
        return inputs + self._model(self._model.inputs_for_reentry)


@pytest.mark.parametrize("kind", ["sequential", "functional"])
def test_a_layer_that_calls_its_own_model_equals_the_general_path(monkeypatch, kind):
    x = _x(6, 4)
    results = []
    for direct in (True, False):
        if not direct:
            no_direct_calls(monkeypatch)
        ck.utils.set_random_seed(17)
        reentrant = _CallsTheModel()
        layers = [L.Dense(4, activation="tanh"), reentrant, L.Dense(4)]
        if kind == "sequential":
            model = ck.Sequential([ck.Input((4,)), *layers])
        else:
            inp = ck.Input((4,))
            model = ck.Model(inp, layers[2](layers[1](layers[0](inp))))
        reentrant._model = model
        model.inputs_for_reentry = x[:1]
        results.append([model(x).numpy() for _ in range(3)])
        assert bool(_replayed_steps(model)) == direct
    for g, w in zip(*results, strict=True):
        np.testing.assert_array_equal(g, w)


def test_a_value_error_raised_in_a_replayed_call_is_the_general_paths():
    model = ck.Sequential([ck.Input((3,), dtype="int32"), L.Embedding(5, 2), L.Flatten(),
                           L.Dense(1)])  # fmt: skip
    good = np.array([[0, 1, 4], [2, 3, 1]], "int32")
    model(good), model(good)
    bad = good.copy()
    bad[1, 2] = 5
    with pytest.raises(ValueError) as replayed:
        model(bad)
    with pytest.raises(ValueError) as general:
        model.layers[0](bad)
    assert str(replayed.value) == str(general.value)
    assert "index 5 is out of range" in str(general.value)
    np.testing.assert_array_equal(model(good).numpy(),
                                  model.layers[2](model.layers[1](
                                      model.layers[0](good))).numpy())  # fmt: skip


class _KeepsWeakrefs(L.Layer):
    """Identity that remembers a weak reference to each input it sees."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._seen = []

    def call(self, inputs):
        self._seen.append(weakref.ref(inputs))
        return inputs * 1.0


@pytest.mark.parametrize("kind", ["sequential", "functional"])
def test_records_keep_no_input_or_intermediate_alive(kind):
    keeper = _KeepsWeakrefs()
    layers = [L.Dense(512), keeper, L.Dense(2)]
    if kind == "sequential":
        model = ck.Sequential([ck.Input((256,)), *layers])
    else:
        inp = ck.Input((256,))
        model = ck.Model(inp, layers[2](layers[1](layers[0](inp))))
    keeper._seen.clear()  # the symbolic calls' placeholders
    inputs = []
    for _ in range(3):
        x = cr.tensor(_x(64, 256), requires_grad=True)
        inputs.append(weakref.ref(x))
        out = model(x)
        assert out.shape == (64, 2)
        del x, out
    assert _replayed_steps(model)
    gc.collect()
    assert all(ref() is None for ref in inputs)
    assert len(keeper._seen) == 3 and all(ref() is None for ref in keeper._seen)
    for step in _replayed_steps(model):  # a step is (layer, flag, type, shape, dtype)
        flat = step if isinstance(step[0], Layer) else step[0]
        assert not any(isinstance(v, (np.ndarray, cr.Tensor)) for v in flat[1:])


# ======================================================================================
# 5. fit -> evaluate -> predict, training values and seeds
# ======================================================================================
def _fit_evaluate_predict(seed):
    ck.utils.set_random_seed(seed)
    model = _shared_graph(ck)
    model.compile(optimizer=ck.optimizers.Adam(0.01),
                  loss={"y1": ck.losses.SparseCategoricalCrossentropy(from_logits=True),
                        "y2": "binary_crossentropy"},
                  metrics={"y1": ["accuracy"]})  # fmt: skip
    n = 50
    xs = {"a": _x(n, 4), "s": _x(n, 3, 4)}
    ys = {"y1": RNG.integers(0, 2, n), "y2": RNG.integers(0, 2, (n, 1)).astype("float32")}
    ck.utils.set_random_seed(seed + 1)
    hist = model.fit(xs, ys, batch_size=16, epochs=3, validation_split=0.2, verbose=0)
    evaluated = model.evaluate(xs, ys, batch_size=16, verbose=0, return_dict=True)
    predicted = model.predict(xs, batch_size=16, verbose=0)
    trained = _numpy(model(xs, training=True))  # Dropout draws after the fit
    return (hist.history, evaluated, predicted, trained, model.get_weights(),
            bool(_replayed_steps(model)))  # fmt: skip


def test_fit_evaluate_predict_with_dropout_equal_the_general_path_and_reproduce(monkeypatch):
    xs_state = RNG.bit_generator.state
    direct = _fit_evaluate_predict(seed=30)
    RNG.bit_generator.state = xs_state
    again = _fit_evaluate_predict(seed=30)  # set_random_seed: the same run again
    RNG.bit_generator.state = xs_state
    no_direct_calls(monkeypatch)
    general = _fit_evaluate_predict(seed=30)
    assert direct[5] and not general[5]
    for other in (again, general):
        assert direct[0] == other[0]
        assert direct[1] == other[1]
        _assert_same(direct[2], other[2])
        _assert_same(direct[3], other[3])
        _assert_same(direct[4], other[4])
