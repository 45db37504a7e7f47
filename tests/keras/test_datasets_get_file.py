"""``keras.utils.get_file`` against real Keras 3.15.1's on files served from 127.0.0.1 (nothing
reaches the internet): cache paths, caching, hash checks and re-downloads, force_download,
extraction, failures that leave no partial file, and the temporary-name-then-rename write.

``Server`` and the ``server`` fixture are also used by ``test_datasets_loaders.py``.
"""

import hashlib
import http.server
import importlib
import io
import os
import socket
import tarfile
import threading
import zipfile

import pytest

from chainrule.keras.utils import file_utils, get_file

from ._keras_ref import tk

tk_file_utils = importlib.import_module("keras.src.utils.file_utils")


class Server:
    """Serves ``files`` ({url path: bytes}) on 127.0.0.1, counting requests per path.

    ``short[path] = n`` announces ``n`` more bytes than it sends (a connection cut mid-way);
    ``on_request(path)`` runs before each answer (to look at the cache while a download is on).
    """

    def __init__(self):
        self.files, self.hits, self.short = {}, {}, {}
        self.on_request = None
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's name
                owner.hits[self.path] = owner.hits.get(self.path, 0) + 1
                if owner.on_request:
                    owner.on_request(self.path)
                body = owner.files.get(self.path)
                if body is None:
                    self.send_error(404, "Not Found")
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body) + owner.short.get(self.path, 0)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def add(self, path: str, body: bytes) -> str:
        self.files[path] = body
        return self.url + path

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    s = Server()
    yield s
    s.close()


@pytest.fixture
def kdir(tmp_path):
    """Real Keras's cache folder: it must exist (Keras uses /tmp/.keras for a missing one)."""
    (tmp_path / "k").mkdir()
    return str(tmp_path / "k")


def sha256(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def listing(folder) -> list:
    """Every file and folder under ``folder``, relative, sorted."""
    out = []
    for root, dirs, files in os.walk(folder):
        for name in dirs + files:
            out.append(os.path.relpath(os.path.join(root, name), folder))
    return sorted(out)


def tar_bytes(members: dict, mode: str = "w:gz") -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=mode) as tar:
        for name, body in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(body)
            tar.addfile(info, io.BytesIO(body))
    return buf.getvalue()


def zip_bytes(members: dict) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, body in members.items():
            z.writestr(name, body)
    return buf.getvalue()


BODY = b"chainrule get_file test payload\n" * 100


def test_download_path_content_and_cache_hit_match_keras(server, tmp_path, kdir, capsys):
    url = server.add("/data/file.bin", BODY)
    ours = get_file(origin=url, file_hash=sha256(BODY), cache_dir=str(tmp_path / "c"))
    ref = tk.utils.get_file(origin=url, file_hash=sha256(BODY), cache_dir=kdir)
    assert os.path.relpath(ours, tmp_path / "c") == os.path.relpath(ref, tmp_path / "k")
    assert ours == str(tmp_path / "c" / "datasets" / "file.bin")
    assert open(ours, "rb").read() == BODY and server.hits["/data/file.bin"] == 2
    assert f"Downloading data from {url}" in capsys.readouterr().out
    # cached: no request, with and without a hash, and with a named fname / cache_subdir
    assert get_file(origin=url, file_hash=sha256(BODY), cache_dir=str(tmp_path / "c")) == ours
    assert get_file(origin=url, cache_dir=str(tmp_path / "c")) == ours
    assert server.hits["/data/file.bin"] == 2
    named = get_file("x.dat", url, cache_subdir="sub", cache_dir=str(tmp_path / "c"))
    ref = tk.utils.get_file("x.dat", url, cache_subdir="sub", cache_dir=kdir)
    assert os.path.relpath(named, tmp_path / "c") == os.path.relpath(ref, tmp_path / "k")
    assert listing(tmp_path / "c") == listing(tmp_path / "k")  # no stray temporary files


