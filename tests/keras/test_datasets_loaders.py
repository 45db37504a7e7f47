"""``keras.datasets`` loaders against real Keras 3.15.1's ``load_data`` on the same small files
of the real formats, served from 127.0.0.1 (nothing reaches the internet): arrays, dtypes,
shapes, shuffled order, caching, argument errors, and files that must be refused."""

import gzip
import hashlib
import importlib
import inspect
import io
import json
import os
import pickle
import subprocess
import sys
import tarfile

import numpy as np
import pytest

from chainrule.keras import datasets as cd

from ._keras_ref import tk
from .test_datasets_get_file import Server, sha256

TF = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
KRIZ = "https://www.cs.toronto.edu/~kriz/"
NAMES = ("mnist", "fashion_mnist", "cifar10", "cifar100", "boston_housing",
         "california_housing", "imdb", "reuters")  # fmt: skip
tk_modules = {n: importlib.import_module(f"keras.src.datasets.{n}") for n in NAMES}


class Env:
    """The served files, our loaders pointed at them, and real Keras's too."""

    def __init__(self, tmp_path, monkeypatch):
        self.server, self.mp, self.hashes = Server(), monkeypatch, {}
        self.kdir = tmp_path / "keras_cache"
        self.kdir.mkdir()
        monkeypatch.setenv("KERAS_HOME", str(tmp_path / "ours"))
        for name in ("mnist", "fashion_mnist", "boston_housing", "california_housing", "imdb",
                     "reuters"):  # fmt: skip
            monkeypatch.setattr(getattr(cd, name), "ORIGIN_FOLDER", self.server.url + "/tf/")
        for name in ("cifar10", "cifar100"):
            file = getattr(cd, name).ORIGIN.rsplit("/", 1)[1]
            monkeypatch.setattr(getattr(cd, name), "ORIGIN", f"{self.server.url}/kriz/{file}")
        real = tk.utils.get_file

        def keras_get_file(fname=None, origin=None, **kwargs):
            file = origin.rsplit("/", 1)[1]
            origin = origin.replace(TF, self.server.url + "/tf/")
            origin = origin.replace(KRIZ, self.server.url + "/kriz/")
            if kwargs.get("file_hash"):
                kwargs["file_hash"] = self.hashes[file]
            return real(fname, origin, cache_dir=str(self.kdir), **kwargs)

        for module in tk_modules.values():
            monkeypatch.setattr(module, "get_file", keras_get_file)

    def serve(self, folder, file, body, module=None, attr="FILE_HASH", md5=False):
        """Serve ``body`` as ``folder/file``; our ``module.attr`` hash becomes its hash."""
        digest = hashlib.md5(body).hexdigest() if md5 else sha256(body)
        self.hashes[file] = digest
        if module is not None:
            self.mp.setattr(module, attr, digest)
        self.server.add(f"/{folder}/{file}", body)

    def hits(self):
        return sum(self.server.hits.values())


@pytest.fixture
def env(tmp_path, monkeypatch):
    e = Env(tmp_path, monkeypatch)
    yield e
    e.server.close()


def assert_same(ours, ref, where="result"):
    """Equal structure, and arrays equal in dtype, shape and every value."""
    if isinstance(ref, (tuple, list)) and not isinstance(ref, np.ndarray):
        assert type(ours) is type(ref) and len(ours) == len(ref), where
        for i, (a, b) in enumerate(zip(ours, ref)):
            assert_same(a, b, f"{where}[{i}]")
        return
    assert isinstance(ours, np.ndarray), where
    got, want = (ours.dtype, ours.shape), (ref.dtype, ref.shape)
    assert got == want, (where, got, want)
    if ref.dtype == object:
        assert ours.tolist() == ref.tolist(), where
    elif not np.array_equal(ours, ref):  # fast on CIFAR-10's 150 MB; the next line explains
        np.testing.assert_array_equal(ours, ref, err_msg=where)


def npz_bytes(**arrays) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def tar_gz(members: dict) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz", compresslevel=1) as tar:
        for name, body in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(body)
            tar.addfile(info, io.BytesIO(body))
    return buf.getvalue()


rng = np.random.default_rng(0)


