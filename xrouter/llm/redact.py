"""Keeping credentials out of everything the project writes: one `redact` for errors, logs, ledgers and prompts.

Two things are replaced by `[REDACTED]`:

* known secret values, registered when they are read (provider keys named by a catalog entry's
  `api_key_env`, keys passed to a client or a policy, the server's own API key, keys from a `.env` file);
* anything that looks like a credential even when it was never registered: the value of an
  `Authorization` / `Proxy-Authorization` / `api-key` / `x-api-key` header or field, a bearer token, and
  provider-style keys (`sk-…`, `sk-ant-…`, `xai-…`, `AIza…`, `hf_…`).

Model answers are redacted of registered values only (`patterns=False`): a pattern could mangle a real answer
that happens to show an example header, while a registered value in an answer is always a leak.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from typing import Any

MARK = "[REDACTED]"
_MIN_SECRET = 8  # shorter values ("unused", "none") would redact ordinary words
_SECRETS: tuple[str, ...] = ()  # replaced whole on registration, so readers never see it change mid-loop
_SECRET_NAME = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD)$", re.IGNORECASE)
_HEADER = re.compile(
    r"""(?P<name>(?:proxy-)?authorization|x-api-key|api[-_]key)(?P<sep>["']?\s*[:=]\s*["']?)"""
    r"""(?:(?P<scheme>bearer|basic|token)\s+)?(?P<value>[^\s"',;&}]+)""",
    re.IGNORECASE,
)
_TOKEN = re.compile(
    r"\b(?:bearer\s+[A-Za-z0-9._~+/=-]{8,}"
    r"|sk-(?:ant-|proj-)?[A-Za-z0-9_-]{16,}|xai-[A-Za-z0-9]{16,}|AIza[0-9A-Za-z_-]{30,}|hf_[A-Za-z0-9]{20,})",
    re.IGNORECASE,
)


def register_secret(value: str | None) -> None:
    """Remember a secret value so that `redact` removes it wherever it shows up."""
    global _SECRETS
    value = value.strip() if isinstance(value, str) else None
    if value and len(value) >= _MIN_SECRET and value not in _SECRETS:
        _SECRETS = tuple(sorted((*_SECRETS, value), key=len, reverse=True))  # longest first: no partial leftovers


def secret_prefix_at_end(text: str) -> int:
    """Length of the longest end of `text` that begins a registered secret (a secret maybe cut off mid-stream)."""
    longest = 0
    for secret in _SECRETS:
        for size in range(min(len(secret) - 1, len(text)), longest, -1):
            if text.endswith(secret[:size]):
                longest = size
                break
    return longest


def register_env_secrets(environ: Mapping[str, str], names: Iterable[str] | None = None) -> None:
    """Register the values of `names`, or of every variable whose name ends in KEY/TOKEN/SECRET/PASSWORD."""
    for name in names if names is not None else environ:
        if (names is not None or _SECRET_NAME.search(name)) and name in environ:
            register_secret(environ[name])


def _header(match: re.Match[str]) -> str:
    scheme = f"{match.group('scheme')} " if match.group("scheme") else ""
    return f"{match.group('name')}{match.group('sep')}{scheme}{MARK}"


def redact(text: str, *, patterns: bool = True) -> str:
    """`text` with registered secrets (and, with `patterns`, credential-looking strings) replaced by [REDACTED]."""
    if not text:
        return text
    for secret in _SECRETS:
        if secret in text:
            text = text.replace(secret, MARK)
    if patterns:
        text = _HEADER.sub(_header, text)
        text = _TOKEN.sub(lambda m: f"Bearer {MARK}" if m.group(0).lower().startswith("bearer") else MARK, text)
    return text


def redact_value(value: Any) -> Any:
    """`redact` applied to every string inside a JSON-like value (dicts, lists, strings)."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: redact_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_value(v) for v in value]
    return value


class RedactingFilter(logging.Filter):
    """A handler filter that redacts each record's message, arguments and exception text before it is written."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record in place (always lets it through)."""
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a bad format string: keep what there is
            message = str(record.msg)
        record.msg, record.args = redact(message), ()
        if record.exc_info:
            text = logging.Formatter().formatException(record.exc_info)
            record.exc_text, record.exc_info = redact(text), None
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


def configure_logging(level: str) -> None:
    """Log to stderr through `RedactingFilter` (the CLI and each `xrouter serve` worker process)."""
    from rich.logging import RichHandler

    handler = RichHandler(console=None, show_path=False, rich_tracebacks=False)
    handler.addFilter(RedactingFilter())  # no key reaches a log line, whoever logs it
    logging.basicConfig(level=level, format="%(message)s", handlers=[handler], force=True)
