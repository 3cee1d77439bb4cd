"""Bring your own corpus: a JSONL of documents becomes an offline web (pages store + search index).

``webagent world import docs.jsonl --out corpus/`` writes the same directory layout as a built
world (``pages.db``, ``index/``, ``manifest.json``), so ``webagent web serve``, the search, visit
and click tools, the agents and ``webagent eval`` run on it unchanged and fully offline.

One document per line, fields by their usual names::

    url | link                    the page's address (optional when an id is given)
    docid | id | _id              its id (BrowseComp-Plus ``docid``, Search-R1 wiki-18 ``id``)
    title                         optional: else the first line of ``contents`` (wiki-18), else the URL
    text | contents | content | body    plain text, or
    html                          the page itself (its text is extracted; its links stay clickable)
    lang, date                    optional

Addresses live under ``.test`` like the rest of the offline web, so no request ever leaves the
machine: ``https://en.wikipedia.org/wiki/Ada`` is served as ``http://en.wikipedia.org.test/wiki/Ada``
(:func:`offline_url`; :func:`original_url` reverses it), and a document with only an id as
``http://<name>.test/doc/<id>``. Absolute links inside HTML documents are rewritten the same way.

The import streams: documents go to SQLite in batches and to the index writer as they are read,
so memory stays flat and time grows linearly with the corpus (docs/benchmarks.md). A duplicate
address keeps its first document and is counted; a line that is not JSON or has no text is
skipped with its line number reported. The directory is built beside ``out`` and renamed into
place, so a crash never leaves a half-imported corpus.
"""

from __future__ import annotations

import hashlib
import html as html_lib
import json
import os
import re
import shutil
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from webagent.jsonl import iter_lines
from webagent.types import Page
from webagent.urls import TEST_TLD, normalize_url

CORPUS_FORMAT = 1
_CJK_RE = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
_HREF_RE = re.compile(r"""(href\s*=\s*["'])(https?://[^"'\s>]+)""", re.IGNORECASE)
_NAME_RE = re.compile(r"[^a-z0-9-]+")


@dataclass
class CorpusConfig:
    """How documents become pages."""

    name: str = "corpus"
    """Host label of id-only documents: ``http://<name>.test/doc/<id>``."""
    batch: int = 2000
    """Documents per SQLite transaction."""
    max_text_chars: int | None = None
    """Cut longer documents (``None``: keep all)."""
    index_threads: int = 2
    index_heap: int = 256_000_000


@dataclass
class ImportReport:
    """What an import did: counts, skipped lines with reasons, seconds per phase."""

    documents: int = 0
    duplicates: int = 0
    skipped: list[tuple[int, str]] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"documents": self.documents, "duplicates": self.duplicates, "skipped": len(self.skipped),
                "skipped_lines": [{"line": n, "reason": r} for n, r in self.skipped[:100]], "seconds": self.seconds}


# --- addresses -------------------------------------------------------------------------------------

def offline_url(url: str) -> str:
    """The offline address of a real URL: its host gains ``.test`` (``.test`` URLs stay as they are)."""
    parts = urlsplit(url.strip() if "//" in url else "http://" + url.strip())
    host = (parts.hostname or "").lower()
    if not host:
        raise ValueError(f"not a URL: {url!r}")
    if not host.endswith(TEST_TLD):
        host += TEST_TLD
    return normalize_url(urlunsplit(("http", host, parts.path or "/", parts.query, "")))


def original_url(url: str, scheme: str = "https") -> str:
    """The real URL an offline address stands for (the inverse of :func:`offline_url` on hosts)."""
    parts = urlsplit(url)
    host = (parts.hostname or "")[: -len(TEST_TLD)]
    return urlunsplit((scheme, host, parts.path, parts.query, ""))


def docid_url(docid: str, name: str = "corpus") -> str:
    """The offline address of a document known only by its id."""
    label = _NAME_RE.sub("-", name.lower()).strip("-") or "corpus"
    return f"http://{label}{TEST_TLD}/doc/{quote(str(docid), safe='')}"


# --- documents -------------------------------------------------------------------------------------

def _first(d: dict[str, Any], *names: str) -> Any:
    for n in names:
        v = d.get(n)
        if v not in (None, ""):
            return v
    return None


def _html_text(html: str) -> tuple[str, str]:
    """Title and plain text of an HTML document."""
    from selectolax.lexbor import LexborHTMLParser as HTMLParser

    tree = HTMLParser(html)
    for node in tree.css("script, style, noscript"):
        node.decompose()
    title = tree.css_first("title")
    body = tree.body or tree.root
    text = body.text(separator="\n") if body is not None else ""
    return (title.text().strip() if title else ""), "\n".join(line.strip() for line in text.splitlines() if line.strip())


def _text_html(title: str, text: str) -> str:
    """A plain page for a text document: the title, then one paragraph per line."""
    paras = "".join(f"<p>{html_lib.escape(p)}</p>\n" for p in text.split("\n") if p.strip())
    t = html_lib.escape(title)
    return (f"<!doctype html><html><head><meta charset=\"utf-8\"><title>{t}</title></head>"
            f"<body><main><h1>{t}</h1>\n{paras}</main></body></html>")