def test_mnist_matches_keras_and_is_cached(env):
    arrays = dict(x_train=rng.integers(0, 256, (20, 28, 28), dtype=np.uint8),
                  y_train=rng.integers(0, 10, 20, dtype=np.uint8),
                  x_test=rng.integers(0, 256, (7, 28, 28), dtype=np.uint8),
                  y_test=rng.integers(0, 10, 7, dtype=np.uint8))  # fmt: skip
    env.serve("tf", "mnist.npz", npz_bytes(**arrays), cd.mnist)
    ours = cd.mnist.load_data()
    assert_same(ours, tk.datasets.mnist.load_data())
    assert_same(
        ours, ((arrays["x_train"], arrays["y_train"]), (arrays["x_test"], arrays["y_test"]))
    )
    assert_same(cd.mnist.load_data(), ours)
    assert env.hits() == 2  # one download each; our second call read the cache
    assert os.path.exists(os.path.join(os.environ["KERAS_HOME"], "datasets", "mnist.npz"))


def idx_gz(array: np.ndarray) -> bytes:
    magic = 2049 if array.ndim == 1 else 2051
    header = b"".join(int(v).to_bytes(4, "big") for v in (magic, *array.shape))
    return gzip.compress(header + array.astype(np.uint8).tobytes())


def test_fashion_mnist_matches_keras_and_checks_its_headers(env):
    y_train, y_test = rng.integers(0, 10, 12), rng.integers(0, 10, 5)
    x_train, x_test = rng.integers(0, 256, (12, 28, 28)), rng.integers(0, 256, (5, 28, 28))
    for file, array in zip(cd.fashion_mnist.FILES, (y_train, x_train, y_test, x_test)):
        env.serve("tf", file, idx_gz(array))
    ours = cd.fashion_mnist.load_data()
    assert_same(ours, tk.datasets.fashion_mnist.load_data())
    assert ours[0][0].flags.writeable
    folder = os.path.join(os.environ["KERAS_HOME"], "datasets", "fashion-mnist")
    assert sorted(os.listdir(folder)) == sorted(cd.fashion_mnist.FILES)
    with open(os.path.join(folder, cd.fashion_mnist.FILES[1]), "wb") as f:
        f.write(idx_gz(y_train))  # labels where images belong
    with pytest.raises(ValueError, match="expected magic number 2051, received 2049"):
        cd.fashion_mnist.load_data()


def cifar_batch(data, **labels) -> bytes:
    batch = {b"data": data, b"batch_label": b"test"}
    batch.update({k.encode(): v for k, v in labels.items()})
    return pickle.dumps(batch, protocol=4)


@pytest.fixture(scope="module")
def cifar10_archive():
    """The real layout and sizes (Keras assumes five training batches of 10,000 images);
    patterned pixels keep it quick to compress."""
    row = (np.arange(3072) % 251).astype(np.uint8)
    members = {}
    for i, name in enumerate([f"data_batch_{k}" for k in range(1, 6)] + ["test_batch"]):
        n = 10000 if i < 5 else 30
        data = np.roll(np.tile(row, (n, 1)), 7 * i, axis=1)
        data[:, 0] = np.arange(n) % 256
        labels = [int(v) for v in (np.arange(n) * 7 + i) % 10]
        members[f"cifar-10-batches-py/{name}"] = cifar_batch(data, labels=labels)
    members["cifar-10-batches-py/batches.meta"] = pickle.dumps({b"num_cases_per_batch": 10000})
    return tar_gz(members)


def test_cifar10_matches_keras(env, cifar10_archive):
    env.serve("kriz", "cifar-10-python.tar.gz", cifar10_archive, cd.cifar10)
    ours = cd.cifar10.load_data()
    assert_same(ours, tk.datasets.cifar10.load_data())
    assert ours[0][0].shape == (50000, 32, 32, 3) and ours[1][1].shape == (30, 1)
    assert_same(cd.cifar10.load_data(), ours)
    assert env.hits() == 2


