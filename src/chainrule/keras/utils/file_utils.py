"""``keras.utils.get_file``: download a file once into Keras's cache, check its hash, and
extract tar or zip archives (matches Keras 3 ``keras/src/utils/file_utils.py``).

Downloads use ``urllib.request`` from the standard library. A download is written to a
temporary name in the target folder and renamed into place only once it is complete and its
hash (when given) matches, so an interrupted or corrupted download never takes the cached
name. Extraction works the same way: into a temporary folder, renamed into place.
"""

from __future__ import annotations

import os
import sys
import warnings

# NOTE: hashlib, tarfile, zipfile, tempfile, shutil and urllib (which pulls in http.client and
# email) are imported inside the functions that use them: together they made
# `import chainrule.keras.utils` about 70 ms slower, for programs that never download.

__all__ = ["get_file", "hash_file", "validate_file", "extract_archive", "keras_home"]

TIMEOUT = 60.0  # seconds a stalled connection may wait before the download fails
_CHUNK = 1 << 16
_HASHES = ("auto", "sha256", "md5")


def keras_home() -> str:
    """Keras's folder: ``$KERAS_HOME`` if set, else ``~/.keras`` (``/tmp/.keras`` when the home
    folder is not writable).

    NOTE: Keras reads ``KERAS_HOME`` once, when it is imported; we read it at each call.
    """
    if "KERAS_HOME" in os.environ:
        return os.environ["KERAS_HOME"]
    base = os.path.expanduser("~")
    if not os.access(base, os.W_OK):
        base = "/tmp"
    return os.path.join(base, ".keras")


def _hasher(algorithm: str, file_hash: str | None = None):
    import hashlib

    if algorithm not in _HASHES:
        raise ValueError(f"hash_algorithm must be one of {_HASHES}, received "
                         f"hash_algorithm={algorithm!r}")  # fmt: skip
    if algorithm == "sha256" or (algorithm == "auto" and file_hash and len(file_hash) == 64):
        return hashlib.sha256()
    return hashlib.md5()  # Keras's legacy choice for any other "auto" hash


def hash_file(fpath, algorithm="sha256", chunk_size: int = 65535) -> str:
    """The hex digest of a file: ``"sha256"`` (default) or ``"md5"``.

    Args:
        fpath: path of the file.
        algorithm: "sha256" (default), "md5", "auto" (md5, as Keras does with no hash to look
            at), or a ``hashlib`` hasher object.
        chunk_size: bytes read at a time (default 65535).

    Raises:
        ValueError: for another algorithm name.

    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "empty")
    >>> open(path, "wb").close()
    >>> hash_file(path)
    'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'
    """
    hasher = _hasher(algorithm) if isinstance(algorithm, str) else algorithm
    with open(fpath, "rb") as f:
        for chunk in iter(lambda: f.read(chunk_size), b""):
            hasher.update(chunk)
    return hasher.hexdigest()


def validate_file(fpath, file_hash: str, algorithm: str = "auto",
                  chunk_size: int = 65535) -> bool:  # fmt: skip
    """True if the file's hash equals ``file_hash``; ``algorithm="auto"`` takes sha256 for a
    64-character hash and md5 otherwise (as Keras)."""
    return hash_file(fpath, _hasher(algorithm, file_hash), chunk_size) == str(file_hash)


def _inside(base: str, name: str) -> bool:
    path = os.path.realpath(os.path.join(base, name))
    return os.path.commonpath([path, base]) == base


def _safe_tar_members(archive, base: str):
    for info in archive:
        ok = _inside(base, info.name)
        if ok and info.islnk():  # a hard link's target is named from the archive's root
            ok = _inside(base, info.linkname)
        elif ok and info.issym():  # a symbolic link's target from the link's own folder
            ok = _inside(base, os.path.join(os.path.dirname(info.name), info.linkname))
        if ok:
            yield info
        else:
            warnings.warn(f"Skipping invalid path during archive extraction: '{info.name}'.",
                          stacklevel=3)  # fmt: skip


def _extract_into(file_path: str, kind: str, dest: str) -> None:
    import tarfile
    import zipfile

    base = os.path.realpath(dest)
    if kind == "zip":
        with zipfile.ZipFile(file_path) as archive:
            members = []
            for info in archive.infolist():
                if _inside(base, info.filename):
                    members.append(info)
                else:
                    warnings.warn("Skipping invalid path during archive extraction: "
                                  f"'{info.filename}'.", stacklevel=3)  # fmt: skip
            archive.extractall(dest, members=members)
        return
    with tarfile.open(file_path) as archive:
        # NOTE: the "data" filter (Python >= 3.11.4) also refuses device files and absolute
        # links; older Pythons still get the path check above.
        kwargs = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
        archive.extractall(dest, members=_safe_tar_members(archive, base), **kwargs)


