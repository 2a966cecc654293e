"""Download and unpack the official STL-10 and CIFAR-10 archives (standard library only).

:func:`download` fetches a URL into ``dest_dir`` through ``<name>.part``:
a progress bar on stderr, resumption of an existing ``.part`` with an HTTP
``Range`` request (a server that answers ``200`` instead of ``206`` restarts
the file), a SHA-256 or MD5 check (a mismatch deletes the file and raises),
an atomic rename to the final name, and extraction of ``.tar.gz``/``.tar``
archives that refuses any member that would land outside ``dest_dir``
(absolute paths, ``..``, links pointing out, device files).

:func:`fetch_dataset` wraps it with the known URLs and checksums and returns
the folder that :func:`~nnlite.data.load_dataset` expects.

Why not ``pooch`` (tried, v1.9.0): it restarts an interrupted download from
byte 0 (no ``Range`` resume; STL-10 is 2.6 GB), its progress bar needs
``tqdm``, and on Python < 3.12 its ``Untar`` extracts ``../`` members and
links pointing outside the target folder; it would also add requests,
urllib3, certifi, idna, charset-normalizer, platformdirs and packaging.
"""

import hashlib
import os
import sys
import tarfile
import time
import urllib.error
import urllib.parse
import urllib.request

from ..validation import check_writable_folder

DATASETS = {
    "stl10": {"url": "http://ai.stanford.edu/~acoates/stl10/stl10_binary.tar.gz",
              "md5": "91f7769df0f17e558f3565bffb0c7dfb", "folder": "stl10_binary"},
    "cifar10": {"url": "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
                "md5": "c58f30108f718f92721af3b95e74349a", "folder": "cifar-10-batches-py"},
}
CHUNK_BYTES = 1 << 20


class ChecksumError(ValueError):
    """A downloaded file does not have the expected checksum (it was deleted)."""


class _ByteProgress:
    """``[#####-----]  45%  12.3/27.0 MB  3.1 MB/s`` on stderr (redrawn on a terminal, else every 2 s)."""

    def __init__(self, total, done=0, enabled=True, stream=None):
        self.total, self.done, self.enabled = total, done, enabled
        self.stream = sys.stderr if stream is None else stream
        self.tty = getattr(self.stream, "isatty", lambda: False)()
        self.start_bytes, self.start = done, time.perf_counter()
        self.last = 0.0

    def update(self, count, final=False):
        self.done += count
        now = time.perf_counter()
        if not self.enabled or not (final or now - self.last >= (0.2 if self.tty else 2.0)):
            return
        self.last = now
        rate = (self.done - self.start_bytes) / max(now - self.start, 1e-9) / 1e6
        if self.total:
            fraction = min(self.done / self.total, 1.0)
            bar = "#" * int(30 * fraction) + "-" * (30 - int(30 * fraction))
            text = f"[{bar}] {100 * fraction:3.0f}% {self.done / 1e6:.1f}/{self.total / 1e6:.1f} MB"
        else:
            text = f"{self.done / 1e6:.1f} MB"
        end = "\n" if final or not self.tty else ""
        self.stream.write(f"{chr(13) if self.tty else ''}{text} {rate:.1f} MB/s{end}")
        self.stream.flush()


