"""``compile``, ``fit``, ``evaluate``, ``predict`` and the per-batch methods (Keras 3
``keras/src/trainers/trainer.py`` and ``keras/src/backend/torch/trainer.py``).

A training step is: forward, loss, ``grad(loss, trainable_weights)``, then
``optimizer.apply(grads, trainable_weights)``. The epoch ``loss`` is the batch-size-weighted
mean of the per-batch losses, each computed before that batch's update (as Keras).
"""

from __future__ import annotations

import math
import numbers
import warnings

from ...autodiff.engine import grad as _grad
from ...autodiff.grad_mode import STATE as _GRAD_STATE
from ...autodiff.grad_mode import no_grad
from ...autodiff.tensor import Tensor
from ...backend import np
from . import data_adapter as da
from .array_step import is_own
from .array_step import run as _array_step
from .array_step import sealed_steps as _sealed_steps
from .compile_utils import CompileLoss, CompileMetrics, LossTracker
from .trainer_utils import (
    _aggregate_loss,
    _batch_len,
    _batch_size_arg,
    _check_int,
    _FitCache,
    _merge_outputs,
    _pythonify_logs,
    _to_numpy,
    _unshared,
    _verbose,
)

__all__ = ["Trainer"]


class Trainer:
    """The training API mixed into ``keras.Model``."""

    def _init_trainer(self):
        self.optimizer = None
        self.loss = None
        self.compiled = False
        self.stop_training = False
        self.history = None
        self._compile_loss = None
        self._compile_metrics = None
        self._loss_tracker = LossTracker("loss")
        self._compile_config = None
        self.run_eagerly = False
        self.jit_compile = True

    # -- compile --------------------------------------------------------------------------
    def compile(self, optimizer="rmsprop", loss=None, loss_weights=None, metrics=None,
                weighted_metrics=None, run_eagerly=False, steps_per_execution=1,
                jit_compile="auto", auto_scale_loss=True):  # fmt: skip
        """Configure training (defaults match Keras 3: ``optimizer="rmsprop"``).

        Args:
            optimizer: a name or an Optimizer.
            loss: a name, a function ``(y_true, y_pred)``, a Loss, or a list/dict per output.
            loss_weights: weights of each output's loss in the total.
            metrics: names, functions or Metric objects (``"accuracy"`` picks binary, sparse
                or categorical accuracy from the loss and shapes, as Keras).
            weighted_metrics: metrics that use ``sample_weight``.
            run_eagerly: default False. jit_compile: default ``"auto"``, which is True unless
                ``run_eagerly``. Both become settable attributes (``model.run_eagerly``,
                ``model.jit_compile``), as in Keras. What chainrule compiles a training step
                to is fit's array step (``array_step.py``, see the FAQ): ``jit_compile=False``
                or ``run_eagerly=True`` turns it off. (Keras resolves ``"auto"`` per backend:
                True where it can compile, as on JAX; False on torch, whose compiler it does
                not use by default. chainrule can, so ``"auto"`` is True. A saved
                ``compile_config`` holds what Keras on torch writes, False for ``"auto"``, and
                loading reads a False there as ``"auto"``: the array step changes no number.)

        Raises:
            ValueError: for an unknown optimizer, loss or metric name (listing valid names).
        """
        from .. import losses as losses_mod  # noqa: PLC0415
        from .. import metrics as metrics_mod  # noqa: PLC0415
        from .. import optimizers  # noqa: PLC0415

        self.optimizer = optimizers.get(optimizer)
        # run_eagerly and jit_compile as Keras resolves them (what "auto" means: the docstring)
        auto_jit = isinstance(jit_compile, str) and jit_compile == "auto"
        if auto_jit:
            jit_compile = not run_eagerly
        if jit_compile and run_eagerly:
            warnings.warn("If `run_eagerly` is True, then `jit_compile` cannot also be True. "
                          "Disabling `jit_compile`.", stacklevel=2)  # fmt: skip
            jit_compile = False
        self.jit_compile = bool(jit_compile)
        self.run_eagerly = bool(run_eagerly)
        for ident in da.tree_flatten(loss):  # validate names now, not on the first batch
            if isinstance(ident, str) and ident not in ("crossentropy", "ce"):
                losses_mod.get(ident)
        for ident in da.tree_flatten([metrics, weighted_metrics]):
            if isinstance(ident, str) and ident not in ("accuracy", "acc", "crossentropy", "ce"):
                metrics_mod.get(ident)
        self.loss = loss
        names = getattr(self, "_loss_names", None) or getattr(self, "output_names", None)
        self._compile_loss = CompileLoss(loss, loss_weights, names) if loss is not None else None
        self._compile_metrics = CompileMetrics(metrics, weighted_metrics, loss, names)
        self.compiled = True
        self._compile_config = {
            "optimizer": optimizer, "loss": loss, "loss_weights": loss_weights,
            "metrics": metrics, "weighted_metrics": weighted_metrics,
            # what Keras on torch writes: "auto" is False there (see the docstring)
            "run_eagerly": self.run_eagerly, "jit_compile": self.jit_compile and not auto_jit,
        }  # fmt: skip

    def _assert_compiled(self, what):
        if not self.compiled:  # (a ValueError with Keras's words, so `except` clauses match)
            raise ValueError(
                f"You must call `compile()` before using the model (model {self.name!r} was "
                f"asked to {what})."
            )

    @property
    def metrics(self):
        """Keras 3's order: the loss tracker ("loss"), the ``compile_metrics`` container,
        then one ``<output>_loss`` tracker per output when there are several losses. Each has
        ``name``, ``update_state``, ``result`` and ``reset_state``, so a custom ``train_step``
        can update them as in Keras's guide."""
        if not self.compiled:
            return []
        out = [self._loss_tracker, self._compile_metrics]
        if self._compile_loss is not None:
            out.extend(self._compile_loss.metrics)
        return out

    @property
    def metrics_names(self):
        return [m.name for m in self.metrics]

    def _flat_metric_names(self):
        names = []
        for m in self.metrics:
            if isinstance(m, CompileMetrics):
                names.extend(sub.name for sub in m.metrics)
            else:
                names.append(m.name)
        return names

    def reset_metrics(self):
        for m in self.metrics:
            m.reset_state()

    def get_metrics_result(self):
        """The current ``{"loss": ..., metric: ...}`` (Python floats; containers flattened),
        keys sorted, as Keras's (``pythonify_logs``)."""
        logs = {}
        if self._loss_tracker.count:
            logs["loss"] = self._loss_tracker.result()
        for m in self.metrics[1:]:
            result = m.result()
            if isinstance(result, dict):
                logs.update(result)
            else:
                logs[m.name] = result
        # (values, not a metric's live state: a result that is the metric's own Variable
        # would change under fit's epoch logs when validation refills the metric)
        return _pythonify_logs(dict(sorted(logs.items())))

    # -- losses ---------------------------------------------------------------------------
    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """The compiled loss plus ``ops.sum`` of each term in ``model.losses`` (``add_loss``
        terms and regularizers; an integer term is cast to float32 first), as Keras 3
        ``Trainer.compute_loss`` and ``_aggregate_additional_loss``.

        Raises:
            ValueError: if there is no compiled loss (or no ``y``) and no term in ``losses``.
        """
        total = None
        if self._compile_loss is not None and y is not None:
            total = self._compile_loss(y, y_pred, sample_weight)
        cache = self._live_fit_cache()
        extras = self.losses if cache is None else (() if cache.lossless else cache.losses())
        for extra in extras:
            if type(extra) is not Tensor or extra.data.ndim or extra.data.dtype.kind != "f":
                extra = _aggregate_loss(extra)
            total = extra if total is None else total + extra
        if total is None:
            raise ValueError(
                "No loss to compute. Provide a `loss` argument in `compile()` (and y to fit), "
                "or add a loss with `self.add_loss()` in a layer's call()."
            )
        return total

    def _track_loss(self, loss, batch_size):
        self._loss_tracker.add(loss.data if isinstance(loss, Tensor) else loss, batch_size)

    # -- steps (override train_step/test_step to customise fit/evaluate) -------------------
    def train_step(self, data):
        """One optimisation step on a batch (``None``: ``fit`` reads the running metrics once
        an epoch). Within ``fit``, the array step (``array_step.py``) takes the batch instead
        where it gives the same numbers without Tensors."""
        x, y, sample_weight = da.unpack(data)
        # reread before the forward if a callback changed the model
        cache = self._live_fit_cache()
        if cache is not None and cache.array and _array_step(self, cache, x, y, sample_weight):
            return None
        if cache is None or not cache.lossless:
            self._clear_losses()  # Sequential's __call__ does not clear its own add_loss terms
        y_pred = self(x, training=True)
        loss = self.compute_loss(x, y, y_pred, sample_weight)
        self._track_loss(loss, _batch_len(x))
        cache = self._fit_cache
        trainable = self.trainable_weights if cache is None else cache.trainable
        if trainable:
            if self.optimizer.loss_scale_factor is not None:
                # as Keras's train_step: the loss is scaled before differentiating and
                # `apply` divides the gradients by the same factor
                loss = self.optimizer.scale_loss(loss)
            missing = []
            grads = _grad(loss, trainable, missing=missing)
            if cache is None:
                for i in missing:  # (skipped by the optimizer, as Keras's: no gradient)
                    grads[i] = None
                self.optimizer.apply(grads, trainable)
                self._apply_constraints(trainable)
            else:
                cache.apply(grads, missing)
        if y is not None and self._compile_metrics is not None:
            self._compile_metrics.update_state(y, y_pred, sample_weight)
        return None  # logs are read once per epoch (or per batch when callbacks need them)

    def test_step(self, data):
        x, y, sample_weight = da.unpack(data)
        self._clear_losses()
        y_pred = self(x, training=False)
        loss = self.compute_loss(x, y, y_pred, sample_weight, training=False)
        self._track_loss(loss, _batch_len(x))
        if y is not None and self._compile_metrics is not None:
            self._compile_metrics.update_state(y, y_pred, sample_weight)
        return None

    def predict_step(self, data):
        x, _, _ = da.unpack(data)
        return self(x, training=False)

    def _live_fit_cache(self):
        """The running fit's cache, reread when the layer tree or the optimizer changed since
        (a callback froze a layer, set an activity regularizer or swapped the optimizer)."""
        cache = self._fit_cache
        if cache is not None and cache.stale(self):
            cache = self._fit_cache = _FitCache(self)
        return cache

    def _apply_constraints(self, variables):
        for v in variables:
            c = getattr(v, "_constraint", None)
            if c is not None:
                v.assign(np.asarray(c(v.data), dtype=v.dtype))

    def _step_logs(self, returned):
        """The logs of a step, as Keras's ``_get_metrics_result_or_logs``: the metrics' results
        unless the step returned a dict of other keys, which is then kept as it is (its
        values as Python floats, a nested dict such as ``compile_metrics`` still nested, for
        the callbacks to flatten in Keras's order)."""
        metric_logs = self.get_metrics_result()
        if not isinstance(returned, dict) or set(returned) == set(metric_logs):
            return metric_logs
        return _pythonify_logs(returned)

    # -- data -----------------------------------------------------------------------------
    def _make_batches(self, x, y, sample_weight, batch_size, shuffle, steps=None,
                      class_weight=None):  # fmt: skip
        if isinstance(x, da.GeneratorBatches):  # fit's validation generator, made once
            return x
        if da.is_generator_like(x):
            indexed = da.is_indexed(x)
            _refuse_with_batches(x, indexed, y, sample_weight, class_weight)
            if shuffle and not indexed:
                warnings.warn(
                    "`shuffle=True` was passed, but will be ignored since the data `x` was "
                    "provided as a generator. The generator is expected to yield "
                    "already-shuffled data.",
                    stacklevel=3,
                )
            one_pass = da.GeneratorBatches(x, None, self.dtype, shuffle=bool(shuffle),
                                           class_weight=class_weight)  # fmt: skip
            # with steps: one pass continues across epochs, as an array's (Keras's
            # EpochIterator with steps_per_epoch)
            return one_pass if steps is None else da.StepBatches(one_pass, steps)
        x = self._standardize_x(x)
        y = da.standardize(y, self.dtype)
        sample_weight = da.standardize(sample_weight, self.dtype)
        if batch_size is None:
            n = da.num_samples(("x", x), ("y", y), ("sample_weight", sample_weight))
            batch_size = math.ceil(n / steps)
        b = da.ArrayBatches(x, y, sample_weight, batch_size, shuffle, self.dtype)
        return b if steps is None else da.StepBatches(b, steps)

    def _standardize_x(self, x):
        if x is None:
            raise ValueError("x is None: pass the input data as x")
        x = da.standardize(x, self.dtype)
        for a in da.tree_flatten(x):
            if a is not None and a.ndim >= 1 and a.shape[0] == 0:
                raise ValueError(f"x is empty: received an array of shape {a.shape}")
        return x

    # -- fit ------------------------------------------------------------------------------
    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None,
            validation_split=0.0, validation_data=None, shuffle=True, class_weight=None,
            sample_weight=None, initial_epoch=0, steps_per_epoch=None, validation_steps=None,
            validation_batch_size=None, validation_freq=1):  # fmt: skip
        """Train for ``epochs`` epochs; returns the ``History`` (Keras 3 defaults:
        ``batch_size=32``, ``shuffle=True``, ``verbose="auto"`` = 1).

        ``validation_split`` holds out the last fraction of the samples, before shuffling.
        ``class_weight`` maps class indices to weights (missing classes weigh 1.0, as Keras).

        Raises:
            ValueError: if the model is not compiled (as Keras).
            ValueError: for batch_size <= 0, epochs < 0, validation_split outside [0, 1),
                mismatched x/y lengths, empty x, or a split leaving an empty part.
            ValueError: as Keras, for ``class_weight`` with ``sample_weight`` or with several
                outputs, and for ``validation_split`` with a generator or dataset.
        """
        from ..callbacks import CallbackList, History  # noqa: PLC0415

        self._assert_compiled("fit")
        if steps_per_epoch is not None:
            steps_per_epoch = _check_int("steps_per_epoch", steps_per_epoch, 1)
        batch_size = _batch_size_arg(batch_size, steps_per_epoch)
        epochs = _check_int("epochs", epochs, 0)
        verbose = _verbose(verbose)
        if not isinstance(validation_split, numbers.Real) or not 0 <= validation_split < 1:
            raise ValueError(
                f"validation_split must be a float in [0, 1), received "
                f"validation_split={validation_split!r}"
            )
        val = None
        if validation_data is not None:
            val = da.unpack(validation_data)
        elif validation_split and da.is_generator_like(x):
            raise ValueError(  # Keras's words (array_slicing.train_validation_split)
                "Argument `validation_split` is only supported for tensors or NumPy arrays. "
                f"Found incompatible type in the input: {[type(x)]}"
            )
        elif validation_split:
            x_ = self._standardize_x(x)
            y_ = da.standardize(y, self.dtype)
            sw_ = da.standardize(sample_weight, self.dtype)
            (x, y, sample_weight), val = da.split([x_, y_, sw_], validation_split)
        if class_weight is not None and y is not None:
            _check_class_weight(y, sample_weight, "You cannot `class_weight` and `sample_weight` "
                                "at the same time.")  # fmt: skip
            sample_weight = da.class_weight_to_sample_weight(da.standardize(y, self.dtype),
                                                             class_weight)  # fmt: skip
            class_weight = None
        batches = self._make_batches(x, y, sample_weight, batch_size, shuffle, steps_per_epoch,
                                     class_weight)  # fmt: skip
        self._build_for_data(batches)
        cbs = CallbackList(callbacks, add_history=True, add_progbar=verbose != 0, model=self,
                           verbose=verbose, epochs=epochs, steps=batches.steps)  # fmt: skip
        batch_hooks = getattr(cbs, "has_batch_hooks", True)
        # only chainrule's code between two epochs (its History, a validation pass on arrays,
        # the model's own methods): a sealed epoch's verdict then holds for the next ones
        quiet = (all(type(cb) is History and is_own(cb) for cb in cbs.callbacks)
                 and is_own(self) and (val is None or all(v is None or type(v) is np.ndarray
                                                          for v in val)))  # fmt: skip
        self.stop_training = False
        self._fit_cache = _FitCache(self)
        try:
            custom_step = type(self).train_step is not Trainer.train_step
            cbs.on_train_begin()
            # BackupAndRestore sets `_initial_epoch` in on_train_begin to resume (as Keras); it is
            # read once so that a later fit starts where its own arguments say.
            initial_epoch = self.__dict__.pop("_initial_epoch", None) or initial_epoch
            epoch_logs = {}
            for epoch in range(initial_epoch, epochs):
                self.reset_metrics()
                cbs.on_epoch_begin(epoch)
                returned = None
                steps = enumerate(batches)
                if not batch_hooks and not custom_step:
                    cache = self._live_fit_cache()  # (None after a fit inside a callback)
                    if cache is not None and cache.array:  # a sealed epoch takes what it can
                        steps = _sealed_steps(self, cache, batches, steps, quiet)
                for step, data in steps:
                    if batch_hooks:
                        cbs.on_train_batch_begin(step)
                    returned = self.train_step(data)
                    if batch_hooks:
                        cbs.on_train_batch_end(step, self._step_logs(returned))
                    if self.stop_training:
                        break
                epoch_logs = (self._step_logs(returned) if custom_step
                              else self.get_metrics_result())  # fmt: skip
                if val is not None and (epoch + 1) % validation_freq == 0:
                    if (da.is_generator_like(val[0]) and not da.is_indexed(val[0])
                            and not isinstance(val[0], da.GeneratorBatches)):  # fmt: skip
                        # a generator: one reader for all the epochs' validation passes, each
                        # from the first batch, made at the first one, after the first epoch's
                        # training (Keras keeps one for the fit and resets it each epoch)
                        reader = da.GeneratorBatches(val[0], validation_steps, self.dtype)
                        val = (reader, *val[1:])
                    # fit's callbacks see the validation pass's on_test_* hooks (as Keras);
                    # the progress bar stays silent inside fit
                    val_logs = self.evaluate(val[0], val[1], sample_weight=val[2],
                                             batch_size=validation_batch_size or batch_size,
                                             steps=validation_steps, verbose=0, callbacks=cbs,
                                             return_dict=True)  # fmt: skip
                    epoch_logs.update({f"val_{k}": v for k, v in val_logs.items()})
                cbs.on_epoch_end(epoch, epoch_logs)
                if self.stop_training:
                    break
        finally:
            self._fit_cache = None  # also after an exception: never a stale list
        if epochs > 0 and getattr(self.optimizer, "use_ema", False):
            # as Keras's fit: with EMA, the weights end as their moving averages
            self.optimizer.finalize_variable_values(self.trainable_weights)
        cbs.on_train_end(epoch_logs)
        return self.history

    _fit_cache = None

    def _build_for_data(self, batches):
        """Build the model on the first batch's shape, before callbacks see it.

        As Keras's ``fit`` and ``evaluate`` (``_symbolic_build`` then ``EpochIterator.reset``),
        for a PyDataset: when the model or its compiled loss is not built yet (the first fit
        or evaluate after compile) its first batch is read between ``on_epoch_begin`` and
        ``on_epoch_end``, and ``on_epoch_end`` is called before the data's first epoch in any
        case."""
        source = getattr(batches, "batches", batches)  # not a StepBatches view: the data
        hooks = isinstance(source, da.GeneratorBatches) and source.indexed
        first = not self.built or (
            hooks and self._compile_loss is not None and self._compile_loss._built is None)
        if first:
            if hooks:
                source.epoch_begin()
            for data in source.one_pass() if isinstance(source, da.GeneratorBatches) else source:
                if not self.built:
                    x, _, _ = da.unpack(data)
                    with no_grad():
                        self(x, training=False)
                break
        if hooks:
            source.epoch_end()

    # -- evaluate / predict ---------------------------------------------------------------
    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None,
                 steps=None, callbacks=None, return_dict=False, **kwargs):  # fmt: skip
        """The loss (and metrics) on the data, averaged over samples.

        Returns:
            the loss as a float when there are no metrics; else ``[loss, *metrics]``;
            a dict when ``return_dict=True``.
        """
        from ..callbacks import CallbackList  # noqa: PLC0415

        self._assert_compiled("evaluate")
        steps = None if steps is None else _check_int("steps", steps, 1)
        batch_size = _batch_size_arg(batch_size, steps)
        verbose = _verbose(verbose)
        batches = self._make_batches(x, y, sample_weight, batch_size, False, steps)
        self._build_for_data(batches)
        if isinstance(callbacks, CallbackList):  # fit's own list, for its validation pass
            cbs = callbacks
        else:
            cbs = CallbackList(callbacks, add_progbar=verbose != 0, model=self, verbose=verbose,
                               epochs=1, steps=batches.steps)  # fmt: skip
        batch_hooks = cbs.has_test_batch_hooks
        self.reset_metrics()
        cbs.on_test_begin()
        returned = None
        with no_grad():
            for step, data in enumerate(batches):
                if batch_hooks:
                    cbs.on_test_batch_begin(step)
                returned = self.test_step(data)
                if batch_hooks:
                    cbs.on_test_batch_end(step, self._step_logs(returned))
        # flat, as Keras's evaluate returns it (a custom test_step's nested dict is merged in)
        from ..callbacks.callback_list import pythonify_logs  # noqa: PLC0415

        logs = pythonify_logs(self._step_logs(returned))
        cbs.on_test_end(logs)
        if return_dict:
            return logs
        return self._batch_result(logs, False)

    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
        """Outputs for the inputs, batch by batch with no graph recorded; float32 NumPy arrays
        (a list or dict of them for several outputs)."""
        if (type(x) is np.ndarray and verbose == 0 and callbacks is None and steps is None
                and batch_size is None and 0 < x.ndim and 0 < x.shape[0] <= 32
                and x.dtype.kind in "biuf" and type(self).predict_step is Trainer.predict_step):
            # NOTE: the hot path of predict on a few samples (one batch, nothing watching):
            # straight to the forward pass with no graph recorded.
            state = _GRAD_STATE
            prev, state.enabled = state.enabled, False
            try:
                out = self(x if x.dtype == self.dtype or x.dtype.kind != "f"
                           else x.astype(self.dtype), training=False)  # fmt: skip
            finally:
                state.enabled = prev
            return _unshared(da.tree_map(_to_numpy, out), x)
        from ..callbacks import CallbackList  # noqa: PLC0415

        steps = None if steps is None else _check_int("steps", steps, 1)
        batch_size = _batch_size_arg(batch_size, steps)
        verbose = _verbose(verbose)
        if callbacks is None and verbose == 0 and steps is None and not da.is_generator_like(x):
            xs = self._standardize_x(x)
            if isinstance(xs, np.ndarray) and xs.ndim >= 1 and xs.shape[0] <= batch_size:
                # One batch, nothing watching: skip the batching and callback machinery,
                # which costs more than a small model's forward pass.
                if xs.dtype.kind == "f" and xs.dtype != self.dtype:
                    xs = xs.astype(self.dtype)
                with no_grad():
                    out = da.tree_map(_to_numpy, self.predict_step((xs,)))
                return _unshared(_merge_outputs([out]), xs)
        batches = self._make_batches(x, None, None, batch_size, False, steps)
        cbs = CallbackList(callbacks, add_progbar=verbose != 0, model=self, verbose=verbose,
                           epochs=1, steps=batches.steps)  # fmt: skip
        batch_hooks = getattr(cbs, "has_batch_hooks", True)
        cbs.on_predict_begin()
        outs = []
        with no_grad():
            for step, data in enumerate(batches):
                if batch_hooks:
                    cbs.on_predict_batch_begin(step)
                out = da.tree_map(_to_numpy, self.predict_step(data))
                outs.append(out)
                if batch_hooks:
                    cbs.on_predict_batch_end(step, {"outputs": out})
        cbs.on_predict_end()
        if not outs:
            raise ValueError("predict received no data")
        return _unshared(_merge_outputs(outs), x)

    # -- on one batch ---------------------------------------------------------------------
    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None,
                       return_dict=False):  # fmt: skip
        """One training step on exactly this batch; returns the loss (and metrics)."""
        self._assert_compiled("train_on_batch")
        x = self._standardize_x(x)
        y = da.standardize(y, self.dtype)
        if class_weight is not None and y is not None:
            _check_class_weight(y, sample_weight, "Arguments `sample_weight` and `class_weight` "
                                "cannot be specified at the same time. Received: "
                                f"sample_weight={sample_weight}, class_weight={class_weight}")
            sample_weight = da.class_weight_to_sample_weight(y, class_weight)
        sample_weight = da.standardize(sample_weight, self.dtype)
        da.num_samples(("x", x), ("y", y), ("sample_weight", sample_weight))
        if not self.built:
            with no_grad():
                self(x, training=False)
        self.optimizer.build(self.trainable_weights)
        self.reset_metrics()
        returned = self.train_step((x, y, sample_weight))
        return self._batch_result(self._step_logs(returned), return_dict)

    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        """The loss (and metrics) on exactly this batch."""
        self._assert_compiled("test_on_batch")
        self.reset_metrics()
        with no_grad():
            returned = self.test_step((self._standardize_x(x), da.standardize(y, self.dtype),
                                       da.standardize(sample_weight, self.dtype)))  # fmt: skip
        return self._batch_result(self._step_logs(returned), return_dict)

    def predict_on_batch(self, x):
        """The outputs for exactly this batch, as NumPy arrays."""
        x = self._standardize_x(x)
        with no_grad():
            out = self.predict_step((x,))
        return _unshared(da.tree_map(_to_numpy, out), x)

    def _batch_result(self, logs, return_dict):
        if return_dict:
            return logs
        names = self._flat_metric_names()
        values = [logs[k] for k in names if k in logs]
        values += [logs[k] for k in sorted(logs) if k not in names]
        return values[0] if len(values) == 1 else values


