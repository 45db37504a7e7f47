"""Fused recurrences: a whole SimpleRNN, LSTM or GRU pass over time as one primitive.

Each scan takes the input projection of every time step at once (``zx = x @ kernel + bias``,
one GEMM done by the caller with ``dense``), the initial state and the recurrent kernel, and
returns the state sequence. The forward is one Python loop over time (a GEMM and a few
elementwise NumPy calls per step); the backward gets every gate (the LSTM saves them with
tanh(c_t); SimpleRNN and GRU recompute them with one GEMM over all steps), forms the
elementwise factors for all steps at once, runs the reverse loop (one GEMM per step), and forms
the recurrent-kernel gradient with one more GEMM over all steps.

Speed: the per-step work is a handful of NumPy calls on ``(batch, units)`` blocks, so the
buffers are laid out time-major (each step's slice contiguous), the steps write into them with
``out=``, and whatever does not depend on the previous step is done once over all steps.

NOTE: fused for speed. Composing the recurrence from ops records ~15 nodes per time step; the
engine overhead then dominates small layers (LSTM(64) over 20 steps was 3x slower composed).

Activations are fixed: tanh for the candidate/output, sigmoid for the gates (the Keras
defaults). Other activations use the composed path in ``keras.layers.rnn``.

Masks: ``mask`` is None or a boolean ``(batch, time)`` array; at a masked step the state is
carried over unchanged (Keras ``backend.rnn``).
"""

from __future__ import annotations

import weakref

from ..autodiff.primitive import defvjp, primitive
from ..backend import np

__all__ = ["simple_rnn_scan", "lstm_scan", "gru_scan"]


_SAVED: dict = {}  # id(forward output) -> arrays the forward kept for the backward


def _save(out, saved):
    """Keep ``saved`` for the backward of the node whose output is ``out``, as long as ``out``
    lives (the arrays are dropped with it)."""
    key = id(out)
    _SAVED[key] = saved
    weakref.finalize(out, _SAVED.pop, key, None)
    return out


def _sigmoid(x):
    # NOTE: 0.5 + 0.5 tanh(x/2) equals 1/(1+exp(-x)) and never overflows.
    return 0.5 + 0.5 * np.tanh(0.5 * x)


def _time_major(zx):
    return np.ascontiguousarray(np.swapaxes(zx, 0, 1))


def _masks(mask, T, dtype):
    """``(T, B, 1)`` float masks, or None."""
    if mask is None:
        return None
    return np.ascontiguousarray(np.swapaxes(np.asarray(mask, dtype=dtype), 0, 1))[..., None]


def _previous(seq, h0):
    """``[h0, h_1, ..., h_{T-1}]`` for a time-major state sequence ``seq``."""
    prev = np.empty_like(seq)
    prev[0] = h0
    prev[1:] = seq[:-1]
    return prev


# -- SimpleRNN: h_t = tanh(zx_t + h_{t-1} @ R) ---------------------------------------------------
@primitive
def simple_rnn_scan(zx, h0, rkernel, mask=None):
    """``(B, T, U), (B, U), (U, U) -> (B, T, U)``: the states ``h_t = tanh(zx_t + h_{t-1} R)``."""
    zt = _time_major(zx)
    m = _masks(mask, zt.shape[0], zx.dtype)
    out = np.empty_like(zt)
    h = h0.astype(zx.dtype, copy=False)
    for t in range(zt.shape[0]):
        hn = np.tanh(zt[t] + h @ rkernel)
        if m is not None:
            hn = h + m[t] * (hn - h)
        out[t] = h = hn
    return np.swapaxes(out, 0, 1)


def _simple_rnn_grads(g, out, zx, h0, rkernel, mask=None):
    hs = _time_major(out)
    gt = _time_major(g)
    m = _masks(mask, hs.shape[0], zx.dtype)
    # The tanh derivative from the saved states: 1 - h_t^2 (recomputed where masked).
    if m is None:
        deriv = 1 - hs * hs
    else:
        a = np.tanh(_time_major(zx) + _previous(hs, h0) @ rkernel)
        deriv = (1 - a * a) * m
    da = np.empty_like(hs)
    dh = np.zeros_like(hs[0])
    rt = rkernel.T
    for t in range(hs.shape[0] - 1, -1, -1):
        dh = dh + gt[t]
        da[t] = dh * deriv[t]
        nxt = da[t] @ rt
        dh = nxt if m is None else nxt + dh * (1 - m[t])
    prev = _previous(hs, h0)
    drk = prev.reshape(-1, prev.shape[-1]).T @ da.reshape(-1, da.shape[-1])
    return np.swapaxes(da, 0, 1), dh, drk


def _cached(fn):
    """Share one backward computation among the VJPs of the same node."""
    cache = {}

    def get(g, out, *args, **kwargs):
        hit = cache.get("last")
        if hit is None or hit[0] is not g or hit[1] is not out:
            hit = cache["last"] = (g, out, fn(g, out, *args, **kwargs))
        return hit[2]

    return get


