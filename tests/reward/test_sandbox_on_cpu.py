"""Code sandbox containment tests. Run: .venv/bin/python -m pytest -q tests/reward/test_sandbox_on_cpu.py

Each attack must be contained and scored 0, and the scorer must still pass a real HumanEval solution after it.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from pathlib import Path

import pytest

from xrouter.reward.sandbox import SandboxLimits, isolation_report, run_python
from xrouter.reward.scorers import ScoreOptions, score

FAST = SandboxLimits(timeout_s=2.0, memory_mb=512, max_processes=16)
BASIC = SandboxLimits(timeout_s=2.0, memory_mb=512, max_processes=16, isolation="basic")


@pytest.fixture
def still_works(humaneval):
    """Asserts that the scorer still passes HumanEval/0's canonical solution."""

    def check() -> None:
        item = humaneval[0]
        spec = {"test": item["test"], "entry_point": item["entry_point"], "prompt": item["prompt"]}
        assert score("humaneval", item["canonical_solution"], spec, options=ScoreOptions(sandbox=FAST)).score == 1.0

    return check


def _score_attack(code: str, limits: SandboxLimits = FAST) -> float:
    """Score attack code as an MBPP answer whose only test passes if the attack ran to the end."""
    program = f"{code}\nATTACK_DONE = True\n"
    return score("mbpp", program, {"test_list": ["assert ATTACK_DONE"]}, options=ScoreOptions(sandbox=limits)).score


def _uid_processes(uid: int) -> list[int]:
    """Live (not zombie) processes owned by `uid`: a killed orphan stays a zombie when PID 1 does not reap."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                status = (entry / "status").read_text()
            except OSError:
                continue
            fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
            if str(uid) in fields["Uid"].split() and not fields["State"].strip().startswith("Z"):
                pids.append(int(entry.name))
    return pids


def _survivors(uid: int, within_s: float = 5.0) -> list[int]:
    """Live processes of `uid` still there after `within_s` (SIGKILL is delivered asynchronously)."""
    deadline = time.monotonic() + within_s
    while (alive := _uid_processes(uid)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return alive


def test_sandbox_runs_code_in_another_process():
    """The program runs in a different process (not the scorer's) and its output comes back."""
    result = run_python("import os\nprint(os.getpid())")
    assert result.ok and int(result.stdout) != os.getpid()
    assert isolation_report()["isolation"] in ("namespace", "basic")


def test_infinite_loop_is_killed_on_timeout(still_works):
    """A busy loop (CPU limit) and a sleeping loop (wall-clock limit only) both end and score 0."""
    result = run_python("while True:\n    pass", limits=SandboxLimits(timeout_s=1.0))
    assert result.status in ("timeout", "killed") and result.duration_s < 5
    sleeper = run_python("import time\nwhile True:\n    time.sleep(0.05)", limits=SandboxLimits(timeout_s=1.0))
    assert sleeper.status == "timeout" and sleeper.duration_s < 5
    assert _score_attack("while True:\n    pass") == 0.0
    still_works()


def test_fork_bomb_is_contained(still_works):
    """A fork bomb hits the process cap, is killed, and leaves no process behind."""
    bomb = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass"
    result = run_python(bomb, limits=FAST)
    assert result.status in ("timeout", "killed")
    if result.uid is not None:  # private uid: every process it owned is gone
        assert _survivors(result.uid) == []
    assert _score_attack(bomb) == 0.0
    still_works()


@pytest.mark.parametrize("limits", [FAST, BASIC], ids=["auto", "basic"])
def test_process_cap_holds_and_no_child_outlives_the_run(limits):
    """Forking stops at max_processes, and detached children (own session) die when the program exits."""
    spawn = (
        "import os, time\n"
        "started = 0\n"
        "for _ in range(40):\n"
        "    try:\n"
        "        pid = os.fork()\n"
        "    except OSError:\n"
        "        break\n"
        "    if pid == 0:\n"
        "        os.setsid()\n"
        "        time.sleep(60)\n"
        "        os._exit(0)\n"
        "    started += 1\n"
        "print(started)\n"
    )
    result = run_python(spawn, limits=limits)
    assert result.ok and 0 < int(result.stdout) < limits.max_processes
    if result.uid is not None:
        assert _survivors(result.uid) == []


def test_10gb_allocation_fails_under_the_memory_cap(still_works):
    """bytearray(10 GB) raises MemoryError inside the sandbox and scores 0."""
    result = run_python("x = bytearray(10 * 1024**3)\nprint('allocated')", limits=FAST)
    assert not result.ok and "allocated" not in result.stdout and "MemoryError" in result.stderr
    assert _score_attack("x = bytearray(10 * 1024**3)") == 0.0
    still_works()


@pytest.mark.parametrize("limits", [FAST, BASIC], ids=["auto", "basic"])
def test_socket_to_a_live_local_server_is_blocked(limits, still_works):
    """Connecting to a listening 127.0.0.1 server fails in the sandbox; the server sees no connection."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(5)
    server.settimeout(0.2)
    port = server.getsockname()[1]
    accepted: list[object] = []

    def accept() -> None:
        try:
            accepted.append(server.accept())
        except OSError:
            pass

    attack = f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=1).sendall(b'x')\n"
    try:
        assert _score_attack(attack, limits) == 0.0
        result = run_python(attack, limits=limits)
        thread = threading.Thread(target=accept)
        thread.start()
        thread.join()
    finally:
        server.close()
    assert not result.ok and not accepted
    still_works()


def test_writing_outside_the_working_folder_is_contained(tmp_path, still_works):
    """Writes to a folder outside the working dir, the repo and world-writable /var/tmp fail or vanish."""
    outside = tmp_path / "escaped.txt"
    repo_file = Path(__file__).resolve().parent / "escaped_by_sandbox.txt"
    shared_tmp = Path("/var/tmp") / f"xrouter-escape-{os.getpid()}.txt"
    if isolation_report()["isolation"] == "namespace":  # a write there "succeeds" but lands on a private tmpfs
        assert run_python(f"open({str(shared_tmp)!r}, 'w').write('pwned')").ok
        assert not shared_tmp.exists()
    for target in (outside, repo_file):
        attack = f"open({str(target)!r}, 'w').write('pwned')"
        assert _score_attack(attack) == 0.0
        assert not target.exists()
    assert run_python("open('local.txt', 'w').write('ok')\nprint(open('local.txt').read())").stdout == "ok\n"
    still_works()


def test_environment_is_scrubbed(monkeypatch):
    """Secrets in the scorer's environment are not visible to sandboxed code."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret")
    result = run_python("import os\nprint(os.environ.get('OPENAI_API_KEY'))")
    assert result.stdout.strip() == "None"


@pytest.mark.parametrize(
    "kwargs,message",
    [({"timeout_s": 0}, "timeout_s > 0"), ({"memory_mb": 10}, "memory_mb >= 64"), ({"cpu_s": 0}, "cpu_s=0 must be >= 1"),
     ({"isolation": "docker"}, "isolation='docker'; choose auto, namespace or basic")],
)  # fmt: skip
def test_sandbox_limits_reject_bad_values(kwargs, message):
    """Bad limits fail at construction with a message naming the field, not inside the child process."""
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        SandboxLimits(**kwargs)
