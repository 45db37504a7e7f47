"""Model and optimizer state in Keras 3's HDF5 layout (matches Keras 3
``keras/src/saving/saving_lib.py``: ``_save_state``, ``_walk_saveable``,
``_save_container_state``, ``H5IOStore``, ``safe_get_h5_group``/``safe_get_h5_dataset``).

Layout: every layer, model and optimizer gets a group ``<path>/vars`` (the root model's is
``/vars``) with an attribute ``name`` and its own variables as datasets ``"0"``, ``"1"``, ...
(trainable first, then non-trainable). ``<path>`` is built from attribute names (``layers``,
``optimizer``, ``cell``...) and, inside lists, from snake_case class names made unique with
``_1``, ``_2``... (never from ``layer.name``, which depends on creation order).

Reading is two-phase: every array is read and checked (links, external or virtual datasets,
non-numeric dtypes, declared sizes against stored sizes, counts and shapes against the model)
before any variable is assigned, so a bad file never leaves a half-loaded model.
"""

from __future__ import annotations

import math

from ...backend import np

__all__ = ["write_state", "read_state", "apply_state", "WeightsFileError"]

# NOTE: a dataset may declare a huge shape while storing almost nothing (a fill value or a
# compressed run of zeros); reading it would allocate the declared size. Above this floor we
# require the declared bytes to stay within _MAX_EXPANSION of the stored bytes.
_BOMB_FLOOR_BYTES = 16 << 20
_MAX_EXPANSION = 100


class WeightsFileError(ValueError):
    """A weights file that is malformed, unsafe, or does not match the model."""


def _h5py():
    try:
        import h5py  # noqa: PLC0415
    except ImportError as e:  # pragma: no cover - h5py is a dependency of the saving extra
        raise ImportError("saving weights needs h5py: pip install h5py") from e
    return h5py


def _snake(name: str) -> str:
    from ..layers.layer import to_snake_case  # noqa: PLC0415

    return to_snake_case(name)


def _unique(name: str, used: dict) -> str:
    if name in used:
        used[name] += 1
        return f"{name}_{used[name]}"
    used[name] = 0
    return name


_SKIP: set = set()


def _skipset(obj) -> set:
    """Attributes that are bookkeeping, not children (Keras's ``get_attr_skipset``)."""
    from ..layers.layer import Layer  # noqa: PLC0415

    if _SKIP:
        return set(_SKIP)
    base = Layer(name="skipset_probe")  # a given name leaves the automatic names untouched
    skip = set(vars(base)) | set(dir(base))
    skip |= {"_stack", "_input_layer", "_layer_list", "_nodes", "_inputs_struct",
             "_outputs_struct", "_outputs_ordered", "inputs", "outputs", "history", "loss",
             "_compile_loss",
             "_compile_metrics", "_loss_tracker", "_compile_config",
             "_fit_cache"}  # fmt: skip
    _SKIP.update(skip)
    return set(skip)


def _children(obj):
    """``(attribute, child)`` pairs in Keras's order: ``layers`` first for Sequential and
    Functional models, then attributes sorted by name with private ones last."""
    from ..layers.layer import Layer  # noqa: PLC0415
    from ..models.functional import Functional  # noqa: PLC0415
    from ..models.sequential import Sequential  # noqa: PLC0415
    from ..optimizers import Optimizer  # noqa: PLC0415

    if isinstance(obj, Optimizer):
        return
    if isinstance(obj, (Sequential, Functional)):
        yield "layers", obj.layers
    skip = _skipset(obj)
    if isinstance(obj, (Sequential, Functional)):
        skip.add("layers")
    for attr in sorted(vars(obj), key=lambda a: f"~{a}" if a.startswith("_") else a):
        if attr.startswith("__") or attr in skip:
            continue
        value = vars(obj)[attr]
        if isinstance(value, (Layer, Optimizer)):
            yield attr, value
        elif isinstance(value, (list, tuple, dict)):
            items = list(value.values()) if isinstance(value, dict) else list(value)
            if any(isinstance(v, (Layer, Optimizer, list, tuple, dict)) for v in items):
                yield attr, value


def _own_arrays(obj) -> list:
    """The object's own state, in saving order (Keras's ``save_own_variables``)."""
    from ..optimizers import Optimizer  # noqa: PLC0415

    if isinstance(obj, Optimizer):
        out = list(obj.variables)
        it = int(out[0])
        out[0] = np.array(it, dtype=np.int32 if abs(it) < 2**31 else np.int64)
        return out
    own = obj._own_variables()
    return [v for v in own if v.trainable] + [v for v in own if not v.trainable]


def _walk(obj, path, visited, visit):
    """Call ``visit(obj, path)`` on ``obj`` and every child saveable, depth first."""
    from ..layers.layer import Layer  # noqa: PLC0415
    from ..optimizers import Optimizer  # noqa: PLC0415

    if id(obj) in visited:
        return
    visit(obj, path)
    visited.add(id(obj))
    for attr, child in _children(obj):
        sub = f"{path}/{attr}" if path else attr
        if isinstance(child, (Layer, Optimizer)):
            _walk(child, sub, visited, visit)
        else:
            _walk_container(child, sub, visited, visit, set())


def _walk_container(container, path, visited, visit, seen):
    from ..layers.layer import Layer  # noqa: PLC0415
    from ..optimizers import Optimizer  # noqa: PLC0415

    if id(container) in seen:
        return
    seen.add(id(container))
    used: dict = {}
    items = list(container.values()) if isinstance(container, dict) else list(container)
    for item in items:
        if isinstance(item, (Layer, Optimizer)):
            _walk(item, f"{path}/{_unique(_snake(type(item).__name__), used)}", visited, visit)
        elif isinstance(item, (list, tuple, dict)):
            _walk_container(item, f"{path}/{_unique('container', used)}", visited, visit, seen)


