"""Tests of grader.sandbox: limits, capture, environment and isolation.

Every check looks at the world from outside the sandbox (the process table, files on
disk, a TCP server, a hash of the data sent) rather than trusting what the sandbox
reports about itself. Tests that need namespaces, or root, are skipped with the
reason when this machine does not offer them.
"""

import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
import uuid
from pathlib import Path

import pytest

from grader import sandbox
from grader.sandbox import run_isolated

REPO = Path(__file__).resolve().parents[1]
MIB = 1 << 20
NOBODY = 65534
AS_ROOT = os.geteuid() == 0


def run(code, workdir, **options):
    """Run Python ``code`` in the sandbox with small default limits."""
    argv = [options.pop("python", sys.executable), "-c", textwrap.dedent(code)]
    limits = {
        "time_limit": 10.0,
        "memory_limit": 512 * MIB,
        "file_size_limit": MIB,
        "output_limit": 20_000,
    }
    return run_isolated(argv, workdir=workdir, **(limits | options))


@pytest.fixture
def workdir():
    """A fresh working folder in /tmp, reachable by every user."""
    path = tempfile.mkdtemp(prefix="sandbox-test-")
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def outside():
    """A world-writable folder outside /tmp: only the sandbox can keep a child out."""
    path = tempfile.mkdtemp(prefix="sandbox-test-", dir="/var/tmp")
    os.chmod(path, 0o777)
    yield Path(path)
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def namespaces():
    """Skip unless the strongest isolation level works on this machine."""
    path = tempfile.mkdtemp(prefix="sandbox-test-")
    try:
        result = run("pass", path)
    finally:
        shutil.rmtree(path, ignore_errors=True)
    if not result.isolation.startswith("namespaces"):
        pytest.skip(f"namespaces unavailable here: {result.fallback_reasons}")
    return result.isolation


