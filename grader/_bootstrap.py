"""Trusted first stage of a sandboxed run; started only by :mod:`grader.sandbox`.

:func:`grader.sandbox.run_isolated` starts this file as
``python -I _bootstrap.py`` with a JSON spec in the environment variable named by
``SPEC_VARIABLE``. It imports nothing from the project and only the standard library,
so what the command's PYTHONPATH holds cannot change how the sandbox is built.

Three processes take part:

supervisor
    This script's first process. It stays outside the sandbox, becomes the
    subreaper of everything below it, optionally creates the user and PID
    namespaces, enforces the wall-clock deadline, kills whatever is left when the
    run ends, and writes JSON lines on the status pipe to the grader.
runner
    Forked by the supervisor. Without namespaces it simply becomes the command.
    With namespaces it creates the mount, network, IPC and UTS namespaces, builds
    the read-only file system view, and stays behind as PID 1 of the new PID
    namespace: it forks the command, reaps orphans, and reports the command's exit.
    When it ends, the kernel kills every process left in the namespace.
command
    Sets resource limits, drops to the sandbox user when asked, and ``execve``\\ s
    the real argv with the minimal environment.

Status lines (one JSON object each) sent to the grader:
``{"event": "setup_failed", "stage": ..., "error": ...}`` when the sandbox could not
be built (the command never ran, the grader may retry with weaker isolation);
``{"event": "started", "pid": ...}`` once ``execve`` succeeded;
``{"event": "finished", "status": ..., "timed_out": ..., "maxrss_kb": ...,
"cpu_time": ...}`` at the end, ``status`` being a raw wait status.

What this file does not do: it sets no cgroup limits, filters no system calls, and
cannot bound the total disk space written into the working folder.
"""

import ctypes
import json
import os
import re
import resource
import select
import signal
import sys
import time

SPEC_VARIABLE = "GRADER_SANDBOX_SPEC"

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_REMOUNT = 0x20
MS_NOATIME = 0x400
MS_NODIRATIME = 0x800
MS_BIND = 0x1000
MS_REC = 0x4000
MS_PRIVATE = 0x40000
MS_RELATIME = 0x200000
MS_STRICTATIME = 0x1000000

PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38

# Per-mount options that a bind remount must repeat: inside a user namespace the
# kernel locks them and refuses (EPERM) a remount that would drop one.
OPTION_FLAGS = {
    "nosuid": MS_NOSUID,
    "nodev": MS_NODEV,
    "noexec": MS_NOEXEC,
    "noatime": MS_NOATIME,
    "nodiratime": MS_NODIRATIME,
    "relatime": MS_RELATIME,
}

SETUP_FAILED_EXIT = 121
MAX_MESSAGE = 3000  # keeps every status line below PIPE_BUF, so writes stay atomic
SWEEP_SECONDS = 2.0

libc = ctypes.CDLL(None, use_errno=True)
libc.mount.argtypes = [
    ctypes.c_char_p,
    ctypes.c_char_p,
    ctypes.c_char_p,
    ctypes.c_ulong,
    ctypes.c_char_p,
]
libc.unshare.argtypes = [ctypes.c_int]
libc.prctl.argtypes = [ctypes.c_int] + [ctypes.c_ulong] * 4


class SetupError(Exception):
    """The sandbox could not be built; ``stage`` says which step failed."""

    def __init__(self, stage, error):
        super().__init__(f"{stage}: {error}")
        self.stage = stage
        self.error = str(error)[:MAX_MESSAGE]


def check(result, what):
    """Raise OSError with errno when a libc call returned -1."""
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def encode(value):
    return None if value is None else os.fsencode(value)


def mount(source, target, fstype, flags, data=None):
    result = libc.mount(
        encode(source), encode(target), encode(fstype), flags, encode(data)
    )
    check(result, f"mount {target}")


def prctl(option, value):
    # The unused arguments must be zero, or some options fail with EINVAL.
    check(libc.prctl(option, value, 0, 0, 0), f"prctl {option}")


def send(fd, **message):
    """Write one status line; a vanished reader is not our problem to report."""
    try:
        os.write(fd, (json.dumps(message, default=str) + "\n").encode())
    except OSError:
        pass


def quiet_standard_streams():
    """Point fds 0-2 at /dev/null so only the command holds the grader's pipes."""
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.close(null)


# ---------------------------------------------------------------------------
# supervisor


