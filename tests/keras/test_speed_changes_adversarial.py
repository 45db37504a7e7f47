"""Second adversarial pass on the speed changes of fit's array step and what came with it.

Under test: layers' array forms for every activation in ``activations.ARRAY_OPS`` (on ``Dense``
and on ``Activation``, and ``Flatten``), the activation given in every way Keras accepts;
``model.run_eagerly`` / ``model.jit_compile`` as set by ``compile`` and as kept by
``get_compile_config`` and save/load; ``LossFunctionWrapper._fast_mean``; ``lora_rank``
refused by ``Dense`` and ``Embedding``; and the convolution kernel gradient's GEMM orientation
when the windows have fewer rows than filters (``ops/conv.py _conv_vjp``).

References: the ordinary step (``compile(..., jit_compile=False)``, compared bit for bit:
``assert_array_equal`` on weights, ``==`` on histories), real Keras 3.15.1 (torch backend) and
PyTorch's ``conv1d/2d/3d`` gradients through ``torch.autograd`` in float64. The ``taken``
fixture counts the steps fit ran as array steps, so each test shows which step it exercised.
(The first pass, ``test_array_step_adversarial.py``, covers optimizers, data kinds, fit
arguments, callbacks, methods patched mid-fit and errors; nothing here repeats it.)

The first version of this file found 9 failures against Keras 3.15.1 (the run_eagerly and
jit_compile flags lost by get_compile_config, compile_from_config and save/load; lora_rank=0
refused; a call patched on LossFunctionWrapper ignored). They are fixed, or, for what "auto"
means, documented in ``Trainer.compile``, and their tests pin that.
"""

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import functools  # noqa: E402
import itertools  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import warnings  # noqa: E402
import zipfile  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as tF  # noqa: E402

import chainrule as cr  # noqa: E402
from chainrule import ops  # noqa: E402
from chainrule.keras.losses.loss import LossFunctionWrapper  # noqa: E402

from ._array_step_util import assert_same  # noqa: E402
from ._keras_ref import ck, tk  # noqa: E402

keras = ck
RNG = np.random.default_rng(23)
X = RNG.standard_normal((40, 6)).astype("float32")
Y4 = RNG.random((40, 4)).astype("float32")
YC = RNG.integers(0, 4, 40)
X3 = RNG.standard_normal((40, 5, 6)).astype("float32")
Y3 = RNG.random((40, 5, 4)).astype("float32")
ARRAY_ACTIVATIONS = ["relu", "sigmoid", "tanh", "softsign", "softplus", "hard_sigmoid", "silu",
                     "swish", "selu", "softmax", "log_softmax"]  # fmt: skip


def fit_pair(build, x, y, *, loss="mse", before_fit=None, **fit_kwargs):
    """Fit ``build()`` with the array step on, then with ``jit_compile=False``: same initial
    weights, same seeds. Returns ``[(weights, history), ...]``."""
    fit_kwargs.setdefault("epochs", 2)
    fit_kwargs.setdefault("batch_size", 16)
    results, init = [], None
    for jit in ("auto", False):
        keras.utils.set_random_seed(3)
        model = build()
        model.compile(optimizer=keras.optimizers.Adam(0.01), loss=loss, jit_compile=jit)
        if init is None:
            init = model.get_weights()
        model.set_weights(init)
        if before_fit is not None:
            before_fit(model)
        keras.utils.set_random_seed(5)
        hist = model.fit(x, y, verbose=0, **fit_kwargs).history
        results.append((model.get_weights(), hist))
    return results


def seq(mod, inputs, *layers):
    return mod.Sequential([mod.Input(inputs), *layers])


# ---- fixed or documented: run_eagerly / jit_compile against Keras 3.15.1 ------------------


def test_jit_compile_auto_is_true_unless_run_eagerly():
    # a documented difference (Trainer.compile's docstring): Keras 3.15.1 on torch resolves
    # jit_compile="auto" to False (it does not use torch.compile by default); chainrule
    # compiles a step to its array step, so "auto" is True, as Keras does on JAX
    ours = seq(ck, (6,), ck.layers.Dense(2))
    ref = seq(tk, (6,), tk.layers.Dense(2))
    assert ours.jit_compile is True and ref.jit_compile is False
    ours.compile(loss="mse")
    ref.compile(loss="mse")
    assert ours.jit_compile is True and ref.jit_compile is False
    for model in (ours, ref):
        model.compile(loss="mse", run_eagerly=True)
    assert ours.jit_compile is False and ref.jit_compile is False