def processes_with(marker):
    """Pids of live processes whose command line contains ``marker``."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/cmdline", "rb") as handle:
                command_line = handle.read()
            with open(f"/proc/{name}/stat", "rb") as handle:
                state = handle.read().rsplit(b")", 1)[1].split()[0]
        except OSError:
            continue
        if marker.encode() in command_line and state != b"Z":
            found.append(int(name))
    return found


# ---------------------------------------------------------------------------
# how a run ends


def test_exit_code_is_reported(workdir):
    result = run("import sys; sys.exit(3)", workdir)

    assert result.returncode == 3
    assert result.signal is None
    assert not (result.timed_out or result.memory_exceeded)
    assert not (result.cpu_time_exceeded or result.file_size_exceeded)
    assert result.setup_error is None
    assert result.isolation in sandbox.ISOLATION_LEVELS


def test_os_exit_at_import_keeps_flushed_output(workdir):
    Path(workdir, "student.py").write_text(
        "print('partial', flush=True)\nimport os\nos._exit(5)\n"
    )
    result = run("import sys; sys.path.insert(0, ''); import student", workdir)

    assert result.returncode == 5
    assert result.stdout == "partial\n"


@pytest.mark.parametrize("number", [signal.SIGSEGV, signal.SIGKILL])
def test_death_by_signal_is_reported(workdir, number):
    result = run(f"import os; os.kill(os.getpid(), {int(number)})", workdir)

    assert result.returncode == -number
    assert result.signal == number.name
    assert not result.timed_out


@pytest.mark.parametrize("isolation", ["auto", "basic"])
@pytest.mark.parametrize("ending", ["loops forever", "exits"])
def test_nothing_of_the_run_survives(workdir, isolation, ending):
    # Two grandchildren: one in its own session, one double-forked into its own
    # session, so neither is reached by killing the child's process group.
    marker = f"sandbox-test-{uuid.uuid4().hex}"
    code = f"""
        import os, subprocess, sys, time
        sleeper = "import pathlib, sys, time; pathlib.Path(sys.argv[1]).touch(); "
        sleeper += "time.sleep(1000)"
        subprocess.Popen([sys.executable, "-c", sleeper, "one", "{marker}"],
                         start_new_session=True)
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                os.execv(sys.executable, [sys.executable, "-c", sleeper, "two",
                                          "{marker}"])
            os._exit(0)
        while not (os.path.exists("one") and os.path.exists("two")):
            time.sleep(0.01)
        print("grandchildren running", flush=True)
        while {ending == "loops forever"}:
            pass
    """
    result = run(code, workdir, time_limit=1.0, isolation=isolation)

    assert result.stdout == "grandchildren running\n", result.stderr
    assert processes_with(marker) == []
    if ending == "loops forever":
        assert result.timed_out
        assert result.signal == "SIGKILL"
        assert 1.0 <= result.wall_time < 5.0
    else:
        assert result.returncode == 0
        assert not result.timed_out


# ---------------------------------------------------------------------------
# resource limits


@pytest.mark.parametrize(
    "bomb",
    ["bytearray(4 << 30)", "x = []\nwhile True: x.append(bytearray(10**7))"],
)
def test_memory_bomb_is_stopped_and_detected(workdir, bomb):
    limit = 300 * MIB
    result = run(bomb, workdir, memory_limit=limit)

    assert result.memory_exceeded
    assert result.returncode == 1
    assert "MemoryError" in result.stderr
    assert result.peak_rss is not None and result.peak_rss <= limit


def test_cpu_time_limit(workdir):
    result = run("while True: pass", workdir, time_limit=30.0, cpu_time_limit=1)

    assert result.cpu_time_exceeded
    assert result.signal == "SIGXCPU"
    assert not result.timed_out
    assert 0.5 <= result.cpu_time < 3.0  # the limit is enforced on coarser ticks


def test_file_size_limit(workdir):
    code = "open('big.bin', 'wb').write(b'x' * (50 << 20))"
    result = run(code, workdir, file_size_limit=MIB)

    assert result.file_size_exceeded
    assert result.returncode != 0
    assert os.path.getsize(Path(workdir, "big.bin")) <= MIB


def test_limits_do_not_flag_a_clean_run(workdir):
    result = run("print(sum(range(10**6)))", workdir)

    assert result.returncode == 0
    assert result.stdout == f"{sum(range(10**6))}\n"
    assert result.cpu_time is not None and result.cpu_time > 0
    assert result.peak_rss is not None and result.peak_rss > MIB


# ---------------------------------------------------------------------------
# output and input


def test_megabytes_of_output_are_capped_keeping_head_and_tail(workdir):
    size = 3 * MIB
    code = f"""
        import sys
        data = bytes(ord("a") + i % 26 for i in range({size}))
        for stream in (sys.stdout.buffer, sys.stderr.buffer):
            for start in range(0, {size}, 4096):
                stream.write(data[start:start + 4096])
        sys.stdout.flush()
    """
    limit = 20_000
    result = run(code, workdir, output_limit=limit)

    expected = bytes(ord("a") + i % 26 for i in range(size))
    head, tail = expected[: limit // 4], expected[-(limit - limit // 4) :]
    marker = f"\n[... {size - limit} bytes dropped ...]\n"
    assert result.returncode == 0
    assert result.stdout == head.decode() + marker + tail.decode()
    assert result.stderr == result.stdout
    assert result.stdout_dropped == result.stderr_dropped == size - limit
    assert result.wall_time < 10.0  # generous: the machine may be busy


def test_large_stdin_arrives_intact(workdir):
    data = os.urandom(50 * MIB)
    code = """
        import hashlib, sys
        print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest())
    """
    result = run(code, workdir, stdin_data=data)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == hashlib.sha256(data).hexdigest()


def test_child_that_ignores_stdin_ends_the_run(workdir):
    result = run("print('done')", workdir, stdin_data=bytes(50 * MIB))

    assert result.returncode == 0
    assert result.stdout == "done\n"
    assert result.wall_time < 10.0  # generous: the machine may be busy


# ---------------------------------------------------------------------------
# environment


def test_environment_is_minimal(workdir, monkeypatch):
    monkeypatch.setenv("SANDBOX_TEST_SECRET", "hunter2")
    code = "import json, os; print(json.dumps(dict(os.environ)))"
    result = run(code, workdir, threads=3, env={"GRADER_TASK": "mnist"})

    seen = json.loads(result.stdout)
    assert "SANDBOX_TEST_SECRET" not in seen
    assert "hunter2" not in result.stdout
    thread_variables = {
        "OMP_NUM_THREADS",
        "OPENBLAS_NUM_THREADS",
        "MKL_NUM_THREADS",
        "NUMEXPR_NUM_THREADS",
        "VECLIB_MAXIMUM_THREADS",
    }
    assert {name: seen[name] for name in thread_variables} == dict.fromkeys(
        thread_variables, "3"
    )
    assert seen["HOME"] == os.path.realpath(workdir)
    assert seen["PYTHONHASHSEED"] == "0"
    assert seen["GRADER_TASK"] == "mnist"
    allowed = thread_variables | {
        "PATH",
        "HOME",
        "TMPDIR",
        "LANG",
        "LC_ALL",
        "PYTHONHASHSEED",
        "PYTHONDONTWRITEBYTECODE",
        "PYTHONNOUSERSITE",
        "PYTHONSAFEPATH",
        "GRADER_TASK",
        "LC_CTYPE",  # Python may set it itself when coercing the C locale
    }
    assert set(seen) <= allowed


def test_pythonpath_holds_only_what_was_asked(workdir):
    code = "import os, framework; print(os.environ['PYTHONPATH'])"
    result = run(code, workdir, pythonpath=[REPO])

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(REPO)


# ---------------------------------------------------------------------------
# isolation


def test_hidden_paths_cannot_be_read(workdir, namespaces):
    secret_file = Path(workdir, "answers.txt")
    secret_file.write_text("TOP-SECRET-FILE")
    secret_folder = Path(workdir, "test-data")
    secret_folder.mkdir()
    Path(secret_folder, "labels.txt").write_text("TOP-SECRET-FOLDER")
    Path(workdir, "visible.txt").write_text("VISIBLE")
    for path in (
        secret_file,
        secret_folder / "labels.txt",
        Path(workdir, "visible.txt"),
    ):
        path.chmod(0o644)
    secret_folder.chmod(0o755)
    code = """
        import ctypes, os
        libc = ctypes.CDLL(None, use_errno=True)
        libc.umount2(b"test-data", 2)  # a child must not be able to undo the cover
        for name in ["answers.txt", "test-data/labels.txt", "visible.txt"]:
            try:
                print(name, repr(open(name).read()))
            except OSError as error:
                print(name, type(error).__name__)
    """
    result = run(code, workdir, hide_paths=[secret_file, secret_folder])

    assert "TOP-SECRET" not in result.stdout + result.stderr
    assert "answers.txt ''" in result.stdout
    assert "test-data/labels.txt PermissionError" in result.stdout
    assert "visible.txt 'VISIBLE'" in result.stdout
    assert secret_file.read_text() == "TOP-SECRET-FILE"


def test_child_cannot_write_outside_its_folder(namespaces, outside):
    parent = Path(tempfile.mkdtemp(prefix="sandbox-test-"))
    parent.chmod(0o777)
    work = parent / "work"
    work.mkdir()
    targets = [parent / "escape.txt", outside / "escape.txt", REPO / "escape.txt"]
    code = f"""
        for path in {[str(target) for target in targets]!r} + ["inside.txt"]:
            try:
                with open(path, "w") as handle:
                    handle.write("x")
                print(path, "written")
            except OSError as error:
                print(path, type(error).__name__)
    """
    try:
        result = run(code, work)

        assert "inside.txt written" in result.stdout
        assert (work / "inside.txt").read_text() == "x"
        for target in targets:
            assert not target.exists(), result.stdout
    finally:
        shutil.rmtree(parent, ignore_errors=True)
        for target in targets:
            target.unlink(missing_ok=True)


def test_child_has_no_network(workdir, namespaces):
    with socket.create_server(("127.0.0.1", 0)) as server:
        server.setblocking(False)
        port = server.getsockname()[1]
        code = f"""
            import socket
            try:
                socket.create_connection(("127.0.0.1", {port}), timeout=2)
                print("connected")
            except OSError as error:
                print(type(error).__name__)
        """
        result = run(code, workdir)

        assert "connected" not in result.stdout
        assert result.stdout.strip()  # it did try
        with pytest.raises(BlockingIOError):
            server.accept()


def test_child_sees_only_its_own_processes(workdir, namespaces):
    code = (
        "import os; print(sorted(int(p) for p in os.listdir('/proc') if p.isdigit()))"
    )
    result = run(code, workdir)

    assert result.returncode == 0
    assert os.getpid() not in json.loads(result.stdout)
    assert len(json.loads(result.stdout)) <= 3  # its init, itself, maybe a zombie


def test_grader_home_is_hidden_except_what_the_command_needs(
    workdir, namespaces, outside, monkeypatch
):
    # A stand-in home that any user could read, so only the cover hides it.
    (outside / ".netrc").write_text("machine example.org password TOKEN")
    (outside / ".netrc").chmod(0o644)
    project = outside / "project"
    project.mkdir()
    (project / "course_module.py").write_text("VALUE = 42\n")
    project.chmod(0o755)
    (project / "course_module.py").chmod(0o644)
    monkeypatch.setattr(sandbox, "_grader_home", lambda: str(outside))
    code = f"""
        import json, os, course_module
        print(json.dumps([sorted(os.listdir({str(outside)!r})), course_module.VALUE]))
    """
    result = run(code, workdir, pythonpath=[project])

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [["project"], 42]


@pytest.mark.skipif(not AS_ROOT, reason="dropping to nobody needs a root grader")
def test_root_grader_runs_child_as_nobody(workdir, namespaces):
    secret = Path(workdir, "root-only.txt")
    secret.write_text("ROOT-ONLY")
    secret.chmod(0o600)
    code = """
        import os
        print(os.getuid(), os.getgid(), os.getgroups())
        try:
            print(open("root-only.txt").read())
        except PermissionError:
            print("denied")
        open("output.txt", "w").write("made by the child")
    """
    result = run(code, workdir)

    assert result.isolation == sandbox.NAMESPACES_AS_NOBODY
    assert result.stdout.splitlines() == [f"{NOBODY} {NOBODY} []", "denied"]
    assert Path(workdir, "output.txt").stat().st_uid == NOBODY


def _system_python():
    """A Python >= 3.11 that user nobody can run, or None."""
    for candidate in ("/usr/bin/python3", "/usr/local/bin/python3"):
        if not os.access(candidate, os.X_OK):
            continue
        check = subprocess.run(
            [candidate, "-c", "import sys; assert sys.version_info >= (3, 11)"],
            user=NOBODY,
            group=NOBODY,
            extra_groups=[],
            cwd="/",
            capture_output=True,
        )
        if check.returncode == 0:
            return candidate
    return None


@pytest.mark.skipif(not AS_ROOT, reason="switching to nobody needs a root grader")
def test_basic_level_as_root_still_drops_to_nobody(workdir):
    python = _system_python()
    if python is None:
        pytest.skip("no Python >= 3.11 that user nobody can run")
    code = "import os; print(os.getuid())"
    result = run(code, workdir, isolation="basic", python=python)

    assert result.isolation == sandbox.BASIC_AS_NOBODY
    assert result.stdout.strip() == str(NOBODY)


NESTED_GRADER = """
import json, shutil, socket, sys, tempfile
from grader.sandbox import run_isolated