def main():
    spec = json.loads(os.environ.pop(SPEC_VARIABLE))
    status = spec["status_fd"]
    os.set_inheritable(status, False)

    # Die with the grader, and adopt every orphan the command leaves behind.
    prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != spec["parent_pid"]:
        os._exit(SETUP_FAILED_EXIT)
    prctl(PR_SET_CHILD_SUBREAPER, 1)

    namespaces = spec["namespaces"]
    if namespaces is not None:
        try:
            enter_outer_namespaces(namespaces)
        except OSError as exc:
            send(status, event="setup_failed", stage="unshare", error=exc)
            os._exit(SETUP_FAILED_EXIT)
    else:
        # Without namespaces the command may share our uid: keep it out of
        # /proc/<our pid>/fd, where it could write to the grader's status pipe.
        # (The runner inherits this, and execve resets it for the command.)
        prctl(PR_SET_DUMPABLE, 0)

    report_r, report_w = os.pipe()
    supervisor = os.getpid()
    runner = os.fork()
    if runner == 0:
        try:
            os.close(report_r)
            os.close(status)
            run(spec, report_w, supervisor)
        except BaseException as exc:
            send(report_w, event="setup_failed", stage="runner", error=repr(exc))
        finally:
            os._exit(SETUP_FAILED_EXIT)
    os.close(report_w)
    quiet_standard_streams()

    outcome = supervise(spec, runner, report_r, status)
    sweep_descendants()
    if outcome is not None:
        send(status, event="finished", **outcome)
    os._exit(0)


def enter_outer_namespaces(namespaces):
    """Create the namespaces the supervisor itself must own (user, PID)."""
    uid, gid = os.getuid(), os.getgid()
    check(libc.unshare(namespaces["outer_flags"]), "unshare")
    if namespaces["map_ids"]:
        # Unprivileged: map only our own ids, and setgroups must be denied first.
        for name, text in (
            ("setgroups", "deny"),
            ("uid_map", f"{uid} {uid} 1\n"),
            ("gid_map", f"{gid} {gid} 1\n"),
        ):
            with open(f"/proc/self/{name}", "w") as handle:
                handle.write(text)


def supervise(spec, runner, report_r, status):
    """Follow the runner until it ends or the deadline passes.

    Returns the "finished" message fields, or None after a setup failure (already
    reported).
    """
    in_namespace = spec["namespaces"] is not None
    pending = b""
    started = False
    report = None
    timed_out = False
    try:
        pidfd = os.pidfd_open(runner)
    except (AttributeError, OSError):
        pidfd = None

    while True:
        remaining = spec["deadline"] - time.monotonic()
        if remaining <= 0:
            timed_out = True
            os.kill(runner, signal.SIGKILL)
            break
        watched = [report_r] if report_r is not None else []
        if pidfd is not None:
            watched.append(pidfd)
        timeout = remaining if pidfd is not None else min(remaining, 0.02)
        readable, _, _ = select.select(watched, [], [], timeout)

        if report_r in readable:
            chunk = os.read(report_r, 65536)
            if chunk:
                pending += chunk
            else:
                os.close(report_r)
                report_r = None
                if not started and not in_namespace:
                    # The runner's copy of the pipe closed on execve: the command runs.
                    started = True
                    send(status, event="started", pid=runner)
            while b"\n" in pending:
                line, pending = pending.split(b"\n", 1)
                message = json.loads(line)
                if message["event"] == "setup_failed":
                    os.write(status, line + b"\n")
                    os.kill(runner, signal.SIGKILL)
                    os.waitpid(runner, 0)
                    return None
                if message["event"] == "started":
                    started = True
                    send(status, event="started", pid=runner)
                elif message["event"] == "finished":
                    report = message
        if report_r is None and runner_ended(runner, pidfd, readable):
            break

    _, wait_status, usage = os.wait4(runner, 0)
    if not started and not timed_out:
        send(
            status,
            event="setup_failed",
            stage="runner",
            error=f"the runner ended before the command started (wait status "
            f"{wait_status})",
        )
        return None
    if report is not None:
        return {
            "status": report["status"],
            "timed_out": timed_out,
            "maxrss_kb": report["maxrss_kb"],
            "cpu_time": report["cpu_time"],
        }
    if in_namespace:
        # Killed before it could report: the runner's own usage is not the command's.
        return {"status": wait_status, "timed_out": timed_out}
    return {
        "status": wait_status,
        "timed_out": timed_out,
        "maxrss_kb": usage.ru_maxrss,
        "cpu_time": usage.ru_utime + usage.ru_stime,
    }


