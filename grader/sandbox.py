"""Run one command under resource limits and the strongest isolation available.

The grader trains each submission in a child process started through
:func:`run_isolated`: the child gets a wall-clock limit that kills everything it
started, resource limits (address space, CPU time, file size, open files, core
dumps, processes), a capped capture of its output, a fresh working folder and a
minimal environment. On Linux, when the kernel allows it, the child also runs in
new mount, network and PID namespaces (inside a new user namespace when the grader
is not root): no network, the file system read-only except its working folder and
a private /tmp, the grader's home and chosen paths hidden, and no process
surviving the run. When the grader runs as root the child drops to ``nobody``.

Which of these protections held is reported in :attr:`RunResult.isolation`, one of
``ISOLATION_LEVELS`` (strongest first):

``"namespaces+nobody"``
    Root grader: mount, network, PID, IPC and UTS namespaces, user ``nobody``.
``"namespaces"``
    Non-root grader: the same namespaces inside an unprivileged user namespace;
    the child keeps the grader's uid but no capabilities.
``"basic+nobody"``
    Root grader without namespaces: limits, minimal environment, user ``nobody``.
``"basic"``
    Limits and minimal environment only; the child has the grader's uid (possibly
    root). ``hide_paths`` and the read-only file system are not enforced.

With ``isolation="auto"`` each level is tried from the strongest down; a level whose
setup fails (no namespaces in a container, ``nobody`` unable to reach the
interpreter, ...) is retried at the next one before the command ever starts, so the
command runs exactly once.

The child-side work (namespaces, mounts, limits, dropping privileges) is done by
:mod:`grader._bootstrap`, a standalone script started as the first stage of the
child, so nothing runs between ``fork`` and ``exec`` in the grader and
:func:`run_isolated` is safe to call from several threads at once.

What this module leaves out: it decides neither what to run nor what the command's
output means; it sets no cgroup limits (memory is bounded as address space, not as
resident memory; the total size written into the working folder is not bounded);
and it filters no system calls.
"""

import dataclasses
import grp
import json
import logging
import math
import os
import pwd
import selectors
import shutil
import signal
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from grader._bootstrap import SPEC_VARIABLE

__all__ = ["ISOLATION_LEVELS", "RunResult", "run_isolated"]

logger = logging.getLogger(__name__)

NAMESPACES_AS_NOBODY = "namespaces+nobody"
NAMESPACES = "namespaces"
BASIC_AS_NOBODY = "basic+nobody"
BASIC = "basic"
ISOLATION_LEVELS = (NAMESPACES_AS_NOBODY, NAMESPACES, BASIC_AS_NOBODY, BASIC)

_BOOTSTRAP = Path(__file__).with_name("_bootstrap.py")
_SAFE_PATH = "/usr/local/bin:/usr/bin:/bin"
_THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
)

# Values from <sched.h>; the supervisor creates the user and PID namespaces (it
# must own them), the runner the others, so the supervisor's own view is untouched.
_CLONE_NEWNS = 0x00020000
_CLONE_NEWUTS = 0x04000000
_CLONE_NEWIPC = 0x08000000
_CLONE_NEWUSER = 0x10000000
_CLONE_NEWPID = 0x20000000
_CLONE_NEWNET = 0x40000000
_OUTER_FLAGS_ROOT = _CLONE_NEWPID
_OUTER_FLAGS_USER = _CLONE_NEWUSER | _CLONE_NEWPID
_INNER_FLAGS = _CLONE_NEWNS | _CLONE_NEWNET | _CLONE_NEWIPC | _CLONE_NEWUTS

_NOBODY_FALLBACK_ID = 65534
_TMPFS_MIN = 1 << 20
_TMPFS_MAX = 64 << 20
_READ_CHUNK = 1 << 16
_STDIN_CHUNK = 1 << 20
_BACKSTOP_SECONDS = 5.0  # the supervisor kills at the limit; this is for a stuck one
_DRAIN_SECONDS = 2.0

_MEMORY_MARKERS = ("MemoryError", "Cannot allocate memory", "bad_alloc")
_FILE_SIZE_MARKERS = ("File too large", "[Errno 27]")

_warned = set()
_warned_lock = threading.Lock()


