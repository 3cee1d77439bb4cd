"""Benchmarks: synthetic suites from the offline web and loaders for the public files users bring.

Every loader returns a :class:`Benchmark` whose tasks share one shape (the synthesis JSONL
shape), so a synth file, a WebWalkerQA download and a decrypted BrowseComp CSV all run the same::

    {"id", "question", "answer", "aliases": [...], "root_url", "evidence_urls": [...],
     "info": {"type", "difficulty_level", "domain", "lang", "level", "topic"}}

Encrypted benchmarks (BrowseComp, BrowseComp-ZH, xbench-DeepSearch) are decrypted in memory
only; their tasks carry ``"sensitive": True`` and the runner keeps their plaintext off disk
unless the user asks for it.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from webagent.jsonl import dumps_line, iter_text

FORMATS = ("auto", "jsonl", "webwalkerqa", "gaia", "browsecomp", "browsecomp-zh", "xbench", "synth")
SEARCH_VISIT, ROOT_CLICK, ANY = "search+visit", "root_url+click", "any"


@dataclass
class Benchmark:
    """A list of tasks plus what a report must say about where they came from."""

    name: str
    tasks: list[dict[str, Any]]
    source: str
    format: str
    setting: str = ANY
    """The setting the numbers of this benchmark are published in (reports print it)."""
    encrypted: bool = False
    notes: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.tasks)

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "source": self.source, "format": self.format, "setting": self.setting,
                "questions": len(self.tasks), "encrypted": self.encrypted, "notes": self.notes}


# --- decryption ----------------------------------------------------------------------------------

def sha256_keystream(password: str, length: int) -> bytes:
    """BrowseComp's key: the SHA-256 digest of the password repeated (last copy cut) to ``length``."""
    digest = hashlib.sha256(password.encode("utf-8")).digest()
    return (digest * (length // len(digest) + 1))[:length]


def _xor(data: bytes, key: bytes) -> bytes:
    return bytes(a ^ b for a, b in zip(data, key, strict=True))


def _b64(ciphertext: str) -> bytes:
    try:
        return base64.b64decode(ciphertext, validate=False)
    except (ValueError, TypeError) as e:
        raise ValueError(f"not base64 ciphertext: {str(ciphertext)[:40]!r}") from e


def browsecomp_decrypt(ciphertext: str, password: str) -> str:
    """Decrypt a BrowseComp / BrowseComp-ZH field with its row's canary (SHA-256-repeat XOR)."""
    data = _b64(ciphertext)
    try:
        return _xor(data, sha256_keystream(password, len(data))).decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError("decryption gave invalid UTF-8: wrong canary or not an encrypted field") from None


def xbench_decrypt(ciphertext: str, canary: str) -> str:
    """Decrypt an xbench-DeepSearch field: XOR with the raw canary bytes, cycled (no hashing)."""
    data, key = _b64(ciphertext), canary.encode("utf-8")
    if not key:
        raise ValueError("empty canary")
    stream = (key * (len(data) // len(key) + 1))[: len(data)]
    try:
        return _xor(data, stream).decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError("decryption gave invalid UTF-8: wrong canary or not an encrypted field") from None


# --- reading files -------------------------------------------------------------------------------

def read_rows(path: str | os.PathLike) -> list[dict[str, Any]]:
    """Rows of a ``.jsonl``, ``.json`` (list, or ``{"data": [...]}``), ``.csv`` or ``.xlsx`` file."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"benchmark file not found: {path}")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        with open(path, encoding="utf-8-sig", newline="") as f:
            return list(csv.DictReader(f))
    if suffix == ".xlsx":
        return _read_xlsx(path)
    text = path.read_text(encoding="utf-8-sig")
    if suffix == ".json" or text.lstrip().startswith("["):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise ValueError(f"{path}: not valid JSON ({e.msg} at line {e.lineno})") from None
        data = data.get("data", data) if isinstance(data, dict) else data
        if not isinstance(data, list):
            raise ValueError(f"{path}: expected a list of records")
        return data
    return [rec for _, rec in iter_text(text, source=str(path), torn_ok=False)]


def _read_xlsx(path: Path) -> list[dict[str, Any]]:
    try:
        import openpyxl
    except ImportError:
        raise ValueError(f"{path}: reading .xlsx needs openpyxl (pip install 'webagent[xlsx]'), "
                         "or save the sheet as CSV") from None
    ws = openpyxl.load_workbook(path, read_only=True).active
    rows = list(ws.iter_rows(values_only=True))
    header = [str(h) for h in rows[0]]
    return [dict(zip(header, r, strict=False)) for r in rows[1:] if any(v is not None for v in r)]


def _get(row: dict[str, Any], *names: str, default: Any = None) -> Any:
    """The first present field among ``names`` (case-insensitive)."""
    lower = {str(k).lower(): v for k, v in row.items()}
    for n in names:
        v = lower.get(n.lower())
        if v not in (None, ""):
            return v
    return default


# Language labels as the files spell them -> the codes our reports and filters use.
_LANGS = {"english": "en", "en": "en", "chinese": "zh", "zh": "zh", "中文": "zh", "英文": "en", "cn": "zh"}


def normalize_lang(label: Any) -> Any:
    """``English`` -> ``en``, ``Chinese`` -> ``zh`` (case-insensitive); other labels unchanged."""
    return _LANGS.get(str(label).strip().lower(), label) if isinstance(label, str) else label


def strip_quotes(text: str) -> str:
    """Drop one pair of literal double quotes wrapping the whole text (39/500 WebShaper questions
    carry them), but not quotes that only open and close a leading title: ``"A" and "B"?`` stays."""
    t = text.strip()
    if len(t) < 2 or t[0] != '"' or t[-1] != '"':
        return t
    inner = t[1:-1]
    first = inner.find('"')
    if first < 0 or (inner.count('"') % 2 == 0 and (first == 0 or inner[first - 1] in " ([{“'")):
        return inner.strip()
    return t


def _task(i: int, row: dict[str, Any], question: Any, answer: Any, **extra: Any) -> dict[str, Any]:
    if question in (None, ""):
        raise ValueError(f"record {i + 1} has no question: {str(row)[:160]}")
    tid = _get(row, "id", "task_id")
    task = {"id": str(tid) if tid not in (None, "") else f"{i + 1}", "question": strip_quotes(str(question)),
            "answer": answer if isinstance(answer, list) else (None if answer is None else str(answer).strip())}
    task.update({k: v for k, v in extra.items() if v not in (None, "", [], {})})
    return task


# --- loaders ---------------------------------------------------------------------------------------

def load_jsonl(path: str | os.PathLike) -> list[dict[str, Any]]:
    """Plain ``{question, answer}`` records (synth files too: their extra fields are kept)."""
    tasks = []
    for i, row in enumerate(read_rows(path)):
        t = _task(i, row, _get(row, "question", "query", "prompt", "problem"),
                  _get(row, "answer", "gold", "true_answer", "final answer"))
        for key in ("root_url", "evidence_urls", "aliases", "info", "hints", "setting", "tag", "formalization"):
            if key in row and key not in t:
                t[key] = row[key]
        if "evidence_urls" not in t and isinstance(row.get("urls"), list):  # WebShaper's evidence pages
            t["evidence_urls"] = [str(u) for u in row["urls"]]
        if isinstance(t.get("info"), dict) and "lang" in t["info"]:
            t["info"] = {**t["info"], "lang": normalize_lang(t["info"]["lang"])}
        tasks.append(t)
    return tasks


def load_qa_file(path: str | os.PathLike) -> list[dict[str, Any]]:
    """QA items for trajectory sampling from any file a user brings: our synthesis JSONL, the
    released WebDancer ``sample_qa.jsonl`` (``question, answer, tag``), WebShaper
    (``id, question, answer, formalization, urls``), WebWalkerQA in its shapes, or a JSON array of
    any of these. Fields the files carry are kept; see :func:`load_jsonl` for the normalisation."""
    rows = read_rows(path)
    if (rows and any(k in rows[0] for k in ("Question", "Info"))) or detect_rows(rows) == "webwalkerqa":
        return [{**t, "tag": t.get("tag") or "webwalkerqa"} for t in load_webwalkerqa(path)]
    tasks = load_jsonl(path)
    for t, row in zip(tasks, rows, strict=True):
        for key, value in row.items():  # our synthesis records: keep every field (hops, generator, ...)
            t.setdefault(key, value)
        if t.get("id") and "id" not in row and "task_id" not in row:
            del t["id"]  # a position is no id: sampling derives a stable one from the question
    return tasks


def load_webwalkerqa(path: str | os.PathLike) -> list[dict[str, Any]]:
    """WebWalkerQA in any of its three shapes: the Hugging Face lowercase schema
    (``question, answer, root_url, info{type, difficulty_level, domain, lang}``), the capitalised
    README schema (``Question, Answer, Root_Url, Info{Hop, Domain, Language, Difficulty_Level,
    Source_Website, Golden_Path}``) and WebThinker's flattened copy (``Question, answer, root_url,
    type, difficulty_level, domain, lang, source_website, golden_path``)."""
    tasks = []
    for i, row in enumerate(read_rows(path)):
        info_raw = _get(row, "info", default={}) or {}
        if isinstance(info_raw, str):
            info_raw = json.loads(info_raw)
        flat = {**row, **info_raw}
        kind = _get(flat, "type", "hop")
        kind = str(kind).replace("-", "_").lower() if kind else None  # "single-source" -> "single_source"
        difficulty = _get(flat, "difficulty_level")
        info = {"type": kind, "difficulty_level": str(difficulty).lower() if difficulty else None,
                "domain": _get(flat, "domain"), "lang": normalize_lang(_get(flat, "lang", "language"))}
        sources = _get(flat, "source_website", default=[])
        tasks.append(_task(i, row, _get(row, "question"), _get(row, "answer"),
                           root_url=_get(row, "root_url"), info={k: v for k, v in info.items() if v},
                           evidence_urls=sources if isinstance(sources, list) else [sources],
                           golden_path=_get(flat, "golden_path")))
    return tasks


def load_gaia(path: str | os.PathLike) -> list[dict[str, Any]]:
    """GAIA validation records (official ``Question/Final answer/Level``, smolagents'
    ``question/true_answer/task`` or WebThinker's 103-item ``dev.json``)."""
    tasks = []
    for i, row in enumerate(read_rows(path)):
        level = _get(row, "level", "task")
        t = _task(i, row, _get(row, "question"), _get(row, "final answer", "answer", "true_answer"),
                  info={"level": str(level)} if level not in (None, "") else {})
        if _get(row, "file_name"):
            t["info"]["file_name"] = _get(row, "file_name")
        tasks.append(t)
    return tasks


def load_browsecomp(path: str | os.PathLike, *, zh: bool = False) -> list[dict[str, Any]]:
    """BrowseComp (``problem, answer, problem_topic, canary``) or BrowseComp-ZH (``Topic, Question,
    Answer, canary``), decrypted in memory with each row's canary."""
    tasks = []
    for i, row in enumerate(read_rows(path)):
        canary = _get(row, "canary")
        if not canary:
            raise ValueError(f"{path}: record {i + 1} has no canary column to decrypt with")
        q, a = _get(row, "question", "problem"), _get(row, "answer")
        topic = _get(row, "topic", "problem_topic")
        if zh and topic:
            topic = _try_decrypt(topic, canary)
        t = _task(i, row, browsecomp_decrypt(str(q), canary), browsecomp_decrypt(str(a), canary),
                  info={"topic": topic, "lang": "zh" if zh else "en"}, sensitive=True)
        tasks.append(t)
    return tasks


def _try_decrypt(value: str, canary: str) -> str:
    try:
        return browsecomp_decrypt(value, canary)
    except ValueError:
        return value  # some copies keep the topic in plaintext


def load_xbench(path: str | os.PathLike) -> list[dict[str, Any]]:
    """xbench-DeepSearch (``id, prompt, answer, reference_steps, canary``), decrypted in memory."""
    tasks = []
    for i, row in enumerate(read_rows(path)):
        canary = _get(row, "canary")
        if not canary:
            raise ValueError(f"{path}: record {i + 1} has no canary column to decrypt with")
        t = _task(i, row, xbench_decrypt(str(_get(row, "prompt", "question")), canary),
                  xbench_decrypt(str(_get(row, "answer")), canary), info={"lang": "zh"}, sensitive=True)
        tasks.append(t)
    return tasks


LOADERS = {"jsonl": load_jsonl, "webwalkerqa": load_webwalkerqa, "gaia": load_gaia,
           "browsecomp": load_browsecomp, "browsecomp-zh": lambda p: load_browsecomp(p, zh=True),
           "xbench": load_xbench}
SETTINGS = {"webwalkerqa": ROOT_CLICK, "gaia": SEARCH_VISIT, "browsecomp": SEARCH_VISIT,
            "browsecomp-zh": SEARCH_VISIT, "xbench": SEARCH_VISIT}


def detect_format(path: str | os.PathLike) -> str:
    """Guess a file's benchmark format from its columns."""
    rows = read_rows(path)
    if not rows:
        raise ValueError(f"{path}: no records")
    return detect_rows(rows)


def detect_rows(rows: list[dict[str, Any]]) -> str:
    """The benchmark format of some rows, from the columns of the first."""
    if not rows:
        return "jsonl"
    keys = {str(k).lower() for k in rows[0]}
    if "canary" in keys:
        if "prompt" in keys:
            return "xbench"
        return "browsecomp" if "problem" in keys else "browsecomp-zh"
    if "level" in keys and ("final answer" in keys or "answer" in keys):
        return "gaia"
    if keys & {"info", "root_url"} and not keys & {"evidence_urls"}:
        return "webwalkerqa"
    return "jsonl"


def load_benchmark(spec: str, *, fmt: str = "auto", world: Any = None, split: str = "test", seed: int = 0,
                   limit: int | None = None) -> Benchmark:
    """Load ``spec``: a file path, or ``synth:<suite>`` for a synthetic suite of the offline web
    (see :mod:`webagent.eval.suites`; needs ``world``)."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown benchmark format {fmt!r} (have: {', '.join(FORMATS)})")
    if spec.startswith("synth:") or fmt == "synth":
        from webagent.eval.suites import SUITES, build_suite, suite_name

        suite = suite_name(spec.split(":", 1)[1] if ":" in spec else spec)
        if world is None:
            raise ValueError("a synthetic suite needs an offline world")
        tasks = build_suite(world, suite, seed=seed, split=split)
        setting = SUITES[suite].setting
        name, source = f"synth:{suite} ({split})", f"offline world {world.root} (seed {world.manifest.get('seed')})"
        bench = Benchmark(name, tasks, source, "synth", setting)
    else:
        fmt = detect_format(spec) if fmt == "auto" else fmt
        tasks = LOADERS[fmt](spec)
        encrypted = fmt in ("browsecomp", "browsecomp-zh", "xbench")
        bench = Benchmark(f"{fmt}:{Path(spec).name}", tasks, str(spec), fmt, SETTINGS.get(fmt, ANY), encrypted)
        if fmt == "gaia" and len(tasks) == 103:
            bench.notes.append("103 questions: the text-only GAIA subset (not the full 165-question validation set)")
    if limit is not None:
        bench.tasks = bench.tasks[:limit]
        bench.notes.append(f"limited to the first {limit} questions")
    ids = [t["id"] for t in bench.tasks]
    if len(ids) != len(set(ids)):
        raise ValueError(f"{spec}: task ids are not unique")
    return bench


def save_tasks(tasks: list[dict[str, Any]], path: str | os.PathLike, *, allow_plaintext: bool = False) -> Path:
    """Write tasks as JSONL; refuses decrypted (sensitive) tasks unless ``allow_plaintext``."""
    if not allow_plaintext and any(t.get("sensitive") for t in tasks):
        raise ValueError("these tasks come from an encrypted benchmark: refusing to write their plaintext "
                         "(pass allow_plaintext=True / --keep-plaintext to do it anyway)")
    buf = io.StringIO()
    for t in tasks:
        buf.write(dumps_line(t))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(buf.getvalue(), encoding="utf-8")
    return path