def _refuse_with_batches(x, indexed, y, sample_weight, class_weight):
    """What Keras refuses alongside a generator or PyDataset, which yield whole batches: ``y``
    and ``sample_weight`` (part of the batches), and for a generator ``class_weight`` (a
    PyDataset's batches are weighed by class). Keras 3 ``trainers/data_adapters/__init__.py``.

    Raises:
        ValueError: with Keras's message.
    """
    kind = "PyDataset" if indexed else "generator"
    for arg, value, what in (("y", y, "the targets"),
                             ("sample_weights", sample_weight, "the sample weights")):  # fmt: skip
        if value is not None:
            raise ValueError(
                f"When providing `x` as a {kind}, `{arg}` should not be passed. Instead, "
                f"{what} should be included as part of the {kind}."
            )
    if class_weight is not None and not indexed:
        raise ValueError(
            "Argument `class_weight` is not supported for Python generator inputs. "
            f"Received: class_weight={class_weight}"
        )


def _check_class_weight(y, sample_weight, both_message):
    """Keras's refusals of ``class_weight``: with ``sample_weight`` (``both_message``, fit's
    and train_on_batch's words differ) and for several outputs."""
    if sample_weight is not None:
        raise ValueError(both_message)
    if isinstance(y, (list, tuple, dict)):
        raise ValueError("`class_weight` is only supported for Models with a single output.")
