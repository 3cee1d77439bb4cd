"""The BM25 search index of the offline web (tantivy), with a CJK-aware analyzer and snippets.

One index directory holds a tantivy index plus ``webagent_index.json`` (format and analyzer
version, document count). Every page becomes one document:

=============  ==========================  ==================================================
field          tantivy type                purpose
=============  ==========================  ==================================================
url            text, raw, stored           the hit's link (and an exact-match key)
title          text, raw, stored           the hit's title as shown
date           text, raw, stored           the hit's date (absent when the page has none)
body           bytes, stored, not indexed  plain ``Page.text``, for query-biased snippets
title_terms    text, whitespace, freqs     ``analyze(title)``: ranked, boosted ×``TITLE_BOOST``
body_terms     text, whitespace, freqs     ``analyze(text)``: ranked
lang/kind      text, raw                   exact filters
host           text, raw, multi-valued     ``www.foo.test`` and ``foo.test``: the site filter
=============  ==========================  ==================================================

Why pre-analyze in Python: tantivy's default tokenizer keeps a run of Chinese characters as one
token, so a query for 大学 would never match 清华大学是. :func:`analyze` splits CJK runs into
overlapping character bigrams (the classic CJK indexing trick: no dictionary needed, every 2+
character word in a sentence is findable) and lower-cases latin words; the same function runs at
index and query time and tantivy only splits on whitespace.

Queries are built from analyzed terms (an OR of term queries), never handed to a query parser, so
no user input (quotes, colons, ``AND``, brackets) can make a search raise.

Reproducible: the ranking is a function of the pages alone. Pages with equal BM25 scores are
ordered by URL (tantivy would order them by internal document address, which depends on how its
writer threads split the documents), and :meth:`SearchIndex.build` writes byte-identical files for
the same pages in any input order: one writer thread, documents in URL order, and the randomly
named segments renamed after a digest of their content (see :func:`_canonical_segment_names`).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import shutil
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tantivy

from webagent.types import Hit, Page
from webagent.urls import host_of

INDEX_FORMAT = 1
ANALYZER = "latin-lower+cjk-bigram/1"
META_FILE = "webagent_index.json"
TITLE_BOOST = 2.0
MAX_QUERY_TERMS = 32  # a pasted paragraph must not turn into a 500-clause query
TIE_SLACK = 8  # extra hits fetched past the page asked for, to see whether the last score is tied
MAX_TIE_FETCH = 4096  # past this many hits tied at the page's edge, index order (URL order) decides
SNIPPET_WIDTH = 220
INLINE_SEARCH_S = 0.002  # searches averaging less CPU than this run on the event loop (search_async)

# Han, kana and hangul: scripts written without spaces between words.
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af"
_TOKEN_RE = re.compile(f"([{_CJK}]+)|([^\\W_{_CJK}]+)")
_WORD_RE = re.compile(f"[^\\W_{_CJK}]+")
_HAS_CJK_RE = re.compile(f"[{_CJK}]")

# Dropped from queries (not from the index) unless the query has nothing else: "who is the
# president of X" should rank by "president" and "X", but a search for "The Who" still works.
STOPWORDS = frozenset(
    "a an and are as at be but by for from has have in is it its of on or that the this to was were "
    "what when where which who whom whose why how with did do does".split()
)


def analyze(text: str) -> list[str]:
    """Split ``text`` into index terms: lower-cased latin/digit words, CJK character bigrams.

    A one-character CJK run stays a single character. Punctuation and underscores separate terms.
    ``analyze("Velor会议 2024年")`` is ``["velor", "会议", "2024", "年"]``.
    """
    text = text.lower()
    if not _HAS_CJK_RE.search(text):  # fast path: most pages are latin-only
        return _WORD_RE.findall(text)
    out: list[str] = []
    for cjk, word in _TOKEN_RE.findall(text):
        if word:
            out.append(word)
        elif len(cjk) == 1:
            out.append(cjk)
        else:
            out.extend(cjk[i : i + 2] for i in range(len(cjk) - 1))
    return out


def query_terms(query: str) -> list[str]:
    """Distinct analyzed terms of a query, stopwords removed unless nothing else is left."""
    seen = dict.fromkeys(analyze(query))
    terms = [t for t in seen if t not in STOPWORDS] or list(seen)
    return terms[:MAX_QUERY_TERMS]


def _schema() -> tantivy.Schema:
    b = tantivy.SchemaBuilder()
    b.add_text_field("url", stored=True, tokenizer_name="raw", index_option="basic")
    b.add_text_field("title", stored=True, tokenizer_name="raw", index_option="basic")
    b.add_text_field("date", stored=True, tokenizer_name="raw", index_option="basic")
    b.add_bytes_field("body", stored=True, indexed=False)
    b.add_text_field("title_terms", tokenizer_name="whitespace", index_option="freq")
    b.add_text_field("body_terms", tokenizer_name="whitespace", index_option="freq")
    for name in ("lang", "kind", "host"):
        b.add_text_field(name, tokenizer_name="raw", index_option="basic")
    return b.build()


def _host_values(url: str) -> list[str]:
    """The host and its parent domains down to two labels, so ``site:foo.test`` matches ``www.foo.test``."""
    labels = host_of(url).split(".")
    return [".".join(labels[i:]) for i in range(max(1, len(labels) - 1))]


def _document(page: Page) -> tantivy.Document:
    doc = tantivy.Document()
    doc.add_text("url", page.url)
    doc.add_text("title", page.title)
    if page.date:
        doc.add_text("date", page.date)
    doc.add_bytes("body", page.text.encode("utf-8"))
    doc.add_text("title_terms", " ".join(analyze(page.title)))
    doc.add_text("body_terms", " ".join(analyze(page.text)))
    doc.add_text("lang", page.lang)
    doc.add_text("kind", page.kind)
    for host in _host_values(page.url):
        doc.add_text("host", host)
    return doc


@dataclass
class IndexConfig:
    """Writer settings; the defaults index ~100k pages of a few KB in seconds on two cores.

    With one writer thread the index files are byte-identical across builds of the same pages;
    more threads split the documents between segments by timing, so the files differ from build
    to build (search results do not: ties are ordered by URL either way). Python's analysis, not
    tantivy's writer, is what takes the time, so a second thread saves little."""

    heap_size: int = 256_000_000
    num_threads: int = 1