@pytest.mark.parametrize("kwargs", [{"run_eagerly": True}, {"jit_compile": True}])
def test_get_compile_config_keeps_the_flags_as_keras(kwargs):
    # saving/model_config.py get_compile_config writes run_eagerly=False and
    # jit_compile=False whatever compile was given; Keras writes compile's run_eagerly and
    # the resolved jit_compile
    ours = seq(ck, (6,), ck.layers.Dense(2))
    ref = seq(tk, (6,), tk.layers.Dense(2))
    ours.compile(optimizer="sgd", loss="mse", **kwargs)
    ref.compile(optimizer="sgd", loss="mse", **kwargs)
    keys = ("run_eagerly", "jit_compile", "steps_per_execution")
    expected = {k: ref.get_compile_config()[k] for k in keys}
    assert {k: ours.get_compile_config()[k] for k in keys} == expected


def test_compile_from_a_keras_config_with_run_eagerly_runs_eagerly(taken):
    # compile_from_config (saving/model_config.py) passes only optimizer, loss, loss_weights,
    # metrics and weighted_metrics to compile: run_eagerly=True is dropped and the model
    # takes the array step
    ref = seq(tk, (6,), tk.layers.Dense(4))
    ref.compile(optimizer="sgd", loss="mse", run_eagerly=True)
    ours = seq(ck, (6,), ck.layers.Dense(4))
    ours.compile_from_config(ref.get_compile_config())
    ours.fit(X, Y4, epochs=2, batch_size=16, verbose=0)
    assert (ours.run_eagerly, taken[0]) == (ref.run_eagerly, 0) == (True, 0)


@pytest.mark.parametrize("jit", [False, "auto", True])
def test_a_saved_jit_compile_is_what_keras_on_torch_writes(tmp_path, jit):
    # a documented difference (Trainer.compile's docstring): the file holds what Keras on torch
    # writes (False for False and for "auto"); chainrule reads a False there as "auto", since
    # the array step changes no number, while Keras keeps False
    written = []
    for mod in (ck, tk):
        model = seq(mod, (6,), mod.layers.Dense(4))
        model.compile(optimizer="sgd", loss="mse", jit_compile=jit)
        path = str(tmp_path / f"{mod.__name__}.keras")
        model.save(path)
        config = json.loads(zipfile.ZipFile(path).read("config.json"))["compile_config"]
        written.append(config["jit_compile"])
    assert written[0] == written[1]
    assert ck.saving.load_model(str(tmp_path / f"{ck.__name__}.keras")).jit_compile is True


def test_a_keras_file_saved_with_run_eagerly_loads_with_it(tmp_path):
    # Keras writes run_eagerly=True in compile_config; chainrule's load ignores it
    ref = seq(tk, (6,), tk.layers.Dense(4))
    ref.compile(optimizer="sgd", loss="mse", run_eagerly=True)
    path = str(tmp_path / "eager.keras")
    ref.save(path)
    assert json.loads(zipfile.ZipFile(path).read("config.json"))["compile_config"][
        "run_eagerly"] is True  # fmt: skip
    assert ck.saving.load_model(path).run_eagerly is tk.saving.load_model(path).run_eagerly


# ---- fixed: lora_rank=0 and a patched LossFunctionWrapper.call -----------------------------


@pytest.mark.parametrize("which", ["Dense", "Embedding"])
def test_lora_rank_zero_means_no_lora_as_in_keras(which):
    # Keras enables LoRA only `if self.lora_rank:` (build); lora_rank=0 is a plain layer.
    # layers/core.py _no_lora refuses any lora_rank that is not None
    args = {"Dense": (4,), "Embedding": (10, 4)}[which]
    shape = {"Dense": (None, 6), "Embedding": (None, 3)}[which]
    ref = getattr(tk.layers, which)(*args, lora_rank=0)
    ref.build(shape)
    ours = getattr(ck.layers, which)(*args, lora_rank=0)
    ours.build(shape)
    assert len(ours.trainable_weights) == len(ref.trainable_weights)