def extract_archive(file_path, path=".", archive_format="auto") -> bool:
    """Extract a tar (also .tar.gz, .tar.bz2, .tar.xz) or zip archive into ``path``.

    The archive is extracted into a temporary folder next to ``path`` and renamed into place,
    replacing an older ``path``; members that would land outside ``path`` (``../`` names,
    links pointing out) are skipped with a warning.

    Args:
        file_path: the archive.
        path: the folder to extract into (default ".").
        archive_format: "auto" (default: ``["tar", "zip"]``), "tar", "zip", a list of those,
            or None (extract nothing).

    Returns:
        True if the archive matched one of the formats and was extracted, False otherwise.

    Raises:
        NotImplementedError: for a format other than "tar" or "zip".

    Matches Keras 3 ``keras/src/utils/file_utils.py`` (``extract_archive``).
    """
    import shutil
    import tarfile
    import tempfile
    import zipfile

    if archive_format is None:
        return False
    formats = ["tar", "zip"] if archive_format == "auto" else archive_format
    formats = [formats] if isinstance(formats, str) else list(formats)
    for kind in formats:
        if kind not in ("tar", "zip"):
            raise NotImplementedError(f"archive_format must be 'auto', 'tar', 'zip' or None, "
                                      f"received archive_format={archive_format!r}")  # fmt: skip
    file_path, path = os.fspath(file_path), os.fspath(path)
    for kind in formats:
        matches = tarfile.is_tarfile if kind == "tar" else zipfile.is_zipfile
        if not matches(file_path):
            continue
        parent = os.path.dirname(os.path.abspath(path))
        os.makedirs(parent, exist_ok=True)
        staging = tempfile.mkdtemp(prefix=f".{os.path.basename(path)}.", suffix=".part",
                                   dir=parent)  # fmt: skip
        try:
            _extract_into(file_path, kind, staging)
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path)
            elif os.path.lexists(path):
                os.remove(path)
            os.replace(staging, path)
        finally:
            if os.path.isdir(staging):
                shutil.rmtree(staging, ignore_errors=True)
        return True
    return False


def _fetch_error(origin: str, code, reason) -> OSError:
    return OSError(f"URL fetch failure on {origin}: {code} -- {reason}")


def _download(origin: str, target: str, file_hash, hash_algorithm: str) -> None:
    """Fetch ``origin`` into ``target`` through a temporary file in the same folder."""
    import http.client
    import tempfile
    import urllib.error
    import urllib.request

    from ..callbacks.progbar import Progbar

    print(f"Downloading data from {origin}", file=sys.stdout, flush=True)
    fd, part = tempfile.mkstemp(prefix=f".{os.path.basename(target)}.", suffix=".part",
                                dir=os.path.dirname(target))  # fmt: skip
    try:
        with os.fdopen(fd, "wb") as out:
            try:
                with urllib.request.urlopen(origin, timeout=TIMEOUT) as response:
                    length = response.headers.get("Content-Length") if response.headers else None
                    total = int(length) if length and length.isdigit() else None
                    bar, done = Progbar(total), 0
                    while chunk := response.read(_CHUNK):
                        out.write(chunk)
                        done += len(chunk)
                        bar.update(done)
                    bar.update(done, finalize=True)
            except urllib.error.HTTPError as e:
                raise _fetch_error(origin, e.code, e.reason) from e
            except urllib.error.URLError as e:
                raise _fetch_error(origin, getattr(e.reason, "errno", None), e.reason) from e
            except (http.client.HTTPException, ConnectionError, TimeoutError) as e:  # cut off
                raise _fetch_error(origin, getattr(e, "errno", None), e) from e
        if total is not None and done != total:
            raise _fetch_error(origin, None, f"received {done} of {total} bytes")
        if file_hash is not None and not validate_file(part, file_hash, hash_algorithm):
            actual = hash_file(part, _hasher(hash_algorithm, file_hash))
            raise ValueError(
                f"Incomplete or corrupted file detected. The {hash_algorithm} file hash "
                f"does not match the provided value of {file_hash} (received {actual} from "
                f"{origin}); nothing was saved."
            )
        os.replace(part, target)
    finally:
        if os.path.exists(part):
            os.remove(part)


