"""IMDB movie reviews labelled by sentiment, as word indices (matches Keras 3
``keras/src/datasets/imdb.py``)."""

from __future__ import annotations

import json

from ...backend import np
from ..utils.file_utils import get_file
from . import _sequences as seqs
from ._common import TF_KERAS_DATASETS
from ._npz import load_npz

__all__ = ["load_data", "get_word_index"]

ORIGIN_FOLDER = TF_KERAS_DATASETS
FILE_HASH = "69664113be75683a8fe16e3ed0ab59fda8886cb3cd7ada244f7d9544e4676b9f"  # sha256
WORD_INDEX_HASH = "bfafd718b763782e994055a2d397834f"  # md5


def load_data(path: str = "imdb.npz", num_words=None, skip_top: int = 0, maxlen=None,
              seed: int = 113, start_char=1, oov_char=2, index_from: int = 3,
              **kwargs):  # fmt: skip
    """Load the IMDB reviews: 25,000 training and 25,000 test reviews, each a list of word
    indices (words ranked by frequency, 1 = most frequent), labelled 1 (positive) or 0.

    Each set is shuffled with one ``np.random.RandomState(seed)`` (training first), then::

        seq = [start_char] + [w + index_from for w in seq]      # no start mark if None
        keep only sequences with len(seq) < maxlen               # if maxlen
        w -> oov_char unless skip_top <= w < num_words           # removed if oov_char is None

    Args:
        path: the cached file's name (default "imdb.npz").
        num_words: keep the ``num_words`` most frequent words (default None: all, but see the
            note on the largest index in ``_sequences.cap_words``).
        skip_top: also mark the ``skip_top`` most frequent as out of vocabulary (default 0).
        maxlen: drop sequences of ``maxlen`` or more indices (default None: keep all).
        seed: the shuffle's seed (default 113).
        start_char: index marking each sequence's start (default 1; None for none).
        oov_char: index of cut words (default 2; None removes them).
        index_from: added to every stored index (default 3: 0 pads, 1 starts, 2 is OOV).

    Returns:
        ``(x_train, y_train), (x_test, y_test)``: x object arrays of Python lists of ints
        (``(25000,)``), y int arrays ``(25000,)``.

    Raises:
        ValueError: for an argument of the wrong type or sign, or when ``maxlen`` leaves no
            sequence in one of the sets.
        TypeError: for an unknown keyword argument (Keras accepts and ignores any).
        OSError: when the download fails (naming the URL).

    Matches Keras 3 ``keras/src/datasets/imdb.py``.
    """
    if kwargs:
        raise TypeError(f"imdb.load_data() got unexpected keyword arguments {sorted(kwargs)}")
    seqs.check_arguments(num_words, skip_top, maxlen, seed, start_char, oov_char, index_from)
    path = get_file(fname=path, origin=f"{ORIGIN_FOLDER}imdb.npz", file_hash=FILE_HASH)
    f = load_npz(path)
    rng = np.random.RandomState(seed)
    parts = []
    for x, y in ((f["x_train"], f["y_train"]), (f["x_test"], f["y_test"])):
        indices = np.arange(len(x))
        rng.shuffle(indices)
        parts.append([seqs.shift(x[indices], start_char, index_from), y[indices]])
    if maxlen:
        for part in parts:
            part[0], part[1] = seqs.drop_long(maxlen, part[0], part[1])
        if not parts[0][0] or not parts[1][0]:
            raise ValueError(f"After filtering for sequences shorter than maxlen={maxlen}, no "
                             "sequence was kept. Increase maxlen.")  # fmt: skip
    (x_train, labels_train), (x_test, labels_test) = parts
    xs = seqs.cap_words(x_train + x_test, num_words, skip_top, oov_char)
    labels = np.concatenate([labels_train, labels_test])
    cut = len(x_train)
    # NOTE: np.array(list, dtype=object) as Keras: equal-length lists would give a 2-D array.
    return ((np.array(xs[:cut], dtype="object"), labels[:cut]),
            (np.array(xs[cut:], dtype="object"), labels[cut:]))  # fmt: skip


def get_word_index(path: str = "imdb_word_index.json") -> dict:
    """The ``{word: index}`` map of the IMDB data (indices before ``index_from`` is added).

    Args:
        path: the cached file's name (default "imdb_word_index.json").

    Returns:
        A dict from word to its frequency rank (1 = most frequent).

    Raises:
        OSError: when the download fails (naming the URL).

    Matches Keras 3 ``keras/src/datasets/imdb.py``.
    """
    path = get_file(fname=path, origin=f"{ORIGIN_FOLDER}imdb_word_index.json",
                    file_hash=WORD_INDEX_HASH)  # fmt: skip
    with open(path) as f:
        return json.load(f)
