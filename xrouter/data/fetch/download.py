"""Streaming HTTP download of one file into a folder, with a progress callback and a SHA-256 check.

The expected checksum is pinned in the dataset registry, or, for files on the Hugging Face hub that the
registry does not pin, the SHA-256 the hub reports for the file (its `X-Linked-Etag`, the LFS object id).
Nothing half-downloaded is ever left under the final name: the caller downloads into a temporary folder.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from xrouter.errors import DataError

Progress = Callable[[int, "int | None"], None]
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_CHUNK = 1 << 16


class FetchError(DataError):
    """A download that could not be completed or verified (exit code 2; nothing is kept)."""


@dataclass(frozen=True)
class Downloaded:
    """What was fetched: the URL actually used, the file written, its size and SHA-256."""

    url: str
    path: Path
    bytes: int
    sha256: str


def mirrored(url: str, mirror: str | None) -> str:
    """`url` with scheme and host replaced by `mirror` (a server with the same paths); HF_ENDPOINT for the hub."""
    base = mirror or (os.environ.get("HF_ENDPOINT") if urlsplit(url).netloc == "huggingface.co" else None)
    if not base:
        return url
    parts, target = urlsplit(url), urlsplit(base.rstrip("/"))
    return urlunsplit((target.scheme, target.netloc, target.path + parts.path, parts.query, ""))


def _reported_sha256(response) -> str | None:  # noqa: ANN001 - an httpx.Response
    """The SHA-256 the hub reports for an LFS file, from the response or the redirects before it."""
    for item in (*response.history, response):
        value = item.headers.get("x-linked-etag") or ""
        value = value.removeprefix("W/").strip('"').lower()
        if _SHA256.match(value):
            return value
    return None


def download(
    url: str, dest: Path, *, sha256: str | None = None, gunzip: bool = False, on_progress: Progress | None = None,
    timeout_s: float = 60.0,
) -> Downloaded:  # fmt: skip
    """GET `url` into `dest`, verifying the SHA-256 of the final file (after gunzip, when asked)."""
    import httpx

    host = urlsplit(url).netloc
    raw = dest.with_name(dest.name + ".download")
    try:
        with httpx.stream("GET", url, follow_redirects=True, timeout=httpx.Timeout(timeout_s, connect=20.0)) as resp:
            if resp.status_code >= 400:
                raise FetchError(f"GET {url}: HTTP {resp.status_code}; nothing was kept")
            expected = sha256 or _reported_sha256(resp)
            if expected is None:
                raise FetchError(f"GET {url}: the server reports no SHA-256 for the file, so it cannot be verified")
            total = int(resp.headers["content-length"]) if resp.headers.get("content-length", "").isdigit() else None
            digest, done = hashlib.sha256(), 0
            with raw.open("wb") as out:
                for chunk in resp.iter_bytes(_CHUNK):
                    out.write(chunk)
                    done += len(chunk)
                    if not gunzip:
                        digest.update(chunk)
                    if on_progress is not None:
                        on_progress(done, total)
    except httpx.TransportError as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise FetchError(f"cannot download from {host} (offline, or the host is blocked?): {reason}") from None
    if gunzip:
        digest = _gunzip(raw, dest)
    else:
        raw.replace(dest)
    actual = digest.hexdigest()
    if actual != expected.lower():
        raise FetchError(f"{url}: checksum mismatch (expected sha256 {expected}, got {actual}); nothing was kept")
    return Downloaded(url=url, path=dest, bytes=dest.stat().st_size, sha256=actual)


def _gunzip(raw: Path, dest: Path) -> hashlib._Hash:
    """Decompress `raw` into `dest` (then delete `raw`); the SHA-256 of the decompressed bytes."""
    digest = hashlib.sha256()
    try:
        with gzip.open(raw, "rb") as src, dest.open("wb") as out:
            while chunk := src.read(_CHUNK):
                digest.update(chunk)
                out.write(chunk)
    except (OSError, EOFError) as exc:
        raise FetchError(f"{raw.name}: not a gzip file ({exc}); nothing was kept") from None
    raw.unlink()
    return digest


def remove_tree(path: Path) -> None:
    """Delete a folder if it exists (a failed or replaced download)."""
    shutil.rmtree(path, ignore_errors=True)