_srnn = _cached(_simple_rnn_grads)
defvjp(
    simple_rnn_scan,
    lambda *a, **k: _srnn(*a, **k)[0],
    lambda *a, **k: _srnn(*a, **k)[1],
    lambda *a, **k: _srnn(*a, **k)[2],
    None,
)


# -- LSTM (gate order i, f, c, o as Keras) -------------------------------------------------------
_SCALES: dict = {}


def _gate_scale(units, dtype):
    """``a, b`` with ``gates = a * tanh(a * z) + b``: sigmoid on i, f, o and tanh on c."""
    key = (units, np.dtype(dtype))
    if key not in _SCALES:
        a = np.full(4 * units, 0.5, dtype)
        a[2 * units : 3 * units] = 1.0
        b = np.full(4 * units, 0.5, dtype)
        b[2 * units : 3 * units] = 0.0
        _SCALES[key] = a, b
    return _SCALES[key]


@primitive
def lstm_scan(zx, h0, c0, rkernel, mask=None):
    """``(B, T, 4U), (B, U), (B, U), (U, 4U) -> (B, T, 2U)``: ``[h_t, c_t]`` for every step.

    ``z = zx_t + h_{t-1} R``; ``i, f, o = sigmoid(z_i, z_f, z_o)``, ``g = tanh(z_c)``;
    ``c_t = f c_{t-1} + i g``; ``h_t = o tanh(c_t)`` (Hochreiter & Schmidhuber 1997; Keras
    ``LSTMCell``).
    """
    B, T, G = zx.shape
    U = G // 4
    dt = zx.dtype
    m = _masks(mask, T, dt)
    a, b = _gate_scale(U, dt)
    # NOTE: sigmoid(z) = 0.5 tanh(z/2) + 0.5, so one tanh over all four gates; the 1/2 is
    # folded into the input projection and the recurrent kernel once, not per step.
    za = np.multiply(np.swapaxes(zx, 0, 1), a, out=np.empty((T, B, G), dt))
    ra = (rkernel * a).astype(dt, copy=False)
    # Time-major buffers: every per-step slice is contiguous. The gates and tanh(c_t) are kept
    # for the backward, which then needs no transcendental function.
    gates = np.empty((T, B, G), dt)
    tcs = np.empty((T, B, U), dt)
    out = np.empty((T, B, 2 * U), dt)
    h = np.asarray(h0, dtype=dt)
    c = np.asarray(c0, dtype=dt)
    ig = np.empty((B, U), dt)
    for t in range(T):
        z = gates[t]
        np.matmul(h, ra, out=z)
        z += za[t]
        np.tanh(z, out=z)
        z *= a
        z += b
        np.multiply(z[:, :U], z[:, 2 * U : 3 * U], out=ig)
        hn, cn, tc = out[t, :, :U], out[t, :, U:], tcs[t]
        np.multiply(z[:, U : 2 * U], c, out=cn)
        cn += ig
        np.tanh(cn, out=tc)
        np.multiply(z[:, 3 * U :], tc, out=hn)
        if m is not None:
            cn -= c
            cn *= m[t]
            cn += c
            hn -= h
            hn *= m[t]
            hn += h
        h, c = hn, cn
    return _save(np.swapaxes(out, 0, 1), (gates, tcs))


def _lstm_coefficients(gates, tcs, cs, c0):
    """``p`` with ``dz_t = p_t * [dc, dc, dc, dh]`` and ``q`` with ``dc += dh * q_t``."""
    T, B, G = gates.shape
    U = G // 4
    p = np.subtract(1, gates)
    p *= gates  # sigmoid' = s (1 - s) on i, f, o (the g block is replaced below)
    p4, g4 = p.reshape(T, B, 4, U), gates.reshape(T, B, 4, U)
    i, gg, o = g4[:, :, 0], g4[:, :, 2], g4[:, :, 3]
    p4[:, :, 0] *= gg
    p4[0, :, 1] *= c0
    p4[1:, :, 1] *= cs[:-1]
    pg = p4[:, :, 2]
    np.multiply(gg, gg, out=pg)
    np.subtract(1, pg, out=pg)
    pg *= i
    p4[:, :, 3] *= tcs
    q = np.multiply(tcs, tcs)
    np.subtract(1, q, out=q)
    q *= o
    return p4, q