@dataclasses.dataclass(frozen=True)
class RunResult:
    """What happened to one command run by :func:`run_isolated`.

    Attributes
    ----------
    returncode : int or None
        Exit status; minus the signal number when a signal ended the command, as in
        :mod:`subprocess`; None when the command never started (see
        ``setup_error``).
    signal : str or None
        Name of the signal that ended the command, such as ``"SIGKILL"``.
    timed_out : bool
        The wall-clock limit was reached and every process of the run was killed.
    memory_exceeded : bool
        Best effort. True when stderr shows an allocation failure
        (``MemoryError``, "Cannot allocate memory", ``std::bad_alloc``), which is
        what hitting the address-space limit does to Python and numpy code. Not
        detected: C code that crashes (SIGSEGV) on a failed allocation it did not
        check, and the kernel's out-of-memory killer (a plain SIGKILL); both look
        like any other signal here.
    cpu_time_exceeded : bool
        The command got SIGXCPU, or SIGKILL after using the CPU-time limit.
    file_size_exceeded : bool
        The command got SIGXFSZ, or stderr shows EFBIG ("File too large"), which
        is what Python reports since it ignores SIGXFSZ.
    wall_time : float
        Seconds from starting the sandbox to the end of the run.
    cpu_time : float or None
        User plus system CPU seconds of the command and of the children it waited
        for; None when unknown.
    peak_rss : int or None
        Largest resident set size in bytes of the command or of a child it waited
        for (from ``wait4``); None when unknown.
    stdout, stderr : str
        Captured output, decoded as UTF-8 with replacement characters: the first
        and the last part, with a line saying how many bytes were left out.
    stdout_dropped, stderr_dropped : int
        Number of bytes left out of ``stdout`` and ``stderr``.
    isolation : str
        The level that was in force, one of ``ISOLATION_LEVELS``.
    setup_error : str or None
        Why the sandbox could not start the command, when ``returncode`` is None.
    fallback_reasons : tuple of str
        Why each stronger isolation level could not be used, strongest first;
        empty when the first level tried worked.
    """

    returncode: int | None
    signal: str | None
    timed_out: bool
    memory_exceeded: bool
    cpu_time_exceeded: bool
    file_size_exceeded: bool
    wall_time: float
    cpu_time: float | None
    peak_rss: int | None
    stdout: str
    stderr: str
    stdout_dropped: int
    stderr_dropped: int
    isolation: str
    setup_error: str | None = None
    fallback_reasons: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class _Job:
    """Validated arguments of one run, shared by every isolation attempt."""

    argv: list[str]
    workdir: str
    env: dict[str, str]
    time_limit: float
    cpu_time_limit: float
    memory_limit: int
    file_size_limit: int
    output_limit: int
    open_files_limit: int
    process_limit: int
    stdin_data: memoryview | None
    hide_paths: list[str]
    needed_paths: list[str]


@dataclasses.dataclass(frozen=True)
class _Attempt:
    """Outcome of one try: a result, or the reason the sandbox did not start."""

    result: RunResult | None = None
    setup_error: str | None = None


