"""ModelCheckpoint and BackupAndRestore: files written as real Keras 3.15.1 (torch) writes them,
resumption after an exception and after SIGKILL (also in the middle of a save) giving the same
weights as an uninterrupted run."""

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import signal  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import textwrap  # noqa: E402

import keras as tk  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from chainrule import keras as ck  # noqa: E402


def _pair(seed=0):
    def build(k):
        return k.Sequential([k.Input((4,)), k.layers.Dense(5, activation="tanh"),
                             k.layers.Dense(1)])  # fmt: skip

    ours, ref = build(ck), build(tk)
    rng = np.random.default_rng(seed)
    w = [rng.uniform(-0.6, 0.6, a.shape).astype("float32") for a in ours.get_weights()]
    ours.set_weights(w)
    ref.set_weights(w)
    return ours, ref


def _data(n=24, seed=1):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4)).astype("float32")
    return x, (x @ rng.normal(size=(4, 1))).astype("float32")


def _files(folder):
    if not os.path.exists(folder):
        return []
    return sorted(f for f in os.listdir(folder) if not f.startswith("."))


@pytest.mark.parametrize("kwargs,pattern", [
    ({"save_best_only": True}, "m-{epoch:02d}-{val_loss:.2f}.keras"),
    ({"save_best_only": True, "monitor": "loss", "mode": "max"}, "m-{epoch}.keras"),
    ({"save_best_only": True, "monitor": "val_mae", "mode": "max",
      "initial_value_threshold": 0.0}, "m-{epoch}.keras"),
    ({"save_best_only": True, "monitor": "val_mae", "initial_value_threshold": 0.0},
     "never-{epoch}.keras"),
    ({"save_best_only": True, "monitor": "val_loss", "initial_value_threshold": 1e9,
      "save_weights_only": True}, "w-{epoch:03d}-{loss:.1f}.weights.h5"),
    ({"save_freq": 5}, "b-{epoch}-{batch}.keras"),
    ({"save_freq": 5, "save_weights_only": True}, "b-{epoch}.weights.h5"),
])  # fmt: skip
def test_model_checkpoint_writes_the_files_keras_writes(tmp_path, kwargs, pattern):
    x, y = _data()
    xv, yv = _data(8, seed=2)
    ours, ref = _pair()
    for model, lib, sub in ((ours, ck, "ours"), (ref, tk, "keras")):
        model.compile(lib.optimizers.SGD(0.1, momentum=0.9), "mse", metrics=["mae"])
        folder = tmp_path / sub
        cb = lib.callbacks.ModelCheckpoint(str(folder / pattern), **kwargs)
        model.fit(x, y, batch_size=4, epochs=4, validation_data=(xv, yv), shuffle=False,
                  callbacks=[cb], verbose=0)  # fmt: skip
    assert _files(tmp_path / "ours") == _files(tmp_path / "keras")
    if pattern.startswith("never"):
        return  # nothing beats a threshold of 0 in "min" mode, in either library
    assert _files(tmp_path / "ours")
    last = sorted((tmp_path / "ours").iterdir(), key=os.path.getmtime)[-1]
    probe = _pair(seed=5)[0]
    probe.load_weights(last)  # the newest checkpoint loads; Keras reads it too
    ref_probe = _pair(seed=5)[1]
    ref_probe.load_weights(last)
    np.testing.assert_allclose(probe.predict(x, verbose=0), ref_probe.predict(x, verbose=0),
                               rtol=1e-5, atol=1e-6)  # fmt: skip
    if "save_freq" not in kwargs and "mode" not in kwargs and "initial_value_threshold" not in (
            kwargs):  # fmt: skip
        # with a steadily improving val_loss the newest file holds the final weights
        np.testing.assert_allclose(probe.predict(x, verbose=0), ours.predict(x, verbose=0),
                                   rtol=1e-6)  # fmt: skip