probe = '''
import os, socket, sys
try:
    socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=2)
    print("connected")
except OSError:
    print("no network")
for target in sys.argv[2:]:
    try:
        open(target, "w").write("x")
        print("wrote", target)
    except OSError:
        print("refused", target)
'''
workdir = tempfile.mkdtemp()
with socket.create_server(("127.0.0.1", 0)) as server:
    port = server.getsockname()[1]
    result = run_isolated(
        [sys.executable, "-c", probe, str(port), *sys.argv[1:]],
        workdir=workdir,
        time_limit=10,
        memory_limit=512 << 20,
        file_size_limit=1 << 20,
        output_limit=10_000,
    )
shutil.rmtree(workdir)
print(json.dumps({"isolation": result.isolation, "stdout": result.stdout,
                  "stderr": result.stderr, "reasons": result.fallback_reasons}))
"""


@pytest.mark.skipif(not AS_ROOT, reason="needs root to act as an unprivileged grader")
def test_unprivileged_grader_gets_user_namespaces(outside):
    python = _system_python()
    if python is None:
        pytest.skip("no Python >= 3.11 that user nobody can run")
    target = outside / "escape.txt"
    grader = subprocess.run(
        [python, "-c", NESTED_GRADER, str(target)],
        user=NOBODY,
        group=NOBODY,
        extra_groups=[],
        cwd="/",
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert grader.returncode == 0, grader.stderr
    report = json.loads(grader.stdout)
    if report["isolation"] != sandbox.NAMESPACES:
        pytest.skip(f"unprivileged namespaces unavailable: {report['reasons']}")

    assert report["stdout"].splitlines() == ["no network", f"refused {target}"]
    assert not target.exists()


def test_basic_isolation_can_be_forced(workdir):
    result = run("import sys; sys.exit(3)", workdir, isolation="basic")

    assert result.isolation in (sandbox.BASIC_AS_NOBODY, sandbox.BASIC)
    assert result.returncode == 3


def test_failed_namespace_setup_falls_back_and_runs_once(workdir, monkeypatch):
    # An invalid clone flag makes unshare() fail inside the bootstrap, as it does
    # in containers that forbid namespaces.
    monkeypatch.setattr(sandbox, "_OUTER_FLAGS_ROOT", sandbox._OUTER_FLAGS_ROOT | 1)
    monkeypatch.setattr(sandbox, "_OUTER_FLAGS_USER", sandbox._OUTER_FLAGS_USER | 1)
    code = "open('runs.txt', 'a').write('ran\\n'); raise SystemExit(4)"
    result = run(code, workdir)

    assert result.isolation in (sandbox.BASIC_AS_NOBODY, sandbox.BASIC)
    assert result.fallback_reasons[0].startswith("namespaces")
    assert "unshare" in result.fallback_reasons[0]
    assert result.returncode == 4
    assert Path(workdir, "runs.txt").read_text() == "ran\n"


def test_command_killing_its_supervisor_is_the_commands_failure(workdir):
    # Possible only without namespaces, when the command shares the supervisor's
    # uid; it must end the run as a failure of the command, not of the sandbox.
    code = """
        import os, signal, time
        os.kill(os.getppid(), signal.SIGKILL)
        time.sleep(30)
    """
    result = run(code, workdir, isolation="basic")

    assert result.setup_error is None
    assert result.returncode == -signal.SIGKILL
    assert "supervisor ended during the run" in result.stderr
    assert result.wall_time < 10.0  # generous: the machine may be busy


def test_runs_from_several_threads_at_once(workdir):
    results = {}

    def one(number):
        folder = Path(workdir, str(number))
        folder.mkdir()
        results[number] = run(f"import sys; sys.exit({number})", folder)

    threads = [threading.Thread(target=one, args=(n,)) for n in range(1, 5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert {n: r.returncode for n, r in results.items()} == {1: 1, 2: 2, 3: 3, 4: 4}


# ---------------------------------------------------------------------------
# arguments


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"time_limit": -1}, ValueError),
        ({"time_limit": float("nan")}, ValueError),
        ({"memory_limit": 0}, ValueError),
        ({"memory_limit": 1.5}, TypeError),
        ({"file_size_limit": -5}, ValueError),
        ({"output_limit": True}, TypeError),
        ({"cpu_time_limit": 0}, ValueError),
        ({"threads": 0}, ValueError),
        ({"isolation": "strong"}, ValueError),
        ({"stdin_data": "text"}, TypeError),
        ({"env": {"A": 1}}, TypeError),
        ({"hide_paths": "/etc"}, TypeError),
    ],
)
def test_bad_arguments_are_rejected(workdir, change, error):
    arguments = {
        "workdir": workdir,
        "time_limit": 1.0,
        "memory_limit": 100 * MIB,
        "file_size_limit": MIB,
        "output_limit": 1000,
    }
    arguments.update(change)
    with pytest.raises(error, match=next(iter(change))):
        run_isolated([sys.executable, "-c", "pass"], **arguments)


def test_bad_workdir_argv_and_hide_paths_are_rejected(workdir):
    limits = {"time_limit": 1.0, "memory_limit": 100 * MIB}
    limits |= {"file_size_limit": MIB, "output_limit": 1000}
    with pytest.raises(ValueError, match="workdir"):
        run_isolated(["true"], workdir=Path(workdir, "missing"), **limits)
    with pytest.raises(ValueError, match="argv"):
        run_isolated([], workdir=workdir, **limits)
    with pytest.raises(TypeError, match="argv"):
        run_isolated("python", workdir=workdir, **limits)
    with pytest.raises(ValueError, match="not found"):
        run_isolated(["no-such-program-here"], workdir=workdir, **limits)
    with pytest.raises(ValueError, match="would hide"):
        run_isolated(
            ["true"], workdir=workdir, hide_paths=[Path(workdir).parent], **limits
        )
