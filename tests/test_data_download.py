"""Downloads end to end against a local HTTP server that misbehaves on purpose.

Every test points the mirrors at 127.0.0.1 (or nowhere) and the checksum table
at fixture files; nothing here can reach the internet.
"""

import gzip
import json
import logging
import re
import socket
import struct
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
from data_fixtures import checksum_table, fake_files, isolate, leftovers

from framework.data import DownloadError, OfflineError, load_mnist, sources
from framework.data import download as download_module
from framework.data.download import USER_AGENT, ensure_files, mirror_urls
from framework.data.mnist import read_split

REPO = Path(__file__).resolve().parents[1]
FILE_NAMES = [
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
]


# --- a local mirror server with scripted misbehaviour ---


class Handler(BaseHTTPRequestHandler):
    """Answers each path as ``server.routes`` says; records every request."""

    def do_GET(self):
        self.server.requests.append((self.path, self.headers.get("User-Agent")))
        behaviour, *args = self.server.routes.get(self.path, ("status", 404))
        getattr(self, f"answer_{behaviour}")(*args)

    def answer_status(self, code):
        self.send_error(code)

    def answer_file(self, body, content_type="application/octet-stream"):
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def answer_truncated(self, body):
        """Content-Length of the whole body, then half of it, then a clean close."""
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body[: len(body) // 2])
        self.wfile.flush()
        self.close_connection = True

    def answer_cut(self, body):
        """Half the body, then the connection is reset (RST), mid-transfer."""
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body[: len(body) // 2])
        self.wfile.flush()
        time.sleep(0.05)
        self.connection.setsockopt(
            socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
        )
        self.connection.close()
        self.close_connection = True

    def answer_slow(self, body, pieces=8, pause=0.02):
        """The whole file, in pieces with pauses, so downloads overlap."""
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        step = -(-len(body) // pieces)
        for start in range(0, len(body), step):
            self.wfile.write(body[start : start + step])
            self.wfile.flush()
            time.sleep(pause)

    def answer_unsized(self, body):
        """No Content-Length and no Content-Type: the body ends when the
        connection closes."""
        self.send_response(200)
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = True

    def answer_stall(self, seconds):
        time.sleep(seconds)
        self.close_connection = True

    def log_message(self, format, *args):
        """Keep the test output quiet."""


class Mirror:
    """A ThreadingHTTPServer on 127.0.0.1 with a free port, in a thread."""

    def __init__(self):
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.block_on_close = False
        self.server.routes = {}
        self.server.requests = []
        self.thread = threading.Thread(
            target=self.server.serve_forever, args=(0.05,), daemon=True
        )
        self.thread.start()

    def url(self, prefix):
        return f"http://127.0.0.1:{self.server.server_port}/{prefix}/"

    def route(self, prefix, name, behaviour, *args):
        self.server.routes[f"/{prefix}/{name}"] = (behaviour, *args)

    def route_all(self, prefix, behaviour, *args):
        """Every file under ``prefix`` behaves the same way."""
        for name in FILE_NAMES:
            self.route(prefix, name, behaviour, *args)

    def serve_all(self, prefix, behaviour, files):
        """Every file under ``prefix`` is answered from its body in ``files``."""
        for name in FILE_NAMES:
            self.route(prefix, name, behaviour, files[name])

    @property
    def requests(self):
        return self.server.requests

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def mirror():
    server = Mirror()
    yield server
    server.close()


@pytest.fixture
def fixture_files(monkeypatch):
    """Gzipped fake files; the MNIST checksum table now describes them."""
    raw, arrays = fake_files(n_train=60, n_test=20, seed=3)
    files = {f"{name}.gz": gzip.compress(data, mtime=0) for name, data in raw.items()}
    monkeypatch.setitem(sources.CHECKSUMS, "mnist", checksum_table(files))
    return files, arrays


@pytest.fixture(autouse=True)
def no_network(monkeypatch, tmp_path):
    isolate(monkeypatch, tmp_path)
    monkeypatch.setenv("MNIST_OFFLINE", "0")
    monkeypatch.setattr(download_module, "DOWNLOAD_TIMEOUT", 2.0)


def use_mirrors(monkeypatch, *urls):
    monkeypatch.setenv("MNIST_MIRRORS", ",".join(urls))


def closed_port_url():
    """A URL on 127.0.0.1 where nothing listens: connection refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/none/"


def load(folder, **options):
    return load_mnist(data_dir=folder, progress=False, **options)


def assert_files_are_the_fixtures(folder, files):
    for name, body in files.items():
        assert (folder / name).read_bytes() == body
    assert leftovers(folder) == []


# --- success ---


def test_download_success_then_files_are_reused(
    mirror, monkeypatch, tmp_path, fixture_files
):
    files, arrays = fixture_files
    mirror.serve_all("m1", "file", files)
    use_mirrors(monkeypatch, mirror.url("m1"))

    data = load(tmp_path / "data")

    assert_files_are_the_fixtures(tmp_path / "data" / "mnist", files)
    np.testing.assert_array_equal(data.y_train, arrays["train_labels"])
    assert {agent for _, agent in mirror.requests} == {USER_AGENT}
    assert len(mirror.requests) == 4

    load(tmp_path / "data")
    assert len(mirror.requests) == 4


def test_only_missing_files_are_downloaded(
    mirror, monkeypatch, tmp_path, fixture_files
):
    files, _ = fixture_files
    folder = tmp_path / "data" / "mnist"
    folder.mkdir(parents=True)
    (folder / "train-images-idx3-ubyte").write_bytes(
        gzip.decompress(files["train-images-idx3-ubyte.gz"])
    )
    mirror.serve_all("m1", "file", files)
    use_mirrors(monkeypatch, mirror.url("m1"))

    load(tmp_path / "data")

    assert sorted(path for path, _ in mirror.requests) == sorted(
        f"/m1/{name}" for name in FILE_NAMES[1:]
    )


def test_progress_bar_goes_to_stderr_and_can_be_off(
    mirror, monkeypatch, tmp_path, fixture_files, capfd
):
    files, _ = fixture_files
    mirror.serve_all("m1", "file", files)
    use_mirrors(monkeypatch, mirror.url("m1"))

    load_mnist(data_dir=tmp_path / "a", progress=True)
    out, err = capfd.readouterr()
    assert out == ""
    assert "train-images-idx3-ubyte.gz" in err and "B/s" in err

    load_mnist(data_dir=tmp_path / "b", progress=False)
    assert capfd.readouterr() == ("", "")


# --- each kind of failure moves on to the next mirror and leaves nothing ---


PAGE = b"<!DOCTYPE html><html><body>Service Unavailable</body></html>"

MISBEHAVIOURS = {
    "404": (lambda body: ("status", 404), "HTTP 404 Not Found"),
    "503": (lambda body: ("status", 503), "HTTP 503"),
    "truncated": (lambda body: ("truncated", body), "transfer cut short: received"),
    "cut": (lambda body: ("cut", body), "transfer (interrupted|cut short)"),
    "html": (
        lambda body: ("file", PAGE, "text/html; charset=utf-8"),
        r"the server sent an HTML page \(Content-Type: text/html",
    ),
    "html-unlabelled": (
        lambda body: ("unsized", PAGE),
        r"checksum mismatch: .*\(the body is an HTML page\)",
    ),
    "wrong-size": (lambda body: ("file", body + b"\0"), "the server announces"),
    "other-bytes": (
        lambda body: ("file", body[:-1] + bytes([body[-1] ^ 0xFF])),
        "checksum mismatch: received .* with MD5",
    ),
}


@pytest.mark.parametrize("kind", MISBEHAVIOURS)
def test_a_failing_mirror_is_skipped_and_leaves_no_file(
    mirror, monkeypatch, tmp_path, fixture_files, caplog, kind
):
    files, arrays = fixture_files
    misbehave, reason = MISBEHAVIOURS[kind]
    for name in FILE_NAMES:
        mirror.route("bad", name, *misbehave(files[name]))
    mirror.serve_all("good", "file", files)
    use_mirrors(monkeypatch, mirror.url("bad"), mirror.url("good"))

    with caplog.at_level(logging.INFO, logger="framework.data.download"):
        data = load(tmp_path / "data")

    assert_files_are_the_fixtures(tmp_path / "data" / "mnist", files)
    np.testing.assert_array_equal(data.y_test, arrays["test_labels"])
    failures = [
        r.getMessage() for r in caplog.records if "Mirror failed" in r.getMessage()
    ]
    assert len(failures) == 4
    assert all("/bad/" in message for message in failures)
    assert all(re.search(reason, message) for message in failures), failures


def test_every_mirror_failing_is_one_error_listing_each(
    mirror, monkeypatch, tmp_path, fixture_files
):
    files, _ = fixture_files
    mirror.route_all("missing", "status", 404)
    mirror.route("wrong", "train-images-idx3-ubyte.gz", "file", b"x" * 10)
    mirror.serve_all("short", "truncated", files)
    refused = closed_port_url()
    tls_to_plain_http = mirror.url("missing").replace("http://", "https://")
    use_mirrors(
        monkeypatch,
        mirror.url("missing"),
        mirror.url("wrong"),
        mirror.url("short"),
        refused,
        tls_to_plain_http,
    )

    with pytest.raises(DownloadError) as caught:
        load(tmp_path / "data")

    message = str(caught.value)
    assert f"{mirror.url('missing')}train-images-idx3-ubyte.gz: HTTP 404" in message
    assert f"{mirror.url('wrong')}train-images-idx3-ubyte.gz: " in message
    assert f"{mirror.url('short')}train-images-idx3-ubyte.gz: transfer cut" in message
    assert f"{refused}train-images-idx3-ubyte.gz: cannot connect" in message
    assert f"{tls_to_plain_http}train-images-idx3-ubyte.gz: cannot connect (" in message
    assert "SSL" in message
    for name, checksum in sources.CHECKSUMS["mnist"].items():
        assert name in message and checksum.md5 in message
    assert f"place them, gzipped or not, in {tmp_path / 'data' / 'mnist'}" in message
    assert "MNIST_MIRRORS" in message
    assert "\n" not in caught.value.summary
    assert caught.value.summary.startswith(
        "could not download train-images-idx3-ubyte.gz from 5 mirrors: HTTP 404"
    )
    assert list((tmp_path / "data").rglob("*.gz")) == []
    assert leftovers(tmp_path / "data") == []


def test_no_mirror_at_all(tmp_path, fixture_files):
    with pytest.raises(DownloadError, match="no mirrors"):
        load(tmp_path / "data")


def test_a_silent_mirror_times_out_and_is_not_asked_again(
    mirror, monkeypatch, tmp_path, fixture_files
):
    files, _ = fixture_files
    monkeypatch.setattr(download_module, "DOWNLOAD_TIMEOUT", 0.3)
    mirror.route_all("silent", "stall", 1.0)
    mirror.serve_all("good", "file", files)
    use_mirrors(monkeypatch, mirror.url("silent"), mirror.url("good"))

    load(tmp_path / "data")

    asked_silent = [path for path, _ in mirror.requests if path.startswith("/silent/")]
    assert asked_silent == ["/silent/train-images-idx3-ubyte.gz"]
    assert_files_are_the_fixtures(tmp_path / "data" / "mnist", files)


def test_an_unreachable_mirror_is_reported_as_skipped(
    monkeypatch, tmp_path, fixture_files
):
    use_mirrors(monkeypatch, closed_port_url())
    with pytest.raises(DownloadError, match="cannot connect"):
        load(tmp_path / "data")


def test_interrupting_a_download_removes_the_temporary_file(
    mirror, monkeypatch, tmp_path, fixture_files
):
    files, _ = fixture_files
    mirror.serve_all("m1", "file", files)
    use_mirrors(monkeypatch, mirror.url("m1"))

    class InterruptedBar:
        def __init__(self, *args, **kwargs):
            pass

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def update(self, n):
            raise KeyboardInterrupt

    monkeypatch.setattr(download_module, "tqdm", InterruptedBar)
    with pytest.raises(KeyboardInterrupt):
        load(tmp_path / "data")
    assert list((tmp_path / "data").rglob("*")) == [tmp_path / "data" / "mnist"]


def test_falls_back_to_the_sample_when_every_mirror_fails(
    mirror, monkeypatch, tmp_path, fixture_files
):
    mirror.route_all("m1", "status", 404)
    use_mirrors(monkeypatch, mirror.url("m1"))

    with pytest.warns(
        UserWarning, match=r"MNIST is unavailable \(could not download"
    ) as w:
        data = load(tmp_path / "data", allow_sample=True)

    assert len(w) == 1
    assert data.name == "mnist-sample"


# --- two downloads at once ---


def test_threads_downloading_into_one_folder(
    mirror, monkeypatch, tmp_path, fixture_files
):
    files, arrays = fixture_files
    mirror.serve_all("slow", "slow", files)
    use_mirrors(monkeypatch, mirror.url("slow"))
    folder = tmp_path / "data"
    results, errors = [], []

    def worker():
        try:
            results.append(load(folder))
        except Exception as error:  # reported below, with the others
            errors.append(error)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert len(mirror.requests) > 4  # they really raced each other
    assert_files_are_the_fixtures(folder / "mnist", files)
    for data in results:
        np.testing.assert_array_equal(data.y_train, arrays["train_labels"])


DOWNLOAD_IN_A_PROCESS = """
import json, sys
from framework.data import sources
from framework.data.download import ensure_files
table = json.loads(sys.argv[1])
sources.CHECKSUMS["mnist"] = {k: sources.FileChecksum(*v) for k, v in table.items()}
sources.MIRRORS["mnist"] = ()
ensure_files("mnist", __import__("pathlib").Path(sys.argv[2]), progress=False)
"""


def test_processes_downloading_into_one_folder(mirror, tmp_path, fixture_files):
    files, _ = fixture_files
    mirror.serve_all("slow", "slow", files)
    table = json.dumps(sources.CHECKSUMS["mnist"])
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(REPO),
        "MNIST_MIRRORS": mirror.url("slow"),
        "MNIST_OFFLINE": "0",
        "HOME": str(tmp_path),
    }
    command = [sys.executable, "-c", DOWNLOAD_IN_A_PROCESS, table, str(tmp_path / "d")]
    processes = [
        subprocess.Popen(command, env=env, cwd=tmp_path, stderr=subprocess.PIPE)
        for _ in range(2)
    ]
    for process in processes:
        _, err = process.communicate(timeout=60)
        assert process.returncode == 0, err.decode()

    assert_files_are_the_fixtures(tmp_path / "d" / "mnist", files)
    assert len(mirror.requests) >= 4
    folder = tmp_path / "d" / "mnist"
    read_split(folder / FILE_NAMES[0], folder / FILE_NAMES[1])


# --- switches ---


def test_offline_touches_no_network(mirror, monkeypatch, tmp_path, fixture_files):
    files, _ = fixture_files
    mirror.serve_all("m1", "file", files)
    use_mirrors(monkeypatch, mirror.url("m1"))

    monkeypatch.setenv("MNIST_OFFLINE", "1")
    with pytest.raises(OfflineError):
        load(tmp_path / "data")
    monkeypatch.setenv("MNIST_OFFLINE", "0")
    with pytest.raises(OfflineError):
        load(tmp_path / "data", offline=True)
    assert mirror.requests == []
    assert not (tmp_path / "data").exists()

    monkeypatch.setenv("MNIST_OFFLINE", "1")
    load(tmp_path / "data", offline=False)
    assert len(mirror.requests) == 4


def test_mirrors_from_the_environment_come_first(monkeypatch):
    monkeypatch.setitem(sources.MIRRORS, "fashion-mnist", ("https://table.example/f/",))
    use_mirrors(
        monkeypatch,
        " http://local/{dataset} ",
        "",
        "file:///srv/mirror/",
        "https://table.example/f/",
    )
    assert mirror_urls("fashion-mnist") == [
        "http://local/fashion-mnist/",
        "file:///srv/mirror/",
        "https://table.example/f/",
    ]


def test_a_mirror_that_is_not_a_url_is_refused(monkeypatch, tmp_path):
    use_mirrors(monkeypatch, "ftp.example.org/mnist")
    with pytest.raises(
        ValueError, match=r"MNIST_MIRRORS holds 'ftp\.example\.org/mnist'"
    ):
        mirror_urls("mnist")


def test_a_file_url_mirror(monkeypatch, tmp_path, fixture_files):
    files, _ = fixture_files
    shelf = tmp_path / "shelf"
    shelf.mkdir()
    for name, body in files.items():
        (shelf / name).write_bytes(body)
    use_mirrors(monkeypatch, shelf.as_uri())

    paths = ensure_files("mnist", tmp_path / "data", progress=False)

    assert sorted(p.name for p in paths.values()) == sorted(FILE_NAMES)
    assert_files_are_the_fixtures(tmp_path / "data" / "mnist", files)
