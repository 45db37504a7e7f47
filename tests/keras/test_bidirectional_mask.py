"""Keras masks through ``Bidirectional`` (and the other recurrent layers and wrappers):
``compute_mask`` and the mask each output carries, for every merge mode, with and without
``return_sequences``/``return_state``; models that use the passed-on mask, predicted and fitted
against real Keras 3.15.1 (torch backend) with the same weights."""

import numpy as np
import pytest

from ._keras_ref import ck, tk

RNG = np.random.default_rng(7)
SEQ = RNG.standard_normal((2, 4, 3)).astype("float32")
MASK = np.array([[1, 1, 0, 0], [1, 1, 1, 0]], bool)
TOKENS = np.array([[3, 5, 0, 0], [1, 2, 7, 0], [4, 0, 0, 0], [6, 8, 9, 2]])


def _as_numpy(m):
    """A mask (or a tuple/list of them) as NumPy booleans, keeping the container type."""
    if m is None:
        return None
    if isinstance(m, (list, tuple)):
        return type(m)(_as_numpy(v) for v in m)
    return np.asarray(m.detach().cpu() if hasattr(m, "detach") else m).astype(bool)


def _same_masks(got, want):
    got, want = _as_numpy(got), _as_numpy(want)
    if want is None or got is None:
        assert got is want
        return
    if isinstance(want, (list, tuple)):
        assert type(got) is type(want) and len(got) == len(want), (got, want)
        for g, w in zip(got, want, strict=True):
            _same_masks(g, w)
        return
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("cls", ["GRU", "LSTM", "SimpleRNN"])
@pytest.mark.parametrize("return_sequences", [True, False])
@pytest.mark.parametrize("return_state", [False, True])
def test_rnn_and_bidirectional_compute_mask_as_keras(cls, return_sequences, return_state):
    kw = {"return_sequences": return_sequences, "return_state": return_state}
    ours, ref = getattr(ck.layers, cls)(2, **kw), getattr(tk.layers, cls)(2, **kw)
    ours(SEQ), ref(SEQ)
    _same_masks(ours.compute_mask(SEQ, MASK), ref.compute_mask(SEQ, MASK))
    for mode in ("concat", "sum", "mul", "ave", None):
        ours = ck.layers.Bidirectional(getattr(ck.layers, cls)(2, **kw), merge_mode=mode)
        ref = tk.layers.Bidirectional(getattr(tk.layers, cls)(2, **kw), merge_mode=mode)
        ours(SEQ), ref(SEQ)
        _same_masks(ours.compute_mask(SEQ, MASK), ref.compute_mask(SEQ, MASK))


def test_time_distributed_compute_mask_as_keras():
    ours = ck.layers.TimeDistributed(ck.layers.Dense(2))
    ref = tk.layers.TimeDistributed(tk.layers.Dense(2))
    ours(SEQ), ref(SEQ)
    _same_masks(ours.compute_mask(SEQ, MASK), ref.compute_mask(SEQ, MASK))


@pytest.mark.parametrize("mode", ["concat", "sum", "mul", "ave", None])
@pytest.mark.parametrize("return_sequences", [True, False])
@pytest.mark.parametrize("return_state", [False, True])
def test_each_output_carries_the_mask_keras_gives_it(mode, return_sequences, return_state):
    kw = {"return_sequences": return_sequences, "return_state": return_state}
    outs = {}
    for lib in (ck, tk):
        emb = lib.layers.Embedding(10, 3, mask_zero=True)
        bi = lib.layers.Bidirectional(lib.layers.GRU(2, **kw), merge_mode=mode)
        outs[lib] = bi(emb(TOKENS))
    got, want = outs[ck], outs[tk]

    def kind(o):
        return type(o) if isinstance(o, (list, tuple)) else "tensor"

    assert kind(got) == kind(want)  # a tuple with merge_mode=None or return_state, as Keras
    flat_got = list(got) if isinstance(got, (list, tuple)) else [got]
    flat_want = list(want) if isinstance(want, (list, tuple)) else [want]
    assert len(flat_got) == len(flat_want)
    for g, w in zip(flat_got, flat_want, strict=True):
        assert tuple(g.shape) == tuple(w.shape)
        _same_masks(getattr(g, "_keras_mask", None), getattr(w, "_keras_mask", None))


def _stacked(lib, mode, return_state=False):
    """Embedding(mask_zero) -> Bidirectional(LSTM, sequences) -> an LSTM that reads the mask."""
    x = lib.Input((4,), dtype="int32", name="tokens")
    e = lib.layers.Embedding(10, 3, mask_zero=True, name="emb")(x)
    bi = lib.layers.Bidirectional(lib.layers.LSTM(2, return_sequences=True,
                                                  return_state=return_state, name="lstm"),
                                  merge_mode=mode, name="bi")(e)  # fmt: skip
    if return_state:
        seq, states = bi[0] if mode is not None else bi[:2], bi[-4:]
    else:
        seq, states = bi, ()
    if mode is None:  # the two sequences, each with its mask, joined (Concatenate keeps it)
        seq = lib.layers.Concatenate(name="join")(list(seq))
    h = lib.layers.LSTM(3, name="top")(seq)
    if states:
        h = lib.layers.Concatenate(name="with_states")([h, *states])
    return lib.Model(x, lib.layers.Dense(1, name="out")(h))


