"""``python -m framework.data``: results on stdout, errors without a traceback,
and the exit statuses 0, 1 and 2. Mirrors are local files or nothing."""

import gzip
import os
import subprocess
import sys
from pathlib import Path

import pytest
from data_fixtures import checksum_table, fake_files, isolate, write_files

from framework.data import sources
from framework.data.cli import main

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def no_network(monkeypatch, tmp_path):
    isolate(monkeypatch, tmp_path)


@pytest.fixture
def shelf(monkeypatch, tmp_path):
    """A file:// mirror of fake MNIST files, described by the checksum table."""
    raw, _ = fake_files(n_train=40, n_test=20)
    files = {f"{name}.gz": gzip.compress(data, mtime=0) for name, data in raw.items()}
    folder = tmp_path / "shelf"
    folder.mkdir()
    for name, data in files.items():
        (folder / name).write_bytes(data)
    monkeypatch.setitem(sources.CHECKSUMS, "mnist", checksum_table(files))
    monkeypatch.setenv("MNIST_MIRRORS", folder.as_uri())
    monkeypatch.setenv("MNIST_OFFLINE", "0")
    return folder


def test_download_then_already_present(shelf, tmp_path, capsys):
    data_dir = tmp_path / "data"

    assert main(["download", "--data-dir", str(data_dir), "--no-progress"]) == 0
    out, err = capsys.readouterr()
    target = data_dir / "mnist"
    assert f"{target / 'train-images-idx3-ubyte.gz'}  (downloaded)" in out
    assert f"MNIST: 40 training and 20 test images in {target}" in out
    assert err == ""

    assert main(["download", "--data-dir", str(data_dir), "--no-progress"]) == 0
    assert out.count("(downloaded)") == 4
    assert capsys.readouterr().out.count("(already present)") == 4


def test_download_failure_is_one_message_and_status_1(tmp_path, capsys):
    status = main(["download", "--data-dir", str(tmp_path / "data"), "--no-progress"])
    out, err = capsys.readouterr()
    assert status == 1
    assert out == ""
    assert err.startswith("error: MNIST is not available offline")
    assert "Traceback" not in err


def test_a_damaged_file_on_disk_fails_the_download_command(tmp_path, capsys):
    raw, _ = fake_files(n_train=40, n_test=20)
    folder = write_files(tmp_path / "data" / "mnist", raw)
    (folder / "t10k-labels-idx1-ubyte.gz").write_bytes(b"\x00\x00\x08\x01\x00")
    assert main(["download", "--data-dir", str(tmp_path / "data")]) == 1
    assert "t10k-labels-idx1-ubyte.gz: truncated header" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv",
    [[], ["fetch"], ["download", "--dataset", "cifar10"], ["download", "--bogus"]],
)
def test_usage_errors_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as caught:
        main(argv)
    assert caught.value.code == 2
    assert "usage:" in capsys.readouterr().err


def test_info_says_what_would_be_used(tmp_path, capsys):
    raw, _ = fake_files(n_train=40, n_test=20)
    write_files(tmp_path / "data", raw)
    assert (
        main(
            ["info", "--dataset", "fashion-mnist", "--data-dir", str(tmp_path / "data")]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert f"data folder: {tmp_path / 'data'} (data_dir argument)" in out
    assert f"{tmp_path / 'data' / 'train-images-idx3-ubyte.gz'}" in out
    assert "downloads:   off (offline)" in out
    assert "loading:     would read the files above" in out


def test_info_reports_missing_files_and_mirrors(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("MNIST_OFFLINE", "0")
    monkeypatch.setenv("MNIST_MIRRORS", "https://mirror.example/mnist/")
    assert main(["info", "--data-dir", str(tmp_path / "empty")]) == 0
    out = capsys.readouterr().out
    assert "train-images-idx3-ubyte: missing" in out
    assert "mirrors:     https://mirror.example/mnist/" in out
    assert (
        f"would download the missing files into {tmp_path / 'empty' / 'mnist'}" in out
    )


def run_module(*args, env_extra):
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": str(REPO),
        "HOME": env_extra.pop("HOME"),
        **env_extra,
    }
    return subprocess.run(
        [sys.executable, "-m", "framework.data", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_as_a_module_failure_and_success(tmp_path):
    failed = run_module(
        "download",
        "--data-dir",
        str(tmp_path / "empty"),
        env_extra={"HOME": str(tmp_path), "MNIST_OFFLINE": "1"},
    )
    assert failed.returncode == 1
    assert failed.stderr.startswith("error: ") and "Traceback" not in failed.stderr

    raw, _ = fake_files(n_train=40, n_test=20)
    write_files(tmp_path / "fashion", raw, compress="debian")
    done = run_module(
        "download",
        "--dataset",
        "fashion-mnist",
        "--data-dir",
        str(tmp_path / "fashion"),
        env_extra={"HOME": str(tmp_path), "MNIST_OFFLINE": "1"},
    )
    assert done.returncode == 0, done.stderr
    assert "Fashion-MNIST: 40 training and 20 test images" in done.stdout