def run_isolated(
    argv: Sequence[str],
    *,
    workdir: str | os.PathLike,
    time_limit: float,
    memory_limit: int,
    cpu_time_limit: float | None = None,
    file_size_limit: int,
    output_limit: int,
    stdin_data: bytes | bytearray | memoryview | None = None,
    hide_paths: Iterable[str | os.PathLike] = (),
    pythonpath: Iterable[str | os.PathLike] = (),
    env: Mapping[str, str] | None = None,
    threads: int = 1,
    open_files_limit: int = 256,
    process_limit: int = 256,
    isolation: str = "auto",
) -> RunResult:
    """Run ``argv`` in a sandbox and report how it ended.

    Parameters
    ----------
    argv : sequence of str
        The command, e.g. ``[sys.executable, "-m", "grader.child", ...]``. A bare
        program name is looked up on the child's PATH.
    workdir : path-like
        Existing folder, the command's working folder, HOME and TMPDIR; the only
        place it can write to (besides a private /tmp) under namespace isolation.
        Handed to ``nobody`` when the command runs as that user.
    time_limit : float
        Wall-clock seconds, counted from the start of the sandbox. When reached,
        every process of the run is killed.
    memory_limit : int
        Address-space limit in bytes (RLIMIT_AS and RLIMIT_DATA) of each process.
    cpu_time_limit : float, optional
        CPU seconds (RLIMIT_CPU, whole seconds, rounded up) of each process.
        Default: ``threads * time_limit``, a backstop that the wall-clock limit
        normally reaches first.
    file_size_limit : int
        Largest file in bytes the command may write (RLIMIT_FSIZE); also the size
        of the private /tmp and /dev/shm, clamped to 1-64 MiB.
    output_limit : int
        Bytes of stdout, and separately of stderr, to keep: the first quarter and
        the last three quarters of the stream.
    stdin_data : bytes-like, optional
        Fed to the command's stdin, then closed; an empty stdin when omitted. A
        command that exits without reading it all is not an error.
    hide_paths : iterable of path-like
        Files and folders the command must not read: folders are covered by an
        empty unreadable file system, files by /dev/null. Enforced only under
        namespace isolation. Paths that do not exist are ignored.
    pythonpath : iterable of path-like
        Folders for the command's PYTHONPATH (the only entries it gets), kept
        readable by the command under namespace isolation.
    env : mapping of str to str, optional
        Extra environment variables, added last (they may override the defaults).
    threads : int
        Value of OMP_NUM_THREADS, OPENBLAS_NUM_THREADS, MKL_NUM_THREADS,
        NUMEXPR_NUM_THREADS and VECLIB_MAXIMUM_THREADS.
    open_files_limit : int
        RLIMIT_NOFILE of the command.
    process_limit : int
        RLIMIT_NPROC, applied only when the command runs as ``nobody``: the limit
        counts every process of the user, so it would count the grader's own
        otherwise. It is shared by all commands running as ``nobody`` at once.
    isolation : {"auto", "basic"}
        ``"auto"`` tries the strongest level first; ``"basic"`` skips namespaces.

    Returns
    -------
    RunResult
        Never raised from: whatever the command does, or when no isolation level
        can start it (then ``returncode`` is None and ``setup_error`` says why).

    Raises
    ------
    TypeError, ValueError
        For arguments of the wrong type or value: a negative or zero limit, a
        missing working folder, an unknown isolation mode, an empty argv, ...
    OSError
        Only when the grader itself cannot start a process (no memory, no pids).

    Notes
    -----
    The environment is built from scratch: PATH, HOME and TMPDIR (the working
    folder), LANG and LC_ALL (C.UTF-8), PYTHONHASHSEED=0, PYTHONDONTWRITEBYTECODE=1,
    PYTHONNOUSERSITE=1, PYTHONSAFEPATH=1 (so neither the working folder nor a
    user site folder can shadow the modules of a later run), PYTHONPATH, the
    thread variables, then ``env``. Nothing else of the grader's environment is
    passed on.
    """
    job = _validate(
        argv,
        workdir=workdir,
        time_limit=time_limit,
        memory_limit=memory_limit,
        cpu_time_limit=cpu_time_limit,
        file_size_limit=file_size_limit,
        output_limit=output_limit,
        stdin_data=stdin_data,
        hide_paths=hide_paths,
        pythonpath=pythonpath,
        env=env,
        threads=threads,
        open_files_limit=open_files_limit,
        process_limit=process_limit,
        isolation=isolation,
    )
    levels = _candidate_levels(isolation, as_root=os.geteuid() == 0)
    failures = []
    for level in levels:
        attempt = _attempt(job, level)
        if attempt.result is not None:
            _warn_about_weak_isolation(job, level, failures)
            return dataclasses.replace(attempt.result, fallback_reasons=tuple(failures))
        failures.append(f"{level}: {attempt.setup_error}")
        logger.info("sandbox level %s unavailable: %s", level, attempt.setup_error)

    return RunResult(
        returncode=None,
        signal=None,
        timed_out=False,
        memory_exceeded=False,
        cpu_time_exceeded=False,
        file_size_exceeded=False,
        wall_time=0.0,
        cpu_time=None,
        peak_rss=None,
        stdout="",
        stderr="",
        stdout_dropped=0,
        stderr_dropped=0,
        isolation=levels[-1],
        setup_error="; ".join(failures),
        fallback_reasons=tuple(failures),
    )


