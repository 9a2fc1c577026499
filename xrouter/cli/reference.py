"""The CLI reference page, rendered from the real argparse parsers (the docs build inserts it into cli.md).

Every subcommand (nested ones such as `replay serve` included) gets a section with its description, its
usage line and a table of every flag with its default and help text, so the page cannot drift from
`xrouter COMMAND --help`.
"""

from __future__ import annotations

import argparse
import html
from collections.abc import Iterator


def _subparsers(parser: argparse.ArgumentParser) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    """(name, parser) of each subcommand of `parser`, in the order `--help` lists them."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            yield from action.choices.items()


def walk(parser: argparse.ArgumentParser, prefix: str = "xrouter") -> Iterator[tuple[str, argparse.ArgumentParser]]:
    """Every (command path, parser) below `parser`, depth first: `xrouter models`, `xrouter replay serve`, ..."""
    for name, sub in _subparsers(parser):
        path = f"{prefix} {name}"
        yield path, sub
        yield from walk(sub, path)


def flags(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    """The options and positionals of one parser, without --help and the subcommand selector."""
    return [
        a
        for a in parser._actions
        if not isinstance(a, (argparse._HelpAction, argparse._SubParsersAction)) and a.help != argparse.SUPPRESS
    ]


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell (no HTML, no column breaks, one line)."""
    return html.escape(" ".join(text.split()), quote=False).replace("|", "\\|")


def _names(action: argparse.Action) -> str:
    names = action.option_strings or [action.metavar or action.dest]
    metavar = ""
    if action.option_strings and action.nargs != 0:
        metavar = " " + str(action.metavar or (f"{{{','.join(map(str, action.choices))}}}" if action.choices else
                                               action.dest.upper()))  # fmt: skip
    return ", ".join(f"`{n}{metavar}`" for n in names)


def _default(action: argparse.Action) -> str:
    if action.nargs == 0 or action.default in (None, [], argparse.SUPPRESS):
        return ""
    return f"`{_cell(str(action.default))}`"


def _help(parser: argparse.ArgumentParser, action: argparse.Action) -> str:
    text = action.help or ""
    if "%(" in text:
        text = parser._get_formatter()._expand_help(action)
    return _cell(text)


def _description(text: str) -> list[str]:
    """Description paragraphs as Markdown; indented blocks (examples) become code blocks."""
    lines: list[str] = []
    for block in text.strip().split("\n\n"):
        rows = block.splitlines()
        if not block.strip():
            continue
        if (
            all(r.startswith("  ") or not r.strip() for r in rows[1:])
            and rows[0].rstrip().endswith(":")
            and len(rows) > 1
        ):
            lines += [html.escape(rows[0].strip(), quote=False), "", "```text", *(r[2:] for r in rows[1:]), "```", ""]
        elif all(r.startswith("  ") for r in rows):
            lines += ["```text", *(r[2:] for r in rows), "```", ""]
        else:
            lines += [html.escape(" ".join(block.split()), quote=False), ""]
    return lines


def _section(path: str, parser: argparse.ArgumentParser) -> list[str]:
    depth = path.count(" ")
    usage = " ".join(parser.format_usage().split())
    usage = usage.removeprefix("usage: ")
    lines = [f"{'#' * (2 if depth <= 1 else 3)} `{path}`", ""]
    lines += _description(parser.description or "")
    lines += ["```text", usage, "```", ""]
    actions = flags(parser)
    if actions:
        lines += ["| flag | default | meaning |", "| --- | --- | --- |"]
        lines += [f"| {_names(a)} | {_default(a)} | {_help(parser, a)} |" for a in actions]
        lines.append("")
    return lines


def render_markdown(parser: argparse.ArgumentParser | None = None) -> str:
    """Markdown for the whole CLI: the global flags, then one section per subcommand."""
    if parser is None:
        from xrouter.cli.main import build_parser

        parser = build_parser()
    lines = _section("xrouter", parser)
    for path, sub in walk(parser):
        lines += _section(path, sub)
    return "\n".join(lines)
