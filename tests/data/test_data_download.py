import hashlib
import http.server
import threading
import time

import pytest

import compactnn.data.sources as sources
from compactnn.data import (ChecksumError, DownloadError, MissingDataError, RemoteFile,
                            ensure_files, fetch, get_dataset)
from compactnn.data.download import read_record, record_path, verify

PAYLOAD = bytes(range(256)) * 400  # 102,400 bytes
SHA = hashlib.sha256(PAYLOAD).hexdigest()
UNREACHABLE = "http://127.0.0.1:9/"  # the discard port: connection refused at once


class _Handler(http.server.BaseHTTPRequestHandler):
    honour_range = True
    truncate_at = None  # send only this many bytes of the body, then hang up
    requests = []

    def do_GET(self):  # noqa: N802
        rng = self.headers.get("Range")
        type(self).requests.append(rng)
        start = int(rng.split("=")[1].rstrip("-")) if rng and self.honour_range else 0
        body = PAYLOAD[start:]
        self.send_response(206 if start else 200)
        if start:
            self.send_header("Content-Range", f"bytes {start}-{len(PAYLOAD) - 1}/{len(PAYLOAD)}")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body if self.truncate_at is None else body[: self.truncate_at])

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def _httpd():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/file.bin"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def server(_httpd):
    """A local HTTP server of PAYLOAD that honours Range (no internet involved)."""
    _Handler.requests = []
    _Handler.honour_range = True
    _Handler.truncate_at = None
    return _httpd, _Handler


def test_fetch_downloads_and_checks_a_pinned_file(server, tmp_path):
    url, _ = server
    dest = fetch(RemoteFile("f.bin", (url,), SHA), tmp_path / "sub" / "f.bin", progress=False)
    assert dest.read_bytes() == PAYLOAD
    assert not (tmp_path / "sub" / "f.bin.part").exists() and not record_path(dest).exists()


def test_fetch_resumes_a_partial_file_with_a_range_request(server, tmp_path):
    url, handler = server
    dest = tmp_path / "f.bin"
    (tmp_path / "f.bin.part").write_bytes(PAYLOAD[:30000])
    fetch(RemoteFile("f.bin", (url,), SHA), dest, progress=False)
    assert handler.requests == ["bytes=30000-"]
    assert dest.read_bytes() == PAYLOAD


def test_interrupted_download_keeps_the_part_file_and_the_next_call_resumes(server, tmp_path):
    url, handler = server
    remote = RemoteFile("f.bin", (url,), None)  # unpinned: the size check alone must catch it
    handler.truncate_at = 40000
    with pytest.raises(DownloadError, match="f.bin"):
        fetch(remote, tmp_path / "f.bin", progress=False)
    assert (tmp_path / "f.bin.part").stat().st_size == 40000
    assert not (tmp_path / "f.bin").exists() and not record_path(tmp_path / "f.bin").exists()
    handler.truncate_at = None
    dest = fetch(remote, tmp_path / "f.bin", progress=False)
    assert handler.requests[-1] == "bytes=40000-"
    assert dest.read_bytes() == PAYLOAD and read_record(dest) == SHA


def test_fetch_starts_over_when_the_server_ignores_range(server, tmp_path):
    url, handler = server
    handler.honour_range = False
    (tmp_path / "f.bin.part").write_bytes(b"junk" * 10)
    dest = fetch(RemoteFile("f.bin", (url,), SHA), tmp_path / "f.bin", progress=False)
    assert dest.read_bytes() == PAYLOAD


def test_fetch_rejects_a_checksum_mismatch_and_drops_the_partial_file(server, tmp_path):
    url, _ = server
    with pytest.raises(ChecksumError, match="pinned"):
        fetch(RemoteFile("f.bin", (url,), "0" * 64), tmp_path / "f.bin", progress=False)
    assert not (tmp_path / "f.bin").exists() and not (tmp_path / "f.bin.part").exists()


def test_fetch_records_the_hash_of_an_unpinned_file_and_verify_uses_it(server, tmp_path):
    url, _ = server
    remote = RemoteFile("f.bin", (url,), None)
    dest = fetch(remote, tmp_path / "f.bin", progress=False)
    assert read_record(dest) == SHA
    assert record_path(dest).read_text() == f"{SHA}  f.bin\n"  # sha256sum format
    assert verify(remote, dest).status == "recorded"
    dest.write_bytes(PAYLOAD[:-1])
    with pytest.raises(ChecksumError, match="recorded"):
        verify(remote, dest)


def test_fetch_falls_back_to_the_next_mirror(server, tmp_path):
    url, _ = server
    dest = fetch(RemoteFile("f.bin", (UNREACHABLE + "f.bin", url), SHA), tmp_path / "f.bin", progress=False)
    assert dest.read_bytes() == PAYLOAD


def test_unreachable_download_fails_at_once_with_a_clear_error(tmp_path):
    t0 = time.monotonic()
    with pytest.raises(DownloadError, match="127.0.0.1:9"):
        fetch(RemoteFile("f.bin", (UNREACHABLE + "f.bin",), SHA), tmp_path / "f.bin", timeout=2)
    assert time.monotonic() - t0 < 5
    assert isinstance(DownloadError("x"), RuntimeError)


@pytest.fixture
def offline_mnist(monkeypatch):
    files = tuple(RemoteFile(f.path, (UNREACHABLE + f.path,), f.sha256, f.size)
                  for f in sources.SOURCES["mnist"])
    monkeypatch.setitem(sources.SOURCES, "mnist", files)
    return files


def test_dataset_download_without_network_says_which_files_to_place_where(tmp_path, offline_mnist):
    with pytest.raises(DownloadError) as info:
        get_dataset("mnist", root=tmp_path, download=True)
    message = str(info.value)
    for f in offline_mnist:
        assert str(tmp_path / "mnist" / f.path) in message
    assert "place them at" in message


def test_missing_files_without_download_flag_say_how_to_get_them(tmp_path):
    with pytest.raises(MissingDataError) as info:
        get_dataset("cifar10", root=tmp_path)
    message = str(info.value)
    assert str(tmp_path / "cifar10" / "cifar-10-binary.tar.gz") in message
    assert "download=True" in message and "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz" in message
    assert isinstance(info.value, FileNotFoundError)


def test_ensure_files_lists_only_the_missing_files(tmp_path, offline_mnist, fixtures):
    fixtures.write_mnist(tmp_path)
    (tmp_path / "mnist" / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DownloadError) as info:
        ensure_files("mnist", tmp_path, download=True, trust_local=True, progress=False)
    assert "t10k-labels" in str(info.value) and "train-images" not in str(info.value)


def test_every_source_is_pinned_or_explicitly_unpinned():
    for name, files in sources.SOURCES.items():
        for f in files:
            assert f.urls and all(u.startswith(("https://", "http://")) for u in f.urls)
            assert f.sha256 is None or (len(f.sha256) == 64 and int(f.sha256, 16) >= 0)
    assert all(f.sha256 for f in sources.SOURCES["mnist"] + sources.SOURCES["cifar10"])
