"""Turning user data (arrays, lists, Tensors, dicts, generators, PyDataset) into batches.

Arrays are sliced batch by batch (``x[idx[i:i + b]]``), never collated per sample; without
shuffling, batches are views, so a ``numpy.memmap`` is never copied whole. Float data is
cast to the model's float type per batch; a small float64 array is cast once up front.
"""

from __future__ import annotations

import itertools
import math
import types
import warnings

from ...autodiff.tensor import Tensor
from ...backend import np, rng

__all__ = ["standardize", "num_samples", "ArrayBatches", "StepBatches", "tree_map",
           "tree_flatten", "split", "is_generator_like", "unpack",
           "class_weight_to_sample_weight", "is_indexed"]  # fmt: skip

_CAST_UPFRONT_BYTES = 64 * 2**20


def tree_map(fn, x):
    """Apply ``fn`` to every leaf of a list/tuple/dict structure."""
    if isinstance(x, list):
        return [tree_map(fn, v) for v in x]
    if isinstance(x, tuple):
        return tuple(tree_map(fn, v) for v in x)
    if isinstance(x, dict):
        return {k: tree_map(fn, v) for k, v in x.items()}
    return fn(x)


def tree_flatten(x):
    if isinstance(x, (list, tuple)):
        return [y for v in x for y in tree_flatten(v)]
    if isinstance(x, dict):
        return [y for v in x.values() for y in tree_flatten(v)]
    return [x]


def _to_array(v, floatx):
    if v is None:
        return None
    if isinstance(v, Tensor):
        v = v.data
    if hasattr(v, "to_numpy") and not isinstance(v, np.ndarray):  # pandas
        v = v.to_numpy()
    if not isinstance(v, np.ndarray):
        v = np.asarray(v)
    if v.dtype.kind not in "biuf":
        raise TypeError(f"data must be numeric, received an array of dtype {v.dtype}")
    if v.dtype.kind == "f" and v.dtype != floatx and v.nbytes <= _CAST_UPFRONT_BYTES:
        v = v.astype(floatx)
    return v


def _leaf_is_list_of_numbers(x):
    return isinstance(x, list) and x and not isinstance(x[0], (np.ndarray, Tensor, dict))


def standardize(x, floatx="float32"):
    """Arrays for a structure of user data; a plain nested list of numbers is one array."""
    if x is None:
        return None
    if _leaf_is_list_of_numbers(x) and not any(
            isinstance(v, (list, tuple)) and v and isinstance(v[0], np.ndarray) for v in x):
        try:
            return _to_array(x, np.dtype(floatx))
        except (ValueError, TypeError):
            pass
    return tree_map(lambda v: _to_array(v, np.dtype(floatx)), x)


def num_samples(*structures):
    """The common first-axis length of every array in the structures.

    Raises:
        ValueError: naming the sizes when they differ, or for a 0-d array.
    """
    sizes = []
    for name, s in structures:
        for a in tree_flatten(s):
            if a is None:
                continue
            if a.ndim == 0:
                raise ValueError(f"{name} must have a batch axis, received a 0-d array")
            sizes.append((name, a.shape[0]))
    if not sizes:
        raise ValueError("no data was given: x is None")
    n = sizes[0][1]
    for _name, m in sizes[1:]:
        if m != n:
            listing = ", ".join(f"{nm}: {sz}" for nm, sz in sizes)
            raise ValueError(
                f"data cardinality is ambiguous: make sure all arrays contain the same number "
                f"of samples. Received sizes {listing}"
            )
    return n


def _take(struct, idx, floatx):
    def take(a):
        if a is None:
            return None
        b = a[idx]
        if b.dtype.kind == "f" and b.dtype != floatx:
            b = b.astype(floatx)
        return b

    if isinstance(struct, np.ndarray):
        return take(struct)
    return tree_map(take, struct)


def split(structs, validation_split):
    """Keras's rule: the last ``validation_split`` fraction of samples (before shuffling)
    is held out; ``split_at = floor(n * (1 - validation_split))``.

    Raises:
        ValueError: when either part would be empty.
    """
    n = num_samples(*[("x", s) for s in structs if s is not None])
    split_at = int(math.floor(n * (1.0 - validation_split)))
    if split_at == 0 or split_at == n:
        raise ValueError(
            f"training data contains {n} samples, which is not sufficient to split it into a "
            f"validation and training set as specified by validation_split={validation_split}. "
            "Either provide more data, or a different value for validation_split"
        )
    first = [None if s is None else tree_map(lambda a: a[:split_at], s) for s in structs]
    second = [None if s is None else tree_map(lambda a: a[split_at:], s) for s in structs]
    return first, second


