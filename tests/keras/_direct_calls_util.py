"""Helpers shared by the tests of the models' direct layer calls (``layers/direct_calls.py``)."""

from chainrule.keras.variables import GENERATION


def layer_by_layer(model, x, training=None):
    """The general path: each of ``model.layers`` through its own ``__call__``."""
    for layer in model.layers:
        x = layer(x, training=training)
    return x


def recorded(model):
    """``{input key: steps}`` the model would replay now (empty when none are valid)."""
    records = model._records
    return {} if records is None or records.generation != GENERATION[0] else records.steps


def no_direct_calls(monkeypatch):
    """Switch the direct calls off in both model kinds: every call goes through ``__call__``."""
    from chainrule.keras.models import functional, sequential  # noqa: PLC0415

    for module in (sequential, functional):
        monkeypatch.setattr(module, "direct_step", lambda *a: None)
