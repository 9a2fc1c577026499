"""Keys off the command line: --api-key-file / XROUTER_API_KEY, and provider keys from a .env file."""

from __future__ import annotations

import logging
import os

import pytest

from xrouter.cli.main import build_parser
from xrouter.cli.serve import settings_from_args
from xrouter.errors import UsageError
from xrouter.llm.credentials import load_env_file
from xrouter.llm.redact import redact

SERVE = ["serve", "--router-api-base", "http://127.0.0.1:9/v1", "--models", "gpt-5-mini"]


def _settings(*flags: str):
    return settings_from_args(build_parser().parse_args([*SERVE, *flags]))


def test_api_key_comes_from_a_file_or_the_environment(tmp_path, monkeypatch):
    """--api-key-file (trailing newline stripped) wins over $XROUTER_API_KEY; both keep the key out of argv."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "key").write_text("file-key-123456\n")
    monkeypatch.setenv("XROUTER_API_KEY", "env-key-654321")
    assert _settings("--api-key-file", "key").api_key == "file-key-123456"
    assert _settings().api_key == "env-key-654321"


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--api-key-file", "missing.txt"], "missing.txt"),
        (["--api-key-file", "empty.txt"], "empty"),
        (["--api-key-file", "empty.txt", "--api-key", "k"], "one of"),
        (["--env-file", "nowhere.env"], "nowhere.env"),
    ],
)
def test_bad_key_sources_are_usage_errors(tmp_path, monkeypatch, flags, message):
    """A missing or empty key file, both key flags, or a missing --env-file stop the command (exit 2)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "empty.txt").write_text("\n")
    with pytest.raises(UsageError, match=message):
        _settings(*flags)


def test_api_key_on_the_command_line_warns_that_ps_shows_it(tmp_path, monkeypatch, caplog):
    """--api-key still works, with a warning pointing at --api-key-file."""
    monkeypatch.chdir(tmp_path)
    with caplog.at_level(logging.WARNING):
        assert _settings("--api-key", "argv-key-000111").api_key == "argv-key-000111"
    assert "--api-key-file" in caplog.text and "argv-key-000111" not in caplog.text


def test_dotenv_fills_missing_variables_only_and_its_keys_are_redacted(tmp_path, monkeypatch, caplog):
    """Variables already set win; loaded keys count as secrets; nothing of the values is logged."""
    env = tmp_path / "keys.env"
    env.write_text("XR_TEST_ONE_API_KEY=from-file-aaaa1111\nXR_TEST_TWO_API_KEY=from-file-bbbb2222\n")
    monkeypatch.setenv("XR_TEST_ONE_API_KEY", "already-set-cccc3333")
    monkeypatch.delenv("XR_TEST_TWO_API_KEY", raising=False)
    with caplog.at_level(logging.DEBUG):
        loaded = load_env_file(env)
    assert loaded == ["XR_TEST_TWO_API_KEY"]
    assert os.environ["XR_TEST_ONE_API_KEY"] == "already-set-cccc3333"
    assert os.environ["XR_TEST_TWO_API_KEY"] == "from-file-bbbb2222"
    assert "from-file" not in caplog.text and "already-set" not in caplog.text
    assert "from-file-bbbb2222" not in redact("upstream echoed from-file-bbbb2222")
    monkeypatch.delenv("XR_TEST_TWO_API_KEY")


def test_default_dotenv_is_read_from_the_working_folder_when_present(tmp_path, monkeypatch):
    """No --env-file: ./.env is used if it exists, and its absence is no error."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("XR_TEST_DEFAULT_KEY", raising=False)
    assert load_env_file(None) == []
    (tmp_path / ".env").write_text("XR_TEST_DEFAULT_KEY=dotenv-dddd4444\n")
    _settings()
    assert os.environ["XR_TEST_DEFAULT_KEY"] == "dotenv-dddd4444"
    monkeypatch.delenv("XR_TEST_DEFAULT_KEY")


@pytest.mark.parametrize("command", [["record", "--queries", "q.csv", "--models", "m", "--out", "o.jsonl"], ["bench"]])
def test_record_and_bench_accept_an_env_file(command):
    """The other commands that call live providers take --env-file too."""
    extra = ["--dataset", "d.csv", "--policy", "oracle", "--backend", "live"] if command == ["bench"] else []
    args = build_parser().parse_args([*command, *extra, "--env-file", "keys.env"])
    assert args.env_file == "keys.env"


def test_training_tools_load_the_env_file_for_live_backends(tmp_path, monkeypatch):
    """The verl tools' live backend reads XROUTER_ENV_FILE (or env_file in the tool config) before calling."""
    pytest.importorskip("verl")
    from xrouter.verl_plugin.backend import ToolBackendConfig, build_client, load_tool_catalog

    env = tmp_path / "train.env"
    env.write_text("XR_TEST_TRAIN_API_KEY=train-eeee5555\n")
    monkeypatch.delenv("XR_TEST_TRAIN_API_KEY", raising=False)
    monkeypatch.setenv("XROUTER_ENV_FILE", str(env))
    cfg = ToolBackendConfig.from_tool_config({"type": "native", "backend": "live"}, "call_x")
    assert cfg.env_file == str(env)
    build_client(cfg, load_tool_catalog(cfg))
    assert os.environ["XR_TEST_TRAIN_API_KEY"] == "train-eeee5555"
    monkeypatch.delenv("XR_TEST_TRAIN_API_KEY")