def test_a_call_patched_on_loss_function_wrapper_is_used_as_in_keras(monkeypatch):
    # losses/loss.py LossFunctionWrapper._fast_mean asks `type(self).call is not
    # LossFunctionWrapper.call`: after the class's own `call` is patched both sides are the
    # patched function, so the one-node mean runs (in the ordinary step too) and the patch is
    # ignored; Keras's Loss.__call__ always runs self.call
    from keras.src.losses.losses import LossFunctionWrapper as KerasWrapper

    histories = []
    for mod, wrapper in ((ck, LossFunctionWrapper), (tk, KerasWrapper)):
        original = wrapper.call
        monkeypatch.setattr(wrapper, "call", lambda self, yt, yp, _o=original: _o(self, yt, yp) * 2)
        model = seq(mod, (6,), mod.layers.Dense(4))
        model.set_weights([np.full(w.shape, 0.1, "float32") for w in model.get_weights()])
        model.compile(optimizer=mod.optimizers.SGD(0.01), loss=mod.losses.MeanSquaredError())
        hist = model.fit(X, Y4, epochs=2, batch_size=16, shuffle=False, verbose=0).history
        histories.append(hist["loss"])
    np.testing.assert_allclose(histories[0], histories[1], rtol=1e-5)


# ---- PASSING: every array-form activation, bit for bit and against Keras -----------------


def _act_model(mod, act, out_act=None):
    return seq(mod, (6,), mod.layers.Dense(8, activation=act), mod.layers.Activation(act),
               mod.layers.Dense(4, activation=out_act))  # fmt: skip


@pytest.mark.parametrize("act", ARRAY_ACTIVATIONS)
def test_each_array_activation_on_dense_and_activation_is_bit_for_bit(act, taken):
    assert_same(fit_pair(lambda: _act_model(ck, act, act), X, Y4, epochs=3))
    assert taken[0] == 3 * 3 - 2  # every step but the first of each batch size (16, 8)


@pytest.mark.parametrize("act", ARRAY_ACTIVATIONS)
def test_each_array_activation_trains_as_keras(act, taken):
    ours, ref = _act_model(ck, act), _act_model(tk, act)
    rng = np.random.default_rng(1)
    init = [rng.uniform(-0.8, 0.8, w.shape).astype("float32") for w in ours.get_weights()]
    hists = []
    for mod, model in ((ck, ours), (tk, ref)):
        model.set_weights(init)
        model.compile(optimizer=mod.optimizers.SGD(0.02), loss="mse")
        hists.append(model.fit(X, Y4, epochs=3, batch_size=16, shuffle=False, verbose=0))
    assert taken[0] > 0
    np.testing.assert_allclose(hists[0].history["loss"], hists[1].history["loss"], rtol=2e-5)
    for a, b in zip(ours.get_weights(), ref.get_weights()):
        np.testing.assert_allclose(a, np.asarray(b), rtol=2e-5, atol=2e-6)


IDENTIFIERS = {  # how the activation is given -> whether the array step can take it
    "string": ("tanh", True),
    "config_dict": ({"module": "keras.activations", "class_name": "function", "config": "selu",
                     "registered_name": None}, True),  # fmt: skip
    "get": (keras.activations.get("softplus"), True),
    "function": (keras.activations.softsign, True),
    "alias_swish": (keras.activations.swish, True),
    "partial_softmax_axis_1": (functools.partial(keras.activations.softmax, axis=1), False),
    "partial_relu_max_value": (functools.partial(keras.activations.relu, max_value=0.5), False),
    "custom_callable": (lambda t: keras.activations.tanh(t) * 2.0, False),
    "relu_with_slope": (lambda t: keras.activations.relu(t, negative_slope=0.1), False),
}  # fmt: skip


@pytest.mark.parametrize("name", list(IDENTIFIERS))
def test_activation_identifiers_take_the_right_step_bit_for_bit(name, taken):
    act, array = IDENTIFIERS[name]
    build = lambda: seq(ck, (6,), ck.layers.Dense(8, activation=act),  # noqa: E731
                        ck.layers.Activation(act), ck.layers.Dense(4))  # fmt: skip
    assert_same(fit_pair(build, X, Y4))
    assert (taken[0] > 0) == array