def file_digest(path, algorithm):
    """Hex digest of the file ``path`` (``'sha256'`` or ``'md5'``), read in 1 MB chunks."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(CHUNK_BYTES), b""):
            digest.update(block)
    return digest.hexdigest()


def _check_digests(path, sha256, md5):
    """Raise :class:`ChecksumError` (after deleting ``path``) when a given digest differs."""
    for algorithm, expected in (("sha256", sha256), ("md5", md5)):
        if expected is None:
            continue
        actual = file_digest(path, algorithm)
        if actual.lower() != expected.lower():
            os.remove(path)
            raise ChecksumError(f"{algorithm} of {path!r} is {actual}, expected {expected}; "
                                f"the file was deleted, download it again")


def _fetch(url, part, progress, timeout):
    """Append to (or restart) ``part`` until it holds the whole body of ``url``."""
    existing = os.path.getsize(part) if os.path.exists(part) else 0
    headers = {"User-Agent": "nnlite-download"}
    if existing:
        headers["Range"] = f"bytes={existing}-"
    request = urllib.request.Request(url, headers=headers)
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as error:
        if error.code == 416 and existing:  # the range starts at or past the end
            total = (error.headers.get("Content-Range") or "").rpartition("/")[2]
            if total.isdigit() and int(total) == existing:
                return  # the partial file is already complete
            os.remove(part)
            return _fetch(url, part, progress, timeout)
        raise OSError(f"downloading {url} failed: HTTP {error.code} {error.reason}") from None
    except urllib.error.URLError as error:
        raise OSError(f"downloading {url} failed: {error.reason}") from None
    with response:
        status = response.status
        length = response.headers.get("Content-Length")
        mode = "wb"
        if existing and status == 206:
            first = (response.headers.get("Content-Range") or "").split(" ")[-1].split("-")[0]
            if first != str(existing):
                raise OSError(f"{url} answered the range request for byte {existing} with "
                              f"Content-Range {response.headers.get('Content-Range')!r}")
            mode = "ab"
        elif status != 200:
            raise OSError(f"downloading {url} failed: HTTP {status}")
        else:
            existing = 0  # no resume support: start over
        total = existing + int(length) if length and length.isdigit() else None
        bar = _ByteProgress(total, existing, enabled=progress)
        with open(part, mode) as handle:
            for block in iter(lambda: response.read(CHUNK_BYTES), b""):
                handle.write(block)
                bar.update(len(block))
        bar.update(0, final=True)
    if total is not None and os.path.getsize(part) != total:
        raise OSError(f"download of {url} stopped at {os.path.getsize(part)} of {total} bytes; "
                      f"run it again to resume from {part!r}")


def _is_within(directory, path):
    directory = os.path.realpath(directory)
    return os.path.commonpath([directory, os.path.realpath(path)]) == directory


def safe_extract(archive, dest_dir):
    """Extract a tar archive into ``dest_dir``, refusing members that escape it.

    Every member is checked before anything is written: absolute names,
    ``..`` components, symbolic/hard links whose target lies outside
    ``dest_dir``, and device or FIFO entries raise ``ValueError`` naming the
    member.

    Returns
    -------
    list of str
        The member names extracted.
    """
    with tarfile.open(archive, "r:*") as bundle:
        members = bundle.getmembers()
        for member in members:
            target = os.path.join(dest_dir, member.name)
            if os.path.isabs(member.name) or not _is_within(dest_dir, target):
                raise ValueError(f"refusing to extract {archive!r}: member {member.name!r} would be "
                                 f"written outside {dest_dir!r}")
            if member.issym() or member.islnk():
                base = os.path.dirname(target) if member.issym() else dest_dir
                if os.path.isabs(member.linkname) or not _is_within(
                        dest_dir, os.path.join(base, member.linkname)):
                    raise ValueError(f"refusing to extract {archive!r}: link {member.name!r} points "
                                     f"outside {dest_dir!r} ({member.linkname!r})")
            elif not (member.isfile() or member.isdir()):
                raise ValueError(f"refusing to extract {archive!r}: {member.name!r} is a device or FIFO")
        if hasattr(tarfile, "data_filter"):
            bundle.extractall(dest_dir, members=members, filter="data")
        else:  # pragma: no cover - Python < 3.9.17 / 3.10.12 / 3.11.4
            bundle.extractall(dest_dir, members=members)
    return [member.name for member in members]


def download(url, dest_dir, sha256=None, md5=None, extract=True, progress=True, filename=None,
             timeout=60):
    """Download ``url`` into ``dest_dir``, resumably, check it and optionally unpack it.

    Parameters
    ----------
    url : str
        ``http(s)://`` address.
    dest_dir : str
        Created if needed; the file is ``dest_dir/<filename>``.
    sha256, md5 : str, optional
        Expected hex digests.  A finished file with a wrong digest is deleted
        and :class:`ChecksumError` is raised.
    extract : bool, default=True
        Unpack ``.tar.gz``/``.tgz``/``.tar`` archives into ``dest_dir``
        (see :func:`safe_extract`).
    progress : bool, default=True
        Progress bar on stderr.
    filename : str, optional
        Default: the last part of the URL's path.
    timeout : float
        Seconds to wait for the server on each read.

    Returns
    -------
    str
        Path of the downloaded file.  An existing file with the right
        checksum is not downloaded again.
    """
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme not in ("http", "https"):
        raise ValueError(f"url must be http:// or https://, got {url!r}")
    filename = filename or os.path.basename(parsed.path)
    if not filename:
        raise ValueError(f"cannot name the file from {url!r}; pass filename=")
    dest_dir = check_writable_folder(dest_dir, "dest_dir")
    final = os.path.join(dest_dir, filename)
    if os.path.exists(final):
        try:
            _check_digests(final, sha256, md5)
        except ChecksumError:
            if progress:
                sys.stderr.write(f"{final} has the wrong checksum; downloading it again\n")
    if not os.path.exists(final):
        part = final + ".part"
        _fetch(url, part, progress, timeout)
        _check_digests(part, sha256, md5)
        os.replace(part, final)
    if extract and filename.endswith((".tar.gz", ".tgz", ".tar")):
        safe_extract(final, dest_dir)
    return final


def fetch_dataset(name, root, progress=True):
    """Download and unpack STL-10 (binary) or CIFAR-10 (python) under ``root`` if not there yet.

    Parameters
    ----------
    name : {'stl10', 'cifar10'}
    root : str
        Where the archive and its folder go.

    Returns
    -------
    str
        The dataset folder (``root/stl10_binary`` or ``root/cifar-10-batches-py``),
        ready for ``load_dataset(name, path=...)``.
    """
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; choose one of {sorted(DATASETS)}")
    info = DATASETS[name]
    folder = os.path.join(root, info["folder"])
    if os.path.isdir(folder) and os.listdir(folder):
        return folder
    download(info["url"], root, md5=info["md5"], extract=True, progress=progress)
    if not os.path.isdir(folder):
        raise ValueError(f"the {name} archive did not contain the folder {info['folder']!r}")
    return folder
