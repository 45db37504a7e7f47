"""Wide & deep classification of scikit-learn's breast-cancer data (Cheng et al. 2016,
"Wide & Deep Learning for Recommender Systems") with chainrule's functional Keras API.

Two inputs: the deep part sees the 30 standardised features through two hidden layers; the wide
part is a linear model on hand-made feature crosses (pairwise products of the five features most
correlated with the label, plus their squares). The two logits are added (``layers.Add``) and a
sigmoid gives the probability. Prints ``wide_and_deep test accuracy: 0.9xxx``.

Run: ``python examples/wide_and_deep.py``
"""

from __future__ import annotations

import itertools

import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import train_test_split

import chainrule as cr
from chainrule import keras

THRESHOLD = 0.93  # the test accuracy this example must reach (checked by its test)

def feature_crosses(x: np.ndarray, columns: list[int]) -> np.ndarray:
    """Products of every pair (with repetition) of the given standardised columns."""
    pairs = itertools.combinations_with_replacement(columns, 2)
    return np.stack([x[:, i] * x[:, j] for i, j in pairs], axis=1).astype("float32")


def build_model(n_deep: int, n_wide: int) -> keras.Model:
    deep_in = keras.Input((n_deep,), name="deep")
    wide_in = keras.Input((n_wide,), name="wide")
    h = keras.layers.Dense(16, activation="relu", name="deep_1")(deep_in)
    h = keras.layers.Dense(8, activation="relu", name="deep_2")(h)
    deep_logit = keras.layers.Dense(1, name="deep_logit")(h)
    wide_logit = keras.layers.Dense(1, name="wide_logit")(wide_in)
    logit = keras.layers.Add(name="wide_plus_deep")([wide_logit, deep_logit])
    prob = keras.layers.Activation("sigmoid", name="prob")(logit)
    return keras.Model({"deep": deep_in, "wide": wide_in}, prob, name="wide_and_deep")


def main(seed: int = 0, epochs: int = 40) -> float:
    cr.set_random_seed(seed)
    data = load_breast_cancer()
    x_train, x_test, y_train, y_test = train_test_split(
        data.data, data.target.astype("float32"), test_size=0.25, random_state=seed,
        stratify=data.target)  # fmt: skip
    mean, std = x_train.mean(0), x_train.std(0)
    x_train = ((x_train - mean) / std).astype("float32")
    x_test = ((x_test - mean) / std).astype("float32")
    corr = np.abs([np.corrcoef(x_train[:, j], y_train)[0, 1] for j in range(x_train.shape[1])])
    top = list(np.argsort(-corr)[:5])
    train = {"deep": x_train, "wide": feature_crosses(x_train, top)}
    test = {"deep": x_test, "wide": feature_crosses(x_test, top)}

    model = build_model(x_train.shape[1], train["wide"].shape[1])
    model.compile(optimizer=keras.optimizers.Adam(0.005), loss="binary_crossentropy",
                  metrics=["accuracy"])  # fmt: skip
    model.fit(train, y_train[:, None], epochs=epochs, batch_size=32, verbose=0)
    _, accuracy = model.evaluate(test, y_test[:, None], verbose=0)
    print(f"wide_and_deep test accuracy: {accuracy:.4f}")
    return accuracy


if __name__ == "__main__":
    main()