def document_page(doc: dict[str, Any], config: CorpusConfig | None = None) -> Page:
    """One corpus record as a page of the offline web (raises ``ValueError`` with the reason)."""
    cfg = config or CorpusConfig()
    url, docid = _first(doc, "url", "link"), _first(doc, "docid", "id", "_id", "doc_id")
    if url is None and docid is None:
        raise ValueError("no url and no docid/id")
    address = offline_url(str(url)) if url is not None else docid_url(str(docid), cfg.name)
    title = _first(doc, "title")
    raw_html = _first(doc, "html", "raw_html")
    text = _first(doc, "text", "contents", "content", "body")
    if text is None and raw_html is None:
        raise ValueError("no text and no html")
    if raw_html is not None:
        html_title, html_text = _html_text(str(raw_html))
        title = title or html_title
        text = str(text) if text is not None else html_text
        page_html = _HREF_RE.sub(lambda m: m.group(1) + offline_url(m.group(2)), str(raw_html))
    else:
        text = str(text)
        if title is None and "contents" in doc and "\n" in text:  # wiki-18: '"Title"\nbody'
            first, text = text.split("\n", 1)
            title = first.strip().strip('"')
        page_html = ""
    text = text.strip()
    if not text:
        raise ValueError("empty text")
    if cfg.max_text_chars:
        text = text[: cfg.max_text_chars]
    title = str(title or (url if url is not None else docid)).strip()
    lang = str(doc.get("lang") or ("zh" if len(_CJK_RE.findall(text[:2000])) > 200 else "en"))
    host = urlsplit(address).hostname
    return Page(url=address, title=title, html=page_html or _text_html(title, text), text=text, lang=lang, depth=1,
                kind="doc", date=str(doc["date"]) if doc.get("date") else None, site=f"http://{host}/")


def read_documents(path: str | os.PathLike, config: CorpusConfig | None = None,
                   report: ImportReport | None = None) -> Iterator[Page]:
    """Pages of a JSONL (or ``.jsonl.gz``) corpus, streamed; bad lines go to ``report.skipped``."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"corpus file not found: {path}")
    report = report if report is not None else ImportReport()
    for n, line in iter_lines(path):
        if not line.strip():
            continue
        try:
            doc = json.loads(line)
            if not isinstance(doc, dict):
                raise ValueError("not a JSON object")
            yield document_page(doc, config)
        except (ValueError, json.JSONDecodeError) as e:
            report.skipped.append((n, str(e)))


# --- the import ------------------------------------------------------------------------------------

_SCHEMA = """CREATE TABLE pages (
    url TEXT PRIMARY KEY, title TEXT NOT NULL, html TEXT NOT NULL, text TEXT NOT NULL,
    lang TEXT NOT NULL, depth INTEGER NOT NULL, kind TEXT NOT NULL, date TEXT, site TEXT NOT NULL
) WITHOUT ROWID;"""


def import_corpus(source: str | os.PathLike, out: str | os.PathLike, config: CorpusConfig | None = None, *,
                  overwrite: bool = False) -> ImportReport:
    """Import the corpus at ``source`` into the world directory ``out``; returns the report."""
    from webagent.web.index import IndexConfig, SearchIndex
    from webagent.world.store import PAGE_COLUMNS

    cfg = config or CorpusConfig()
    out = Path(out)
    if out.exists() and not overwrite:
        raise FileExistsError(f"{out} exists; pass overwrite=True (--force) to replace it")
    tmp = out.with_name(f".{out.name}.import-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    report = ImportReport()
    try:
        t0 = time.perf_counter()
        con = sqlite3.connect(tmp / "pages.db")
        con.execute("PRAGMA journal_mode=OFF")
        con.execute("PRAGMA synchronous=OFF")
        con.executescript(_SCHEMA)
        insert = f"INSERT OR IGNORE INTO pages VALUES ({','.join('?' * len(PAGE_COLUMNS))})"
        digest = hashlib.sha256()  # over the stored rows in input order: the same file, the same hash

        def stored() -> Iterator[Page]:
            """Pages as they are written: the index reads them in the same pass."""
            batch: list[Page] = []
            for page in read_documents(source, cfg, report):
                batch.append(page)
                if len(batch) >= cfg.batch:
                    yield from _write_batch(con, insert, batch, report, PAGE_COLUMNS, digest)
                    batch = []
            yield from _write_batch(con, insert, batch, report, PAGE_COLUMNS, digest)

        # Streamed in input order (sort=False): the pages are written to SQLite in the same pass.
        SearchIndex.build(stored(), tmp / "index", IndexConfig(heap_size=cfg.index_heap, num_threads=cfg.index_threads),
                          sort=False)
        con.commit()
        sites = con.execute("SELECT COUNT(DISTINCT site) FROM pages").fetchone()[0]
        con.close()
        report.seconds["import"] = round(time.perf_counter() - t0, 3)
        if report.documents == 0:
            raise ValueError(f"{source}: no document could be imported"
                             + (f" (first problem, line {report.skipped[0][0]}: {report.skipped[0][1]})"
                                if report.skipped else ""))
        manifest = {"kind": "corpus", "format": CORPUS_FORMAT, "name": cfg.name, "source": str(source),
                    "counts": {"pages": report.documents, "sites": sites, "duplicates": report.duplicates,
                               "skipped": len(report.skipped)},
                    "sha256": {"pages_in_input_order": digest.hexdigest()}}
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
        (tmp / "import_report.json").write_text(json.dumps(report.to_dict(), indent=1, ensure_ascii=False) + "\n")
        if out.exists():
            shutil.rmtree(out)
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return report


def _write_batch(con: sqlite3.Connection, insert: str, batch: list[Page], report: ImportReport,
                 columns: tuple[str, ...], digest: Any) -> Iterator[Page]:
    """Insert a batch; yield the pages that were new (a duplicate address keeps its first page)."""
    for page in batch:
        row = tuple(getattr(page, c) for c in columns)
        cur = con.execute(insert, row)
        if cur.rowcount:
            report.documents += 1
            digest.update(json.dumps(row, ensure_ascii=False).encode())
            yield page
        else:
            report.duplicates += 1
