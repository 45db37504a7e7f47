"""keras.losses: the users' cases of /work/shared/cases/batch1.md (01.1-5, 02, 03, 06.1-4, 07.1-2,
12.5) with their independently computed values, the bad-input errors, and get/serialize
against real Keras 3.15.1.
"""

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import chainrule as cr  # noqa: E402
from chainrule.keras import losses  # noqa: E402

f32 = np.float32


def close(got, expected):
    """The batch1 tolerance: |got - expected| <= 1e-5 * max(1, |expected|)."""
    got, expected = np.asarray(got, np.float64), np.asarray(expected, np.float64)
    assert got.shape == expected.shape, (got.shape, expected.shape)
    assert np.all(np.abs(got - expected) <= 1e-5 * np.maximum(1, np.abs(expected))), got


def value_and_grad(fn, y_pred, *args, **kwargs):
    yp = cr.tensor(np.asarray(y_pred, f32), requires_grad=True)
    out = fn(*args, yp, **kwargs)
    (g,) = cr.grad(cr.sum(out), [yp])
    return out.numpy(), g


# -- Case 01: cross-entropy on probabilities that are exactly 0 or 1 -------------------------


def test_case_01_1_bce_on_exact_zero_and_one_is_finite():
    out = losses.binary_crossentropy([[1, 0, 1, 0]], np.array([[1, 0, 0, 1]], f32))
    close(out.numpy(), [8.01512])
    per_elem = losses.binary_crossentropy(
        np.array([[1], [0], [1], [0]]), np.array([[1], [0], [0], [1]], f32)
    ).numpy()
    close(per_elem, [1.19209e-07, 1.19209e-07, 16.1181, 15.9424])
    assert np.all(per_elem[:2] < 1e-6)


def test_case_01_2_bce_gradient_is_zero_in_the_clipped_region():
    _, g = value_and_grad(losses.binary_crossentropy, [[1, 0, 0, 1]], [[1, 0, 1, 0]])
    assert np.isfinite(g).all()
    np.testing.assert_array_equal(g, np.zeros((1, 4), f32))


def test_case_01_3_cce_true_class_probability_zero():
    v, g = value_and_grad(losses.categorical_crossentropy, [[0.0, 0.5, 0.5]], [[1, 0, 0]])
    close(v, [16.1181])
    assert np.isfinite(g).all()


def test_case_01_4_cce_all_zero_row_is_not_nan():
    # Documented choice: the row is divided by 1 instead of 0, then clipped: -log(1e-7).
    v, g = value_and_grad(losses.categorical_crossentropy, [[0.0, 0.0, 0.0]], [[1, 0, 0]])
    close(v, [16.1181])
    assert np.isfinite(g).all()
    close(losses.CategoricalCrossentropy()([[1, 0, 0]], [[0.0, 0.0, 0.0]]).numpy(), 16.1181)


def test_case_01_5_cce_renormalises_the_row():
    out = losses.categorical_crossentropy([[1, 0, 0]], np.array([[0.2, 0.2, 0.1]], f32))
    close(out.numpy(), [0.916291])


# -- Case 02: softmax cross-entropy with very large logits -----------------------------------


def test_case_02_1_and_2_large_equal_logits():
    v, g = value_and_grad(
        losses.sparse_categorical_crossentropy, [[1e8, 1e8]], [1], from_logits=True
    )
    close(v, [0.693147])
    close(g, [[0.5, -0.5]])
    v, g = value_and_grad(losses.categorical_crossentropy, [[1e8, 1e8]], [[0, 1]], from_logits=True)
    close(v, [0.693147])
    close(g, [[0.5, -0.5]])


def test_case_02_3_one_value_per_sample():
    out = losses.categorical_crossentropy(
        [[1, 0], [0, 1]], np.array([[1000.0, 0.0]] * 2, f32), from_logits=True
    )
    close(out.numpy(), [0.0, 1000.0])


def test_case_02_4_softmax_of_large_logits():
    out = cr.softmax(np.array([[1000.0, 0.0, -1000.0]], f32))
    close(out.numpy(), [[1.0, 0.0, 0.0]])


