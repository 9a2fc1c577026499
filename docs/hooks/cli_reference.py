"""MkDocs hook: fill the CLI reference page from the real argparse parsers at build time."""

from __future__ import annotations

MARKER = "<!-- cli-reference -->"


def on_page_markdown(markdown: str, page, config, files) -> str:  # noqa: ANN001 - MkDocs hook signature
    """Replace the marker in cli.md with the rendered reference (every subcommand and flag)."""
    if page.file.src_uri != "cli.md":
        return markdown
    if MARKER not in markdown:
        raise ValueError(f"docs/cli.md must contain {MARKER} where the generated reference goes")
    from xrouter.cli.reference import render_markdown

    return markdown.replace(MARKER, render_markdown())
