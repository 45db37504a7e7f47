"""Recurrent layers, their cells, wrappers and masking (Keras 3 ``keras/src/layers/rnn/``)."""

from .bidirectional import Bidirectional
from .gru import GRU, GRUCell
from .lstm import LSTM, LSTMCell
from .masking import Masking
from .rnn import RNN
from .simple_rnn import SimpleRNN, SimpleRNNCell
from .time_distributed import TimeDistributed

__all__ = ["RNN", "SimpleRNN", "SimpleRNNCell", "LSTM", "LSTMCell", "GRU", "GRUCell",
           "Bidirectional", "TimeDistributed", "Masking"]  # fmt: skip
