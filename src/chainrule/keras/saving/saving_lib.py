"""Saving and loading whole models (``.keras``) and weights (``.weights.h5``) in Keras 3's
formats (matches Keras 3 ``keras/src/saving/saving_lib.py`` and ``saving_api.py``).

A ``.keras`` file is a zip archive (stored, not deflated) of ``metadata.json``, ``config.json``
(``serialize_keras_object(model)``) and ``model.weights.h5`` (see ``h5_store``). Real Keras
3.15 loads what we write and we load what it writes.

Nothing lost: every file is written under a temporary name in the target folder, flushed and
fsync'd, then renamed over the target (``os.replace``, atomic on POSIX and Windows), so a crash
mid-save leaves the previous file intact. Safe loading: member names, links and declared sizes
of the archive are checked before anything is read; classes come only from chainrule's tables
and the user's registered objects; the weights are all read and checked before any is assigned.
"""

from __future__ import annotations

import datetime
import io
import json
import os
import stat
import tempfile
import zipfile

from . import h5_store
from .serialization import SafeModeScope, deserialize_keras_object, serialize_keras_object

__all__ = [
    "save_model", "load_model", "save_weights", "load_weights", "atomic_write",
    "read_archive", "KerasFileError",
]  # fmt: skip

_CONFIG, _METADATA, _WEIGHTS = "config.json", "metadata.json", "model.weights.h5"
_JSON_LIMIT = 64 << 20  # config.json / metadata.json
_MEMBER_LIMIT = 16 << 30  # any member, uncompressed
_MAX_RATIO = 100  # uncompressed / compressed size of a deflated member


class KerasFileError(ValueError):
    """A ``.keras`` archive that is corrupt, truncated, unsafe or not a Keras model file."""


def _path(filepath) -> str:
    if isinstance(filepath, os.PathLike):
        filepath = os.fspath(filepath)
    if not isinstance(filepath, str):
        raise TypeError(
            f"filepath must be a str or os.PathLike, received {type(filepath).__name__}"
        )
    return filepath


def atomic_write(filepath, data: bytes, overwrite: bool = True) -> None:
    """Write ``data`` to ``filepath`` so that readers see the old file or the whole new one.

    The bytes go to a temporary file in the same folder, which is flushed, fsync'd and then
    renamed over ``filepath``; the folder is fsync'd too so the rename survives a power cut.

    Raises:
        FileExistsError: if ``overwrite`` is False and ``filepath`` exists.
    """
    filepath = _path(filepath)
    if not overwrite and os.path.exists(filepath):
        raise FileExistsError(f"{filepath} exists and overwrite=False")
    folder = os.path.dirname(os.path.abspath(filepath))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(filepath)}.", suffix=".tmp",
                               dir=folder)  # fmt: skip
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, filepath)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    try:  # persist the rename itself; not possible on every platform
        dfd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dfd)
    except OSError:
        pass
    finally:
        os.close(dfd)


def _weights_bytes(model, include_optimizer: bool = True, attrs: dict | None = None,
                   state: bool = True) -> bytes:  # fmt: skip
    h5py = h5_store._h5py()
    buf = io.BytesIO()
    with h5py.File(buf, "w") as f:
        if state:
            h5_store.write_state(model, f, include_optimizer=include_optimizer)
        for k, v in (attrs or {}).items():  # extra root attributes; Keras ignores them
            f.attrs[k] = v
    return buf.getvalue()


def _metadata() -> dict:
    from .. import __version__  # noqa: PLC0415

    return {"keras_version": __version__,
            "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S")}  # fmt: skip


def save_model(model, filepath, overwrite: bool = True, zipped: bool = True, **kwargs) -> None:
    """Save architecture, weights, optimizer state and compile config as a ``.keras`` file.

    Args:
        model: the model.
        filepath: a path ending in ``.keras``.
        overwrite: default True; when False an existing file raises FileExistsError.
        zipped: must be True (the unzipped directory format is not supported).

    Raises:
        ValueError: a path not ending in ``.keras``, ``zipped=False``, or a model whose config
            cannot be serialised (naming the object).
    """
    filepath = _path(filepath)
    include_optimizer = kwargs.pop("include_optimizer", True)
    if kwargs:
        raise ValueError(f"The following argument(s) are not supported: {list(kwargs)}")
    if not zipped:
        raise ValueError("zipped=False (an unzipped model folder) is not supported")
    if filepath.endswith((".h5", ".hdf5")):
        raise ValueError(
            "the legacy HDF5 model format (.h5) is not supported: save to a `.keras` file "
            "(Keras 3's native format, which Keras reads), or the weights alone with "
            f"model.save_weights('name.weights.h5'). Received: filepath={filepath}"
        )
    if not filepath.endswith(".keras"):
        raise ValueError(
            "Invalid filepath extension for saving. Please add a `.keras` extension for the "
            f"native Keras format. Received: filepath={filepath}"
        )
    atomic_write(filepath, _archive_bytes(model, include_optimizer), overwrite=overwrite)


