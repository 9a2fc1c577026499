"""Run untrusted Python in a separate, limited process; the scorer's own process never executes it.

Each run gets a fresh interpreter (`python -I`), a temporary working folder, resource limits (CPU
seconds, address space, process count, file size, open files), a new session, a wall-clock timeout
after which every process it started is killed, and a scrubbed environment (no API keys).

Isolation levels, picked once per process by probing (`isolation_report()`):

* "namespace" (root with namespaces and util-linux `unshare` available, as in our CI container): a
  private network namespace with no interfaces up (no network at all, not even loopback), a private
  mount namespace where every mount is read-only except the working folder and fresh tmpfs mounts on
  /tmp, /var/tmp, /dev/shm and /run/lock that are thrown away after the run, a
  private PID namespace (when its first process ends the kernel kills and reaps everything left, so no
  zombies pile up), and a throw-away unprivileged uid, so writes outside the working folder fail or
  vanish and RLIMIT_NPROC stops fork bombs (the kernel does not apply RLIMIT_NPROC to root).
* "basic" (fallback): the same limits, the throw-away uid only when running as root, and the socket
  module disabled inside the child (a weaker, in-process guard; a determined program can bypass it).
"""

from __future__ import annotations

import ctypes
import functools
import logging
import math
import os
import random
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

log = logging.getLogger(__name__)

Isolation = Literal["auto", "namespace", "basic"]
Status = Literal["ok", "error", "timeout", "killed"]
_CLONE_NEWNS, _CLONE_NEWNET = 0x00020000, 0x40000000
_MS_RDONLY, _MS_NOSUID, _MS_NODEV, _MS_NOEXEC, _MS_REMOUNT, _MS_BIND = 1, 2, 4, 8, 32, 4096
_MS_REC, _MS_PRIVATE = 1 << 14, 1 << 18
_KEPT_FLAGS = {"nosuid": _MS_NOSUID, "nodev": _MS_NODEV, "noexec": _MS_NOEXEC}
_PRIVATE_DIRS = ("/tmp", "/var/tmp", "/dev/shm", "/run/lock")  # the usual world-writable places
_SOCKET_GUARD = (
    "import socket as _xs, _socket as _xls\n"
    "def _xr_no_net(*a, **k):\n"
    "    raise PermissionError('network access is disabled in the xrouter sandbox')\n"
    "_xs.socket = _xls.socket = _xs.create_connection = _xs.socketpair = _xr_no_net\n"
    "del _xs, _xls\n"
)


@dataclass(frozen=True)
class SandboxLimits:
    """Per-run limits.

    Args:
        timeout_s: wall-clock limit; the whole run is killed when it passes.
        cpu_s: CPU-seconds limit (default: the timeout rounded up).
        memory_mb: address-space cap of each process.
        max_processes: process cap of the sandbox uid (fork-bomb guard).
        max_file_mb: largest file the program may write (also caps its captured output).
        max_output_bytes: how much of stdout/stderr is kept in the result.
        isolation: "auto" (strongest available), "namespace" (fail if unavailable) or "basic".
    """

    timeout_s: float = 10.0
    cpu_s: int | None = None
    memory_mb: int = 1024
    max_processes: int = 64
    max_file_mb: int = 16
    max_output_bytes: int = 65536
    isolation: Isolation = "auto"

    def __post_init__(self) -> None:
        if self.timeout_s <= 0 or self.memory_mb < 64 or self.max_processes < 1 or self.max_file_mb < 1:
            raise ValueError("sandbox limits need timeout_s > 0, memory_mb >= 64, max_processes >= 1, max_file_mb >= 1")
        if self.cpu_s is not None and self.cpu_s < 1:
            raise ValueError(f"sandbox cpu_s={self.cpu_s} must be >= 1 (CPU seconds), or None to follow timeout_s")
        if self.isolation not in ("auto", "namespace", "basic"):
            raise ValueError(f"isolation={self.isolation!r}; choose auto, namespace or basic")


@dataclass(frozen=True)
class SandboxResult:
    """What a sandboxed run did: status ("ok" = exit code 0), output, time, and the isolation used."""

    status: Status
    returncode: int | None
    stdout: str
    stderr: str
    duration_s: float
    isolation: str
    uid: int | None = None

    @property
    def ok(self) -> bool:
        """True when the program exited with code 0 inside its limits."""
        return self.status == "ok"