# -- Case 03: sigmoid cross-entropy from logits ----------------------------------------------


def test_case_03_extreme_logits_and_gradient_at_zero():
    logits = [[-100, 100, -1000, 1000, 0]]
    v, g = value_and_grad(losses.binary_crossentropy, logits, [[0, 1, 1, 0, 0]], from_logits=True)
    close(v, [400.138629])
    close(g, [[0.0, 0.0, -0.2, 0.2, 0.1]])


def test_case_03_optional_infinite_logits_give_inf_not_nan():
    out = losses.binary_crossentropy(
        np.array([[0.9], [0.9]], f32), np.array([[np.inf], [-np.inf]], f32), from_logits=True
    )
    np.testing.assert_array_equal(out.numpy(), [np.inf, np.inf])


# -- Case 06: integer vs one-hot labels, (N,) vs (N,1), out-of-range labels ------------------

Y_PRED = np.array([[0.1, 0.7, 0.2], [0.3, 0.3, 0.4]], f32)


@pytest.mark.parametrize("labels", [[1, 2], [[1], [2]], np.array([1.0, 2.0], f32)], ids=str)
def test_case_06_1_sparse_accepts_both_label_shapes(labels):
    close(losses.sparse_categorical_crossentropy(labels, Y_PRED).numpy(), [0.356675, 0.916291])
    close(losses.SparseCategoricalCrossentropy()(labels, Y_PRED).numpy(), 0.636483)


def test_case_06_2_one_hot_labels_to_the_sparse_loss():
    with pytest.raises(ValueError, match=r"rank is one less") as err:
        losses.sparse_categorical_crossentropy([[0, 1, 0], [0, 0, 1]], Y_PRED)
    assert str(err.value).count("(2, 3)") >= 2


def test_case_06_3_integer_labels_to_the_categorical_loss():
    with pytest.raises(ValueError, match=r"\(2,\).*\(2, 3\)"):
        losses.categorical_crossentropy([1, 2], Y_PRED)
    with pytest.raises(ValueError, match=r"\(2,\).*\(2, 3\)"):
        losses.CategoricalCrossentropy()([1, 2], Y_PRED)


@pytest.mark.parametrize("bad", [3, -1])
@pytest.mark.parametrize("from_logits", [False, True])
def test_case_06_4_out_of_range_labels(bad, from_logits):
    with pytest.raises(ValueError, match=rf"label {bad} .*\[0, 3\)"):
        losses.sparse_categorical_crossentropy([0, bad], Y_PRED, from_logits=from_logits)


def test_sparse_rejects_non_integer_labels():
    with pytest.raises(ValueError, match="integer class indices.*1.5"):
        losses.sparse_categorical_crossentropy([0, 1.5], Y_PRED)


# -- Case 07: (N,) against (N,1) never broadcasts to (N,N) -----------------------------------

Y7, P7 = np.array([1, 2, 3, 4], f32), np.array([[1.5], [2.5], [2.5], [4.5]], f32)


def test_case_07_1_functions():
    close(losses.mean_squared_error(Y7, P7).numpy(), [0.25] * 4)
    close(losses.mean_absolute_error(Y7, P7).numpy(), [0.5] * 4)


def test_case_07_2_class():
    close(losses.MeanSquaredError()(Y7, P7).numpy(), 0.25)


# -- Case 12.5: float64 and integer inputs ---------------------------------------------------


def test_case_12_5_float64_targets_with_float32_predictions():
    out = losses.mean_squared_error(np.array([[1.0]], "float64"), np.array([[0.5]], "float32"))
    close(out.numpy(), [0.25])
    assert out.dtype == np.float32


def test_integer_and_float64_inputs_do_not_crash():
    ints = np.array([[1, 2], [3, 4]])
    assert losses.mean_squared_error(ints, ints).numpy().tolist() == [0.0, 0.0]
    assert losses.MeanSquaredError()(ints, ints + 1).dtype == np.float32
    y64 = cr.tensor(np.array([[0.25, 0.75]]), requires_grad=True)
    loss = losses.BinaryCrossentropy()(np.array([[0, 1]]), y64)
    assert loss.dtype == np.float32  # the Loss computes in its dtype (floatx)
    (g,) = cr.grad(loss, [y64])
    assert g.dtype == np.float64
    close(g, [[0.5 / 0.75, -0.5 / 0.75]])


