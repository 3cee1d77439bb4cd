"""``webagent world import``: a user's documents become an offline web served by the same server,
searched and read by the same tools, and evaluated on offline."""

import asyncio
import json
from pathlib import Path

import httpx
import pytest

from webagent.cli import main
from webagent.tools.toolbox import Toolbox, WebConfig
from webagent.trajectories.records import read_jsonl
from webagent.web.server import ServerThread
from webagent.world.corpus import (
    CorpusConfig,
    docid_url,
    document_page,
    import_corpus,
    offline_url,
    original_url,
)
from webagent.world.store import WorldStore

CORPUS = Path(__file__).parent / "data" / "corpus_sample.jsonl"
WIKI = "http://en.wikipedia.org.test/wiki/Marrow_Bay"


@pytest.fixture(scope="module")
def corpus_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("corpus") / "world"
    report = import_corpus(CORPUS, out)
    assert report.documents == 5 and report.duplicates == 1
    assert [n for n, _ in report.skipped] == [7, 8]  # not JSON; no address
    return out


def test_addresses_map_to_the_offline_web_and_back():
    assert offline_url("https://en.wikipedia.org/wiki/Marrow_Bay") == WIKI
    assert original_url(WIKI) == "https://en.wikipedia.org/wiki/Marrow_Bay"
    assert offline_url("http://www.velor-conf.test/a") == "http://www.velor-conf.test/a"  # already offline
    assert docid_url("a/b 1", "BrowseComp Plus") == "http://browsecomp-plus.test/doc/a%2Fb%201"


def test_document_fields():
    page = document_page({"id": "9", "contents": '"Kell Island"\nThe lighthouse was first lit in 1868.'})
    assert page.title == "Kell Island" and page.text == "The lighthouse was first lit in 1868."
    assert page.url == "http://corpus.test/doc/9" and page.kind == "doc" and page.lang == "en"
    assert "<h1>Kell Island</h1>" in page.html and "<p>The lighthouse was first lit in 1868.</p>" in page.html
    page = document_page({"url": "https://a.org/x", "html": '<title>T</title><p>Hi</p><a href="https://b.org/y">y</a>'})
    assert page.title == "T" and "Hi" in page.text and 'href="http://b.org.test/y"' in page.html
    zh = document_page({"docid": "z", "text": "清华大学" * 80})
    assert zh.lang == "zh"
    with pytest.raises(ValueError, match="no text"):
        document_page({"docid": "e"})


def test_import_writes_a_world_the_store_and_tools_read(corpus_dir):
    manifest = json.loads((corpus_dir / "manifest.json").read_text())
    assert manifest["kind"] == "corpus" and manifest["counts"]["pages"] == 5 and manifest["counts"]["skipped"] == 2
    store = WorldStore(corpus_dir)
    try:
        assert len(store) == 5 and len(store.index) == 5
        assert store.get(WIKI).text.startswith("Marrow Bay is a coastal town.")  # the first of the duplicates

        async def go():
            async with Toolbox(WebConfig(web="offline"), world=store) as tb:
                return (await tb.search({"query": ["Kell Island lighthouse"]}),
                        await tb.visit({"url": "http://corpus.test/doc/d2", "goal": "which river"}))

        search, visit = asyncio.run(go())
        assert "1. [Kell Island](http://corpus.test/doc/3)" in search and "first lit in 1868" in search
        assert "The Ossel river flows past Marrow Bay" in visit
    finally:
        store.close()


def test_served_by_the_same_server_with_clickable_links(corpus_dir):
    store = WorldStore(corpus_dir)
    try:
        with ServerThread(store) as srv:
            page = httpx.get(srv.url + "/stations", headers={"Host": "tides.example.org.test"})
            assert page.status_code == 200 and f'href="{WIKI}"' in page.text  # links point inside the corpus
            hits = httpx.post(srv.url + "/search", json={"q": "Ossel river", "num": 3}).json()["organic"]
            assert hits[0]["link"] == "http://corpus.test/doc/d2"

            async def click():
                async with Toolbox(WebConfig(web="offline", web_url=srv.url)) as tb:
                    tool = tb.click_tool("http://tides.example.org.test/stations")
                    first = await tool.root_observation()
                    return first, await tool({"button": "Marrow Bay station"})

            first, after = asyncio.run(click())  # links to other hosts are not buttons (WebWalker: one site)
            assert "<button>Marrow Bay station<button>" in first and "north pier" in after
    finally:
        store.close()


def test_an_existing_directory_is_kept_unless_forced(corpus_dir, tmp_path):
    with pytest.raises(FileExistsError):
        import_corpus(CORPUS, corpus_dir)
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{oops\n")
    with pytest.raises(ValueError, match="no document could be imported"):
        import_corpus(bad, tmp_path / "w")
    assert not (tmp_path / "w").exists() and not list(tmp_path.glob(".w.import-*"))


def test_eval_on_a_benchmark_about_the_corpus_runs_offline(corpus_dir, tmp_path, capsys):
    bench = tmp_path / "bench.jsonl"
    bench.write_text("\n".join(json.dumps(r) for r in [
        {"id": "k1", "question": "In what year was the Kell Island lighthouse first lit?", "answer": "1868"},
        {"id": "o1", "question": "Which river flows past Marrow Bay?", "answer": "Ossel"}]) + "\n")
    out = tmp_path / "ev"
    assert main(["eval", "--benchmark", str(bench), "--world", str(corpus_dir), "--runs", "1", "--out", str(out),
                 "--quiet"]) == 0
    records = read_jsonl(out / "run-1.jsonl")
    assert len(records) == 2
    observations = " ".join(a["observation"] for r in records for s in r["steps"] for a in s["actions"])
    assert "corpus.test/doc/" in observations  # the agent searched and read the imported documents
    assert (out / "report.md").exists()


def test_cli_import_reports_skipped_lines(tmp_path, capsys):
    assert main(["world", "import", str(CORPUS), "--out", str(tmp_path / "c"), "--name", "mine"]) == 0
    text = capsys.readouterr().out
    assert "corpus_sample.jsonl:7: skipped" in text and "imported 5 documents" in text
    assert WorldStore(tmp_path / "c").get("http://mine.test/doc/d2") is not None
    assert CorpusConfig().name == "corpus"