class ArrayBatches:
    """Batches of ``(x, y, sample_weight)`` from in-memory arrays.

    Args:
        x, y, sample_weight: array structures with a common first axis.
        batch_size: default 32 (Keras). The last partial batch is kept.
        shuffle: True for a fresh permutation each epoch (from chainrule's generator),
            "batch" to shuffle within batches, False for the given order.
    """

    def __init__(self, x, y=None, sample_weight=None, batch_size=32, shuffle=False,
                 floatx="float32"):  # fmt: skip
        self.n = num_samples(("x", x), ("y", y), ("sample_weight", sample_weight))
        self.floatx = np.dtype(floatx)
        self.x, self.y, self.sample_weight = (self._converted(a) for a in (x, y, sample_weight))
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.steps = max(1, math.ceil(self.n / batch_size)) if self.n else 0

    # NOTE: a float64 array (what NumPy makes by default) is converted once, not batch by
    # batch, when its float32 copy is small: the same values, two fewer calls per step. Large
    # arrays and memmaps are still converted per batch, so that no copy of the data is made.
    _CONVERT_ONCE_BYTES = 64 << 20

    def _converted(self, a):
        if (type(a) is np.ndarray and a.dtype.kind == "f" and a.dtype != self.floatx
                and a.size * self.floatx.itemsize <= self._CONVERT_ONCE_BYTES):  # fmt: skip
            return a.astype(self.floatx)
        return a

    def _plain(self, a):
        """True when ``a`` is None or an in-memory array whose rows need no conversion."""
        if a is None:
            return True
        return type(a) is np.ndarray and (a.dtype.kind != "f" or a.dtype == self.floatx)

    def __iter__(self):
        n, b, fx = self.n, self.batch_size, self.floatx
        if self.shuffle and self.shuffle != "batch":
            order = rng().permutation(n)
            x, y = self.x, self.y
            if self.sample_weight is None and self._plain(x) and self._plain(y):
                # NOTE: the common case, plain arrays: one call per array and batch. `take`
                # copies the same rows as fancy indexing at 1.3-2.5x its speed for 2-D and
                # wider arrays; for 1-D ones fancy indexing is the faster.
                take_x = x.ndim > 1
                take_y = y is not None and y.ndim > 1
                for i in range(0, n, b):
                    idx = order[i:i + b]
                    bx = x.take(idx, 0) if take_x else x[idx]
                    if y is None:
                        yield (bx,)
                    else:
                        yield bx, (y.take(idx, 0) if take_y else y[idx])
                return
            for i in range(0, n, b):
                idx = order[i:i + b]
                yield _pack(_take(self.x, idx, fx), _take(self.y, idx, fx),
                            _take(self.sample_weight, idx, fx))  # fmt: skip
        else:
            for i in range(0, n, b):
                idx = slice(i, min(i + b, n))
                if self.shuffle == "batch":
                    idx = np.arange(idx.start, idx.stop)
                    rng().shuffle(idx)
                yield _pack(_take(self.x, idx, fx), _take(self.y, idx, fx),
                            _take(self.sample_weight, idx, fx))  # fmt: skip


