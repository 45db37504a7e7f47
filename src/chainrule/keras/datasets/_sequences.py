"""The word-index handling IMDB and Reuters share (Keras 3 ``keras/src/datasets/imdb.py``,
``reuters.py``): shift the stored indices, drop long sequences, cap the vocabulary."""

from __future__ import annotations

from ._common import check_int


def check_arguments(num_words, skip_top, maxlen, seed, start_char, oov_char, index_from):
    """Each argument's type, so that a wrong one fails before anything is downloaded."""
    check_int("num_words", num_words, minimum=0)
    check_int("skip_top", skip_top, allow_none=False, minimum=0)
    check_int("maxlen", maxlen, minimum=0)
    check_int("seed", seed, allow_none=False, minimum=0)
    check_int("start_char", start_char)
    check_int("oov_char", oov_char)
    check_int("index_from", index_from, allow_none=False, minimum=0)


def shift(sequences, start_char, index_from) -> list:
    """Each sequence as a list: ``[start_char] + [w + index_from ...]`` (no start mark when
    ``start_char`` is None)."""
    head = [] if start_char is None else [start_char]
    return [head + [w + index_from for w in seq] for seq in sequences]


def drop_long(maxlen, sequences, labels):
    """Keep the sequences (and their labels) *shorter than* ``maxlen``.

    NOTE: Keras keeps ``len(seq) < maxlen``, so a sequence of exactly ``maxlen`` words is
    dropped too (the start mark counts); its docstring's "truncated" is not what it does.
    """
    kept = [(seq, label) for seq, label in zip(sequences, labels) if len(seq) < maxlen]
    return [s for s, _ in kept], [label for _, label in kept]


def cap_words(sequences, num_words, skip_top, oov_char) -> list:
    """Indices outside ``[skip_top, num_words)`` become ``oov_char`` (or are removed when it
    is None).

    NOTE: for ``num_words`` None or 0 Keras takes the largest index present as the bound, so
    that one index (the rarest word) also becomes ``oov_char``. We keep this, so that the data
    is the same as Keras's.
    """
    if not num_words:
        num_words = max(max(seq) for seq in sequences)
    if oov_char is None:
        return [[w for w in seq if skip_top <= w < num_words] for seq in sequences]
    return [[w if skip_top <= w < num_words else oov_char for w in seq] for seq in sequences]
