"""Single-machine Ray stays on loopback: the private network namespace of `xrouter.netns`.

The test process itself was moved into a loopback-only namespace by tests/conftest.py before any
thread or server started; the Ray test below starts Ray the way the project's tests do and checks,
from the network view of every Ray process and from the machine's own namespace (PID 1's), that no
Ray socket lives on the machine's network.
"""

from __future__ import annotations

import errno
import ipaddress
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import FENCED, HOST_NETNS, REPO_ROOT
from xrouter import netns

needs_fence = pytest.mark.skipif(not FENCED, reason=f"{netns.OPT_OUT_ENV}=0: the test process is not fenced in")


def _netns_inode(pid: int | str) -> int:
    return os.stat(f"/proc/{pid}/ns/net").st_ino


def _host_reachable() -> bool:
    """True when the namespace the tests started in (the machine's network) can be entered again."""
    return HOST_NETNS is not None and os.geteuid() == 0 and shutil.which("nsenter") is not None


def _on_host(*argv: str, **kwargs) -> subprocess.CompletedProcess:
    """Run `argv` in the machine's own network namespace, as an unfenced user would."""
    cmd = ["nsenter", f"--net={HOST_NETNS}", *argv]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, **kwargs)


def _socket_inodes(pid: int) -> set[int]:
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(int(target[8:-1]))
    return inodes


_TABLES = (
    "import pathlib\n"
    "for name in ('tcp', 'tcp6', 'udp', 'udp6'):\n"
    "    path = pathlib.Path('/proc/net') / name\n"
    "    for line in (path.read_text().splitlines()[1:] if path.exists() else []):\n"
    "        print(line.split()[9])\n"
)


def _table_inodes(on_host: bool) -> set[int]:
    """Socket inodes in the TCP and UDP tables of a network namespace (what `ss -tuan` would list there)."""
    argv = [sys.executable, "-c", _TABLES]
    proc = _on_host(*argv) if on_host else subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return {int(x) for x in proc.stdout.split()}


def _loopback(ip: str) -> bool:
    addr = ipaddress.ip_address(ip)
    return addr.is_loopback or (addr.version == 6 and addr.ipv4_mapped is not None and addr.ipv4_mapped.is_loopback)


@needs_fence
def test_test_process_sees_only_loopback():
    """conftest fenced the whole test process in: loopback is its only interface."""
    assert netns.in_private_network()
    assert [name for _, name in __import__("socket").if_nameindex()] == ["lo"]


@needs_fence
@pytest.mark.ray
def test_ray_started_the_project_way_has_no_socket_on_the_machine_network():
    """Every socket of every Ray process is on loopback, and none shows in the machine's own network namespace."""
    import psutil
    import ray

    ray.init(num_cpus=1, include_dashboard=False, runtime_env={"env_vars": {"RAY_USAGE_STATS_ENABLED": "0"}})
    try:

        @ray.remote
        class Echo:
            def ping(self, x: int) -> int:
                return x + 1

        assert ray.get(Echo.remote().ping.remote(1)) == 2  # a worker process with live connections
        procs = [p for p in psutil.Process().children(recursive=True) if p.is_running()]
        assert any("raylet" in " ".join(p.cmdline()) for p in procs), "no Ray process found"
        own_ns = _netns_inode("self")
        inet, inodes = [], set()
        for proc in procs:
            assert _netns_inode(proc.pid) == own_ns  # Ray's children inherit the private namespace
            inet += proc.net_connections(kind="inet")
            inodes |= _socket_inodes(proc.pid)
        assert len(inet) >= 5, "Ray opened too few sockets for this check to mean anything"
        off_loopback = [c for c in inet if not _loopback(c.laddr.ip) or (c.raddr and not _loopback(c.raddr.ip))]
        assert off_loopback == []
        assert inodes & _table_inodes(on_host=False)  # Ray's sockets are listed in our namespace...
        if _host_reachable():  # ...and none of them in the machine's own
            assert inodes & _table_inodes(on_host=True) == set()
    finally:
        ray.shutdown()


@pytest.mark.skipif(not _host_reachable(), reason="needs root, nsenter and a separate host network namespace")
def test_loopback_command_fences_in_a_command_started_on_the_machine_network():
    """`xrouter loopback -- CMD` run from the machine's namespace gives CMD only loopback."""
    probe = "import socket; print(','.join(n for _, n in socket.if_nameindex()))"
    plain = _on_host(sys.executable, "-c", probe)
    assert plain.returncode == 0 and plain.stdout.strip() != "lo"  # the machine itself has more interfaces
    fenced = _on_host(sys.executable, "-m", "xrouter.cli.main", "loopback", "--", sys.executable, "-c", probe)
    assert fenced.returncode == 0, fenced.stderr
    assert fenced.stdout.strip() == "lo"