def _candidate_levels(isolation, *, as_root):
    if as_root:
        levels = [NAMESPACES_AS_NOBODY, BASIC_AS_NOBODY, BASIC]
    else:
        levels = [NAMESPACES, BASIC]
    if isolation == "basic":
        levels = [level for level in levels if not _uses_namespaces(level)]
    return levels


def _uses_namespaces(level):
    return level in (NAMESPACES_AS_NOBODY, NAMESPACES)


def _warn_about_weak_isolation(job, level, failures):
    if job.hide_paths and not _uses_namespaces(level):
        _warn_once("hide_paths not enforced at isolation level %s", level)
    if level == BASIC and os.geteuid() == 0 and failures:
        _warn_once(
            "the command ran as root: user nobody could not start it (%s)",
            failures[-1],
        )


def _warn_once(message, detail):
    with _warned_lock:
        first = message not in _warned
        _warned.add(message)
    if first:
        logger.warning(message, detail)
    else:
        logger.debug(message, detail)


# ---------------------------------------------------------------------------
# arguments


def _validate(argv, **arguments):
    """Check every argument at the public boundary and gather them in a _Job."""
    if isinstance(argv, str | bytes) or not isinstance(argv, Sequence):
        raise TypeError(f"argv must be a sequence of str, got {argv!r}")
    argv = list(argv)
    if not argv or not all(isinstance(part, str) for part in argv):
        raise ValueError(f"argv must be a non-empty sequence of str, got {argv!r}")
    isolation = arguments["isolation"]
    if isolation not in ("auto", "basic"):
        raise ValueError(f"isolation must be 'auto' or 'basic', got {isolation!r}")

    time_limit = _positive_number("time_limit", arguments["time_limit"])
    threads = _positive_int("threads", arguments["threads"])
    cpu_time_limit = arguments["cpu_time_limit"]
    if cpu_time_limit is None:
        cpu_time_limit = threads * time_limit
    cpu_time_limit = _positive_number("cpu_time_limit", cpu_time_limit)

    workdir = _existing_folder("workdir", arguments["workdir"])
    if workdir in ("/", "/tmp", "/dev/shm"):
        raise ValueError(f"workdir must be a folder of its own, got {workdir!r}")
    pythonpath = [
        _existing_folder("pythonpath entry", entry)
        for entry in _iterable("pythonpath", arguments["pythonpath"])
    ]
    env = _child_environment(workdir, threads, pythonpath, arguments["env"])
    argv[0] = _resolve_program(argv[0], env["PATH"])
    needed_paths = sorted(
        {workdir, *pythonpath, *_interpreter_paths(argv[0])},
        key=lambda path: (path.count("/"), path),
    )

    stdin_data = arguments["stdin_data"]
    if stdin_data is not None:
        if not isinstance(stdin_data, bytes | bytearray | memoryview):
            kind = type(stdin_data).__name__
            raise TypeError(f"stdin_data must be bytes-like or None, got {kind}")
        stdin_data = memoryview(stdin_data).cast("B")

    return _Job(
        argv=argv,
        workdir=workdir,
        env=env,
        time_limit=time_limit,
        cpu_time_limit=cpu_time_limit,
        memory_limit=_positive_int("memory_limit", arguments["memory_limit"]),
        file_size_limit=_positive_int("file_size_limit", arguments["file_size_limit"]),
        output_limit=_positive_int("output_limit", arguments["output_limit"]),
        open_files_limit=_positive_int(
            "open_files_limit", arguments["open_files_limit"]
        ),
        process_limit=_positive_int("process_limit", arguments["process_limit"]),
        stdin_data=stdin_data,
        hide_paths=_hide_paths(arguments["hide_paths"], needed_paths),
        needed_paths=needed_paths,
    )


def _existing_folder(name, value):
    path = os.path.realpath(_as_path(name, value))
    if not os.path.isdir(path):
        raise ValueError(f"{name} must be an existing folder, got {path!r}")
    return path