def _archive_bytes(obj, include_optimizer: bool = True) -> bytes:
    """``obj`` as the bytes of a ``.keras`` archive (config, metadata, weights and optimizer
    state); an object that is not a Layer (a metric, say) has an empty weights file, as in
    Keras, which saves no metric state."""
    from ..layers.layer import Layer  # noqa: PLC0415

    config = serialize_keras_object(obj)
    if not include_optimizer:
        config.pop("compile_config", None)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr(_METADATA, json.dumps(_metadata()))
        zf.writestr(_CONFIG, json.dumps(config))
        zf.writestr(_WEIGHTS, _weights_bytes(obj, include_optimizer,
                                             state=isinstance(obj, Layer)))  # fmt: skip
    return buf.getvalue()


# -- reading archives ---------------------------------------------------------------------------
def _check_member(info: zipfile.ZipInfo, archive_size: int, filepath: str) -> None:
    name = info.filename
    parts = name.replace("\\", "/").split("/")
    if (name.startswith(("/", "\\")) or "\\" in name or ".." in parts
            or (parts and ":" in parts[0])):  # fmt: skip
        raise KerasFileError(f"{filepath}: unsafe member name {name!r} in the archive")
    if stat.S_ISLNK(info.external_attr >> 16):
        raise KerasFileError(f"{filepath}: archive member {name!r} is a link; links are refused")
    if name not in (_CONFIG, _METADATA, _WEIGHTS) and not name.startswith("assets/"):
        raise KerasFileError(
            f"{filepath}: unexpected archive member {name!r}; a .keras file holds "
            f"{_METADATA}, {_CONFIG}, {_WEIGHTS} and assets/"
        )
    limit = _JSON_LIMIT if name.endswith(".json") else _MEMBER_LIMIT
    if info.file_size > limit:
        raise KerasFileError(
            f"{filepath}: member {name!r} declares {info.file_size} bytes, over the limit of "
            f"{limit}"
        )
    if info.compress_type == zipfile.ZIP_STORED and info.compress_size != info.file_size:
        raise KerasFileError(f"{filepath}: member {name!r} has inconsistent sizes (corrupt)")
    if info.file_size > max(1 << 20, _MAX_RATIO * info.compress_size):
        raise KerasFileError(
            f"{filepath}: member {name!r} expands from {info.compress_size} to "
            f"{info.file_size} bytes; refusing a possible zip bomb"
        )
    if info.header_offset + info.compress_size > archive_size:
        raise KerasFileError(f"{filepath}: member {name!r} runs past the end (truncated file)")


def read_archive(filepath) -> dict:
    """The checked members of a ``.keras`` archive: ``{"config": dict, "metadata": dict,
    "weights": bytes}``.

    Raises:
        KerasFileError: a corrupt, truncated or unsafe archive, or one without
            ``config.json``/``model.weights.h5`` (naming the problem).
    """
    filepath = _path(filepath)
    if not os.path.isfile(filepath):
        raise ValueError(f"File not found: filepath={filepath}. Please ensure the file is an "
                         "accessible `.keras` zip file.")  # fmt: skip
    return _read_members(filepath, os.path.getsize(filepath), filepath)


def _read_members(source, size: int, filepath: str) -> dict:
    """:func:`read_archive` on a path or a binary file object of ``size`` bytes; ``filepath``
    names it in errors."""
    try:
        with zipfile.ZipFile(source, "r") as zf:
            infos = zf.infolist()
            names = [i.filename for i in infos]
            if len(set(names)) != len(names):
                raise KerasFileError(f"{filepath}: duplicate member names in the archive")
            for info in infos:
                _check_member(info, size, filepath)
            for needed in (_CONFIG, _WEIGHTS):
                if needed not in names:
                    raise KerasFileError(
                        f"{filepath}: not a Keras model archive: {needed} is missing "
                        f"(members: {names})"
                    )
            raw = {n: zf.read(n) for n in (_CONFIG, _METADATA, _WEIGHTS) if n in names}
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError) as e:
        raise KerasFileError(
            f"{filepath} is not a valid .keras archive (corrupt or truncated): {e}"
        ) from e
    try:
        config = json.loads(raw[_CONFIG].decode("utf-8"))
        metadata = json.loads(raw[_METADATA].decode("utf-8")) if _METADATA in raw else {}
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise KerasFileError(f"{filepath}: config.json is not valid JSON: {e}") from e
    if not isinstance(config, dict) or "class_name" not in config:
        raise KerasFileError(f"{filepath}: config.json does not describe a Keras object")
    return {"config": config, "metadata": metadata, "weights": raw[_WEIGHTS]}