def test_cifar100_matches_keras_for_both_label_modes(env):
    members = {}
    for name, n in (("train", 30), ("test", 10)):
        members[f"cifar-100-python/{name}"] = cifar_batch(
            rng.integers(0, 256, (n, 3072), dtype=np.uint8),
            fine_labels=[int(v) for v in rng.integers(0, 100, n)],
            coarse_labels=[int(v) for v in rng.integers(0, 20, n)],
        )
    env.serve("kriz", "cifar-100-python.tar.gz", tar_gz(members), cd.cifar100)
    for mode in ("fine", "coarse"):
        ours = cd.cifar100.load_data(label_mode=mode)
        assert_same(ours, tk.datasets.cifar100.load_data(label_mode=mode))
        assert ours[0][1].dtype == np.int64 and ours[0][0].shape == (30, 32, 32, 3)
    with pytest.raises(ValueError, match="Received: label_mode=Fine"):
        cd.cifar100.load_data(label_mode="Fine")
    assert env.hits() == 2


def test_a_cifar_batch_that_would_run_code_is_refused(env, tmp_path):
    class Payload:
        def __reduce__(self):
            return (os.makedirs, (str(tmp_path / "pwned"),))

    evil = pickle.dumps({b"data": Payload(), b"fine_labels": [], b"coarse_labels": []})
    ok = cifar_batch(np.zeros((1, 3072), np.uint8), fine_labels=[0], coarse_labels=[0])
    body = tar_gz({"cifar-100-python/train": evil, "cifar-100-python/test": ok})
    env.serve("kriz", "cifar-100-python.tar.gz", body, cd.cifar100)
    with pytest.raises(pickle.UnpicklingError, match="Refusing to deserialize `os.makedirs"):
        cd.cifar100.load_data()
    assert not (tmp_path / "pwned").exists()


@pytest.mark.parametrize("kwargs", [{}, {"test_split": 0.35, "seed": 7}, {"test_split": 0.0}])
def test_boston_housing_matches_keras(env, kwargs):
    x, y = rng.normal(size=(506, 13)), rng.uniform(5, 50, 506)
    env.serve("tf", "boston_housing.npz", npz_bytes(x=x, y=y), cd.boston_housing)
    ours = cd.boston_housing.load_data(**kwargs)
    assert_same(ours, tk.datasets.boston_housing.load_data(**kwargs))
    assert len(ours[0][0]) == int(506 * (1 - kwargs.get("test_split", 0.2)))


@pytest.mark.parametrize("kwargs", [{}, {"version": "small"}, {"version": "small", "seed": 3,
                                                               "test_split": 0.5}])  # fmt: skip
def test_california_housing_matches_keras(env, kwargs):
    x = rng.normal(size=(700, 8)).astype(np.float32)
    y = rng.uniform(1e4, 5e5, 700).astype(np.float32)
    env.serve("tf", "california_housing.npz", npz_bytes(x=x, y=y), cd.california_housing)
    assert_same(cd.california_housing.load_data(**kwargs),
                tk.datasets.california_housing.load_data(**kwargs))  # fmt: skip


def test_regression_arguments_are_checked_before_downloading(env):
    for bad in (1.0, -0.1, "0.2"):
        with pytest.raises(ValueError, match=f"received test_split={bad!r}"):
            cd.boston_housing.load_data(test_split=bad)
        with pytest.raises(ValueError, match=f"received test_split={bad!r}"):
            cd.reuters.load_data(test_split=bad)
    with pytest.raises(ValueError, match="Received: version=medium"):
        cd.california_housing.load_data(version="medium")
    assert env.hits() == 0


def sequences(n, vocab, rng_):
    seqs = np.empty(n, dtype=object)
    # every length 1..24 appears, so maxlen=12 meets sequences of 11, 12 and 13 (start mark too)
    lengths = (np.arange(n) * 7) % 24 + 1
    seqs[:] = [[int(w) for w in rng_.integers(1, vocab, size)] for size in lengths]
    return seqs


SEQ_ARGS = [
    {},
    {"num_words": 20, "skip_top": 3},
    {"maxlen": 12, "seed": 5},
    {"start_char": None, "oov_char": None, "index_from": 0, "num_words": 30},
    {"start_char": None, "index_from": 2},
]