@pytest.mark.skipif(not _host_reachable() or shutil.which("setpriv") is None, reason="needs root, nsenter, setpriv")
def test_a_user_without_root_is_fenced_in_through_a_user_namespace(tmp_path: Path):
    """Without root the helper adds a user namespace that maps the user onto itself; loopback still works."""
    script = (
        "import os, socket, sys; sys.path.insert(0, sys.argv[1]); from xrouter import netns\n"
        "assert not netns.in_private_network(); netns.enter_private_network()\n"
        "s = socket.create_server(('127.0.0.1', 0)); socket.create_connection(s.getsockname()).close()\n"
        "print(os.getuid(), ','.join(n for _, n in socket.if_nameindex()))\n"
    )
    if Path("/proc/sys/user/max_user_namespaces").read_text().strip() == "0":
        pytest.skip("user namespaces are disabled on this machine")
    closed = [str(p) for p in (REPO_ROOT, *REPO_ROOT.parents) if not p.stat().st_mode & 0o001]
    if closed:  # e.g. a checkout inside a mode-700 temporary folder: the unprivileged user cannot import it
        pytest.skip(f"the checkout is not reachable by other users ({closed[0]} is not world-searchable)")
    proc = _on_host(
        "setpriv",
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        sys.executable,
        "-c",
        script,
        str(REPO_ROOT),
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["65534", "lo"]


def test_run_in_private_network_gives_the_child_only_loopback():
    """A child started through the helper sees loopback only (a new namespace, or the fenced one it inherits)."""
    if not netns.isolation_wanted():
        pytest.skip(f"{netns.OPT_OUT_ENV}=0")
    out = netns.run_in_private_network(
        [sys.executable, "-c", "import socket; print([n for _, n in socket.if_nameindex()])"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "['lo']"


def _pretend_unfenced(monkeypatch: pytest.MonkeyPatch, error: int) -> None:
    monkeypatch.setattr(netns, "in_private_network", lambda: False)

    def refuse(flags: int) -> None:
        raise OSError(error, os.strerror(error))

    monkeypatch.setattr(netns, "_unshare", refuse)


def test_no_namespace_is_one_line_error_naming_the_opt_out(monkeypatch: pytest.MonkeyPatch):
    """Where namespaces are refused, the helper stops with one line that says so and how to opt out."""
    monkeypatch.delenv(netns.OPT_OUT_ENV, raising=False)
    _pretend_unfenced(monkeypatch, errno.EPERM)
    with pytest.raises(netns.NetnsUnavailable) as info:
        netns.enter_private_network()
    message = str(info.value)
    assert "\n" not in message
    assert "not permitted" in message and f"{netns.OPT_OUT_ENV}=0" in message
    assert info.value.exit_code == 2


def test_loopback_command_without_namespaces_exits_2_and_runs_nothing(monkeypatch, capsys):
    """`xrouter loopback` never falls back to the machine's network silently."""
    from xrouter.cli.main import main

    monkeypatch.delenv(netns.OPT_OUT_ENV, raising=False)
    _pretend_unfenced(monkeypatch, errno.EPERM)

    def must_not_exec(*args, **kwargs):
        raise AssertionError("the command was started although no namespace exists")

    monkeypatch.setattr(os, "execvpe", must_not_exec)
    assert main(["loopback", "--", "true"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and f"{netns.OPT_OUT_ENV}=0" in err


def test_opt_out_runs_on_the_machine_network_with_a_warning(monkeypatch, caplog):
    """XROUTER_RAY_NETNS=0 skips the namespace, and says so in the log."""
    monkeypatch.setenv(netns.OPT_OUT_ENV, "0")
    _pretend_unfenced(monkeypatch, errno.EPERM)
    with caplog.at_level(logging.WARNING, logger="xrouter.netns"):
        assert netns.enter_private_network() is False
        assert netns.isolating_preexec() is None
    assert "every network interface" in caplog.text


def test_ray_offline_env_points_home_at_a_local_provider_folder(tmp_path: Path):
    """Ray's HOME holds `provider: local` (no cloud metadata probes); usage stats and auth are off."""
    env = netns.ray_offline_env(netns.ray_home(tmp_path), {"HOME": "/home/someone", "PATH": "/bin"})
    assert (Path(env["HOME"]) / "ray_bootstrap_config.yaml").read_text() == "provider:\n  type: local\n"
    assert env["RAY_USAGE_STATS_ENABLED"] == "0" and env["PATH"] == "/bin"
    assert env["HF_HOME"] == "/home/someone/.cache/huggingface"