def _hide_paths(entries, needed_paths):
    """Absolute real paths to hide, none of them covering a path the command needs."""
    hide_paths = [
        os.path.realpath(_as_path("hide_paths entry", entry))
        for entry in _iterable("hide_paths", entries)
    ]
    for hidden in hide_paths:
        if hidden == "/":
            raise ValueError("hide_paths cannot contain '/'")
        for needed in needed_paths:
            if needed == hidden or needed.startswith(hidden + "/"):
                raise ValueError(
                    f"hide_paths entry {hidden!r} would hide {needed!r}, which the "
                    "command needs (its working folder, interpreter or PYTHONPATH)"
                )
    return hide_paths


def _as_path(name, value):
    if not isinstance(value, str | os.PathLike):
        raise TypeError(f"{name} must be a path, got {value!r}")
    path = os.fspath(value)
    if not isinstance(path, str) or not path or "\0" in path:
        raise ValueError(f"{name} must be a non-empty str path, got {value!r}")
    return path


def _iterable(name, value):
    if isinstance(value, str | bytes | os.PathLike) or not isinstance(value, Iterable):
        raise TypeError(f"{name} must be an iterable of paths, got {value!r}")
    return list(value)


def _positive_number(name, value):
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{name} must be a number, got {value!r}")
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return float(value)


def _positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {value!r}")
    if value <= 0:
        raise ValueError(f"{name} must be > 0, got {value!r}")
    return value


def _child_environment(workdir, threads, pythonpath, extra):
    env = {
        "PATH": _SAFE_PATH,
        "HOME": workdir,
        "TMPDIR": workdir,
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "PYTHONHASHSEED": "0",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONNOUSERSITE": "1",
        "PYTHONSAFEPATH": "1",
    }
    env.update(dict.fromkeys(_THREAD_VARIABLES, str(threads)))
    if pythonpath:
        env["PYTHONPATH"] = os.pathsep.join(pythonpath)
    if extra is not None:
        if not isinstance(extra, Mapping):
            raise TypeError(f"env must be a mapping of str to str, got {extra!r}")
        for name, value in extra.items():
            if not isinstance(name, str) or not isinstance(value, str):
                raise TypeError(f"env must map str to str, got {name!r}: {value!r}")
            if not name or "=" in name or "\0" in name or "\0" in value:
                raise ValueError(f"env has an invalid variable {name!r}: {value!r}")
            env[name] = value
    return env


def _resolve_program(program, search_path):
    """Absolute path of argv[0], looked up on the child's PATH if it is bare."""
    if "/" not in program:
        found = shutil.which(program, path=search_path)
        if found is None:
            raise ValueError(f"argv[0] {program!r} not found on {search_path}")
        program = found
    program = os.path.abspath(program)
    if not (os.path.isfile(program) and os.access(program, os.X_OK)):
        raise ValueError(f"argv[0] must be an executable file, got {program!r}")
    return program


def _interpreter_paths(program):
    """Folders the program needs to read: its own, and Python's prefixes if it is
    this interpreter (the standard library and site-packages live there)."""
    paths = {os.path.dirname(program), os.path.dirname(os.path.realpath(program))}
    if os.path.realpath(program) == os.path.realpath(sys.executable):
        prefixes = (sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix)
        paths.update(os.path.realpath(prefix) for prefix in prefixes)
    return {path for path in paths if os.path.isdir(path)}


# ---------------------------------------------------------------------------
# one attempt at one isolation level


def _attempt(job, level):
    """Start the bootstrap at ``level``, feed and drain it, and read its report."""
    user = _nobody() if level.endswith("+nobody") else None
    if user is not None:
        os.chown(job.workdir, *user)

    status_r, status_w = os.pipe()
    spec = {
        "argv": job.argv,
        "env": job.env,
        "workdir": job.workdir,
        "deadline": time.monotonic() + job.time_limit,
        "status_fd": status_w,
        "parent_pid": os.getpid(),
        "rlimits": _rlimits(job, user),
        "user": user,
        "namespaces": _namespace_plan(job, user) if _uses_namespaces(level) else None,
    }
    started_at = time.monotonic()
    try:
        process = subprocess.Popen(
            [sys.executable, "-I", str(_BOOTSTRAP)],
            stdin=subprocess.DEVNULL if job.stdin_data is None else subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            pass_fds=(status_w,),
            start_new_session=True,
            cwd="/",
            env={
                "PATH": _SAFE_PATH,
                "LC_ALL": "C.UTF-8",
                SPEC_VARIABLE: json.dumps(spec),
            },
            bufsize=0,
        )
    except BaseException:
        os.close(status_r)
        raise
    finally:
        os.close(status_w)

    exchange = _Exchange(process, status_r, job)
    exchange.run(backstop_at=started_at + job.time_limit + _BACKSTOP_SECONDS)
    wall_time = time.monotonic() - started_at
    supervisor_status = _reap(process)
    return _interpret(job, level, exchange, supervisor_status, wall_time)