def runner_ended(runner, pidfd, readable):
    if pidfd is not None:
        return pidfd in readable
    return os.waitid(os.P_PID, runner, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None


def sweep_descendants():
    """Kill and reap every process that is still our child.

    As subreaper we inherit every orphan of the command's tree, including those that
    left its process group with setsid(), so repeating "kill my children, reap them"
    until none are left ends the whole tree. Bounded in time in case something
    cannot die (a process stuck in the kernel).
    """
    me = os.getpid()
    give_up = time.monotonic() + SWEEP_SECONDS
    while time.monotonic() < give_up:
        children = children_of(me)
        for pid in children:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        reap_all()
        if not children:
            return
        time.sleep(0.005)


def children_of(parent):
    """Pids whose parent is ``parent``, read from /proc/<pid>/stat."""
    children = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as handle:
                stat = handle.read()
        except OSError:
            continue
        # The command name is in parentheses and may itself contain ") ".
        fields = stat[stat.rfind(b")") + 2 :].split()
        if int(fields[1]) == parent:
            children.append(int(name))
    return children


def reap_all():
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


# ---------------------------------------------------------------------------
# runner


def run(spec, report, supervisor):
    """Become the command, or build the namespaces and act as their init."""
    namespaces = spec["namespaces"]
    if namespaces is None:
        become_command(spec, report, supervisor)

    # The parent-death signal does not survive fork: without it, the runner and
    # the whole PID namespace would outlive a grader killed mid-run. (As PID 1
    # of the namespace it sees its parent as pid 0, so unlike become_command it
    # cannot check that the supervisor still lives; the window is one syscall.)
    prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    try:
        check(libc.unshare(namespaces["inner_flags"]), "unshare")
    except OSError as exc:
        fail(report, "unshare", exc)
    try:
        build_file_system(spec, namespaces)
    except SetupError as exc:
        fail(report, exc.stage, exc.error)
    except OSError as exc:
        fail(report, "mounts", exc)

    command_r, command_w = os.pipe()
    init = os.getpid()  # 1: the runner is the first process of the PID namespace
    command = os.fork()
    if command == 0:
        os.close(command_r)
        become_command(spec, command_w, init)
    os.close(command_w)
    for number in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGUSR1):
        signal.signal(number, signal.SIG_IGN)
    quiet_standard_streams()

    words = b""
    while chunk := os.read(command_r, 65536):
        words += chunk
    os.close(command_r)
    if words:
        # The command's own setup failed; pass its message on unchanged.
        os.write(report, words)
        os._exit(SETUP_FAILED_EXIT)
    send(report, event="started")

    while True:
        try:
            pid, wait_status, usage = os.wait4(-1, 0)
        except ChildProcessError:
            os._exit(0)
        if pid == command:
            break
    send(
        report,
        event="finished",
        status=wait_status,
        maxrss_kb=usage.ru_maxrss,
        cpu_time=usage.ru_utime + usage.ru_stime,
    )
    os._exit(0)


def fail(report, stage, error):
    send(report, event="setup_failed", stage=stage, error=str(error)[:MAX_MESSAGE])
    os._exit(SETUP_FAILED_EXIT)


def build_file_system(spec, namespaces):
    """Make the whole tree read-only except the working folder and private temps.

    Order matters: propagation is made private before anything else so nothing
    leaks back to the host; the paths to keep are opened before covering their
    parents so they can be bound back from the open handles; hiding comes after
    that so hidden paths inside re-exposed trees are covered too; the read-only pass
    comes last, once no more mount points need creating.
    """
    os.umask(0o022)
    workdir = spec["workdir"]
    stage = "private propagation"
    try:
        mount(None, "/", None, MS_REC | MS_PRIVATE)
        stage = "working folder"
        mount(workdir, workdir, None, MS_BIND | MS_REC)
        handles = [
            (path, os.open(path, os.O_PATH | os.O_CLOEXEC), os.path.isdir(path))
            for path in namespaces["keep"]
        ]
        stage = "private folders"
        covers = [cover["path"] for cover in namespaces["covers"]]
        for cover in namespaces["covers"]:
            options = f"mode={cover['mode']:o},size={namespaces['tmpfs_size']}"
            mount("tmpfs", cover["path"], "tmpfs", MS_NOSUID | MS_NODEV, options)
        stage = "re-exposing"
        for path, handle, is_dir in handles:
            if any(path.startswith(cover + "/") for cover in covers):
                make_mount_point(path, is_dir)
                mount(f"/proc/self/fd/{handle}", path, None, MS_BIND | MS_REC)
            os.close(handle)
        stage = "hiding"
        for path in namespaces["hide"]:
            hide(path)
        stage = "proc"
        mount_proc()
        stage = "read-only"
        make_read_only(namespaces["writable"])
    except OSError as exc:
        raise SetupError(stage, exc) from exc


def make_mount_point(path, is_dir):
    if is_dir:
        os.makedirs(path, mode=0o755, exist_ok=True)
        return
    os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o644))


