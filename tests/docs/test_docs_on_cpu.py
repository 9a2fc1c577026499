"""The docs: a strict site build, a CLI reference that lists every command and flag, commands that work as written."""

from __future__ import annotations

import html
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT
from xrouter.cli.main import build_parser, main
from xrouter.cli.reference import flags, walk

DOCS = REPO_ROOT / "docs"
README = REPO_ROOT / "README.md"
SHELL_FENCE = re.compile(r"^```(?:bash|sh|shell|console)\s*\n(.*?)^```", re.M | re.S)


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """The site built with `mkdocs build --strict` (any warning fails the build)."""
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
                          cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "WARNING" not in proc.stderr, proc.stderr[-3000:]
    return out


def _slug(text: str) -> str:
    """The heading id Python-Markdown's toc gives `text`."""
    text = re.sub(r"[^\w\s-]", "", text).strip().lower()
    return re.sub(r"[-\s]+", "-", text)


def _sections(page: str) -> dict[str, str]:
    """Heading id -> the text up to the next h2/h3, from a built HTML page."""
    parts = re.split(r'<h[23] id="([^"]+)"', page)
    return {parts[i]: html.unescape(re.sub(r"<[^>]+>", " ", parts[i + 1])) for i in range(1, len(parts) - 1, 2)}


def test_cli_reference_lists_every_subcommand_and_flag(site):
    """Each command path has its own section naming every one of its option strings."""
    sections = _sections((site / "cli" / "index.html").read_text(encoding="utf-8"))
    parser = build_parser()
    commands = [("xrouter", parser), *walk(parser)]
    assert len(commands) > 12
    for path, sub in commands:
        section = sections.get(_slug(path))
        assert section is not None, f"no section for {path!r} in the CLI reference"
        for action in flags(sub):
            for name in action.option_strings or [action.metavar or action.dest]:
                assert re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", section), f"{path}: {name} missing"


def test_readme_links_into_the_docs_resolve(site):
    """Every docs/*.md link of the README names an existing page and, when it has one, an existing anchor."""
    links = re.findall(r"\]\(docs/([\w-]+)\.md(?:#([\w-]+))?\)", README.read_text(encoding="utf-8"))
    assert len(links) > 10
    for page, anchor in links:
        built = site / ("" if page == "index" else page) / "index.html"
        assert built.exists(), f"README links to docs/{page}.md, which is not built"
        if anchor:
            assert f'id="{anchor}"' in built.read_text(encoding="utf-8"), f"docs/{page}.md has no #{anchor}"


def _shell_commands(path: Path) -> list[str]:
    """Every command line of the shell blocks of a Markdown file, with continuation lines joined."""
    lines = []
    for block in SHELL_FENCE.findall(path.read_text(encoding="utf-8")):
        lines += [line.strip() for line in block.replace("\\\n", " ").splitlines() if line.strip()]
    return [line for line in lines if not line.startswith("#")]


def _xrouter_argvs(command: str) -> list[list[str]]:
    """The argument lists of the `xrouter` commands in a shell line (split at ;, &&, |, &)."""
    lexer = shlex.shlex(command, posix=True, punctuation_chars=";&|")
    lexer.whitespace_split, lexer.commentchars = True, "#"
    words, argvs = list(lexer), []
    while words:
        end = next((i for i, w in enumerate(words) if set(w) <= set(";&|")), len(words))
        part, words = words[:end], words[end + 1 :]
        while part and re.match(r"^[A-Z_]+=", part[0]):  # VAR=value prefixes
            part.pop(0)
        if part and part[0] in ("xrouter", ".venv/bin/xrouter"):
            argvs.append(part[1:])
    return argvs


DOC_FILES = [README, *sorted(DOCS.glob("*.md"))]
COMMANDS = [(p.name, c) for p in DOC_FILES for c in _shell_commands(p)]
XROUTER = [(name, argv) for name, c in COMMANDS for argv in _xrouter_argvs(c)]


def test_readme_and_getting_started_start_with_real_commands():
    """The README opens with make demo and make test, stays short, and both pages hold xrouter commands."""
    text = README.read_text(encoding="utf-8")
    assert SHELL_FENCE.search(text).group(1).split("\n")[:2] == [
        "make demo   # set up .venv and run the main job offline (no API keys, no GPU)",
        "make test   # set up .venv if needed, then ruff, the whole CPU test suite and the strict docs build"]  # fmt: skip
    assert len(text.splitlines()) <= 200
    names = {name for name, _ in XROUTER}
    assert {"README.md", "getting-started.md"} <= names


@pytest.mark.parametrize("name,command", COMMANDS, ids=[f"{n}:{c[:40]}" for n, c in COMMANDS])
def test_no_shell_command_has_a_placeholder_or_an_outside_path(name, command):
    """No literal `...` to fill in and no path into a folder beside the clone."""
    assert "..." not in command and "…" not in command, f"{name}: {command}"
    assert "../" not in command, f"{name}: {command}"


@pytest.mark.parametrize("name,argv", XROUTER, ids=[f"{n}:{' '.join(a)[:50]}" for n, a in XROUTER])
def test_xrouter_command_parses_and_runs_with_help(name, argv, capsys):
    """The command names a real subcommand whose flags parse (required ones given), and `--help` works on it."""
    try:
        build_parser().parse_args(argv)
    except SystemExit as exc:  # --help / --version exit 0; a usage error exits 2
        assert exc.code == 0, f"{name}: xrouter {' '.join(argv)}: {capsys.readouterr().err.strip()}"
    assert main([*argv, "--help"]) == 0, f"{name}: xrouter {' '.join(argv)} --help"
    out = capsys.readouterr().out
    assert "usage: xrouter" in out or out.startswith("xrouter "), out[:200]
