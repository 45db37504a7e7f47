"""Reading ``.npz`` files whose arrays may hold Python objects (IMDB, Reuters) and CIFAR's
pickled batches, without letting the file run code.

Object arrays can only be stored as pickles. A pickle may name any importable callable, so
``np.load(allow_pickle=True)`` on a tampered file can execute code; here the unpickler
accepts only the few NumPy names that rebuild an array (Keras 3
``keras/src/datasets/npz_utils.py`` does the same).
"""

from __future__ import annotations

import io
import pickle
import zipfile

from ...backend import np

# numpy < 2 wrote ``numpy.core``, numpy >= 2 writes ``numpy._core``: accept files from both.
_ALLOWED = frozenset({
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
})  # fmt: skip


class SafeUnpickler(pickle.Unpickler):
    """An unpickler that builds NumPy arrays, lists, dicts, numbers and strings, and refuses
    every other global with ``pickle.UnpicklingError``."""

    def find_class(self, module: str, name: str):
        if (module, name) not in _ALLOWED:
            raise pickle.UnpicklingError(
                f"Refusing to deserialize `{module}.{name}` while loading a Keras dataset: "
                "only NumPy arrays are expected. The file may be corrupted or malicious."
            )
        return super().find_class(module, name)


def _read_member(buffer: io.BytesIO):
    version = np.lib.format.read_magic(buffer)
    if version[0] == 1:
        header = np.lib.format.read_array_header_1_0(buffer)
    else:  # 2.0 and 3.0 differ only in the header's text encoding, not its layout
        header = np.lib.format.read_array_header_2_0(buffer)
    if not header[2].hasobject:
        buffer.seek(0)
        return np.lib.format.read_array(buffer, allow_pickle=False)
    return SafeUnpickler(buffer).load()


def load_npz(path) -> dict:
    """Every ``name.npy`` member of the ``.npz`` file at ``path``, as ``{name: array}``."""
    arrays = {}
    with zipfile.ZipFile(path) as archive:
        for member in archive.namelist():
            if member.endswith(".npy"):
                with archive.open(member) as raw:
                    arrays[member[: -len(".npy")]] = _read_member(io.BytesIO(raw.read()))
    return arrays


def load_pickle(path, encoding: str = "bytes"):
    """The object pickled in the file at ``path`` (NumPy arrays and plain containers only)."""
    with open(path, "rb") as f:
        return SafeUnpickler(f, encoding=encoding).load()
