"""Flags that keep keys off the command line, shared by the commands that call live providers.

`--env-file PATH` (serve, record, bench): provider keys from a `.env` file, default `./.env` when present,
never overriding variables already set. `--api-key-file PATH` (serve): the server's own key from a file.
"""

from __future__ import annotations

import argparse
import logging
import os

from xrouter.errors import UsageError
from xrouter.llm.credentials import load_env_file, read_key_file
from xrouter.llm.redact import register_env_secrets, register_secret

logger = logging.getLogger(__name__)
API_KEY_ENV = "XROUTER_API_KEY"


def add_env_file_argument(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """Add `--env-file PATH`."""
    parser.add_argument(
        "--env-file",
        metavar="PATH",
        help="read provider keys from this .env file (default: ./.env when it exists); variables already set "
        "in the environment win, and no value is logged",
    )


def load_provider_keys(args: argparse.Namespace) -> None:
    """Load the `--env-file` (or ./.env) and register every key-looking variable for redaction."""
    load_env_file(getattr(args, "env_file", None))
    register_env_secrets(os.environ)


def add_api_key_arguments(group: argparse._ArgumentGroup) -> None:
    """Add `--api-key` and `--api-key-file` (the server's own key)."""
    group.add_argument(
        "--api-key",
        metavar="KEY",
        help=f"require 'Authorization: Bearer KEY' (visible in ps: prefer --api-key-file or ${API_KEY_ENV})",
    )
    group.add_argument(
        "--api-key-file",
        metavar="PATH",
        help=f"read the required bearer key from the first line of this file (default: ${API_KEY_ENV}, else no key)",
    )


def server_api_key(args: argparse.Namespace) -> str | None:
    """The server key: --api-key, --api-key-file, else $XROUTER_API_KEY (read once, here), else None."""
    if args.api_key and args.api_key_file:
        raise UsageError("give one of --api-key and --api-key-file, not both")
    if args.api_key:
        logger.warning("--api-key is visible to every user of this machine (ps); use --api-key-file instead")
        key = args.api_key
    elif args.api_key_file:
        key = read_key_file(args.api_key_file, "--api-key-file")
    else:
        key = os.environ.get(API_KEY_ENV) or None
    register_secret(key)
    return key