@dataclass(frozen=True)
class _Platform:
    isolation: Literal["namespace", "basic"]
    python: str
    drop_privileges: bool
    unshare: str | None = None


def _libc() -> Any:
    return ctypes.CDLL(None, use_errno=True)


def _check(rc: int, what: str) -> None:
    if rc != 0:
        raise OSError(ctypes.get_errno(), f"sandbox setup: {what} failed")


def _mounts() -> list[tuple[str, int]]:
    """(mount point, flags to keep) of every read-write mount, read in the parent before the fork."""
    found = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        fields = line.split()
        point, options = fields[4].encode().decode("unicode_escape"), fields[5].split(",")
        if "ro" not in options:
            found.append((point, sum(flag for name, flag in _KEPT_FLAGS.items() if name in options)))
    return found


def _private_filesystem(workdir: str, mounts: list[tuple[str, int]], libc: Any) -> None:
    """In the new mount namespace: everything read-only, fresh tmpfs dirs, the working folder read-write."""
    _check(libc.mount(None, b"/", None, _MS_REC | _MS_PRIVATE, None), "make mounts private")
    for point, kept in mounts:
        flags = _MS_REMOUNT | _MS_BIND | _MS_RDONLY | kept
        # /proc and /sys sub-mounts may refuse; their files are not writable by the sandbox uid anyway
        if libc.mount(None, point.encode(), None, flags, None) != 0 and not point.startswith(("/proc", "/sys")):
            _check(-1, f"read-only remount of {point}")
    for folder in _PRIVATE_DIRS:
        if os.path.isdir(folder):
            opts = b"size=64m,mode=1777"
            _check(libc.mount(b"tmpfs", folder.encode(), b"tmpfs", _MS_NOSUID | _MS_NODEV, opts), f"tmpfs {folder}")
    if not os.path.isdir(workdir):  # hidden under a fresh tmpfs: recreate the path, then bind the real folder
        os.makedirs(workdir)
    _check(libc.mount(b".", workdir.encode(), None, _MS_BIND, None), "bind working folder")
    _check(libc.mount(None, workdir.encode(), None, _MS_REMOUNT | _MS_BIND, None), "make working folder writable")
    os.chdir(workdir)


def _preexec(limits: SandboxLimits, workdir: str, uid: int | None, mounts: list | None, libc: Any) -> None:
    """Runs in the child between fork and exec: limits, namespaces, then drop to the throw-away uid."""
    cpu = limits.cpu_s or math.ceil(limits.timeout_s)
    mem = limits.memory_mb * 1024 * 1024
    for res, value in (
        (resource.RLIMIT_CPU, (cpu, cpu + 1)),
        (resource.RLIMIT_AS, (mem, mem)),
        (resource.RLIMIT_FSIZE, (limits.max_file_mb * 1024 * 1024,) * 2),
        (resource.RLIMIT_NPROC, (limits.max_processes,) * 2),
        (resource.RLIMIT_NOFILE, (256, 256)),
        (resource.RLIMIT_CORE, (0, 0)),
    ):
        resource.setrlimit(res, value)
    if mounts is not None:
        _check(libc.unshare(_CLONE_NEWNS | _CLONE_NEWNET), "unshare")
        _private_filesystem(workdir, mounts, libc)
        return  # `unshare --setuid` drops privileges after it entered the PID namespace
    if uid is not None:
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)