@pytest.fixture
def imdb_files(env):
    r = np.random.default_rng(1)
    arrays = dict(x_train=sequences(40, 60, r), y_train=r.integers(0, 2, 40),
                  x_test=sequences(30, 60, r), y_test=r.integers(0, 2, 30))  # fmt: skip
    env.serve("tf", "imdb.npz", npz_bytes(**arrays), cd.imdb)
    index = json.dumps({f"w{i}": i for i in range(1, 60)}).encode()
    env.serve("tf", "imdb_word_index.json", index, cd.imdb, "WORD_INDEX_HASH", md5=True)
    return arrays


@pytest.mark.parametrize("kwargs", SEQ_ARGS)
def test_imdb_matches_keras(env, imdb_files, kwargs):
    ours = cd.imdb.load_data(**kwargs)
    assert_same(ours, tk.datasets.imdb.load_data(**kwargs))
    assert ours[0][0].dtype == object and isinstance(ours[0][0][0], list)


def test_imdb_word_index_and_errors(env, imdb_files):
    assert (
        cd.imdb.get_word_index()
        == tk.datasets.imdb.get_word_index()
        == {f"w{i}": i for i in range(1, 60)}
    )
    with pytest.raises(ValueError, match="maxlen=2, no sequence was kept"):
        cd.imdb.load_data(maxlen=2)
    with pytest.raises(ValueError, match="maxlen=2, no sequence was kept"):
        tk.datasets.imdb.load_data(maxlen=2)
    with pytest.raises(TypeError, match=r"unexpected keyword arguments \['nb_words'\]"):
        cd.imdb.load_data(nb_words=100)
    with pytest.raises(ValueError, match="received num_words=10.5"):
        cd.imdb.load_data(num_words=10.5)


@pytest.fixture
def reuters_files(env):
    r = np.random.default_rng(2)
    env.serve("tf", "reuters.npz", npz_bytes(x=sequences(60, 80, r), y=r.integers(0, 46, 60)),
              cd.reuters)  # fmt: skip
    index = json.dumps({"the": 1, "of": 2}).encode()
    env.serve("tf", "reuters_word_index.json", index, cd.reuters, "WORD_INDEX_HASH", md5=True)


@pytest.mark.parametrize("kwargs", SEQ_ARGS + [{"test_split": 0.5, "maxlen": 20}])
def test_reuters_matches_keras(env, reuters_files, kwargs):
    assert_same(cd.reuters.load_data(**kwargs), tk.datasets.reuters.load_data(**kwargs))


def test_reuters_word_index_and_label_names(env, reuters_files):
    assert cd.reuters.get_word_index() == tk.datasets.reuters.get_word_index()
    assert cd.reuters.get_label_names() == tk.datasets.reuters.get_label_names()
    with pytest.raises(ValueError, match="maxlen=1, no sequence was kept"):
        cd.reuters.load_data(maxlen=1)


def test_an_npz_object_array_that_would_run_code_is_refused(env, tmp_path):
    class Payload:
        def __reduce__(self):
            return (os.makedirs, (str(tmp_path / "pwned"),))

    x = np.empty(1, dtype=object)
    x[0] = Payload()
    env.serve("tf", "reuters.npz", npz_bytes(x=x, y=np.zeros(1, int)), cd.reuters)
    with pytest.raises(pickle.UnpicklingError, match="Refusing to deserialize"):
        cd.reuters.load_data()
    assert not (tmp_path / "pwned").exists()


def test_urls_and_hashes_are_keras_own():
    """Our constants appear in Keras's source of the same loader (the tests above replace
    them with the served files' hashes)."""
    for name in NAMES:
        source, ours = inspect.getsource(tk_modules[name]), getattr(cd, name)
        for attr in ("ORIGIN_FOLDER", "ORIGIN", "FILE_HASH", "WORD_INDEX_HASH"):
            if hasattr(ours, attr):
                value = getattr(ours, attr)
                assert value in source, (name, attr)
    assert cd.fashion_mnist.FILES == tuple(
        f for f in ("train-labels-idx1-ubyte.gz", "train-images-idx3-ubyte.gz",
                    "t10k-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz")
        if f in inspect.getsource(tk_modules["fashion_mnist"])
    )  # fmt: skip


def test_importing_keras_does_not_import_datasets():
    code = (
        "import sys, chainrule.keras as k; assert 'chainrule.keras.datasets' not in "
        "sys.modules; k.datasets.mnist; assert 'chainrule.keras.datasets.mnist' in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
