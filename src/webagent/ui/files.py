"""Reading what the other stages write, for the UI: evaluation directories, synthesized QA files,
trajectory files and their summaries.

Every path the browser names goes through :func:`resolve_under`, which keeps it inside the
directories the UI was started with (``--root``): the UI reads result files, never arbitrary ones.
Torn or corrupt JSONL lines (a run killed mid-write) are skipped and counted, never fatal.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from webagent.jsonl import iter_lines

MAX_ROWS = 5000
"""Rows read from one JSONL file; the page says when a file had more."""


class NotAllowed(ValueError):
    """A path outside the UI's roots, or one that does not exist."""


def resolve_under(roots: list[Path], path: str) -> Path:
    """``path`` (absolute, or relative to the first root) resolved, if it lies under one of ``roots``."""
    if not path:
        raise NotAllowed("no path given")
    if "\x00" in path:  # the OS refuses it with ValueError: a clear 404, not a 500
        raise NotAllowed("a path cannot contain a NUL byte")
    try:
        p = Path(path).expanduser()
        if not p.is_absolute():
            p = roots[0] / p
        p = p.resolve()
        exists = p.exists()
    except (OSError, ValueError, RuntimeError) as e:  # name too long, symlink loop, no home
        raise NotAllowed(f"{path[:200]}: {type(e).__name__}") from None
    for root in roots:
        if p == root or root in p.parents:
            if not exists:
                raise NotAllowed(f"{path}: no such file or directory")
            return p
    raise NotAllowed(f"{path} is outside the directories this UI may read ({', '.join(map(str, roots))})")


@dataclass
class JsonlFile:
    """The parsed lines of a JSONL file (at most ``MAX_ROWS``)."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    skipped: int = 0
    """Lines that were not a JSON object (torn writes, corruption)."""
    truncated: bool = False


def read_jsonl(path: Path, limit: int = MAX_ROWS) -> JsonlFile:
    out = JsonlFile()
    for _, line in iter_lines(path, errors="replace"):
        if not line.strip():
            continue
        if len(out.rows) >= limit:
            out.truncated = True
            break
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            out.skipped += 1
            continue
        if isinstance(row, dict):
            out.rows.append(row)
        else:
            out.skipped += 1
    return out


def read_json(path: Path) -> Any:
    """A JSON file, or ``None`` when it is missing or unreadable."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None


# --- evaluation directories -------------------------------------------------------------------

def is_run_dir(path: Path) -> bool:
    return path.is_dir() and (path / "benchmark.json").exists() and any(path.glob("run-*.jsonl"))


def find_run_dirs(roots: list[Path], depth: int = 3) -> list[Path]:
    """Evaluation directories under the roots (a shallow walk, for the picker)."""
    found: list[Path] = []

    def walk(d: Path, level: int) -> None:
        if is_run_dir(d):
            found.append(d)
            return
        if level >= depth:
            return
        try:
            children = sorted(c for c in d.iterdir() if c.is_dir() and not c.name.startswith("."))
        except OSError:
            return
        for c in children[:200]:
            walk(c, level + 1)

    for root in roots:
        walk(root, 0)
    return found


def category(record: dict[str, Any]) -> str:
    """The category a record is filtered by: ``type/difficulty`` when known, else what there is."""
    info = record.get("info") or {}
    parts = [str(info[k]) for k in ("type", "difficulty_level") if info.get(k)]
    if not parts:
        parts = [f"{k} {info[k]}" for k in ("level", "domain", "problem_topic", "topic") if info.get(k)][:1]
    return "/".join(parts) or "–"


@dataclass
class RunDir:
    """An evaluation output directory, read once per request."""

    path: Path
    benchmark: dict[str, Any]
    config: dict[str, Any]
    report: dict[str, Any] | None
    records: list[dict[str, Any]]
    skipped: int = 0

    @property
    def plots(self) -> list[str]:
        return sorted(p.name for p in (self.path / "plots").glob("*.png")) if (self.path / "plots").is_dir() else []

    def find(self, task_id: str, run: int) -> dict[str, Any] | None:
        for r in self.records:
            if r.get("task_id") == task_id and int(r.get("run") or 0) == run:
                return r
        return None

    def by_task(self) -> dict[str, dict[int, dict[str, Any]]]:
        out: dict[str, dict[int, dict[str, Any]]] = {}
        for r in self.records:
            out.setdefault(str(r.get("task_id")), {})[int(r.get("run") or 0)] = r
        return out


def load_run_dir(path: Path) -> RunDir:
    if not is_run_dir(path):
        raise NotAllowed(f"{path} is not an evaluation directory (needs benchmark.json and run-*.jsonl)")
    records: list[dict[str, Any]] = []
    skipped = 0
    for p in sorted(path.glob("run-*.jsonl")):
        f = read_jsonl(p)
        records += f.rows
        skipped += f.skipped
    records.sort(key=lambda r: (int(r.get("run") or 0), str(r.get("task_id"))))
    report = read_json(path / "report.json")
    if report is None:  # an interrupted run has records but no report yet: compute one
        try:
            from webagent.eval.report import build_report

            report = build_report(path)
        except Exception:  # a report is a convenience here; the records still show
            report = None
    return RunDir(path, read_json(path / "benchmark.json") or {}, read_json(path / "config.json") or {},
                  report, records, skipped)