SHAPES = {
    "softmax_3d_dense": (lambda: seq(ck, (5, 6), ck.layers.Dense(4, activation="softmax")),
                         X3, Y3, "mse"),
    "softmax_3d_activation_sparse": (lambda: seq(ck, (5, 6), ck.layers.Dense(4),
                                                 ck.layers.Activation("softmax")),
                                     X3, RNG.integers(0, 4, (40, 5)),
                                     ck.losses.SparseCategoricalCrossentropy(from_logits=True)),
    "activation_after_flatten": (lambda: seq(ck, (5, 6), ck.layers.Flatten(),
                                             ck.layers.Activation("tanh"), ck.layers.Dense(4),
                                             ck.layers.Activation("log_softmax")),
                                 X3, YC, ck.losses.SparseCategoricalCrossentropy(from_logits=True)),
    "flatten_after_activation": (lambda: seq(ck, (5, 6), ck.layers.Activation("sigmoid"),
                                             ck.layers.Flatten(), ck.layers.Dense(4)),
                                 X3, Y4, "mse"),
    "linear_first": (lambda: seq(ck, (6,), ck.layers.Activation("linear"), ck.layers.Dense(4)),
                     X, Y4, "mse"),
    "linear_last": (lambda: seq(ck, (6,), ck.layers.Dense(4), ck.layers.Activation("linear")),
                    X, Y4, "mse"),
    "linear_between": (lambda: seq(ck, (6,), ck.layers.Dense(4), ck.layers.Activation(None),
                                   ck.layers.Activation("softmax")), X, Y4, "mse"),
    "activation_first_no_input": (lambda: ck.Sequential([ck.layers.Activation("relu"),
                                                         ck.layers.Dense(4)]),
                                  (X * 3).astype("int32"), Y4, "mse"),
    "autoencoder_y_is_x": (lambda: seq(ck, (6,), ck.layers.Dense(3, activation="tanh"),
                                       ck.layers.Dense(6)), X, X, "mse"),
    "dense_no_bias_softmax": (lambda: seq(ck, (6,), ck.layers.Dense(4, activation="softmax",
                                                                    use_bias=False)),
                              X, Y4, "mse"),
}  # fmt: skip


@pytest.mark.parametrize("name", list(SHAPES))
def test_layer_orders_and_shapes_are_bit_for_bit(name, taken):
    build, x, y, loss = SHAPES[name]
    assert_same(fit_pair(build, x, y, loss=loss, shuffle=False))


def test_softmax_over_a_3d_output_trains_as_keras(taken):
    models = [seq(mod, (5, 6), mod.layers.Dense(4, activation="softmax")) for mod in (ck, tk)]
    init = [np.random.default_rng(2).uniform(-1, 1, w.shape).astype("float32")
            for w in models[0].get_weights()]  # fmt: skip
    hists = []
    for mod, model in zip((ck, tk), models):
        model.set_weights(init)
        model.compile(optimizer=mod.optimizers.SGD(0.5), loss="mse")
        hists.append(model.fit(X3, Y3, epochs=3, batch_size=16, shuffle=False,
                               verbose=0).history["loss"])  # fmt: skip
    assert taken[0] > 0
    np.testing.assert_allclose(hists[0], hists[1], rtol=1e-5)


class _SetActivation(keras.callbacks.Callback):
    def __init__(self, index, values):
        super().__init__()
        self.index, self.values = index, values

    def on_epoch_end(self, epoch, logs=None):
        if epoch < len(self.values):
            self.model.layers[self.index].activation = self.values[epoch]


def test_an_activation_layer_changed_mid_fit_is_used(taken):
    values = [keras.activations.tanh, functools.partial(keras.activations.softmax, axis=1),
              keras.activations.selu]  # fmt: skip
    build = lambda: seq(ck, (6,), ck.layers.Dense(8), ck.layers.Activation("relu"),  # noqa: E731
                        ck.layers.Dense(4))  # fmt: skip
    cb = lambda: [_SetActivation(1, values)]  # noqa: E731
    results = []
    for jit in ("auto", False):
        keras.utils.set_random_seed(3)
        model = build()
        model.compile(optimizer="adam", loss="mse", jit_compile=jit)
        hist = model.fit(X, Y4, epochs=4, batch_size=8, shuffle=False, verbose=0, callbacks=cb())
        results.append((model.get_weights(), hist.history))
    assert_same(results)
    assert taken[0] > 0


# ---- PASSING: run_eagerly / jit_compile as compile sets them -------------------------------


def test_run_eagerly_with_jit_compile_warns_and_disables_jit_as_keras(taken):
    got = []
    for mod in (ck, tk):
        model = seq(mod, (6,), mod.layers.Dense(4))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model.compile(optimizer="sgd", loss="mse", run_eagerly=True, jit_compile=True)
        messages = [str(w.message) for w in caught if "run_eagerly" in str(w.message)]
        got.append((model.run_eagerly, model.jit_compile, messages))
        if mod is ck:
            model.fit(X, Y4, epochs=2, batch_size=16, verbose=0)
    assert got[0] == got[1]
    assert got[0][:2] == (True, False) and len(got[0][2]) == 1
    assert taken[0] == 0