def hide(path):
    """Cover ``path`` with an empty read-only tmpfs (folder) or /dev/null (file)."""
    if not os.path.lexists(path):
        return  # already out of sight, for instance under the private /tmp
    if os.path.isdir(path) and not os.path.islink(path):
        flags = MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC
        mount("tmpfs", path, "tmpfs", flags, "mode=0,size=4k,nr_inodes=4")
    else:
        mount(os.devnull, path, None, MS_BIND)


def mount_proc():
    """Mount a /proc that shows only this PID namespace.

    Where the kernel refuses (some containers mask parts of /proc), an empty tmpfs
    hides the outer one instead: the command must not read other processes'
    environment or command lines.
    """
    flags = MS_NOSUID | MS_NODEV | MS_NOEXEC
    try:
        mount("proc", "/proc", "proc", flags)
    except OSError:
        mount("tmpfs", "/proc", "tmpfs", flags | MS_RDONLY, "mode=555,size=4k")


def read_mount_table():
    """(mount point, per-mount options) for every mount, in /proc order."""
    table = []
    with open("/proc/self/mountinfo", "rb") as handle:
        for line in handle:
            fields = line.split()
            point = re.sub(
                rb"\\([0-7]{3})", lambda m: bytes([int(m.group(1), 8)]), fields[4]
            )
            table.append((os.fsdecode(point), fields[5].decode().split(",")))
    return table


def remount_flags(options, read_only):
    flags = MS_BIND | MS_REMOUNT | MS_NOSUID
    if read_only:
        flags |= MS_RDONLY
    for option in options:
        flags |= OPTION_FLAGS.get(option, 0)
    if not flags & (MS_NOATIME | MS_RELATIME):
        flags |= MS_STRICTATIME
    return flags


def make_read_only(writable):
    """Bind-remount every reachable mount read-only, except the writable roots.

    MS_BIND is what keeps this per mount: a plain MS_REMOUNT would change the file
    system itself, for the host too. Stacked mounts share a mount point; the top
    one is the one reached by the path, so the options of each entry are tried from
    the last one listed. Paths that no longer lead to a mount (hidden under a cover)
    give ENOENT or EINVAL and are skipped; a final check with statvfs proves that
    every reachable mount point outside the writable roots is read-only.
    """
    options_by_point = {}
    for point, options in read_mount_table():
        options_by_point.setdefault(point, []).insert(0, options)

    for point, candidates in options_by_point.items():
        read_only = point not in writable
        for position, options in enumerate(candidates):
            try:
                mount(None, point, None, remount_flags(options, read_only))
                break
            except OSError as exc:
                if exc.errno in (2, 22):  # ENOENT, EINVAL: not reachable here
                    break
                if position == len(candidates) - 1:
                    raise

    for point in options_by_point:
        inside_writable = any(
            point == root or point.startswith(root + "/") for root in writable
        )
        if inside_writable or not os.path.lexists(point):
            continue
        if not os.statvfs(point).f_flag & os.ST_RDONLY:
            raise OSError(30, f"{point} is still writable")


# ---------------------------------------------------------------------------
# command


def become_command(spec, report, parent):
    """Apply limits and identity, then execve the command. Never returns.

    ``parent`` is the pid of the process that forked us, as it saw itself: if it
    is gone already, the parent-death signal came too late and we stop here.
    """
    stage = "identity"
    try:
        user = spec["user"]
        if user is not None:
            uid, gid = user
            os.setgroups([])
            os.setresgid(gid, gid, gid)
            os.setresuid(uid, uid, uid)
        stage = "chdir"
        os.chdir(spec["workdir"])
        stage = "limits"
        for name, (soft, hard) in spec["rlimits"].items():
            set_limit(getattr(resource, name), soft, hard)
        stage = "prctl"
        prctl(PR_SET_NO_NEW_PRIVS, 1)
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent:
            os._exit(SETUP_FAILED_EXIT)
        stage = "exec"
        os.execve(spec["argv"][0], spec["argv"], spec["env"])
    except OSError as exc:
        fail(report, stage, exc)


def set_limit(kind, soft, hard):
    """Lower a limit, never asking for more than the current hard limit allows."""
    _, current_hard = resource.getrlimit(kind)
    if current_hard != resource.RLIM_INFINITY:
        soft, hard = min(soft, current_hard), min(hard, current_hard)
    resource.setrlimit(kind, (soft, hard))


if __name__ == "__main__":
    if SPEC_VARIABLE not in os.environ:
        sys.exit(f"{sys.argv[0]}: started without a spec; use grader.sandbox instead")
    main()