class SearchIndex:
    """A read-only BM25 index over pages: ``SearchIndex.build(pages, dir)`` then ``search(q)``.

    The tantivy index is opened on the first search, not before: opening starts a tantivy thread
    that watches the directory and takes a lock file in it, and an index that was only built (or
    only checked) must leave nothing running that could write into a directory its owner is about
    to move or delete. Once open, the reader never reloads (the index never changes after build),
    and :meth:`close` lets the tantivy objects go."""

    def __init__(self, directory: Path, meta: dict):
        self.directory = directory
        self.meta = meta
        self._lock = threading.Lock()
        self._index: tantivy.Index | None = None
        self._tv_searcher = None
        self._cost = 0.0  # recent CPU seconds per search (moving average), for search_async

    @property
    def _searcher(self):
        if self._tv_searcher is None:
            with self._lock:
                if self._tv_searcher is None:
                    index = tantivy.Index.open(str(self.directory))
                    index.config_reader("Manual", 0)  # no watcher-driven reloads: the files never change
                    self._index, self._schema = index, index.schema
                    self._tv_searcher = index.searcher()
        return self._tv_searcher

    def close(self) -> None:
        """Let the tantivy index go (a later search opens it again)."""
        with self._lock:
            self._index = self._tv_searcher = None

    # -- building and opening ----------------------------------------------------------------

    @classmethod
    def build(
        cls,
        pages: Iterable[Page],
        directory: str | os.PathLike,
        config: IndexConfig | None = None,
        *,
        sort: bool = True,
    ) -> SearchIndex:
        """Index ``pages`` (any order) into ``directory``, replacing what is there.

        The index is written to a sibling temporary directory and renamed into place, so a crash
        mid-build never leaves a half-written index where a reader would open it. With one writer
        thread (the default) and ``sort=True`` (the default) the files are a function of the
        pages' content alone; ``sort=False`` streams the pages in the order given (for corpora
        too large to hold in memory), which gives the same search results but not the same files.
        """
        config = config or IndexConfig()
        directory = Path(directory)
        directory.parent.mkdir(parents=True, exist_ok=True)
        tmp = directory.with_name(f".{directory.name}.tmp-{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        try:
            if sort:
                pages = sorted(pages, key=lambda p: p.url)
            count = _write_index(pages, tmp, config)
            _canonical_segment_names(tmp)
            meta = {"format": INDEX_FORMAT, "analyzer": ANALYZER, "documents": count}
            (tmp / META_FILE).write_text(json.dumps(meta, indent=1) + "\n")
            _replace_dir(tmp, directory)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return cls.open(directory)

    @classmethod
    def open(cls, directory: str | os.PathLike) -> SearchIndex:
        """Open an index written by :meth:`build`: its metadata is checked now, its files are
        memory-mapped on the first search."""
        directory = Path(directory)
        meta_path = directory / META_FILE
        if not meta_path.exists():
            raise FileNotFoundError(f"{directory} is not a webagent search index (no {META_FILE})")
        meta = json.loads(meta_path.read_text())
        if meta.get("format") != INDEX_FORMAT or meta.get("analyzer") != ANALYZER:
            raise ValueError(
                f"{directory} was built by another version (format {meta.get('format')}, analyzer "
                f"{meta.get('analyzer')!r}); rebuild it"
            )
        return cls(directory, meta)

    def __len__(self) -> int:
        return int(self.meta.get("documents", 0)) if self._tv_searcher is None else self._tv_searcher.num_docs

    def __repr__(self) -> str:
        return f"SearchIndex({str(self.directory)!r}, documents={len(self)})"

    # -- searching ---------------------------------------------------------------------------

    def search(
        self,
        query: str,
        k: int = 10,
        *,
        site: str | None = None,
        lang: str | None = None,
        kind: str | None = None,
        offset: int = 0,
        with_text: bool = False,
    ) -> list[Hit]:
        """Top ``k`` pages for ``query`` by BM25 over title (boosted) and text, best first.

        ``site`` keeps pages of one host or domain (``www.foo.test``, ``foo.test`` or a URL);
        a ``site:host`` token inside the query does the same. ``lang`` and ``kind`` filter exactly.
        ``with_text`` puts the page's full text in ``hit.extra["text"]``. Never raises on any
        query string: one with no searchable term returns ``[]``.
        """
        start = time.thread_time()
        query, site = _split_site_operator(query, site)
        terms = query_terms(query)
        if not terms or k <= 0:
            return []
        searcher = self._searcher
        q = self._build_query(terms, site=site, lang=lang, kind=kind)
        offset = max(0, offset)
        ranked = self._ranked(searcher, q, offset + k)[offset:]
        snipper = Snippeter(terms)
        hits = []
        for score, _url, address, doc in ranked:
            doc = doc or searcher.doc(address)
            text = doc.get_first("body").decode("utf-8")
            hit = Hit(
                title=doc.get_first("title"),
                url=doc.get_first("url"),
                snippet=snipper.snippet(text),
                date=doc.get_first("date"),
                score=float(score),
            )
            if with_text:
                hit.extra["text"] = text
            hits.append(hit)
        # Thread CPU time, not wall time: waits for the GIL in a worker thread must not count.
        self._cost = 0.8 * self._cost + 0.2 * (time.thread_time() - start)
        return hits

    async def search_async(self, query: str, k: int = 10, **filters: Any) -> list[Hit]:
        """:meth:`search` for an event loop: run on the loop itself while searches are cheap,
        in a worker thread once they average over ``INLINE_SEARCH_S``.

        A search of a world's index takes about 0.3 ms, most of it Python under the GIL, so a
        worker thread runs it no sooner and the GIL hand-offs cost more than the search: the
        in-process agent benchmark went from 1,279 to 1,635 tool steps/s with searches inline
        (docs/benchmarks.md). A large imported corpus may search for longer; then the loop
        should not wait on it."""
        if self._cost < INLINE_SEARCH_S:
            return self.search(query, k, **filters)
        return await asyncio.to_thread(self.search, query, k, **filters)

    def _ranked(self, searcher, query, need: int) -> list[tuple[float, str, object, object]]:
        """The top ``need`` matches as ``(score, url, address, doc)``, ordered by score, then URL.

        tantivy cuts its top-n inside a group of equal scores by document address; to order a
        tied group by URL the whole group must be seen, so the search is repeated with a larger
        limit until a lower score (or the last match) follows the ``need``-th hit. Only the
        hits tied with the ``need``-th get their URL read (``url`` is ``""`` and ``doc`` None for
        the others, whose order the score alone decides)."""
        limit = need + TIE_SLACK
        while True:
            hits = searcher.search(query, limit=limit, count=False).hits
            if len(hits) <= need:
                edge = None  # every match is on the page: sort every tied group
                break
            edge = hits[need - 1][0]
            if len(hits) < limit or hits[-1][0] < edge or limit >= MAX_TIE_FETCH:
                break
            limit = min(limit * 4, MAX_TIE_FETCH)
        counts: dict[float, int] = {}
        for score, _ in hits:
            counts[score] = counts.get(score, 0) + 1
        rows = []
        for score, address in hits:
            if edge is not None and score < edge:
                break
            if counts[score] > 1:
                doc = searcher.doc(address)
                rows.append((score, doc.get_first("url"), address, doc))
            else:
                rows.append((score, "", address, None))
        rows.sort(key=lambda r: (-r[0], r[1]))
        return rows[:need]

    def _build_query(self, terms: list[str], *, site: str | None, lang: str | None, kind: str | None):
        s = self._schema
        should = []
        for t in terms:
            should.append((tantivy.Occur.Should, tantivy.Query.term_query(s, "body_terms", t, "freq")))
            title = tantivy.Query.term_query(s, "title_terms", t, "freq")
            should.append((tantivy.Occur.Should, tantivy.Query.boost_query(title, TITLE_BOOST)))
        query = tantivy.Query.boolean_query(should)
        filters = [("host", _site_host(site)), ("lang", lang), ("kind", kind)]
        filters = [(f, v) for f, v in filters if v]
        if not filters:
            return query
        # Filters must match but must not change scores: wrap them in a zero constant score.
        must = [(tantivy.Occur.Must, query)]
        for field, value in filters:
            term = tantivy.Query.term_query(s, field, value, "basic")
            must.append((tantivy.Occur.Must, tantivy.Query.const_score_query(term, 0.0)))
        return tantivy.Query.boolean_query(must)


def _write_index(pages: Iterable[Page], path: Path, config: IndexConfig) -> int:
    index = tantivy.Index(_schema(), path=str(path))
    writer = index.writer(heap_size=config.heap_size, num_threads=config.num_threads)
    count = 0
    # Python analyses page N+1 while tantivy's threads index page N: add_document only queues.
    try:
        for page in pages:
            writer.add_document(_document(page))
            count += 1
    except BaseException:
        # Stop tantivy's threads before the caller deletes the directory under them.
        writer.rollback()
        writer.wait_merging_threads()
        raise
    writer.commit()
    writer.wait_merging_threads()
    return count


def _canonical_segment_names(path: Path) -> None:
    """Rename the index's segments after a digest of their files, so equal content gives equal files.

    tantivy names each segment with a random UUID: in its file names, in ``meta.json`` (which
    lists segments in UUID order) and in ``.managed.json`` (a set, written in hash order). The
    segment files themselves do not contain the id (the same documents written by one thread give
    the same bytes), so naming a segment after the SHA-256 of its files and rewriting the two JSON
    files gives a directory that is byte-identical whenever the indexed content is.
    """
    meta_path = path / "meta.json"
    meta = json.loads(meta_path.read_text())
    renamed: dict[str, str] = {}
    for segment in meta["segments"]:
        old = segment["segment_id"].replace("-", "")
        digest = hashlib.sha256()
        for f in sorted(path.glob(f"{old}.*")):
            digest.update(f.name[len(old) :].encode() + b"\0" + f.read_bytes())
        new = digest.hexdigest()[:32]
        for f in path.glob(f"{old}.*"):
            f.rename(path / (new + f.name[len(old) :]))
        segment["segment_id"] = f"{new[:8]}-{new[8:12]}-{new[12:16]}-{new[16:20]}-{new[20:]}"
        renamed[old] = new
    meta["segments"].sort(key=lambda seg: seg["segment_id"])
    meta_path.write_text(json.dumps(meta, indent=2) + "\n")
    managed_path = path / ".managed.json"
    if managed_path.exists():
        names = []
        for name in json.loads(managed_path.read_text()):
            stem, dot, ext = name.partition(".")
            names.append(renamed.get(stem, stem) + dot + ext)
        managed_path.write_text(json.dumps(sorted(names)))


def index_digest(directory: str | os.PathLike) -> str:
    """SHA-256 over the names and bytes of an index directory's files (tantivy's lock files aside):
    equal for two builds of the same pages, so a world's manifest can cover its index."""
    digest = hashlib.sha256()
    for f in sorted(Path(directory).iterdir()):
        if f.is_file() and not f.name.endswith(".lock"):
            digest.update(f.name.encode() + b"\0" + hashlib.sha256(f.read_bytes()).digest())
    return digest.hexdigest()


def _replace_dir(new: Path, target: Path) -> None:
    old = target.with_name(f".{target.name}.old-{os.getpid()}")
    if target.exists():
        target.rename(old)
    new.rename(target)
    shutil.rmtree(old, ignore_errors=True)


_SITE_OP_RE = re.compile(r"(?:^|\s)site:(\S+)", re.IGNORECASE)


def _split_site_operator(query: str, site: str | None) -> tuple[str, str | None]:
    """Take a Google-style ``site:host`` token out of the query (the explicit argument wins)."""
    if not isinstance(query, str):
        return "", site
    m = _SITE_OP_RE.search(query)
    if not m:
        return query, site
    return (query[: m.start()] + " " + query[m.end() :]), site or m.group(1)


def _site_host(site: str | None) -> str | None:
    if not site:
        return None
    site = site.strip().lower()
    return host_of(site if "//" in site else "http://" + site) or None


# ---------------------------------------------------------------------------------------------
# Query-biased snippets

_SENTENCE_END_RE = re.compile(r"[.!?。！？;；](?=\s|$)|[。！？；]|\n")


# Enough to find the best window; bounds the work on huge pages (the whole-word matches kept,
# and the occurrences of each term looked at).
MAX_SNIPPET_MATCHES = 400


def _is_word_char(c: str) -> bool:
    """A letter or digit of a script that marks word boundaries (CJK characters are not)."""
    return c.isalnum() and not _HAS_CJK_RE.match(c)


class Snippeter:
    """Picks the window of a page's text that covers the most distinct query terms.

    Built once per query and applied to the top hits only. The window is ~``width`` characters,
    starts at a sentence or word boundary, ends at a word boundary, and gets ``...`` on each side
    where the text was cut.
    """

    def __init__(self, terms: Iterable[str], width: int = SNIPPET_WIDTH):
        self.width = width
        self._terms = sorted({t for t in terms if t}, key=len, reverse=True)
        self._cjk_terms = {t for t in self._terms if _HAS_CJK_RE.match(t)}  # no word boundaries in CJK

    def snippet(self, text: str) -> str:
        if not text:
            return ""
        start, end = self._best_window(text) if self._terms else (0, 0)
        return self._cut(text, start, end)

    def _matches(self, text: str) -> list[tuple[int, int, str]]:
        """Whole-word occurrences of the terms, left to right, none overlapping: at each position
        the longest term wins (what a regex alternation of the terms, longest first, finds). Found
        with ``str.find`` per term: compiling that regex for each query cost as much as matching."""
        lowered = text.lower()
        if len(lowered) != len(text):  # rare letters whose lower case is longer: keep offsets exact
            lowered = "".join(c.lower()[:1] for c in text)
        found = []
        for term in self._terms:  # a term's first MAX_SNIPPET_MATCHES occurrences, in words or not
            at = lowered.find(term)
            for _ in range(MAX_SNIPPET_MATCHES):
                if at < 0:
                    break
                found.append((at, -len(term), term))
                at = lowered.find(term, at + 1)
        found.sort()
        out, n, cjk, taken = [], len(lowered), self._cjk_terms, 0
        for start, minus_len, term in found:
            if start < taken:
                continue  # inside a longer or earlier occurrence
            end = taken = start - minus_len
            # "art" inside "party" is no match (and, like a regex scan, hides what overlaps it).
            if term not in cjk and ((start and _is_word_char(lowered[start - 1]))
                                    or (end < n and _is_word_char(lowered[end]))):
                continue
            out.append((start, end, term))
            if len(out) >= MAX_SNIPPET_MATCHES:
                break
        return out

    def _best_window(self, text: str) -> tuple[int, int]:
        """Start/end of the densest run of matches that fits in ``width`` (sliding window)."""
        matches = self._matches(text)
        if not matches:
            return 0, 0
        counts: dict[str, int] = {}
        best = (0, 0, 0, 0)  # distinct terms, total matches, window start, window end
        left = 0
        for right, (_, end, term) in enumerate(matches):
            counts[term] = counts.get(term, 0) + 1
            while end - matches[left][0] > self.width:
                lterm = matches[left][2]
                counts[lterm] -= 1
                if not counts[lterm]:
                    del counts[lterm]
                left += 1
            score = (len(counts), right - left + 1)
            if score > best[:2]:
                best = (*score, matches[left][0], end)
        return best[2], best[3]

    def _cut(self, text: str, first: int, last: int) -> str:
        """Expand [first, last) to ~width characters at natural boundaries, mark cuts with '...'."""
        n = len(text)
        slack = max(0, self.width - (last - first))
        start = max(0, first - min(slack // 2, 80))
        if last <= self.width:  # the window fits without cutting the beginning: show it whole
            start = 0
        if start > 0:
            # Prefer starting at the beginning of the sentence holding the first match.
            ends = list(_SENTENCE_END_RE.finditer(text, start, first))
            if ends:
                start = ends[-1].end()
            else:
                space = text.find(" ", start, first)
                start = space + 1 if space >= 0 else start
        end = min(n, max(last, start + self.width))
        if end < n:
            space = text.rfind(" ", last, end + 1)
            end = space if space > last else end
        body = " ".join(text[start:end].split())
        return ("..." if start > 0 else "") + body + ("..." if end < n else "")