def test_compile_twice_resets_the_flags_as_keras(taken):
    got = []
    for mod in (ck, tk):
        model = seq(mod, (6,), mod.layers.Dense(4))
        model.compile(optimizer="sgd", loss="mse", run_eagerly=True)
        model.compile(optimizer="sgd", loss="mse", jit_compile=False)
        first = (model.run_eagerly, model.jit_compile)
        model.compile(optimizer="sgd", loss="mse", run_eagerly=True)
        got.append((first, model.run_eagerly))
        if mod is ck:
            model.fit(X, Y4, epochs=2, batch_size=16, verbose=0)
    assert got[0] == got[1] == ((False, False), True)
    assert taken[0] == 0


def test_flags_set_between_fits_switch_the_step_each_time(taken):
    model = seq(ck, (6,), ck.layers.Dense(4))
    model.compile(optimizer="sgd", loss="mse")
    seen = []
    for attr, value in (("jit_compile", False), ("jit_compile", True), ("run_eagerly", True),
                        ("run_eagerly", False)):  # fmt: skip
        setattr(model, attr, value)
        before = taken[0]
        model.fit(X, Y4, epochs=2, batch_size=16, verbose=0)
        seen.append(taken[0] > before)
    assert seen == [False, True, False, True]


# ---- PASSING: lora_rank refused, not ignored -----------------------------------------------


@pytest.mark.parametrize("which", ["Dense", "Embedding"])
def test_a_keras_lora_config_is_refused_naming_lora_rank(which):
    layer = tk.layers.Dense(4, lora_rank=2) if which == "Dense" else tk.layers.Embedding(
        10, 4, lora_rank=2)  # fmt: skip
    config = tk.saving.serialize_keras_object(layer)
    assert config["config"]["lora_rank"] == 2
    with pytest.raises(NotImplementedError, match=rf"{which}\(lora_rank=.*lora_rank=2"):
        ck.saving.deserialize_keras_object(config)


@pytest.mark.parametrize("which", ["Dense", "Embedding"])
def test_a_config_with_lora_rank_null_builds_the_plain_layer(which):
    make = {"Dense": lambda mod: mod.layers.Dense(4),
            "Embedding": lambda mod: mod.layers.Embedding(10, 4)}[which]  # fmt: skip
    config = tk.saving.serialize_keras_object(make(tk))
    config["config"].update(lora_rank=None, lora_alpha=None)
    ours = ck.saving.deserialize_keras_object(config)
    assert type(ours) is getattr(ck.layers, which)
    ours.build((None, 6) if which == "Dense" else (None, 3))
    plain = make(ck)
    plain.build((None, 6) if which == "Dense" else (None, 3))
    assert [w.shape for w in ours.weights] == [w.shape for w in plain.weights]


def test_a_keras_file_with_a_lora_dense_is_refused(tmp_path):
    model = seq(tk, (6,), tk.layers.Dense(4, lora_rank=2))
    path = str(tmp_path / "lora.keras")
    model.save(path)
    with pytest.raises(NotImplementedError, match="lora_rank=2"):
        ck.saving.load_model(path)


# ---- PASSING: the convolution's gradients against torch (float64) --------------------------


def _tf_pads(n, k, s, d, padding):
    eff = (k - 1) * d + 1
    if padding == "valid":
        return 0, 0
    if padding == "causal":
        return eff - 1, 0
    total = max((math.ceil(n / s) - 1) * s + eff - n, 0)  # TensorFlow's "same"
    return total // 2, total - total // 2