def _nobody():
    """(uid, gid) of user nobody and group nogroup, by name when they exist."""
    try:
        uid = pwd.getpwnam("nobody").pw_uid
    except KeyError:
        uid = _NOBODY_FALLBACK_ID
    for group in ("nogroup", "nobody"):
        try:
            return [uid, grp.getgrnam(group).gr_gid]
        except KeyError:
            continue
    return [uid, _NOBODY_FALLBACK_ID]


def _rlimits(job, user):
    cpu = math.ceil(job.cpu_time_limit)
    limits = {
        "RLIMIT_AS": [job.memory_limit, job.memory_limit],
        "RLIMIT_DATA": [job.memory_limit, job.memory_limit],
        "RLIMIT_CPU": [cpu, cpu + 1],
        "RLIMIT_FSIZE": [job.file_size_limit, job.file_size_limit],
        "RLIMIT_CORE": [0, 0],
        "RLIMIT_NOFILE": [job.open_files_limit, job.open_files_limit],
    }
    if user is not None:
        limits["RLIMIT_NPROC"] = [job.process_limit, job.process_limit]
    return limits


def _namespace_plan(job, user):
    """What the runner must mount: private folders, re-exposed paths, hidden paths.

    /tmp and /dev/shm are covered by private, size-limited tmpfs. The grader's
    home folder (tokens, keys, configuration) is covered by an empty tmpfs, and so
    is, when the command runs as ``nobody``, a folder on the way to a path it
    needs but closed to it (such as /root holding a pyenv interpreter). Needed
    paths under a cover are bound back into it: the command reaches them without
    seeing anything else of that folder.
    """
    covers = {path: 0o1777 for path in ("/tmp", "/dev/shm") if os.path.isdir(path)}
    home = _grader_home()
    if home is not None and home not in job.needed_paths:
        covers.setdefault(home, 0o755)
    if user is not None:
        for path in job.needed_paths:
            closed = _first_closed_parent(path, *user)
            if closed is not None:
                covers.setdefault(closed, 0o755)
    outermost = [
        path
        for path in covers
        if not any(path.startswith(other + "/") for other in covers)
    ]
    tmpfs_size = min(max(job.file_size_limit, _TMPFS_MIN), _TMPFS_MAX)
    return {
        "outer_flags": _OUTER_FLAGS_ROOT if user is not None else _OUTER_FLAGS_USER,
        "inner_flags": _INNER_FLAGS,
        "map_ids": user is None,
        "covers": [{"path": path, "mode": covers[path]} for path in outermost],
        "keep": job.needed_paths,
        "hide": job.hide_paths,
        "writable": [job.workdir]
        + [path for path in outermost if covers[path] == 0o1777],
        "tmpfs_size": tmpfs_size,
    }


def _grader_home():
    """The grader user's home folder from the password database, or None."""
    try:
        home = os.path.realpath(pwd.getpwuid(os.geteuid()).pw_dir)
    except KeyError:
        return None
    return home if home != "/" and os.path.isdir(home) else None


def _first_closed_parent(path, uid, gid):
    """The outermost parent folder of ``path`` that uid/gid may not search."""
    for parent in reversed(Path(path).parents):
        if str(parent) == "/":
            continue
        info = os.stat(parent)
        if info.st_uid == uid:
            allowed = info.st_mode & stat.S_IXUSR
        elif info.st_gid == gid:
            allowed = info.st_mode & stat.S_IXGRP
        else:
            allowed = info.st_mode & stat.S_IXOTH
        if not allowed:
            return str(parent)
    return None