def write_state(model, h5file, include_optimizer: bool = True) -> None:
    """Write ``model``'s variables (and its optimizer's, when it has one) into an open
    ``h5py.File`` in Keras 3's layout."""

    def visit(obj, path):
        from ..optimizers import Optimizer  # noqa: PLC0415

        if isinstance(obj, Optimizer) and not include_optimizer:
            return
        group = h5file.create_group(f"{path}/vars" if path else "vars")
        group.attrs["name"] = str(getattr(obj, "name", ""))
        for i, arr in enumerate(_own_arrays(obj)):
            group.create_dataset(str(i), data=np.asarray(getattr(arr, "data", arr)))

    _walk(model, "", set(), visit)


# -- reading ------------------------------------------------------------------------------------
def _group(h5, path: str, h5py):
    current = h5
    for part in path.split("/"):
        if not part:
            raise WeightsFileError(f"invalid group path {path!r} in weights file")
        if part not in current:
            return None
        link = current.get(part, getclass=True, getlink=True)
        if link in (h5py.ExternalLink, h5py.SoftLink):
            raise WeightsFileError(
                f"weights file has a {link.__name__} at {path!r}: links are not allowed"
            )
        current = current[part]
        if not isinstance(current, h5py.Group):
            raise WeightsFileError(f"weights file: expected a group at {path!r}, found a dataset")
    return current


def _dataset(group, key: str, where: str, h5py) -> np.ndarray:
    link = group.get(key, getclass=True, getlink=True)
    if link in (h5py.ExternalLink, h5py.SoftLink):
        raise WeightsFileError(f"weights file has a {link.__name__} at {where}: not allowed")
    ds = group[key]
    if not isinstance(ds, h5py.Dataset):
        raise WeightsFileError(f"weights file: expected a dataset at {where}, found a group")
    if ds.external:
        raise WeightsFileError(f"weights file: external dataset at {where} is not allowed")
    if ds.is_virtual:
        raise WeightsFileError(f"weights file: virtual dataset at {where} is not allowed")
    if ds.dtype.kind not in "biuf":
        raise WeightsFileError(
            f"weights file: dataset {where} has dtype {ds.dtype}, expected a numeric array"
        )
    declared = math.prod(ds.shape) * ds.dtype.itemsize
    stored = ds.id.get_storage_size()
    if declared > _BOMB_FLOOR_BYTES and declared > _MAX_EXPANSION * stored:
        raise WeightsFileError(
            f"weights file: dataset {where} declares {declared} bytes but stores {stored}; "
            "refusing a possible decompression or shape bomb"
        )
    return np.array(ds)


def read_state(model, h5file, skip_mismatch: bool = False) -> list:
    """Read and check every array the model (and its optimizer, if built or buildable)
    expects; return ``[(object, [arrays]), ...]`` without assigning anything.

    Raises:
        WeightsFileError: unsafe content, a missing group or dataset where the model has
            variables, a variable count that differs, or a shape that differs (naming the
            layer, the path and both shapes).
    """
    h5py = _h5py()
    from ..optimizers import Optimizer  # noqa: PLC0415

    plan: list = []

    def visit(obj, path):
        where = f"{path}/vars" if path else "vars"
        if isinstance(obj, Optimizer):
            if _group(h5file, where, h5py) is None:
                return  # a weights file saved without optimizer state
            if not obj.built:
                return  # read later, once built (see apply_state's caller)
        expected = _own_arrays(obj)
        group = _group(h5file, where, h5py)
        keys = set(group.keys()) if group is not None else set()
        if keys != {str(i) for i in range(len(keys))}:
            raise WeightsFileError(f"weights file: unexpected entries {sorted(keys)} in {where}")
        name = getattr(obj, "name", type(obj).__name__)
        if len(keys) != len(expected):
            if isinstance(obj, Optimizer) or skip_mismatch:
                import warnings  # noqa: PLC0415

                warnings.warn(
                    f"Skipping variable loading for {type(obj).__name__} {name!r}: it has "
                    f"{len(expected)} variables, the file has {len(keys)} at {where}",
                    stacklevel=4,
                )
                return
            raise WeightsFileError(
                f"Layer {name!r} expected {len(expected)} variables, but the file has "
                f"{len(keys)} at {where!r}"
            )
        arrays = []
        for i, mine in enumerate(expected):
            arr = _dataset(group, str(i), f"{where}/{i}", h5py)
            want = tuple(np.shape(getattr(mine, "data", mine)))
            if arr.shape != want:
                if skip_mismatch:
                    return
                raise WeightsFileError(
                    f"Layer {name!r}: weight {i} at {where}/{i} has shape {arr.shape} in the "
                    f"file, but the model's variable "
                    f"{getattr(mine, 'path', i)!r} has shape {want}"
                )
            arrays.append(arr)
        plan.append((obj, arrays))

    _walk(model, "", set(), visit)
    return plan


def apply_state(plan: list) -> None:
    """Assign every array read by :func:`read_state` (all checks already passed)."""
    from ..optimizers import Optimizer  # noqa: PLC0415

    for obj, arrays in plan:
        if isinstance(obj, Optimizer):
            obj.set_variables(arrays)
            continue
        own = _own_arrays(obj)
        for var, arr in zip(own, arrays, strict=True):
            var.data[...] = arr.astype(var.data.dtype, copy=False)