def _pair(build, *args):
    ours, ref = build(ck, *args), build(tk, *args)
    rng = np.random.default_rng(1)
    weights = [rng.uniform(-0.7, 0.7, w.shape).astype("float32") for w in ref.get_weights()]
    ref.set_weights(weights)
    ours.set_weights(weights)
    return ours, ref


@pytest.mark.parametrize("mode", ["concat", "sum", "mul", "ave", None])
@pytest.mark.parametrize("return_state", [False, True])
def test_stacked_model_predicts_as_keras(mode, return_state):
    ours, ref = _pair(_stacked, mode, return_state)
    np.testing.assert_allclose(ours.predict(TOKENS, verbose=0), ref.predict(TOKENS, verbose=0),
                               rtol=1e-5, atol=1e-6)  # fmt: skip


@pytest.mark.parametrize("mode", ["concat", None])
def test_stacked_model_fits_as_keras(mode):
    ours, ref = _pair(_stacked, mode)
    y = np.array([[0.5], [-1.0], [0.25], [1.0]], "float32")
    for m, lib in ((ours, ck), (ref, tk)):
        m.compile(optimizer=lib.optimizers.SGD(0.2), loss="mse")
    h_ref = ref.fit(TOKENS, y, batch_size=2, epochs=3, shuffle=False, verbose=0)
    h_ours = ours.fit(TOKENS, y, batch_size=2, epochs=3, shuffle=False, verbose=0)
    np.testing.assert_allclose(h_ours.history["loss"], h_ref.history["loss"], rtol=1e-5)
    for a, b in zip(ours.get_weights(), ref.get_weights(), strict=True):
        np.testing.assert_allclose(a, np.asarray(b), rtol=1e-4, atol=1e-6)


def _pooled(lib):
    """The reported model: Embedding(mask_zero) -> Bidirectional(GRU) -> GlobalAveragePooling1D."""
    x = lib.Input((4,), dtype="int32", name="tokens")
    e = lib.layers.Embedding(10, 3, mask_zero=True, name="emb")(x)
    bi = lib.layers.Bidirectional(lib.layers.GRU(1, return_sequences=True, name="gru"),
                                  name="bi")(e)  # fmt: skip
    return lib.Model(x, lib.layers.GlobalAveragePooling1D(name="pool")(bi))


def test_reported_bidirectional_gru_average_pooling_as_keras():
    ours, ref = _pair(_pooled)
    np.testing.assert_allclose(ours.predict(TOKENS, verbose=0), ref.predict(TOKENS, verbose=0),
                               rtol=1e-5, atol=1e-6)  # fmt: skip


def _hierarchical(lib):
    """Masking over (steps, words, features) -> TimeDistributed(LSTM): each step's LSTM gets
    its own (batch, words) slice of the mask, as Keras's TimeDistributed passes mask[:, t]."""
    x = lib.Input((3, 4, 2), name="docs")
    m = lib.layers.Masking(name="mask")(x)
    h = lib.layers.TimeDistributed(lib.layers.LSTM(2, name="words"), name="td")(m)
    return lib.Model(x, lib.layers.Dense(1, name="out")(lib.layers.Flatten(name="flat")(h)))


def test_time_distributed_passes_the_step_masks_to_its_layer_as_keras():
    docs = np.random.default_rng(5).standard_normal((2, 3, 4, 2)).astype("float32")
    docs[0, 0, 2:] = 0.0  # padded words
    docs[1, 2, 1:] = 0.0
    ours, ref = _pair(_hierarchical)
    np.testing.assert_allclose(
        ours.predict(docs, verbose=0), ref.predict(docs, verbose=0), rtol=1e-5, atol=1e-6
    )


@pytest.mark.parametrize("rnn", ["GRU", "SimpleRNN"])
def test_average_pooling_after_embedding_and_a_sequence_gets_the_mask_as_keras(rnn):
    # Layer.__call__ fills a `mask=` argument from the input's Keras mask, as Keras's does
    def build(lib):
        return lib.Sequential([
            lib.Input((None,), dtype="int32"),
            lib.layers.Embedding(10, 3, mask_zero=True, name="emb"),
            getattr(lib.layers, rnn)(2, return_sequences=True, name="rnn"),
            lib.layers.GlobalAveragePooling1D(name="pool"),
        ])  # fmt: skip

    ours, ref = _pair(build)
    np.testing.assert_allclose(ours.predict(TOKENS, verbose=0), ref.predict(TOKENS, verbose=0),
                               rtol=1e-5, atol=1e-6)  # fmt: skip
