"""Reuters newswires labelled by one of 46 topics, as word indices (matches Keras 3
``keras/src/datasets/reuters.py``)."""

from __future__ import annotations

import json

from ...backend import np
from ..utils.file_utils import get_file
from . import _sequences as seqs
from ._common import TF_KERAS_DATASETS, check_test_split
from ._npz import load_npz

__all__ = ["load_data", "get_word_index", "get_label_names"]

ORIGIN_FOLDER = TF_KERAS_DATASETS
FILE_HASH = "d6586e694ee56d7a4e65172e12b3e987c03096cb01eab99753921ef915959916"  # sha256
WORD_INDEX_HASH = "4d44cc38712099c9e383dc6e5f11a921"  # md5
LABEL_NAMES = (
    "cocoa", "grain", "veg-oil", "earn", "acq", "wheat", "copper", "housing", "money-supply",
    "coffee", "sugar", "trade", "reserves", "ship", "cotton", "carcass", "crude", "nat-gas",
    "cpi", "money-fx", "interest", "gnp", "meal-feed", "alum", "oilseed", "gold", "tin",
    "strategic-metal", "livestock", "retail", "ipi", "iron-steel", "rubber", "heat", "jobs",
    "lei", "bop", "zinc", "orange", "pet-chem", "dlr", "gas", "silver", "wpi", "hog", "lead",
)  # fmt: skip


def load_data(path: str = "reuters.npz", num_words=None, skip_top: int = 0, maxlen=None,
              test_split: float = 0.2, seed: int = 113, start_char=1, oov_char=2,
              index_from: int = 3):  # fmt: skip
    """Load the Reuters newswires: 11,228 wires, each a list of word indices (ranked by
    frequency), labelled with one of 46 topics (``get_label_names()``).

    The wires are shuffled with ``np.random.RandomState(seed)``, then::

        seq = [start_char] + [w + index_from for w in seq]      # no start mark if None
        keep only sequences with len(seq) < maxlen               # if maxlen
        w -> oov_char unless skip_top <= w < num_words           # removed if oov_char is None

    and the first ``int(n * (1 - test_split))`` are the training set.

    Args:
        path: the cached file's name (default "reuters.npz").
        num_words: keep the ``num_words`` most frequent words (default None: all, but see the
            note on the largest index in ``_sequences.cap_words``).
        skip_top: also mark the ``skip_top`` most frequent as out of vocabulary (default 0).
        maxlen: drop sequences of ``maxlen`` or more indices (default None: keep all).
        test_split: fraction held out for testing, in [0, 1) (default 0.2).
        seed: the shuffle's seed (default 113).
        start_char: index marking each sequence's start (default 1; None for none).
        oov_char: index of cut words (default 2; None removes them).
        index_from: added to every stored index (default 3).

    Returns:
        ``(x_train, y_train), (x_test, y_test)``: x object arrays of Python lists of ints,
        y int arrays (8,982 and 2,246 wires at the default split).

    Raises:
        ValueError: for an argument of the wrong type or range (Keras checks none), or when
            ``maxlen`` leaves no sequence (Keras fails on ``max()`` of nothing there).
        OSError: when the download fails (naming the URL).

    Matches Keras 3 ``keras/src/datasets/reuters.py``.
    """
    seqs.check_arguments(num_words, skip_top, maxlen, seed, start_char, oov_char, index_from)
    check_test_split(test_split)
    path = get_file(fname=path, origin=f"{ORIGIN_FOLDER}reuters.npz", file_hash=FILE_HASH)
    f = load_npz(path)
    xs, labels = f["x"], f["y"]
    indices = np.arange(len(xs))
    np.random.RandomState(seed).shuffle(indices)
    xs, labels = xs[indices], labels[indices]
    if start_char is not None or index_from:
        xs = seqs.shift(xs, start_char, index_from)
    if maxlen:
        xs, labels = seqs.drop_long(maxlen, xs, labels)
        if not xs:
            raise ValueError(f"After filtering for sequences shorter than maxlen={maxlen}, no "
                             "sequence was kept. Increase maxlen.")  # fmt: skip
    xs = seqs.cap_words(xs, num_words, skip_top, oov_char)
    cut = int(len(xs) * (1 - test_split))
    return ((np.array(xs[:cut], dtype="object"), np.array(labels[:cut])),
            (np.array(xs[cut:], dtype="object"), np.array(labels[cut:])))  # fmt: skip


def get_word_index(path: str = "reuters_word_index.json") -> dict:
    """The ``{word: index}`` map of the Reuters data (indices before ``index_from`` is added:
    "the" is 1 there and 4 in the default training data).

    Args:
        path: the cached file's name (default "reuters_word_index.json").

    Raises:
        OSError: when the download fails (naming the URL).

    Matches Keras 3 ``keras/src/datasets/reuters.py``.
    """
    path = get_file(path, origin=f"{ORIGIN_FOLDER}reuters_word_index.json",
                    file_hash=WORD_INDEX_HASH)  # fmt: skip
    with open(path) as f:
        return json.load(f)


def get_label_names() -> tuple:
    """The 46 topic names, in label order (``get_label_names()[3] == "earn"``).

    Matches Keras 3 ``keras/src/datasets/reuters.py``.

    >>> len(get_label_names()), get_label_names()[:2]
    (46, ('cocoa', 'grain'))
    """
    return LABEL_NAMES