def get_file(
    fname=None,
    origin=None,
    untar=False,
    md5_hash=None,
    file_hash=None,
    cache_subdir="datasets",
    hash_algorithm="auto",
    extract=False,
    archive_format="auto",
    cache_dir=None,
    force_download=False,
) -> str:
    """Download ``origin`` into the cache unless it is already there; return its local path.

    The file goes to ``cache_dir/cache_subdir/fname`` (``cache_dir`` defaults to
    ``$KERAS_HOME`` or ``~/.keras``, and to ``/tmp/.keras`` when that is not writable). A
    cached file is used as it is, unless ``file_hash`` is given and does not match (then it is
    downloaded again) or ``force_download`` is True. With ``extract=True`` the archive is
    saved as ``fname_archive`` (or ``fname`` when it has an extension) and extracted into
    ``cache_subdir/fname`` (or ``fname_extracted``), and that folder is returned.

    Args:
        fname: local file name (default None: the last part of ``origin``'s path). Must not
            contain a path separator.
        origin: the URL (required).
        untar: deprecated, as ``extract=True, archive_format="tar"`` (default False).
        md5_hash: deprecated, as ``file_hash`` with ``hash_algorithm="md5"`` (default None).
        file_hash: expected sha256 or md5 hex digest of the file (default None: no check).
        cache_subdir: folder under ``cache_dir``, or an absolute path (default "datasets").
        hash_algorithm: "auto" (default: sha256 for a 64-character hash, else md5),
            "sha256" or "md5".
        extract: extract a tar or zip archive (default False).
        archive_format: "auto" (default: tar then zip), "tar", "zip", or None.
        cache_dir: default None (``keras_home()``).
        force_download: download even if the file is cached (default False).

    Returns:
        The path of the file, or of the extraction folder when extracting (a str).

    Raises:
        ValueError: if ``origin`` is None, no file name can be found, ``fname`` contains a
            path separator, ``hash_algorithm`` is unknown, or the downloaded file's hash does
            not match ``file_hash`` (nothing is saved then).
        OSError: "URL fetch failure on <origin>: <code> -- <reason>" when the download fails
            (HTTP error, refused connection, cut transfer); no partial file is left.

    Differences from Keras: a ``cache_dir`` that does not exist yet is created (Keras quietly
    uses ``/tmp/.keras`` instead; we do that only when it cannot be created or written); the
    download is checked before it takes the cached name (Keras saves it, then raises, and
    downloads again next time); an archive already extracted is not extracted again unless it
    was just downloaded; the extraction folder is replaced as a whole.

    Matches Keras 3 ``keras/src/utils/file_utils.py`` (``get_file``).
    """
    import tempfile
    import urllib.parse

    if origin is None:
        raise ValueError('Please specify the "origin" argument (URL of the file to download), '
                         "received origin=None.")  # fmt: skip
    if md5_hash is not None and file_hash is None:
        file_hash, hash_algorithm = md5_hash, "md5"
    _hasher(hash_algorithm)  # an unknown algorithm fails before anything is fetched
    if cache_dir is None:
        cache_dir = keras_home()
    base = os.path.expanduser(os.fspath(cache_dir))
    try:
        os.makedirs(base, exist_ok=True)
    except OSError:
        pass  # not creatable: the access check below falls back to /tmp/.keras
    if not os.access(base, os.W_OK):
        base = os.path.join("/tmp" if os.path.isdir("/tmp") else tempfile.gettempdir(), ".keras")
    datadir = os.path.join(base, cache_subdir)
    os.makedirs(datadir, exist_ok=True)

    given = fname
    fname = os.fspath(fname) if fname is not None else None
    if not fname:
        fname = os.path.basename(urllib.parse.urlsplit(origin).path)
        if not fname:
            raise ValueError(f"Can't parse the file name from the origin provided: '{origin}'. "
                             "Please specify the `fname` argument.")  # fmt: skip
    elif os.sep in fname or "/" in fname:
        raise ValueError("Paths are no longer accepted as the `fname` argument. To specify the "
                         "file's parent directory, use the `cache_dir` argument. Received: "
                         f"fname={fname}")  # fmt: skip

    extraction_dir = None
    if extract or untar:
        if given and "." in fname:
            target = os.path.join(datadir, fname)
            extraction_dir = os.path.join(datadir, f"{fname[: fname.find('.')]}_extracted")
        else:
            target = os.path.join(datadir, f"{fname}_archive")
            extraction_dir = os.path.join(datadir, fname)
    else:
        target = os.path.join(datadir, fname)

    download = force_download or not os.path.exists(target)
    if (
        not download
        and file_hash is not None
        and not validate_file(target, file_hash, hash_algorithm)
    ):
        print("A local file was found, but it seems to be incomplete or outdated because the "
              f"{hash_algorithm} file hash does not match the original value of {file_hash} so "
              "we will re-download the data.", flush=True)  # fmt: skip
        download = True
    if download:
        _download(origin, target, file_hash, hash_algorithm)

    if extraction_dir is None:
        return target
    if download or not os.path.isdir(extraction_dir):
        if not extract_archive(target, extraction_dir, "tar" if untar else archive_format):
            warnings.warn("Could not extract archive.", stacklevel=2)
    return extraction_dir