def test_keras_home_and_default_cache(server, tmp_path, monkeypatch):
    url = server.add("/f.txt", BODY)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "home"))
    path = get_file(origin=url)
    assert path == str(tmp_path / "home" / "datasets" / "f.txt")
    monkeypatch.delenv("KERAS_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    os.makedirs(tmp_path / "user")
    assert file_utils.keras_home() == str(tmp_path / "user" / ".keras")
    assert get_file(origin=url) == str(tmp_path / "user" / ".keras" / "datasets" / "f.txt")


def test_a_wrong_cached_file_is_downloaded_again_and_force_download_refetches(
    server, tmp_path, capsys
):
    url = server.add("/f.bin", BODY)
    target = tmp_path / "datasets" / "f.bin"
    target.parent.mkdir(parents=True)
    target.write_bytes(b"truncated")
    path = get_file(origin=url, file_hash=sha256(BODY), cache_dir=str(tmp_path))
    assert "re-download" in capsys.readouterr().out
    assert open(path, "rb").read() == BODY and server.hits["/f.bin"] == 1
    # md5, given as md5_hash or detected from its length (32) by "auto"
    md5 = hashlib.md5(BODY).hexdigest()
    get_file(origin=url, md5_hash=md5, cache_dir=str(tmp_path))
    get_file(origin=url, file_hash=md5, cache_dir=str(tmp_path))
    assert server.hits["/f.bin"] == 1
    target.write_bytes(b"old")
    get_file(origin=url, md5_hash=md5, cache_dir=str(tmp_path))
    assert server.hits["/f.bin"] == 2 and target.read_bytes() == BODY
    get_file(origin=url, cache_dir=str(tmp_path), force_download=True)
    assert server.hits["/f.bin"] == 3


def test_a_download_with_the_wrong_hash_is_refused_and_not_saved(server, tmp_path, kdir):
    url = server.add("/f.bin", BODY)
    wrong = "0" * 64
    with pytest.raises(ValueError, match=f"does not match the provided value of {wrong}"):
        get_file(origin=url, file_hash=wrong, cache_dir=str(tmp_path / "c"))
    assert listing(tmp_path / "c") == ["datasets"]
    # Keras raises the same error (it keeps the bad file, which we do not)
    with pytest.raises(ValueError, match="Incomplete or corrupted file detected"):
        tk.utils.get_file(origin=url, file_hash=wrong, cache_dir=kdir)


def test_the_download_is_written_under_a_temporary_name_then_renamed(server, tmp_path):
    url = server.add("/big.bin", BODY * 50)
    folder = tmp_path / "datasets"
    seen = []
    server.on_request = lambda path: seen.append(sorted(os.listdir(folder)))
    path = get_file(origin=url, file_hash=sha256(BODY * 50), cache_dir=str(tmp_path))
    (during,) = seen
    assert "big.bin" not in during and len(during) == 1
    assert during[0].startswith(".big.bin.") and during[0].endswith(".part")
    assert sorted(os.listdir(folder)) == ["big.bin"] and open(path, "rb").read() == BODY * 50


@pytest.mark.parametrize("failure", ["404", "refused", "cut"])
def test_a_failed_download_names_the_url_and_leaves_no_file(server, tmp_path, kdir, failure):
    if failure == "refused":
        with socket.socket() as s:  # a port nobody listens on once closed
            s.bind(("127.0.0.1", 0))
            url = f"http://127.0.0.1:{s.getsockname()[1]}/f.bin"
    else:
        url = server.add("/f.bin", BODY) if failure == "cut" else server.url + "/missing.bin"
        server.short["/f.bin"] = 1000
    with pytest.raises(OSError, match=f"URL fetch failure on {url}") as ours:
        get_file("f.bin", origin=url, cache_dir=str(tmp_path / "c"))
    assert listing(tmp_path / "c") == ["datasets"]
    if failure == "404":  # the message is Keras's, word for word
        assert str(ours.value) == f"URL fetch failure on {url}: 404 -- Not Found"
        with pytest.raises(Exception) as ref:
            tk.utils.get_file("f.bin", origin=url, cache_dir=kdir)
        assert str(ref.value) == str(ours.value)
    if failure == "refused":
        assert "Connection refused" in str(ours.value)


ARCHIVE = {"top/a.txt": b"alpha", "top/sub/b.txt": b"beta"}


@pytest.mark.parametrize(
    "kind, fname, kwargs",
    [
        ("tar.gz", None, {"extract": True}),
        ("tar.gz", "named", {"extract": True}),
        ("tar.gz", "named.tar.gz", {"extract": True}),
        ("zip", None, {"extract": True}),
        ("zip", "named.zip", {"extract": True, "archive_format": "zip"}),
        ("tar", "legacy", {"untar": True}),
    ],
)
def test_extraction_matches_keras(server, tmp_path, kdir, kind, fname, kwargs):
    mode = "w" if kind == "tar" else "w:gz"
    body = zip_bytes(ARCHIVE) if kind == "zip" else tar_bytes(ARCHIVE, mode)
    url = server.add(f"/arch.{kind}", body)
    ours = get_file(fname, url, file_hash=sha256(body), cache_dir=str(tmp_path / "c"), **kwargs)
    ref = tk.utils.get_file(fname, url, file_hash=sha256(body), cache_dir=kdir,
                            **kwargs)  # fmt: skip
    assert os.path.relpath(ours, tmp_path / "c") == os.path.relpath(ref, tmp_path / "k")
    assert listing(tmp_path / "c") == listing(tmp_path / "k")
    assert open(os.path.join(ours, "top", "sub", "b.txt"), "rb").read() == b"beta"
    # cached: neither downloaded nor extracted again
    os.remove(os.path.join(ours, "top", "a.txt"))
    assert get_file(fname, url, cache_dir=str(tmp_path / "c"), **kwargs) == ours
    assert server.hits[f"/arch.{kind}"] == 2 and not os.path.exists(os.path.join(ours, "top/a.txt"))
    # a fresh download replaces the extracted folder as a whole
    get_file(fname, url, cache_dir=str(tmp_path / "c"), force_download=True, **kwargs)
    assert listing(tmp_path / "c") == listing(tmp_path / "k")


def test_extraction_skips_members_outside_the_folder_and_warns_on_a_non_archive(server, tmp_path):
    body = tar_bytes({"ok.txt": b"ok", "../escaped.txt": b"bad"})
    url = server.add("/evil.tar.gz", body)
    with pytest.warns(UserWarning, match="Skipping invalid path.*escaped"):
        out = get_file(origin=url, extract=True, cache_dir=str(tmp_path / "c"))
    assert listing(out) == ["ok.txt"] and not (tmp_path / "c" / "datasets" / "escaped.txt").exists()
    url = server.add("/plain.bin", BODY)
    with pytest.warns(UserWarning, match="Could not extract archive"):
        out = get_file(origin=url, extract=True, cache_dir=str(tmp_path / "c"))
    assert not os.path.exists(out) and os.path.exists(out + "_archive")


def test_bad_arguments_are_refused_before_any_request(server, tmp_path):
    url = server.add("/f.bin", BODY)
    with pytest.raises(ValueError, match="received origin=None"):
        get_file("f.bin", cache_dir=str(tmp_path))
    with pytest.raises(ValueError, match="Received: fname=a/b"):
        get_file("a/b", url, cache_dir=str(tmp_path))
    with pytest.raises(ValueError, match="received hash_algorithm='sha1'"):
        get_file(origin=url, file_hash="ab", hash_algorithm="sha1", cache_dir=str(tmp_path))
    with pytest.raises(ValueError, match="Can't parse the file name"):
        get_file(origin=server.url + "/", cache_dir=str(tmp_path))
    assert server.hits == {}
    with pytest.raises(NotImplementedError, match="received archive_format='rar'"):
        get_file(origin=url, extract=True, archive_format="rar", cache_dir=str(tmp_path))


def test_hash_helpers_match_keras(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(BODY)
    for algorithm in ("sha256", "md5", "auto"):
        assert file_utils.hash_file(path, algorithm) == tk_file_utils.hash_file(path, algorithm)
    assert file_utils.hash_file(path) == hashlib.sha256(BODY).hexdigest()
    md5 = hashlib.md5(BODY).hexdigest()
    assert file_utils.validate_file(path, md5) and file_utils.validate_file(path, sha256(BODY))
    assert not file_utils.validate_file(path, sha256(b"other"))
