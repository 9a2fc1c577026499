"""Where keys come from besides the command line: key files and `.env` files (python-dotenv).

`load_env_file(path)` puts the variables of a `.env` file into `os.environ` the way users of the upstream
keep their provider keys, with two rules: a variable already set is never overridden, and no value is ever
logged. Values of credential-looking names (…KEY, …TOKEN, …SECRET, …PASSWORD) are registered for redaction.
Without a path, `.env` in the working folder is read when it exists.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from xrouter.errors import UsageError
from xrouter.llm.redact import register_env_secrets, register_secret

logger = logging.getLogger(__name__)
DEFAULT_ENV_FILE = ".env"


def load_env_file(path: str | Path | None = None) -> list[str]:
    """Load `path` (default: ./.env when present) into os.environ without overriding; returns the names set."""
    explicit = path is not None
    env_path = Path(path) if path is not None else Path(DEFAULT_ENV_FILE)
    if not env_path.is_file():
        if explicit:
            raise UsageError(f"env file {env_path} does not exist (give an existing --env-file, or drop the flag)")
        return []
    try:
        from dotenv import dotenv_values
    except ImportError:
        raise UsageError(f"reading {env_path} needs python-dotenv: pip install 'xrouter[serve]'") from None
    try:
        values = dotenv_values(env_path)
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"env file {env_path}: cannot read ({getattr(exc, 'strerror', None) or exc})") from None
    loaded = []
    for name, value in values.items():
        if value is None or name in os.environ:
            continue
        os.environ[name] = value
        loaded.append(name)
    register_env_secrets({name: os.environ[name] for name in values if name in os.environ})
    logger.info("%s: %d variables loaded (%d already set were kept)", env_path, len(loaded), len(values) - len(loaded))
    return loaded


def read_key_file(path: str | Path, flag: str) -> str:
    """The key stored in a file (surrounding whitespace stripped); UsageError naming `flag` when unusable."""
    try:
        key = Path(path).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{flag} {path}: cannot read ({getattr(exc, 'strerror', None) or exc})") from None
    if not key:
        raise UsageError(f"{flag} {path}: the file is empty; write the key on its first line")
    register_secret(key)
    return key