def _lstm_grads(g, out, zx, h0, c0, rkernel, mask=None):
    gates, tcs = _SAVED[id(out)]
    T, B, G = gates.shape
    U = G // 4
    dt = gates.dtype
    st = np.swapaxes(out, 0, 1)  # the forward's time-major [h, c] buffer
    hs, cs = st[..., :U], st[..., U:]
    c0 = np.asarray(c0, dtype=dt)
    p4, q = _lstm_coefficients(gates, tcs, cs, c0)
    m = _masks(mask, T, dt)
    gt = np.swapaxes(g, 0, 1)
    # dz is written batch-major so the input projection's backward reads it without a copy
    dz = np.empty((B, T, G), dt)
    dh = np.zeros((B, U), dt)
    dc = np.zeros((B, U), dt)
    tmp = np.empty((B, U), dt)
    rt = rkernel.T
    f = gates.reshape(T, B, 4, U)[:, :, 1]
    for t in range(T - 1, -1, -1):
        dh += gt[t, :, :U]
        dc += gt[t, :, U:]
        if m is not None:
            keep_h, keep_c = dh * (1 - m[t]), dc * (1 - m[t])
            dh *= m[t]
            dc *= m[t]
        np.multiply(dh, q[t], out=tmp)
        dc += tmp
        d4 = dz[:, t].reshape(B, 4, U)
        np.multiply(p4[t, :, :3], dc[:, None, :], out=d4[:, :3])
        np.multiply(p4[t, :, 3], dh, out=d4[:, 3])
        np.matmul(dz[:, t], rt, out=dh)
        dc *= f[t]
        if m is not None:
            dh += keep_h
            dc += keep_c
    # the recurrent-kernel gradient: one GEMM over all steps, sum_t h_{t-1}^T dz_t
    hp = np.empty((B, T, U), dt)
    hp[:, 0] = h0
    hp[:, 1:] = np.swapaxes(hs[:-1], 0, 1)
    drk = hp.reshape(-1, U).T @ dz.reshape(-1, G)
    return dz, dh, dc, drk


_lstm = _cached(_lstm_grads)
defvjp(
    lstm_scan,
    lambda *a, **k: _lstm(*a, **k)[0],
    lambda *a, **k: _lstm(*a, **k)[1],
    lambda *a, **k: _lstm(*a, **k)[2],
    lambda *a, **k: _lstm(*a, **k)[3],
    None,
)


# -- GRU with reset_after=True (gate order z, r, h as Keras) ---------------------------------------
@primitive
def gru_scan(zx, h0, rkernel, rbias, mask=None):
    """``(B, T, 3U), (B, U), (U, 3U), (3U,) -> (B, T, U)``: the states of a ``reset_after`` GRU.

    ``u = h_{t-1} R + rbias``; ``z, r = sigmoid(zx_z + u_z, zx_r + u_r)``;
    ``hh = tanh(zx_h + r u_h)``; ``h_t = z h_{t-1} + (1 - z) hh`` (Cho et al. 2014, the
    cuDNN-compatible variant; Keras ``GRUCell(reset_after=True)``).
    """
    zt = _time_major(zx)
    T, B, G = zt.shape
    U = G // 3
    m = _masks(mask, T, zx.dtype)
    out = np.empty((T, B, U), zx.dtype)
    h = h0.astype(zx.dtype, copy=False)
    for t in range(T):
        u = h @ rkernel + rbias
        zr = _sigmoid(zt[t, :, : 2 * U] + u[:, : 2 * U])
        z = zr[:, :U]
        hh = np.tanh(zt[t, :, 2 * U :] + zr[:, U:] * u[:, 2 * U :])
        hn = hh + z * (h - hh)
        if m is not None:
            hn = h + m[t] * (hn - h)
        out[t] = h = hn
    return np.swapaxes(out, 0, 1)


def _gru_grads(g, out, zx, h0, rkernel, rbias, mask=None):
    hs = _time_major(out)
    gt = _time_major(g)
    T, B, U = hs.shape
    hp = _previous(hs, h0)
    zt = _time_major(zx)
    u = hp @ rkernel + rbias
    zr = _sigmoid(zt[..., : 2 * U] + u[..., : 2 * U])
    z, r = zr[..., :U], zr[..., U:]
    hh = np.tanh(zt[..., 2 * U :] + r * u[..., 2 * U :])
    m = _masks(mask, T, zx.dtype)
    fz = (hp - hh) * z * (1 - z)
    fh = (1 - z) * (1 - hh * hh)
    fr = fh * u[..., 2 * U :] * r * (1 - r)
    k = np.concatenate([fz, fr, fh * r], axis=-1).reshape(T, B, 3, U)
    du = np.empty((T, B, 3 * U), zx.dtype)
    dhs = np.empty((T, B, U), zx.dtype)
    dh = np.zeros((B, U), zx.dtype)
    rt = rkernel.T
    for t in range(T - 1, -1, -1):
        dh = dh + gt[t]
        if m is not None:
            keep = dh * (1 - m[t])
            dh = dh * m[t]
        dhs[t] = dh
        du[t] = (k[t] * dh[:, None, :]).reshape(B, 3 * U)
        dh = dh * z[t] + du[t] @ rt
        if m is not None:
            dh += keep
    dzx = np.concatenate([du[..., : 2 * U], dhs * fh], axis=-1)
    drk = hp.reshape(-1, U).T @ du.reshape(-1, 3 * U)
    return np.swapaxes(dzx, 0, 1), dh, drk, du.reshape(-1, 3 * U).sum(axis=0)


_gru = _cached(_gru_grads)
defvjp(
    gru_scan,
    lambda *a, **k: _gru(*a, **k)[0],
    lambda *a, **k: _gru(*a, **k)[1],
    lambda *a, **k: _gru(*a, **k)[2],
    lambda *a, **k: _gru(*a, **k)[3],
    None,
)