def test_model_checkpoint_argument_errors(tmp_path):
    with pytest.raises(ValueError, match=r"must end in `\.keras`"):
        ck.callbacks.ModelCheckpoint(str(tmp_path / "m.weights.h5"))
    with pytest.raises(ValueError, match=r"must end in `\.weights\.h5`"):
        ck.callbacks.ModelCheckpoint(str(tmp_path / "m.keras"), save_weights_only=True)
    with pytest.raises(ValueError, match="Unrecognized save_freq"):
        ck.callbacks.ModelCheckpoint(str(tmp_path / "m.keras"), save_freq="batch")
    ours, _ = _pair()
    ours.compile("sgd", "mse")
    cb = ck.callbacks.ModelCheckpoint(str(tmp_path / "m-{nope}.keras"))
    x, y = _data()
    with pytest.raises(KeyError, match="Failed to format this callback filepath"):
        ours.fit(x, y, epochs=1, callbacks=[cb], verbose=0)


class _Interrupt(ck.callbacks.Callback):
    def __init__(self, at_epoch):
        super().__init__()
        self.at_epoch = at_epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.at_epoch:
            raise RuntimeError("interrupted (injected)")


def test_backup_and_restore_resumes_after_an_exception(tmp_path):
    x, y = _data()
    full, _ = _pair()
    full.compile(ck.optimizers.Adam(0.05), "mse")
    full.fit(x, y, batch_size=5, epochs=6, shuffle=False, verbose=0)

    model, _ = _pair()
    model.compile(ck.optimizers.Adam(0.05), "mse")
    backup = tmp_path / "backup"
    with pytest.raises(RuntimeError, match="injected"):
        model.fit(x, y, batch_size=5, epochs=6, shuffle=False, verbose=0,
                  callbacks=[ck.callbacks.BackupAndRestore(str(backup)), _Interrupt(2)])
    assert sorted(os.listdir(backup)) == ["latest.weights.h5", "training_metadata.json"]
    fresh, _ = _pair(seed=9)  # a new process would start from other weights
    fresh.compile(ck.optimizers.Adam(0.05), "mse")
    hist = fresh.fit(x, y, batch_size=5, epochs=6, shuffle=False, verbose=0,
                     callbacks=[ck.callbacks.BackupAndRestore(str(backup))])  # fmt: skip
    assert len(hist.history["loss"]) == 3  # epochs 4, 5, 6
    assert fresh.optimizer.iterations == full.optimizer.iterations
    for a, b in zip(fresh.get_weights(), full.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert not backup.exists()  # delete_checkpoint=True after a normal end


def test_keras_resumes_from_our_backup(tmp_path):
    x, y = _data()
    ours, ref = _pair()
    ours.compile(ck.optimizers.Adam(0.05), "mse")
    ref.compile(tk.optimizers.Adam(0.05), "mse")
    backup = tmp_path / "b"
    with pytest.raises(RuntimeError):
        ours.fit(x, y, batch_size=6, epochs=4, shuffle=False, verbose=0,
                 callbacks=[ck.callbacks.BackupAndRestore(str(backup)), _Interrupt(1)])
    hist = ref.fit(x, y, batch_size=6, epochs=4, shuffle=False, verbose=0,
                   callbacks=[tk.callbacks.BackupAndRestore(str(backup))])  # fmt: skip
    assert len(hist.history["loss"]) == 2
    full, _ = _pair()
    full.compile(ck.optimizers.Adam(0.05), "mse")
    full.fit(x, y, batch_size=6, epochs=4, shuffle=False, verbose=0)
    for a, b in zip(full.get_weights(), ref.get_weights()):
        np.testing.assert_allclose(a, np.asarray(b), rtol=1e-5, atol=1e-6)


def test_backup_and_restore_argument_errors():
    with pytest.raises(ValueError, match="Empty `backup_dir`"):
        ck.callbacks.BackupAndRestore("")
    with pytest.raises(ValueError, match="save_freq"):
        ck.callbacks.BackupAndRestore("d", save_freq="sometimes")


# -- SIGKILL: a real process dies, a second run of the same script finishes --------------------
_SCRIPT = textwrap.dedent('''
    import os, signal, sys
    import numpy as np
    from chainrule import keras as ck
    from chainrule.keras.saving import saving_lib

    folder, mode, kill_at = sys.argv[1], sys.argv[2], int(sys.argv[3])
    rng = np.random.default_rng(1)
    x = rng.normal(size=(24, 4)).astype("float32")
    y = (x @ rng.normal(size=(4, 1))).astype("float32")
    model = ck.Sequential([ck.Input((4,)), ck.layers.Dense(5, activation="tanh"),
                           ck.layers.Dense(1)])
    wrng = np.random.default_rng(0)
    model.set_weights([wrng.uniform(-0.6, 0.6, a.shape).astype("float32")
                       for a in model.get_weights()])
    model.compile(ck.optimizers.Adam(0.05), "mse")

    real_replace, saves = os.replace, []

    def replace(src, dst):  # SIGKILL in the middle of a save: temp file written, not renamed
        if dst.endswith((".weights.h5", ".keras")):
            saves.append(dst)
            if len(saves) == kill_at:
                os.kill(os.getpid(), signal.SIGKILL)
        real_replace(src, dst)

    class KillAfterEpoch(ck.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == kill_at:
                os.kill(os.getpid(), signal.SIGKILL)

    callbacks = []
    if mode.startswith("backup"):
        callbacks.append(ck.callbacks.BackupAndRestore(os.path.join(folder, "backup")))
        initial = 0
    else:
        ckpt = os.path.join(folder, "ckpt.keras")
        callbacks.append(ck.callbacks.ModelCheckpoint(ckpt))
        initial = 0
        if os.path.exists(ckpt):  # resume from the checkpoint, as a user script would
            model = ck.models.load_model(ckpt)
            initial = int(model.optimizer.iterations) // 5
    if mode.endswith("midsave"):
        os.replace = replace
    elif kill_at:
        callbacks.append(KillAfterEpoch())
    model.fit(x, y, batch_size=5, epochs=6, shuffle=False, verbose=0, callbacks=callbacks,
              initial_epoch=initial)
    np.savez(os.path.join(folder, "final.npz"), *model.get_weights())
''')


def _run(folder, mode, kill_at):
    script = folder / "train.py"
    script.write_text(_SCRIPT)
    return subprocess.run([sys.executable, str(script), str(folder), mode, str(kill_at)],
                          capture_output=True, text=True, timeout=120)  # fmt: skip


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    folder = tmp_path_factory.mktemp("plain")
    done = _run(folder, "backup", 0)
    assert done.returncode == 0, done.stderr
    with np.load(folder / "final.npz") as f:
        return [f[k] for k in sorted(f.files, key=lambda k: int(k.split("_")[1]))]


@pytest.mark.parametrize("mode,kill_at", [("backup", 2), ("backup-midsave", 3),
                                          ("checkpoint-midsave", 4)])
def test_sigkill_then_rerun_finishes_like_an_uninterrupted_run(tmp_path, uninterrupted, mode,
                                                               kill_at):  # fmt: skip
    first = _run(tmp_path, mode, kill_at)
    assert first.returncode == -signal.SIGKILL, first.stderr
    assert not (tmp_path / "final.npz").exists()
    if mode.startswith("checkpoint"):
        # the save of epoch 4 died before its rename: the epoch-3 checkpoint is intact
        m = ck.models.load_model(tmp_path / "ckpt.keras")
        assert m.optimizer.iterations == 3 * 5
    second = _run(tmp_path, mode, 0)
    assert second.returncode == 0, second.stderr
    with np.load(tmp_path / "final.npz") as f:
        final = [f[k] for k in sorted(f.files, key=lambda k: int(k.split("_")[1]))]
    for a, b in zip(final, uninterrupted):
        np.testing.assert_array_equal(a, b)
