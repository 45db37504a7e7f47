"""Keras layers (``keras.layers``)."""

from .activations import ELU, LeakyReLU, PReLU, ReLU, Softmax
from .attention import Attention, MultiHeadAttention
from .augmentation import RandomBrightness, RandomContrast, RandomCrop, RandomFlip
from .augmentation_geometric import RandomRotation, RandomTranslation, RandomZoom
from .category_encoding import CategoryEncoding
from .convolutional import Conv1D, Conv2D, Conv3D
from .convolutional_depthwise import (
    DepthwiseConv1D,
    DepthwiseConv2D,
    SeparableConv1D,
    SeparableConv2D,
)
from .convolutional_transpose import Conv1DTranspose, Conv2DTranspose, Conv3DTranspose
from .core import Activation, Dense, Dropout, Flatten, Identity, Lambda, Reshape
from .discretization import Discretization
from .embedding import Embedding
from .input_layer import Input, InputLayer, KerasTensor
from .input_spec import InputSpec
from .layer import Layer
from .merging import (
    Add,
    Average,
    Concatenate,
    Maximum,
    Minimum,
    Multiply,
    Subtract,
    add,
    average,
    concatenate,
    maximum,
    minimum,
    multiply,
    subtract,
)
from .merging_dot import Dot, dot
from .normalization import BatchNormalization, GroupNormalization, LayerNormalization
from .pooling import (
    AveragePooling1D,
    AveragePooling2D,
    AveragePooling3D,
    GlobalAveragePooling1D,
    GlobalAveragePooling2D,
    GlobalAveragePooling3D,
    GlobalMaxPooling1D,
    GlobalMaxPooling2D,
    GlobalMaxPooling3D,
    MaxPooling1D,
    MaxPooling2D,
    MaxPooling3D,
)
from .preprocessing import Normalization
from .regularization import (
    ActivityRegularization,
    GaussianDropout,
    GaussianNoise,
    SpatialDropout1D,
    SpatialDropout2D,
    SpatialDropout3D,
)
from .rescaling import Rescaling
from .reshaping import (
    Cropping1D,
    Cropping2D,
    Cropping3D,
    Permute,
    RepeatVector,
    UpSampling1D,
    UpSampling2D,
    UpSampling3D,
    ZeroPadding1D,
    ZeroPadding2D,
    ZeroPadding3D,
)
from .resizing import Resizing
from .rnn import (
    GRU,
    LSTM,
    RNN,
    Bidirectional,
    GRUCell,
    LSTMCell,
    Masking,
    SimpleRNN,
    SimpleRNNCell,
    TimeDistributed,
)

__all__ = [
    "Layer", "InputSpec", "Input", "InputLayer", "KerasTensor", "Dense", "Activation", "Dropout",
    "Flatten", "Reshape", "Identity", "Lambda",
    "Conv1D", "Conv2D", "Conv3D", "Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose",
    "DepthwiseConv1D", "DepthwiseConv2D", "SeparableConv1D", "SeparableConv2D",
    "MaxPooling1D", "MaxPooling2D", "MaxPooling3D", "AveragePooling1D", "AveragePooling2D",
    "AveragePooling3D", "GlobalAveragePooling1D", "GlobalAveragePooling2D",
    "GlobalAveragePooling3D", "GlobalMaxPooling1D", "GlobalMaxPooling2D", "GlobalMaxPooling3D",
    "UpSampling1D", "UpSampling2D", "UpSampling3D", "ZeroPadding1D", "ZeroPadding2D",
    "ZeroPadding3D", "Cropping1D", "Cropping2D", "Cropping3D", "Permute", "RepeatVector",
    "Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate", "Dot",
    "add", "subtract", "multiply", "average", "maximum", "minimum", "concatenate", "dot",
    "BatchNormalization", "LayerNormalization", "GroupNormalization", "SpatialDropout1D",
    "SpatialDropout2D", "SpatialDropout3D", "GaussianNoise", "GaussianDropout",
    "ActivityRegularization", "Embedding", "Masking", "RNN", "SimpleRNN", "SimpleRNNCell", "LSTM",
    "LSTMCell", "GRU", "GRUCell", "Bidirectional", "TimeDistributed", "MultiHeadAttention",
    "Attention", "ReLU", "LeakyReLU", "PReLU", "ELU", "Softmax", "Rescaling", "Normalization",
    "CategoryEncoding", "Discretization", "Resizing", "RandomFlip", "RandomRotation",
    "RandomZoom", "RandomTranslation", "RandomContrast", "RandomBrightness", "RandomCrop",
    "serialize", "deserialize",
]  # fmt: skip


def serialize(layer) -> dict:
    """A layer's Keras 3 config dict (``{"module", "class_name", "config", ...}``); matches
    ``keras.layers.serialize``."""
    from ..saving.serialization import serialize_keras_object  # noqa: PLC0415 - saving imports layers

    return serialize_keras_object(layer)


def deserialize(config, custom_objects=None):
    """The layer a :func:`serialize` dict describes (``custom_objects`` names classes of your
    own); matches ``keras.layers.deserialize``."""
    from ..saving.serialization import deserialize_keras_object  # noqa: PLC0415

    return deserialize_keras_object(config, custom_objects=custom_objects)


def __dir__():
    return sorted(__all__)  # the layers, not the submodules they are defined in