def _torch_conv(x, kernel, bias, strides, dilation, padding, fmt, relu):
    rank = x.ndim - 2
    leaves = [torch.tensor(a, requires_grad=True) for a in (x, kernel, bias) if a is not None]
    xt = leaves[0] if fmt == "channels_first" else leaves[0].movedim(-1, 1)
    pads = [_tf_pads(xt.shape[2 + i], kernel.shape[i], strides[i], dilation[i], padding)
            for i in range(rank)]  # fmt: skip
    xt = tF.pad(xt, [p for pair in reversed(pads) for p in pair])
    weight = leaves[1].permute(rank + 1, rank, *range(rank))
    conv = (tF.conv1d, tF.conv2d, tF.conv3d)[rank - 1]
    out = conv(xt, weight, leaves[2] if bias is not None else None, stride=strides,
               dilation=dilation, groups=xt.shape[1] // kernel.shape[-2])  # fmt: skip
    out = torch.relu(out) if relu else out
    return (out if fmt == "channels_first" else out.movedim(1, -1)), leaves


# (rank, in_channels, kernel in_channels, filters, kernel size): window rows per group
# (kernel size product x kernel in_channels, +1 with a bias) against filters per group
CONV_SHAPES = {
    "rows_lt_filters": (2, 1, 1, 16, 3),  # 9 (+1) rows < 16
    "rows_eq_filters_no_bias": (1, 2, 2, 6, 3),  # 6 == 6 without bias, 7 > 6 with
    "rows_eq_filters_bias": (1, 2, 2, 7, 3),  # 7 == 7 with bias, 6 < 7 without
    "rows_gt_filters": (2, 8, 8, 4, 3),
    "groups_rows_eq": (2, 4, 1, 16, 2),  # 4 groups, 4 rows == 4 per group (5 > 4 with bias)
    "groups_rows_lt_strict": (1, 4, 2, 16, 2),  # 2 groups, 4 (+1) rows < 8 per group
    "groups_rows_gt": (1, 6, 3, 4, 3),  # 2 groups, 9 (+1) rows > 2 per group
    "depthwise_multiplier": (2, 3, 1, 12, 1),  # 3 groups, 1 (+1) row < 4 per group
    "3d_rows_lt": (3, 1, 1, 12, 2),  # 8 (+1) rows < 12
}
CONV_CONFIGS = [(1, 1, "valid", "channels_last"), (2, 1, "same", "channels_first"),
                (1, 2, "same", "channels_last"), (2, 2, "causal", "channels_first")]  # fmt: skip


def _conv_check(rank, cin, kin, filters, ksize, stride, dil, padding, fmt, bias, dtype,
                batch=2, relu=False):  # fmt: skip
    rng = np.random.default_rng([rank, cin, kin, filters, ksize, stride, dil, len(padding), batch])
    spatial = (5,) * rank if rank == 3 else (7,) * rank
    shape = (batch, cin, *spatial) if fmt == "channels_first" else (batch, *spatial, cin)
    x = rng.standard_normal(shape).astype(dtype)
    kernel = rng.standard_normal((ksize,) * rank + (kin, filters)).astype(dtype)
    b = rng.standard_normal(filters).astype(dtype) if bias else None
    wide = [None if a is None else a.astype("float64") for a in (x, kernel, b)]
    ref, leaves = _torch_conv(*wide, (stride,) * rank, (dil,) * rank, padding, fmt, relu)
    upstream = rng.standard_normal(tuple(ref.shape))
    (ref * torch.tensor(upstream)).sum().backward()
    ours_in = [cr.tensor(a, requires_grad=True) for a in (x, kernel, b) if a is not None]
    out = ops.conv(ours_in[0], ours_in[1], ours_in[2] if bias else None, strides=stride,
                   padding=padding, data_format=fmt, dilation_rate=dil,
                   activation="relu" if relu else None)  # fmt: skip
    grads = cr.grad((out * upstream.astype(dtype)).sum(), ours_in)
    tol = {"rtol": 1e-10, "atol": 1e-10} if dtype == "float64" else {"rtol": 1e-4, "atol": 2e-4}
    np.testing.assert_allclose(out.data, ref.detach().numpy(), **tol)
    for g, leaf, mine in zip(grads, leaves, ours_in):
        assert g.dtype == mine.dtype and g.shape == mine.shape
        np.testing.assert_allclose(g, leaf.grad.numpy(), **tol)


@pytest.mark.parametrize("shape", list(CONV_SHAPES))
def test_conv_gradients_match_torch(shape):
    # each of strides, dilation, "valid"/"same"/"causal", channels_first, with and without
    # bias, in float64 and float32; then the fused relu, and a batch of zero samples
    spec = CONV_SHAPES[shape]
    for (stride, dil, padding, fmt), bias, dtype in itertools.product(
            CONV_CONFIGS, [True, False], ["float64", "float32"]):  # fmt: skip
        if padding == "causal" and spec[0] != 1:
            padding = "valid"  # (causal is 1-D only)
        _conv_check(*spec, stride, dil, padding, fmt, bias, dtype)
    _conv_check(*spec, 1, 1, "same", "channels_last", True, "float64", relu=True)
    _conv_check(*spec, 1, 1, "same", "channels_last", False, "float32", batch=0)
