"""The package's one JSONL reader.

A JSONL record ends at ``"\\n"`` and nowhere else. ``str.splitlines`` also breaks at U+2028,
U+2029, U+0085, ``\\x1c``-``\\x1e``, ``\\v`` and ``\\f``, which ``json.dumps(..., ensure_ascii=False)``
writes raw inside strings and which model output and web pages do contain; reading with it cuts a
record in two. Every JSONL file of the package is read through here.

A crash mid-write leaves a torn last line (no ``"\\n"`` after it); readers skip it by default and
say so through ``torn_ok``. A bad line anywhere else is an error naming the file and line, unless
the reader asks to skip bad lines (browsing, caches).
"""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from webagent.secrets import redact


def dumps(obj: Any, **kwargs: Any) -> str:
    """``json.dumps(obj, ensure_ascii=False, **kwargs)`` that any text survives: a lone surrogate
    (``"\\ud800"``, which a model can produce and UTF-8 cannot encode) makes the whole value fall
    back to ASCII escapes, which read back as the very same string. Secrets are redacted
    (:func:`webagent.secrets.redact`). Every record the package writes goes through here, so no
    string a model wrote can fail a write and no API key echoed by a server is stored."""
    text = json.dumps(obj, ensure_ascii=False, **kwargs)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = json.dumps(obj, ensure_ascii=True, **kwargs)
    return redact(text)


def dumps_line(obj: Any, **kwargs: Any) -> str:
    """One JSONL line: :func:`dumps` and a newline."""
    return dumps(obj, **kwargs) + "\n"


def split_lines(text: str) -> list[str]:
    """The lines of JSONL text, split at ``"\\n"`` only (a trailing ``"\\r"`` stays; JSON ignores it)."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # the newline that ends the last record
    return lines


def iter_text(text: str, *, source: str = "<text>", torn_ok: bool = True,
              skip_bad: bool = False) -> Iterator[tuple[int, Any]]:
    """``(line number, record)`` of every non-blank line of ``text``.

    ``torn_ok``: a last line without a newline that is not valid JSON is a torn write and skipped.
    ``skip_bad``: any line that is not valid JSON is skipped. Otherwise a bad line raises
    ``ValueError("SOURCE:N: not valid JSON (...)")``."""
    lines = text.split("\n")
    last = len(lines)
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            yield n, json.loads(line)
        except json.JSONDecodeError as e:
            if skip_bad or (torn_ok and n == last):
                continue
            raise ValueError(f"{source}:{n}: not valid JSON ({e.msg})") from None


def iter_lines(path: str | os.PathLike, *, encoding: str = "utf-8", errors: str = "strict") -> Iterator[tuple[int, str]]:
    """``(line number, line)`` of a file (gzip-compressed when its name ends in ``.gz``), streamed,
    split at ``"\\n"`` only; each line keeps its ``"\\n"`` (the last one lacks it when the file
    ends in a torn write)."""
    if str(path).endswith(".gz"):
        f = gzip.open(path, "rt", encoding=encoding, errors=errors, newline="\n")
    else:
        f = open(path, encoding=encoding, errors=errors, newline="\n")  # noqa: SIM115
    with f:
        yield from enumerate(f, 1)


def iter_jsonl(path: str | os.PathLike, *, torn_ok: bool = True, skip_bad: bool = False,
               encoding: str = "utf-8") -> Iterator[tuple[int, Any]]:
    """``(line number, record)`` of every non-blank line of a JSONL file, streamed (see
    :func:`iter_text` for ``torn_ok`` and ``skip_bad``)."""
    for n, line in iter_lines(path, encoding=encoding):
        if not line.strip():
            continue
        try:
            yield n, json.loads(line)
        except json.JSONDecodeError as e:
            if skip_bad or (torn_ok and not line.endswith("\n")):
                continue
            raise ValueError(f"{path}:{n}: not valid JSON ({e.msg})") from None


def read_jsonl(path: str | os.PathLike, *, torn_ok: bool = True, skip_bad: bool = False,
               missing_ok: bool = False, encoding: str = "utf-8") -> list[Any]:
    """Every record of a JSONL file (``missing_ok``: ``[]`` when it does not exist)."""
    if missing_ok and not Path(path).is_file():
        return []
    return [rec for _, rec in iter_jsonl(path, torn_ok=torn_ok, skip_bad=skip_bad, encoding=encoding)]


def truncate_steps(path: str | os.PathLike, last_step: int, *, key: str = "step") -> int:
    """Cut a training log back to the run's checkpoint: keep the records whose ``key`` is at most
    ``last_step`` and drop the rest (and a torn last line); returns how many were dropped.

    A run killed after logging steps past its newest checkpoint resumes from that checkpoint and
    logs those steps again; without this cut they would appear twice. The file is rewritten
    atomically (a temporary sibling renamed over it); a missing file is left missing."""
    path = Path(path)
    if not path.is_file():
        return 0
    kept, dropped = [], 0
    for _, line in iter_lines(path):
        if not line.strip():
            continue
        try:
            step = json.loads(line).get(key)
        except (json.JSONDecodeError, AttributeError):
            step = None
        if isinstance(step, int) and step <= last_step and line.endswith("\n"):
            kept.append(line)
        else:
            dropped += 1
    if dropped:
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text("".join(kept), encoding="utf-8")
        os.replace(tmp, path)
    return dropped


__all__ = ["dumps", "dumps_line", "iter_jsonl", "iter_lines", "iter_text", "read_jsonl", "split_lines",
           "truncate_steps"]