def _load_weights_bytes(model, data: bytes, filepath: str, skip_mismatch: bool = False):
    h5py = h5_store._h5py()
    try:
        f = h5py.File(io.BytesIO(data), "r")
    except OSError as e:
        raise KerasFileError(
            f"{filepath}: the weights are not a valid HDF5 file (corrupt or truncated): {e}"
        ) from e
    try:
        with f:
            plan = h5_store.read_state(model, f, skip_mismatch=skip_mismatch)
    except (OSError, KeyError, RuntimeError) as e:
        raise KerasFileError(f"{filepath}: cannot read the weights (corrupt file?): {e}") from e
    h5_store.apply_state(plan)


def load_model(filepath, custom_objects: dict | None = None, compile: bool = True,
               safe_mode: bool = True):  # fmt: skip
    """Load a model saved with :func:`save_model` (or by Keras 3).

    Args:
        filepath: a ``.keras`` file.
        custom_objects: default None; ``{name: class_or_function}`` for custom objects that
            are not registered.
        compile: default True: compile with the saved compile config and restore the
            optimizer state.
        safe_mode: default True: ``Lambda`` layers and Python bytecode are refused.

    Raises:
        ValueError: a missing file or another extension; ``KerasFileError`` (a ValueError) for
            a corrupt, truncated or unsafe file; an unknown class (naming it); weights that do
            not fit the architecture (naming the layer and both shapes).
    """
    filepath = _path(filepath)
    if filepath.endswith(".weights.h5"):
        raise ValueError(
            f"File format not supported: filepath={filepath}. chainrule loads Keras 3 `.keras` "
            "files; for a `.weights.h5` file build the model and call model.load_weights()"
        )
    if not filepath.endswith(".keras"):
        raise ValueError(
            f"File format not supported: filepath={filepath}. Keras 3 only supports V3 "
            "`.keras` files (legacy `.h5` and SavedModel folders are not supported)."
        )
    parts = read_archive(filepath)
    with SafeModeScope(safe_mode):
        model = deserialize_keras_object(parts["config"], custom_objects=custom_objects,
                                         safe_mode=safe_mode, compile=compile)  # fmt: skip
    _load_weights_bytes(model, parts["weights"], filepath)
    return model


def save_weights(model, filepath, overwrite: bool = True, attrs: dict | None = None) -> None:
    """Save the model's variables (and optimizer state) to ``*.weights.h5``.

    Args:
        attrs: default None; extra scalar attributes stored on the file's root group, in the
            same atomic write (BackupAndRestore stores its epoch counter there).

    Raises:
        ValueError: a path not ending in ``.weights.h5``.
    """
    filepath = _path(filepath)
    if not filepath.endswith(".weights.h5"):
        raise ValueError(
            f"The filename must end in `.weights.h5`. Received: filepath={filepath}"
        )
    atomic_write(filepath, _weights_bytes(model, attrs=attrs), overwrite=overwrite)


def read_weights_attrs(filepath) -> dict:
    """The root attributes of a ``*.weights.h5`` file (Python scalars).

    Raises:
        KerasFileError: if the file is not valid HDF5.
    """
    h5py = h5_store._h5py()
    try:
        with h5py.File(_path(filepath), "r") as f:
            return {k: (v.item() if hasattr(v, "item") else v) for k, v in f.attrs.items()}
    except OSError as e:
        raise KerasFileError(f"{filepath} is not a valid weights file: {e}") from e


def load_weights(model, filepath, skip_mismatch: bool = False) -> None:
    """Load variables from ``*.weights.h5`` or from the weights inside a ``.keras`` file.

    Raises:
        ValueError: another extension, a missing file; ``KerasFileError`` for a corrupt or
            unsafe file, or weights that do not fit the model (naming the layer and shapes).
    """
    filepath = _path(filepath)
    if filepath.endswith(".keras"):
        _load_weights_bytes(model, read_archive(filepath)["weights"], filepath, skip_mismatch)
        return
    if not filepath.endswith(".weights.h5"):
        raise ValueError(
            f"File format not supported: filepath={filepath}. Keras 3 only supports V3 "
            "`.keras` and `.weights.h5` files."
        )
    if not os.path.isfile(filepath):
        raise ValueError(f"File not found: filepath={filepath}")
    with open(filepath, "rb") as f:
        data = f.read()
    _load_weights_bytes(model, data, filepath, skip_mismatch)