def _kill_uid(uid: int) -> None:
    """Kill every process owned by `uid` (kill(-1) from a child that became that uid)."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        try:
            os.setgid(uid)
            os.setuid(uid)
            os.kill(-1, signal.SIGKILL)
        finally:
            os._exit(0)
    os.waitpid(pid, 0)


def _spawn(code: str, stdin: str, limits: SandboxLimits, plat: _Platform, python: str) -> SandboxResult:
    namespace = plat.isolation == "namespace"
    uid = random.SystemRandom().randrange(200_000, 1_200_000) if plat.drop_privileges else None
    command = [python, "-I", "program.py"]
    if namespace and uid is not None and plat.unshare:
        ids = ["--setgid", str(uid), "--setuid", str(uid)]
        command = [plat.unshare, "--pid", "--fork", "--kill-child", *ids, "--", *command]
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1"}
    libc, mounts = (_libc(), _mounts()) if namespace else (None, None)
    workdir = tempfile.mkdtemp(prefix="xrouter-sandbox-")
    try:
        Path(workdir, "program.py").write_text(code if namespace else _SOCKET_GUARD + code, encoding="utf-8")
        if uid is not None:
            os.chown(workdir, uid, uid)
        os.chmod(workdir, 0o700)
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, tempfile.TemporaryFile() as inp:
            inp.write(stdin.encode())
            inp.seek(0)
            start = time.monotonic()
            proc = subprocess.Popen(
                command,
                cwd=workdir,
                stdin=inp,
                stdout=out,
                stderr=err,
                env={**env, "HOME": workdir},
                start_new_session=True,
                preexec_fn=functools.partial(_preexec, limits, workdir, uid, mounts, libc),
            )
            status, returncode = _wait(proc, limits.timeout_s, uid, namespace)
            duration = time.monotonic() - start
            stdout, stderr = (_read(f, limits.max_output_bytes) for f in (out, err))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return SandboxResult(status, returncode, stdout, stderr, duration, plat.isolation, uid)


def _wait(
    proc: subprocess.Popen[bytes], timeout_s: float, uid: int | None, namespace: bool
) -> tuple[Status, int | None]:
    """Wait up to the wall-clock limit, then kill whatever is left; returns (status, exit code)."""
    try:
        returncode = proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return "timeout", None
    finally:
        _cleanup(proc, uid, namespace)
    return ("ok" if returncode == 0 else "killed" if returncode < 0 else "error"), returncode


def _cleanup(proc: subprocess.Popen[bytes], uid: int | None, namespace: bool) -> None:
    """Kill the whole run: every process of its private uid, and its session."""
    if uid is not None:
        _kill_uid(uid)
    if namespace:
        # `unshare` (root, outside the PID namespace) now reaps the namespace and exits by itself;
        # killing it first would orphan the namespace's first process as a zombie.
        try:
            proc.wait(timeout=5)
            return
        except subprocess.TimeoutExpired:
            log.warning("sandbox: unshare did not exit after its namespace was killed; killing its session")
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()


def _read(handle: Any, limit: int) -> str:
    handle.seek(0)
    return handle.read(limit).decode("utf-8", errors="replace")


def _candidates() -> list[str]:
    found = [os.path.realpath(sys.executable)]
    for name in ("python3", "python"):
        path = shutil.which(name, path="/usr/local/bin:/usr/bin:/bin")
        if path and os.path.realpath(path) not in found:
            found.append(os.path.realpath(path))
    return found


@functools.lru_cache(maxsize=1)
def _platform() -> _Platform:
    """Probe once: the strongest isolation that works here and an interpreter the sandbox uid can run."""
    root = os.geteuid() == 0
    probe = SandboxLimits(timeout_s=20)
    unshare = shutil.which("unshare", path="/usr/bin:/bin:/usr/sbin:/sbin")
    levels: list[Literal["namespace", "basic"]] = ["namespace", "basic"] if root and unshare else ["basic"]
    for level in levels:
        for python in _candidates():
            plat = _Platform(level, python, root, unshare if level == "namespace" else None)
            try:
                result = _spawn("print('ok')", "", probe, plat, python)
            except (OSError, subprocess.SubprocessError) as exc:
                log.debug("sandbox probe %s with %s failed: %s", level, python, exc)
                continue
            if result.ok and result.stdout.strip() == "ok":
                log.info("code sandbox: %s isolation, interpreter %s", level, python)
                return plat
            log.debug("sandbox probe %s with %s: %s %s", level, python, result.status, result.stderr[-300:])
    raise RuntimeError("no working code sandbox: cannot start a limited Python interpreter on this machine")


def isolation_report() -> dict[str, Any]:
    """The isolation level, interpreter and privilege drop the sandbox uses on this machine."""
    plat = _platform()
    return {"isolation": plat.isolation, "python": plat.python, "private_uid": plat.drop_privileges}


def run_python(code: str, *, stdin: str = "", limits: SandboxLimits | None = None) -> SandboxResult:
    """Run `code` as a Python program in the sandbox and return its status and (truncated) output."""
    limits = limits or SandboxLimits()
    plat = _platform()
    if limits.isolation == "namespace" and plat.isolation != "namespace":
        raise RuntimeError("namespace isolation was requested but is not available here (needs root and unshare)")
    if limits.isolation == "basic":
        plat = _Platform("basic", plat.python, plat.drop_privileges, None)
    return _spawn(code, stdin, limits, plat, plat.python)