# -- bad input --------------------------------------------------------------------------------


def test_unknown_reduction():
    with pytest.raises(ValueError, match=r"reduction.*received.*'avg'|Received: reduction='avg'"):
        losses.MeanSquaredError(reduction="avg")


@pytest.mark.parametrize("ls", [-0.1, 1.5, "a"])
def test_label_smoothing_out_of_range(ls):
    with pytest.raises(ValueError, match="label_smoothing"):
        losses.BinaryCrossentropy(label_smoothing=ls)
    with pytest.raises(ValueError, match="label_smoothing"):
        losses.categorical_crossentropy([[1.0, 0.0]], [[0.5, 0.5]], label_smoothing=ls)


def test_bad_delta_and_gamma():
    with pytest.raises(ValueError, match="delta must be a non-negative number, received"):
        losses.Huber(delta=-1.0)
    with pytest.raises(ValueError, match="gamma"):
        losses.binary_focal_crossentropy([[1.0]], [[0.5]], gamma=-2)


def test_shape_mismatch_names_both_shapes():
    with pytest.raises(ValueError, match=r"y_true.shape=\(3, 2\) and y_pred.shape=\(3, 4\)"):
        losses.mean_squared_error(np.zeros((3, 2)), np.zeros((3, 4), f32))
    with pytest.raises(ValueError, match=r"\(4,\).*\(4, 4\)"):
        losses.binary_crossentropy(np.zeros(4), np.full((4, 4), 0.5, f32))


def test_non_numeric_targets():
    with pytest.raises(TypeError, match="y_true must be numeric"):
        losses.mean_squared_error(np.array([["a"]]), np.zeros((1, 1), f32))


def test_categorical_over_one_class_warns():
    with pytest.warns(SyntaxWarning, match="num_classes > 1"):
        losses.categorical_crossentropy([[1.0]], [[0.9]])


def test_bad_axis():
    with pytest.raises(ValueError, match="axis=2 is out of range"):
        losses.binary_crossentropy([[1.0]], [[0.5]], axis=2)


# -- gradients flow to a y_true that requires grad -------------------------------------------


def test_gradient_with_respect_to_y_true():
    rng = np.random.default_rng(0)
    a = cr.tensor(rng.normal(size=(3, 2)).astype(f32), requires_grad=True)
    b = cr.tensor(rng.normal(size=(3, 2)).astype(f32), requires_grad=True)
    ga, gb = cr.grad(losses.MeanSquaredError()(a, b), [a, b])
    close(ga, 2 * (a.numpy() - b.numpy()) / 6)
    close(gb, -ga)


# -- custom losses, get / serialize / deserialize ---------------------------------------------


def test_custom_loss_subclass_gets_reductions_and_weights():
    class Cube(losses.Loss):
        def call(self, y_true, y_pred):
            return cr.sum((y_pred - y_true) ** 3, axis=-1)

    loss = Cube(reduction="mean_with_sample_weight")
    assert loss.name == "cube" and loss.dtype == "float32"
    out = loss(np.zeros((2, 2), f32), np.array([[1.0, 1.0], [2.0, 0.0]], f32), sample_weight=[1, 3])
    close(out.numpy(), (2 * 1 + 8 * 3) / 4)


