"""download()/fetch_dataset() against a local HTTP server on 127.0.0.1 started by the tests.

No other address is contacted.
"""

import hashlib
import io
import tarfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from nnlite.data import download, fetch_dataset
from nnlite.data.download import DATASETS, ChecksumError, safe_extract


class RangeHandler(BaseHTTPRequestHandler):
    """Serves ``server.files`` (path -> bytes); honours ``Range: bytes=N-`` unless told not to."""

    def do_GET(self):  # noqa: N802 - http.server's naming
        self.server.requests.append((self.path, self.headers.get("Range")))
        body = self.server.files.get(self.path)
        if body is None:
            self.send_error(404)
            return
        start, status = 0, 200
        wanted = self.headers.get("Range")
        if wanted and self.server.honour_range:
            start = int(wanted.split("=")[1].split("-")[0])
            if start >= len(body):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(body)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            status = 206
        self.send_response(status)
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        self.send_header("Content-Length", str(len(body) - start))
        self.end_headers()
        self.wfile.write(body[start:])

    def log_message(self, *args):
        pass


def make_archive(members):
    """A .tar.gz holding ``members`` (name -> bytes)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as bundle:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            bundle.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


MEMBERS = {"stl10_binary/class_names.txt": b"a\nb\n", "stl10_binary/train_X.bin": bytes(range(256)) * 40}
ARCHIVE = make_archive(MEMBERS)
MD5 = hashlib.md5(ARCHIVE).hexdigest()
SHA256 = hashlib.sha256(ARCHIVE).hexdigest()


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), RangeHandler)
    httpd.files = {"/data.tar.gz": ARCHIVE}
    httpd.requests = []
    httpd.honour_range = True
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    try:
        yield httpd
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def test_full_download_checks_and_extracts(server, tmp_path):
    path = download(server.url + "/data.tar.gz", tmp_path, sha256=SHA256, md5=MD5, progress=True)
    assert path == str(tmp_path / "data.tar.gz")
    assert (tmp_path / "data.tar.gz").read_bytes() == ARCHIVE
    assert not (tmp_path / "data.tar.gz.part").exists()
    for name, data in MEMBERS.items():
        assert (tmp_path / name).read_bytes() == data
    count = len(server.requests)
    download(server.url + "/data.tar.gz", tmp_path, md5=MD5, progress=False)
    assert len(server.requests) == count  # a verified file is not fetched again


def test_resume_from_partial_file(server, tmp_path):
    (tmp_path / "data.tar.gz.part").write_bytes(ARCHIVE[:100])
    download(server.url + "/data.tar.gz", tmp_path, md5=MD5, extract=False, progress=False)
    assert server.requests[-1] == ("/data.tar.gz", "bytes=100-")
    assert (tmp_path / "data.tar.gz").read_bytes() == ARCHIVE


def test_server_without_range_support_restarts(server, tmp_path):
    server.honour_range = False
    (tmp_path / "data.tar.gz.part").write_bytes(b"\0" * 100)  # wrong bytes: must be replaced
    download(server.url + "/data.tar.gz", tmp_path, md5=MD5, extract=False, progress=False)
    assert server.requests[-1][1] == "bytes=100-"
    assert (tmp_path / "data.tar.gz").read_bytes() == ARCHIVE


def test_complete_partial_file_gets_416_and_is_kept(server, tmp_path):
    (tmp_path / "data.tar.gz.part").write_bytes(ARCHIVE)
    download(server.url + "/data.tar.gz", tmp_path, sha256=SHA256, extract=False, progress=False)
    assert (tmp_path / "data.tar.gz").read_bytes() == ARCHIVE


def test_checksum_mismatch_deletes_the_file(server, tmp_path):
    with pytest.raises(ChecksumError, match="md5.*expected 0+"):
        download(server.url + "/data.tar.gz", tmp_path, md5="0" * 32, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_http_errors_and_bad_urls(server, tmp_path):
    with pytest.raises(OSError, match="404"):
        download(server.url + "/missing.tar.gz", tmp_path, progress=False)
    with pytest.raises(ValueError, match="ftp://"):
        download("ftp://127.0.0.1/x.tar.gz", tmp_path)


@pytest.mark.parametrize("name", ["../evil.txt", "/tmp/nnlite-evil.txt", "a/../../evil.txt"])
def test_path_traversal_is_refused(server, tmp_path, name):
    server.files["/evil.tar.gz"] = make_archive({"ok.txt": b"fine", name: b"bad"})
    dest = tmp_path / "dest"
    with pytest.raises(ValueError, match="outside"):
        download(server.url + "/evil.tar.gz", dest, progress=False)
    assert not (tmp_path / "evil.txt").exists() and not (dest / "ok.txt").exists()


def test_links_pointing_out_are_refused(tmp_path):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as bundle:
        info = tarfile.TarInfo("link")
        info.type, info.linkname = tarfile.SYMTYPE, "../../etc/passwd"
        bundle.addfile(info)
    archive = tmp_path / "links.tar.gz"
    archive.write_bytes(buffer.getvalue())
    with pytest.raises(ValueError, match="link 'link' points outside"):
        safe_extract(str(archive), str(tmp_path / "dest"))


def test_fetch_dataset_uses_the_known_entry(server, tmp_path, monkeypatch):
    monkeypatch.setitem(DATASETS, "stl10", {"url": server.url + "/data.tar.gz", "md5": MD5,
                                            "folder": "stl10_binary"})
    folder = fetch_dataset("stl10", tmp_path, progress=False)
    assert folder == str(tmp_path / "stl10_binary")
    assert (tmp_path / "stl10_binary" / "class_names.txt").read_bytes() == b"a\nb\n"
    count = len(server.requests)
    assert fetch_dataset("stl10", tmp_path, progress=False) == folder
    assert len(server.requests) == count
    with pytest.raises(ValueError, match="mnist"):
        fetch_dataset("mnist", tmp_path)