class _Capture:
    """Keeps the first and the last bytes of a stream and counts the rest."""

    def __init__(self, limit):
        self.head_limit = limit // 4
        self.tail_limit = limit - self.head_limit
        self.head = bytearray()
        self.tail = bytearray()
        self.total = 0

    def feed(self, data):
        self.total += len(data)
        room = self.head_limit - len(self.head)
        if room > 0:
            self.head += data[:room]
            data = data[room:]
        if data:
            self.tail += data
            del self.tail[: max(0, len(self.tail) - self.tail_limit)]

    @property
    def dropped(self):
        return self.total - len(self.head) - len(self.tail)

    def text(self):
        head = self.head.decode("utf-8", errors="replace")
        tail = self.tail.decode("utf-8", errors="replace")
        if not self.dropped:
            return head + tail
        return f"{head}\n[... {self.dropped} bytes dropped ...]\n{tail}"


class _Exchange:
    """Feeds stdin and drains stdout, stderr and the status pipe in one loop.

    Everything is non-blocking and multiplexed with a selector, so a command that
    writes megabytes never blocks on a full pipe, and one that stops reading its
    stdin never blocks the grader.
    """

    def __init__(self, process, status_r, job):
        self.process = process
        self.status_r = status_r
        self.stdout = _Capture(job.output_limit)
        self.stderr = _Capture(job.output_limit)
        self.messages = []
        self.killed = False
        self._status_bytes = b""
        self._stdin = job.stdin_data
        self._stdin_offset = 0
        self._command_pid = None

    def run(self, *, backstop_at):
        selector = selectors.DefaultSelector()
        sinks = {
            self.process.stdout.fileno(): self.stdout.feed,
            self.process.stderr.fileno(): self.stderr.feed,
            self.status_r: self._feed_status,
        }
        for fd, sink in sinks.items():
            os.set_blocking(fd, False)
            selector.register(fd, selectors.EVENT_READ, sink)
        if self.process.stdin is not None:
            os.set_blocking(self.process.stdin.fileno(), False)
            selector.register(self.process.stdin.fileno(), selectors.EVENT_WRITE)

        status_closed_at = killed_at = None
        while selector.get_map():
            if status_closed_at is not None:
                stop_at = status_closed_at + _DRAIN_SECONDS
            elif killed_at is not None:
                stop_at = killed_at + _DRAIN_SECONDS
            else:
                stop_at = backstop_at
            now = time.monotonic()
            if now >= stop_at:
                if status_closed_at is not None or killed_at is not None:
                    break
                self._kill()
                killed_at = now
                continue

            for key, _ in selector.select(stop_at - now):
                if key.fd not in selector.get_map():
                    continue  # closed earlier in this round
                if key.data is None:
                    self._write_stdin(selector)
                    continue
                data = os.read(key.fd, _READ_CHUNK)
                if data:
                    key.data(data)
                    continue
                selector.unregister(key.fd)
                if key.fd == self.status_r:
                    status_closed_at = time.monotonic()
                    self._close_stdin(selector)

        self._close_stdin(selector)
        selector.close()
        self.process.stdout.close()
        self.process.stderr.close()
        os.close(self.status_r)

    def _feed_status(self, data):
        self._status_bytes += data
        while b"\n" in self._status_bytes:
            line, self._status_bytes = self._status_bytes.split(b"\n", 1)
            try:
                message = json.loads(line)
                event = message["event"]
            except (ValueError, TypeError, KeyError):
                logger.warning("ignoring a malformed sandbox status line %r", line)
                continue
            self.messages.append(message)
            if event == "started" and self._command_pid is None:
                self._command_pid = message.get("pid")

    def _write_stdin(self, selector):
        chunk = self._stdin[self._stdin_offset : self._stdin_offset + _STDIN_CHUNK]
        try:
            self._stdin_offset += os.write(self.process.stdin.fileno(), chunk)
        except BlockingIOError:
            return
        except OSError:
            # BrokenPipeError and friends: the command stopped reading, its business.
            self._close_stdin(selector)
            return
        if self._stdin_offset >= len(self._stdin):
            self._close_stdin(selector)

    def _close_stdin(self, selector):
        stdin = self.process.stdin
        if stdin is None or stdin.closed:
            return
        selector.unregister(stdin.fileno())
        stdin.close()

    def _kill(self):
        """Last resort when the supervisor missed its own deadline."""
        self.killed = True
        targets = [(os.killpg, self.process.pid)]
        if self._command_pid is not None:
            targets.insert(0, (os.kill, self._command_pid))
        for kill, pid in targets:
            try:
                kill(pid, signal.SIGKILL)
            except OSError:
                pass