@pytest.mark.parametrize(
    "name,keras_name",
    [
        ("mse", "mean_squared_error"),
        ("MSE", "mean_squared_error"),
        ("mean_squared_error", "mean_squared_error"),
        ("mae", "mean_absolute_error"),
        ("mape", "mean_absolute_percentage_error"),
        ("msle", "mean_squared_logarithmic_error"),
        ("kld", "kl_divergence"),
        ("bce", "binary_crossentropy"),
        ("binary_crossentropy", "binary_crossentropy"),
        ("categorical_crossentropy", "categorical_crossentropy"),
        ("sparse_categorical_crossentropy", "sparse_categorical_crossentropy"),
        ("huber", "huber"),
        ("MeanSquaredError", "mean_squared_error"),
        ("Huber", "huber_loss"),
        ("BinaryCrossentropy", "binary_crossentropy"),
        ("half_mse", "half_mean_squared_error"),
    ],
)
def test_get_string_gives_a_loss_named_as_keras(name, keras_name):
    loss = losses.get(name)
    assert isinstance(loss, losses.Loss) and loss.name == keras_name
    if name != "half_mse":
        ref = keras.losses.get(name)
        ref_name = ref.name if isinstance(ref, keras.losses.Loss) else ref.__name__
        assert ref_name == keras_name
        y, p = np.array([[0.0, 1.0]], f32), np.array([[0.3, 0.6]], f32)
        if "sparse" in name:
            y = np.array([[1.0]], f32)
        close(loss(y, p).numpy(), float(keras.losses.get(name)(y, p).numpy().mean()))


def test_get_other_identifiers():
    assert losses.get(None) is None
    mse = losses.MeanSquaredError()
    assert losses.get(mse) is mse
    assert isinstance(losses.get(losses.Huber), losses.Huber)
    wrapped = losses.get(lambda t, p: cr.sum(p - t, axis=-1))
    assert isinstance(wrapped, losses.LossFunctionWrapper)
    close(wrapped([[1.0, 1.0]], [[2.0, 4.0]]).numpy(), 4.0)
    cfg = {"class_name": "CategoricalCrossentropy", "config": {"from_logits": True}}
    assert losses.get(cfg).from_logits is True


def test_get_unknown_name_lists_the_valid_names():
    with pytest.raises(ValueError, match="Could not interpret loss identifier: 'msee'") as err:
        losses.get("msee")
    assert "mean_squared_error" in str(err.value) and "half_mse" in str(err.value)
    with pytest.raises(ValueError, match="Could not interpret"):
        losses.get(3)


@pytest.mark.parametrize(
    "cls,kwargs",
    [
        ("MeanSquaredError", {}),
        ("MeanAbsoluteError", {"reduction": "sum"}),
        ("LogCosh", {}),
        ("KLDivergence", {"name": "kl"}),
        ("Poisson", {}),
        ("Hinge", {}),
        ("CategoricalHinge", {}),
        ("BinaryCrossentropy", {"from_logits": True, "label_smoothing": 0.1}),
        ("BinaryFocalCrossentropy", {"gamma": 3.0, "apply_class_balancing": True}),
        ("CategoricalCrossentropy", {"axis": 1, "reduction": None}),
    ],
)
def test_serialize_matches_keras_and_round_trips(cls, kwargs):
    ours = losses.serialize(getattr(losses, cls)(**kwargs))
    assert ours == keras.losses.serialize(getattr(keras.losses, cls)(**kwargs))
    back = losses.deserialize(ours)
    assert type(back) is getattr(losses, cls) and back.get_config() == ours["config"]


def test_config_round_trip_keeps_arguments_keras_drops():
    for loss in (
        losses.Huber(delta=2.5),
        losses.CosineSimilarity(axis=0),
        losses.SparseCategoricalCrossentropy(ignore_class=255, axis=1),
    ):
        back = losses.deserialize(losses.serialize(loss))
        assert back.get_config() == loss.get_config()


def test_function_serialization_and_wrapper_config():
    assert losses.serialize(losses.mse) == keras.losses.serialize(keras.losses.mean_squared_error)
    assert losses.deserialize("mean_squared_error") is losses.mean_squared_error
    w = losses.LossFunctionWrapper(losses.binary_crossentropy, name="w", from_logits=True)
    cfg = w.get_config()
    from keras.src.losses.losses import LossFunctionWrapper as KerasWrapper

    ref = KerasWrapper(keras.losses.binary_crossentropy, name="w", from_logits=True).get_config()
    assert cfg == ref
    back = losses.LossFunctionWrapper.from_config(cfg)
    assert back.fn is losses.binary_crossentropy and back._fn_kwargs == {"from_logits": True}