class StepBatches:
    """``steps`` batches per epoch, as Keras's ``EpochIterator`` with ``steps_per_epoch``: one
    pass over the data continues across epochs; when it runs out within an epoch, that epoch
    ends early with a warning and the next starts a fresh (reshuffled) pass. ``evaluate``/
    ``predict`` make a new one per call, so ``steps`` there takes the first ``steps`` batches.

    Args:
        batches: an ``ArrayBatches`` or ``GeneratorBatches`` (``steps`` attribute: batches
            per pass, or None for a generator, whose pass ends when it runs out).
        steps: batches per epoch, a positive int.
    """

    def __init__(self, batches, steps):
        self.batches = batches
        self.steps = steps
        self._it = None
        self._seen = 0
        # a PyDataset's epoch hooks are called here once per epoch, as Keras's EpochIterator,
        # and a generator's running out is warned of here: not by the pass itself
        self._hooks = getattr(batches, "indexed", False)
        if hasattr(batches, "epoch_hooks"):
            batches.epoch_hooks = False

    def __iter__(self):
        per_pass = self.batches.steps
        if self._hooks:
            self.batches.epoch_begin()
        if self._it is None:
            self._it, self._seen = iter(self.batches), 0
        for _ in range(self.steps):
            batch = _END if per_pass is not None and self._seen >= per_pass else next(
                self._it, _END)  # fmt: skip
            if batch is _END:
                have = "" if per_pass is None else f": it has {per_pass} batches"
                warnings.warn(
                    "Your input ran out of data; interrupting training. Make sure that your "
                    "dataset or generator can generate at least `steps_per_epoch * epochs` "
                    f"batches{have}, and {self.steps} steps were asked for in this epoch.",
                    stacklevel=2,
                )
                self._it = None  # the next epoch starts a fresh pass (Keras: a new iterator)
                break
            self._seen += 1
            yield batch
        if per_pass is not None and self._seen >= per_pass:
            self._it = None  # the pass is read: a fresh one next epoch
        if self._hooks:
            self.batches.epoch_end()


_END = object()


def _warn_when_out(batches, steps):
    """``batches``, with Keras's warning when they end before ``steps`` (or at all, for no
    ``steps``): Keras's ``EpochIterator`` warns whenever a generator runs out."""
    n = 0
    for n, batch in enumerate(batches, 1):  # noqa: B007 - n is read after the loop
        yield batch
    if steps is None or n < steps:
        warnings.warn(
            "Your input ran out of data; interrupting training. Make sure that your dataset or "
            "generator can generate at least `steps_per_epoch * epochs` batches. You may need "
            "to use the `.repeat()` function when building your dataset.",
            stacklevel=2,
        )


def class_weight_to_sample_weight(y, class_weight):
    """Per-sample weights ``class_weight[label]``; the label is the argmax of one-hot targets,
    else the rounded value. A class missing from ``class_weight`` weighs 1.0, as Keras 3
    (``data_adapter_utils.class_weight_to_sample_weights``), so ``{1: 5.0}`` up-weights
    class 1 only."""
    y = np.asarray(y)
    if y.ndim >= 2 and y.shape[-1] > 1:
        labels = np.argmax(y, axis=-1)
    else:
        labels = np.rint(y.reshape(y.shape[0], -1)[:, 0]).astype(np.int64)
    weights = np.ones(labels.shape, dtype="float32")
    for k, v in class_weight.items():
        if isinstance(k, (bool, np.bool_)) or not isinstance(k, (int, np.integer)):
            # (Keras looks labels up as ints, so a key "1" would silently never match)
            raise ValueError(
                f"class_weight keys must be integer class indices, received key {k!r} in "
                f"class_weight={class_weight!r}"
            )
        weights[labels == int(k)] = float(v)
    return weights


def _pack(x, y, sample_weight):
    """Keras's batch layout: ``(x,)``, ``(x, y)`` or ``(x, y, sample_weight)``, so that a
    custom ``train_step`` can write ``x, y = data``."""
    if sample_weight is not None:
        return x, y, sample_weight
    return (x,) if y is None else (x, y)


def is_indexed(x):
    """True for a PyDataset-like source, read by index: ``__getitem__`` and ``__len__``."""
    return hasattr(x, "__getitem__") and hasattr(x, "__len__")


def is_generator_like(x):
    """True for a generator/iterator or a Keras ``PyDataset``-like object (``__getitem__`` and
    ``__len__`` returning batches), which yields ready batches."""
    if x is None or isinstance(x, (np.ndarray, list, tuple, dict, Tensor)):
        return False
    return hasattr(x, "__next__") or (hasattr(x, "__getitem__") and hasattr(x, "__len__")
                                      and not hasattr(x, "shape"))  # fmt: skip