def _reap(process):
    """Wait for the supervisor, kill what is left of its group, return its status.

    The supervisor is waited for without being reaped first (WNOWAIT), so its
    process group id cannot be reused by an unrelated process while we kill the
    group. Returns the raw wait status, or a SIGKILL status if something else in
    the grader reaped the supervisor first.
    """
    give_up = time.monotonic() + _DRAIN_SECONDS
    flags = os.WEXITED | os.WNOHANG | os.WNOWAIT
    try:
        while os.waitid(os.P_PID, process.pid, flags) is None:
            if time.monotonic() > give_up:
                os.killpg(process.pid, signal.SIGKILL)
                give_up = math.inf
            time.sleep(0.005)
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except OSError:
            pass
        _, wait_status, _ = os.wait4(process.pid, 0)
    except ChildProcessError:
        logger.warning("sandbox supervisor %d was reaped elsewhere", process.pid)
        wait_status = int(signal.SIGKILL)
    process.returncode = os.waitstatus_to_exitcode(wait_status)
    return wait_status


def _interpret(job, level, exchange, supervisor_status, wall_time):
    """Turn the status messages into a RunResult, or a setup error to retry."""
    events = {message["event"]: message for message in exchange.messages}
    started = "started" in events
    finished = events.get("finished")
    stderr = exchange.stderr.text()

    if finished is None and not started:
        if "setup_failed" in events:
            failure = events["setup_failed"]
            error = f"{failure.get('stage')}: {failure.get('error')}"
        else:
            error = (
                f"the sandbox supervisor ended unexpectedly (wait status "
                f"{supervisor_status}): {stderr.strip()[-500:]}"
            )
        return _Attempt(setup_error=error)

    if finished is None:
        # Either our backstop killed everything, or the supervisor died under the
        # command, which only a command sharing its uid (basic level) can do.
        # Both are the run's doing; report how the supervisor ended.
        wait_status = int(signal.SIGKILL) if exchange.killed else supervisor_status
        cpu_time = peak_rss = None
        timed_out = exchange.killed
        if not exchange.killed:
            stderr += (
                "\n[sandbox: the supervisor ended during the run; the command's "
                "own exit status is unknown]\n"
            )
    else:
        wait_status = finished["status"]
        cpu_time = finished.get("cpu_time")
        peak_rss = finished.get("maxrss_kb")
        peak_rss = None if peak_rss is None else peak_rss * 1024
        timed_out = finished["timed_out"] or exchange.killed

    returncode = os.waitstatus_to_exitcode(wait_status)
    signal_number = -returncode if returncode < 0 else None
    signal_name = _signal_name(signal_number)
    cpu_limit = math.ceil(job.cpu_time_limit)
    cpu_time_exceeded = signal_name == "SIGXCPU" or (
        signal_name == "SIGKILL"
        and not timed_out
        and cpu_time is not None
        and cpu_time >= cpu_limit
    )
    return _Attempt(
        result=RunResult(
            returncode=returncode,
            signal=signal_name,
            timed_out=timed_out,
            memory_exceeded=any(marker in stderr for marker in _MEMORY_MARKERS),
            cpu_time_exceeded=cpu_time_exceeded,
            file_size_exceeded=signal_name == "SIGXFSZ"
            or any(marker in stderr for marker in _FILE_SIZE_MARKERS),
            wall_time=wall_time,
            cpu_time=cpu_time,
            peak_rss=peak_rss,
            stdout=exchange.stdout.text(),
            stderr=stderr,
            stdout_dropped=exchange.stdout.dropped,
            stderr_dropped=exchange.stderr.dropped,
            isolation=level,
        )
    )


def _signal_name(number):
    if number is None:
        return None
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"