def row_of(record: dict[str, Any]) -> dict[str, Any]:
    """The table row of one result record."""
    stats = record.get("stats") or {}
    return {
        "task_id": str(record.get("task_id", "")),
        "run": int(record.get("run") or 0),
        "question": str(record.get("question") or ""),
        "gold": _text(record.get("gold")),
        "answer": _text(record.get("answer")),
        "correct": bool(record.get("correct")),
        "category": category(record),
        "termination": str(record.get("termination") or "–"),
        "tool_calls": stats.get("tool_calls", sum(len(s.get("actions") or []) for s in record.get("steps") or [])),
        "seconds": float(record.get("seconds") or 0.0),
    }


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return " | ".join(map(str, value))
    return str(value)


def compare_rows(a: RunDir, b: RunDir) -> list[dict[str, Any]]:
    """One row per task present in either directory: per-run verdicts and answers side by side."""
    ta, tb = a.by_task(), b.by_task()
    rows = []
    for tid in sorted(set(ta) | set(tb)):
        ra, rb = ta.get(tid, {}), tb.get(tid, {})
        first = next(iter(ra.values()), None) or next(iter(rb.values()))
        sa = [ra[k] for k in sorted(ra)]
        sb = [rb[k] for k in sorted(rb)]
        ca = sum(bool(r.get("correct")) for r in sa)
        cb = sum(bool(r.get("correct")) for r in sb)
        rows.append({
            "task_id": tid, "question": str(first.get("question") or ""), "gold": _text(first.get("gold")),
            "category": category(first), "a": sa, "b": sb, "a_correct": ca, "b_correct": cb,
            "a_share": ca / len(sa) if sa else None, "b_share": cb / len(sb) if sb else None,
        })
    for r in rows:
        r["differs"] = r["a_share"] != r["b_share"]
    return rows


# --- data files (synthesized QA, trajectories) --------------------------------------------------

DATA_SUFFIXES = (".jsonl", ".json")


def list_data_files(directory: Path, depth: int = 2) -> list[Path]:
    """JSONL and JSON files under ``directory`` (shallow), for the data browser's picker."""
    out: list[Path] = []

    def walk(d: Path, level: int) -> None:
        try:
            entries = sorted(d.iterdir())
        except OSError:
            return
        for e in entries[:500]:
            if e.name.startswith("."):
                continue
            if e.is_file() and e.suffix in DATA_SUFFIXES:
                out.append(e)
            elif e.is_dir() and level < depth:
                walk(e, level + 1)

    walk(directory, 0)
    return out


DATA_GROUPS = ("QA", "trajectories", "runs", "worlds", "other")


def data_group(path: Path) -> str:
    """Which of :data:`DATA_GROUPS` a data file belongs to, cheaply: a file of an evaluation
    directory is a run's, a file of a world directory a world's; a JSONL file goes by its first
    record (steps or messages: trajectories; a question: QA)."""
    for d in (path.parent, path.parent.parent):
        if is_run_dir(d):
            return "runs"
        if (d / "manifest.json").is_file() and (d / "pages.db").exists():
            return "worlds"
    if path.suffix == ".jsonl":
        try:
            with path.open("rb") as f:
                first = json.loads(f.readline(1 << 20) or b"null")
        except (OSError, ValueError):
            return "other"
        if isinstance(first, dict):
            if "steps" in first or "messages" in first:
                return "trajectories"
            if "question" in first:
                return "QA"
    return "other"


def group_data_files(files: list[Path]) -> list[tuple[str, list[Path]]]:
    """``files`` grouped by :func:`data_group`, groups in :data:`DATA_GROUPS` order, empty ones left out."""
    groups: dict[str, list[Path]] = {g: [] for g in DATA_GROUPS}
    for p in files:
        groups[data_group(p)].append(p)
    return [(g, ps) for g, ps in groups.items() if ps]


def file_kind(rows: list[dict[str, Any]]) -> str:
    """``trajectories`` (records with steps or messages), ``qa`` (question + answer) or ``records``."""
    if not rows:
        return "records"
    head = rows[:20]
    if all("steps" in r or "messages" in r for r in head):
        return "trajectories"
    if all("question" in r for r in head):
        return "qa"
    return "records"


def side_summaries(path: Path) -> list[tuple[str, Any]]:
    """Summary and funnel JSON files written next to a data file (``<file>.summary.json``,
    ``<stem>.funnel.json``, ``funnel.json``, ``summary.json``), as (name, content)."""
    names = [f"{path.name}.summary.json", f"{path.stem}.summary.json", f"{path.stem}.funnel.json",
             f"{path.name}.funnel.json", "funnel.json", "summary.json", "report.json"]
    seen, out = set(), []
    for n in names:
        p = path.parent / n
        if n not in seen and p.is_file() and p != path:
            seen.add(n)
            content = read_json(p)
            if content is not None:
                out.append((n, content))
    return out


def qa_row(record: dict[str, Any], index: int) -> dict[str, Any]:
    return {
        "index": index,
        "id": str(record.get("id") or record.get("task_id") or index),
        "question": str(record.get("question") or ""),
        "answer": _text(record.get("answer")),
        "generator": str(record.get("generator") or record.get("tag") or "–"),
        "qtype": str(record.get("qtype") or (record.get("info") or {}).get("type") or "–"),
        "lang": str(record.get("lang") or (record.get("info") or {}).get("lang") or "–"),
        "difficulty": str(record.get("difficulty") or (record.get("info") or {}).get("difficulty_level") or "–"),
        "hops": record.get("hops", ""),
        "meta": json.dumps({k: v for k, v in record.items() if k not in ("question", "answer")},
                           ensure_ascii=False, indent=1),
    }


def trajectory_row(record: dict[str, Any], index: int) -> dict[str, Any]:
    row = row_of(record)
    row["index"] = index
    row["policy"] = str(record.get("policy") or record.get("model") or "–")
    return row