def unpack(data):
    """``(x, y, sample_weight)`` from a batch given as ``x``, ``(x,)``, ``(x, y)`` or
    ``(x, y, sample_weight)`` (Keras's ``unpack_x_y_sample_weight``)."""
    if isinstance(data, list):
        data = tuple(data)
    if not isinstance(data, tuple):
        return data, None, None
    if len(data) == 1:
        return data[0], None, None
    if len(data) == 2:
        return data[0], data[1], None
    if len(data) == 3:
        return data
    raise ValueError(
        f"data must be x, (x,), (x, y) or (x, y, sample_weight); received a tuple of "
        f"{len(data)} elements"
    )


class GeneratorBatches:
    """Batches from a generator, iterator or PyDataset (one pass per epoch).

    A PyDataset-like source (``__getitem__`` and ``__len__``) is read by index, in a fresh
    random order each pass when ``shuffle`` is true (Keras's ``PyDatasetAdapter``), with its
    ``on_epoch_begin``/``on_epoch_end`` called around each epoch (with ``steps_per_epoch``,
    ``StepBatches`` carries a pass on across epochs and calls them).

    A generator's first two batches are read when this is made, and every pass starts with
    them again before reading on from the generator (``steps`` caps a pass; an endless
    generator needs it). That is Keras's ``GeneratorDataAdapter`` (``peek_and_restore``, two
    batches: ``NUM_BATCHES_FOR_TENSOR_SPEC``): a finite generator gives its first two batches
    again in each later epoch, and a validation generator is read from its first batch in
    every epoch.

    Raises:
        ValueError: as Keras, for a generator that yields no batch or whose first batch is not
            a tuple, and for an iterator that is not a generator.
    """

    def __init__(self, source, steps=None, floatx="float32", shuffle=False, class_weight=None):
        self.source = source
        self.floatx = floatx
        self.shuffle = shuffle
        self.class_weight = class_weight
        self.indexed = is_indexed(source)
        self.steps = steps if steps is not None else (len(source) if self.indexed else None)
        # a PyDataset's on_epoch_begin/on_epoch_end around each epoch (Keras's EpochIterator),
        # and the warning when a generator runs out; a StepBatches around this does both
        # itself, once per epoch, not per pass
        self.epoch_hooks = True
        if not self.indexed:
            if not isinstance(source, types.GeneratorType):  # (a list's iterator, say)
                raise ValueError(f"Unrecognized data type: x={source} (of type {type(source)})")
            self._first = list(itertools.islice(source, 2))
            if not self._first:
                raise ValueError(
                    "When passing a Python generator to a Keras model, the generator must "
                    "yield at least one batch. Received an empty generator."
                )
            if not isinstance(self._first[0], tuple):
                raise ValueError(
                    "When passing a Python generator to a Keras model, the generator must "
                    "return a tuple, either (input,) or (inputs, targets) or (inputs, targets, "
                    f"sample_weights). Received: {self._first[0]}"
                )

    def __iter__(self):
        if self.epoch_hooks:
            self.epoch_begin()
        yield from self.one_pass()
        if self.epoch_hooks:
            self.epoch_end()

    def one_pass(self):
        """The batches of one pass, as ``(x,)``, ``(x, y)`` or ``(x, y, sample_weight)``."""
        src = self.source
        if self.indexed:
            order = rng().permutation(len(src)) if self.shuffle else range(len(src))
            it = (src[int(i)] for i in order)
        else:
            it = itertools.chain(self._first, src)
            if self.steps is not None:
                it = itertools.islice(it, self.steps)  # and not one batch more
            if self.epoch_hooks:
                it = _warn_when_out(it, self.steps)
        for batch in it:
            x, y, sw = unpack(batch)
            y = standardize(y, self.floatx)
            if self.class_weight is not None and y is not None:
                # a PyDataset's batches weighed by class, as Keras's PyDatasetAdapter does
                if sw is not None:
                    raise ValueError(
                        "You cannot specify `class_weight` and `sample_weight` at the same time."
                    )
                sw = class_weight_to_sample_weight(y, self.class_weight)
            yield _pack(standardize(x, self.floatx), y, standardize(sw, self.floatx))

    def epoch_begin(self):
        """A PyDataset's ``on_epoch_begin``, if it has one."""
        hook = getattr(self.source, "on_epoch_begin", None) if self.indexed else None
        if hook is not None:
            hook()

    def epoch_end(self):
        """A PyDataset's ``on_epoch_end``, if it has one."""
        hook = getattr(self.source, "on_epoch_end", None) if self.indexed else None
        if hook is not None:
            hook()
