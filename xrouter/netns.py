"""Single-machine Ray on loopback only: a private network namespace and Ray's offline environment.

Ray listens on every network interface and routes many of its own connections over the machine's
network address, whatever node IP it is given. A private network namespace that holds only the
loopback interface is the one reliable fence: inside it the same Ray cluster works unchanged, and
nothing it opens is reachable from, or sent to, the machine's network. Everything that starts Ray
on one machine (the test suite, the rollout benchmark, CPU training) goes through this module:

* `enter_private_network()` moves the calling process into a new namespace with only loopback up;
  call it first thing, before any thread, server or Ray process starts, since those stay where they
  were born;
* `loopback_preexec` / `run_in_private_network(argv)` start a command in a fresh namespace;
  `xrouter loopback -- CMD ...` does the same from a shell;
* `ray_offline_env()` gives Ray a HOME whose `ray_bootstrap_config.yaml` says `provider: local`
  (otherwise Ray's head probes cloud metadata addresses) and turns usage stats off.

As root only the network namespace is created; other users get a user namespace as well (their own
uid and gid mapped onto themselves), which Linux allows where unprivileged user namespaces are on.
When neither works the helpers stop with `NetnsUnavailable`, a one-line error that names the cause and
the opt-out: `XROUTER_RAY_NETNS=0` runs Ray on the machine's network, for users who know it is safe.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import logging
import os
import socket
import struct
import subprocess
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from xrouter.errors import XRouterError

logger = logging.getLogger(__name__)

OPT_OUT_ENV = "XROUTER_RAY_NETNS"
_CLONE_NEWNET = 0x40000000
_CLONE_NEWUSER = 0x10000000
_SIOCGIFFLAGS = 0x8913
_SIOCSIFFLAGS = 0x8914
_IFF_UP = 0x1
_IFREQ = "16sh22x"  # struct ifreq: interface name, then the flags member of its 24-byte union

RAY_OFFLINE_VARS = {"RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled"}


class NetnsUnavailable(XRouterError):
    """No private network namespace could be made: Ray would listen on the machine's network."""

    exit_code = 2


def isolation_wanted(environ: Mapping[str, str] | None = None) -> bool:
    """False only when the user opted out with XROUTER_RAY_NETNS=0 (or false/no/off)."""
    value = (environ if environ is not None else os.environ).get(OPT_OUT_ENV, "1")
    return value.strip().lower() not in {"0", "false", "no", "off"}


def in_private_network() -> bool:
    """True when this process sees no network interface but loopback (already fenced in)."""
    return all(name == "lo" for _, name in socket.if_nameindex())


def _unshare(flags: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(flags) != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))


def _map_own_ids(uid: int, gid: int) -> None:
    """Map this user's uid and gid onto themselves inside a just-created user namespace."""
    Path("/proc/self/setgroups").write_text("deny")
    Path("/proc/self/uid_map").write_text(f"{uid} {uid} 1")
    Path("/proc/self/gid_map").write_text(f"{gid} {gid} 1")


def _loopback_up() -> None:
    """Set the IFF_UP flag of `lo` (the kernel then gives it 127.0.0.1 and ::1)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack(_IFREQ, b"lo", 0)
        flags = struct.unpack(_IFREQ, fcntl.ioctl(sock, _SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(sock, _SIOCSIFFLAGS, struct.pack(_IFREQ, b"lo", flags | _IFF_UP))


def _isolate_self() -> None:
    """unshare the network (and, without root, the user) namespace of this process; bring loopback up."""
    uid, gid = os.getuid(), os.getgid()
    if os.geteuid() == 0:
        _unshare(_CLONE_NEWNET)
    else:
        _unshare(_CLONE_NEWUSER | _CLONE_NEWNET)
        _map_own_ids(uid, gid)
    _loopback_up()


def _explain(exc: OSError) -> str:
    if exc.errno == errno.EINVAL and os.geteuid() != 0:
        cause = "the process already runs threads (call it before starting any)"
    elif exc.errno in (errno.EPERM, errno.EACCES, errno.ENOSPC):
        cause = "creating namespaces is not permitted here (run as root or enable unprivileged user namespaces)"
    else:
        cause = exc.strerror or str(exc)
    return (
        f"cannot run Ray in a private loopback-only network namespace: {cause}; "
        f"set {OPT_OUT_ENV}=0 to run it on this machine's network instead"
    )


def enter_private_network() -> bool:
    """Move this process into a loopback-only network namespace; returns True if it is fenced in now.

    A no-op when the process already sees only loopback. Returns False (with a warning) when the user
    opted out with XROUTER_RAY_NETNS=0; raises `NetnsUnavailable` when no namespace can be made.
    """
    if in_private_network():
        return True
    if not isolation_wanted():
        logger.warning("%s=0: Ray will listen on every network interface of this machine", OPT_OUT_ENV)
        return False
    try:
        _isolate_self()
    except OSError as exc:
        raise NetnsUnavailable(_explain(exc)) from None
    logger.info("running in a private network namespace (loopback only)")
    return True


def loopback_preexec() -> None:
    """`preexec_fn` for subprocess: the child enters a fresh loopback-only namespace before exec."""
    _isolate_self()


def check_available() -> None:
    """Raise `NetnsUnavailable` (with the reason) if a child process could not be fenced in."""
    pid = os.fork()
    if pid == 0:  # child: try, report errno as the exit status, never return into the caller's code
        try:
            _isolate_self()
            os._exit(0)
        except OSError as exc:
            os._exit(exc.errno or 1)
        except BaseException:
            os._exit(1)
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise NetnsUnavailable(_explain(OSError(code, os.strerror(code))))


def isolating_preexec() -> Callable[[], None] | None:
    """The preexec_fn that fences a child in, or None when not needed (opted out, or already fenced)."""
    if in_private_network():
        return None
    if not isolation_wanted():
        logger.warning("%s=0: Ray will listen on every network interface of this machine", OPT_OUT_ENV)
        return None
    check_available()
    return loopback_preexec


def run_in_private_network(argv: Sequence[str], **popen_kwargs) -> subprocess.CompletedProcess:
    """Run `argv` to completion inside a fresh loopback-only network namespace (see `isolating_preexec`)."""
    return subprocess.run(list(argv), preexec_fn=isolating_preexec(), **popen_kwargs)  # noqa: PLW1509


def ray_home(parent: str | os.PathLike | None = None) -> Path:
    """A new folder holding `ray_bootstrap_config.yaml` with `provider: local`, for Ray's HOME."""
    home = Path(tempfile.mkdtemp(prefix="xrouter-ray-home-", dir=parent))
    (home / "ray_bootstrap_config.yaml").write_text("provider:\n  type: local\n")
    return home


def ray_offline_env(home: Path | None = None, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """Environment for a local Ray cluster: HOME at a local-provider folder, usage stats and auth off.

    The caches that live under the user's real HOME (Hugging Face, pip) keep their place through
    HF_HOME, so moving HOME does not hide downloaded models.
    """
    env = dict(environ if environ is not None else os.environ)
    real_home = env.get("HOME")
    if real_home and "HF_HOME" not in env:
        env["HF_HOME"] = str(Path(real_home) / ".cache" / "huggingface")
    env["HOME"] = str(home or ray_home())
    env.update(RAY_OFFLINE_VARS)
    return env
