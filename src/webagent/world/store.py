"""The on-disk form of a built world and read access to it.

A world directory holds::

    manifest.json        seed, size, counts, content hashes (the determinism check)
    graph/entities.jsonl the knowledge graph's entities
    graph/facts.jsonl    its facts, each with the URLs of the pages that state it
    pages.db             every rendered page (SQLite, one row per URL)
    index/               the BM25 search index over the pages

Pages are written in URL order inside one transaction, so the same pages give the same database
bytes; ``manifest.json`` also records a SHA-256 over the page rows for a check that does not
depend on SQLite's file format.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from webagent.types import Page
from webagent.urls import normalize_url

PAGE_COLUMNS = ("url", "title", "html", "text", "lang", "depth", "kind", "date", "site")

_SCHEMA = """
CREATE TABLE pages (
    url TEXT PRIMARY KEY, title TEXT NOT NULL, html TEXT NOT NULL, text TEXT NOT NULL,
    lang TEXT NOT NULL, depth INTEGER NOT NULL, kind TEXT NOT NULL, date TEXT, site TEXT NOT NULL
) WITHOUT ROWID;
"""


def write_pages(db_path: str | os.PathLike, pages: Iterable[Page]) -> str:
    """Write ``pages`` to a fresh SQLite file and return the SHA-256 of their content.

    Pages are sorted by canonical URL first so that the output does not depend on the order the
    renderer produced them in. A duplicate URL is a bug in the renderer and raises ``ValueError``.
    """
    db_path = Path(db_path)
    db_path.unlink(missing_ok=True)
    rows = sorted((_row(p) for p in pages), key=lambda r: r[0])
    digest = hashlib.sha256()
    con = sqlite3.connect(db_path)
    try:
        con.execute("PRAGMA journal_mode=OFF")
        con.execute("PRAGMA synchronous=OFF")
        con.executescript(_SCHEMA)
        prev = None
        for r in rows:
            if r[0] == prev:
                raise ValueError(f"duplicate page URL: {r[0]}")
            prev = r[0]
            digest.update(json.dumps(r, ensure_ascii=False).encode())
        con.executemany(f"INSERT INTO pages VALUES ({','.join('?' * len(PAGE_COLUMNS))})", rows)
        con.commit()
    finally:
        con.close()
    return digest.hexdigest()


def _row(p: Page) -> tuple:
    p.url = normalize_url(p.url)
    return tuple(getattr(p, c) for c in PAGE_COLUMNS)


class WorldStore:
    """Read-only access to a built world directory (thread-safe)."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        db = self.root / "pages.db"
        if not db.exists():
            raise FileNotFoundError(
                f"{self.root} is not a built world (no pages.db); build one with "
                f"`webagent world build --out {self.root}`"
            )
        self.manifest: dict[str, Any] = json.loads((self.root / "manifest.json").read_text())
        # One connection shared under a lock: reads take microseconds, and SQLite connections
        # must not be used from two threads at once.
        self._con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, check_same_thread=False)
        self._lock = threading.Lock()
        self._graph = None
        self._index = None

    def get(self, url: str) -> Page | None:
        """The page at ``url`` (any spelling that normalises to it), or None."""
        key = normalize_url(url)
        with self._lock:
            row = self._con.execute("SELECT * FROM pages WHERE url = ?", (key,)).fetchone()
            if row is None and not key.endswith("/") and "?" not in key:
                row = self._con.execute("SELECT * FROM pages WHERE url = ?", (key + "/",)).fetchone()
        return Page(**dict(zip(PAGE_COLUMNS, row, strict=True))) if row else None

    def __len__(self) -> int:
        with self._lock:
            return self._con.execute("SELECT COUNT(*) FROM pages").fetchone()[0]

    def __contains__(self, url: str) -> bool:
        return self.get(url) is not None

    def iter_pages(self, kind: str | None = None, batch: int = 1000) -> Iterator[Page]:
        """All pages in URL order, optionally only one ``kind``."""
        last = ""
        while True:
            sql = "SELECT * FROM pages WHERE url > ?" + (" AND kind = ?" if kind else "")
            args: tuple = (last, kind) if kind else (last,)
            with self._lock:
                rows = self._con.execute(sql + " ORDER BY url LIMIT ?", (*args, batch)).fetchall()
            if not rows:
                return
            for row in rows:
                yield Page(**dict(zip(PAGE_COLUMNS, row, strict=True)))
            last = rows[-1][0]

    def sites(self) -> list[str]:
        """Root URLs of every site (official sites, the encyclopedia, news outlets)."""
        with self._lock:
            return [r[0] for r in self._con.execute("SELECT DISTINCT site FROM pages ORDER BY site")]

    @property
    def graph(self):
        """The world's knowledge graph (loaded on first use)."""
        if self._graph is None:
            from webagent.world.graph import KnowledgeGraph

            self._graph = KnowledgeGraph.load(self.root / "graph")
        return self._graph

    @property
    def index(self):
        """The world's search index (opened on first use)."""
        if self._index is None:
            from webagent.web.index import SearchIndex

            self._index = SearchIndex.open(self.root / "index")
        return self._index

    def close(self) -> None:
        self._con.close()
        if self._index is not None:
            self._index.close()
