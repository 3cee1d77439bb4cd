"""build_world: byte-identical outputs, manifest, atomic replacement, parallel rendering."""

from __future__ import annotations

import json

import pytest

import webagent.world.build as build_mod
from webagent.world.build import WorldConfig, build_world
from webagent.world.store import WorldStore

GRAPH_FILES = ("graph/entities.jsonl", "graph/facts.jsonl")


def test_two_builds_are_identical_and_another_seed_differs(tmp_path, world_dir):
    a = build_world(WorldConfig(seed=7, size=6), tmp_path / "a", progress=False)
    for name in GRAPH_FILES + ("manifest.json",):
        assert (a / name).read_bytes() == (world_dir / name).read_bytes(), name
    b = build_world(WorldConfig(seed=8, size=6), tmp_path / "b", progress=False)
    ma, mb = (json.loads((d / "manifest.json").read_text()) for d in (a, b))
    assert ma["sha256"]["pages"] != mb["sha256"]["pages"]
    assert (a / GRAPH_FILES[1]).read_bytes() != (b / GRAPH_FILES[1]).read_bytes()


def _index_files(world_dir) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((world_dir / "index").iterdir())}


def test_two_builds_have_byte_identical_indexes_and_the_same_search_results(tmp_path, world_dir):
    """The search order is a function of the world alone: the same seed gives the same index files
    (the manifest covers them) and the same top-10 for every query, ties included."""
    from webagent.web.index import SearchIndex, index_digest

    again = build_world(WorldConfig(seed=7, size=6), tmp_path / "again", progress=False)
    assert _index_files(again) == _index_files(world_dir)
    assert json.loads((again / "manifest.json").read_text())["sha256"]["index"] == index_digest(world_dir / "index")

    # Two writer threads split the documents between segments by timing: other files, same results.
    store = WorldStore(world_dir)
    pages = list(store.iter_pages())
    threaded = SearchIndex.build(reversed(pages), tmp_path / "threaded", _index_config(2), sort=False)
    ours = SearchIndex.open(world_dir / "index")
    queries = sorted({p.title for p in pages})[::3][:200] + ["2024", "news", "university", "课程", "http"]
    tied = 0
    for q in queries:
        a, b = ours.search(q, k=10), threaded.search(q, k=10)
        assert [(h.url, h.score) for h in a] == [(h.url, h.score) for h in b], q
        scores = [h.score for h in a]
        tied += len(scores) != len(set(scores))
        for x, y in zip(a, a[1:], strict=False):  # best first, equal scores by URL
            assert (-x.score, x.url) < (-y.score, y.url), q
    assert tied >= 5  # the queries do exercise equal scores
    threaded.close()
    ours.close()
    store.close()


def _index_config(threads: int):
    from webagent.web.index import IndexConfig

    return IndexConfig(num_threads=threads)


def test_parallel_rendering_gives_the_same_world(tmp_path, world_dir):
    out = build_world(WorldConfig(seed=7, size=6, workers=2), tmp_path / "par", progress=False)
    assert (out / "manifest.json").read_bytes() == (world_dir / "manifest.json").read_bytes()
    assert (out / GRAPH_FILES[1]).read_bytes() == (world_dir / GRAPH_FILES[1]).read_bytes()


def test_manifest_describes_the_world(world_dir, world):
    m = json.loads((world_dir / "manifest.json").read_text())
    assert (m["seed"], m["size"], m["zh_share"]) == (7, 6, 0.6)
    counts = m["counts"]
    assert counts["pages"] == len(world) == sum(counts["by_kind"].values()) == sum(counts["by_depth"].values())
    assert counts["by_kind"]["portal"] == 1 and counts["sites"] == 12
    assert counts["entities"] == len(world.graph) and counts["facts"] == len(world.graph.facts)
    assert set(m["sha256"]) == {"pages", "index", *GRAPH_FILES}
    assert not any(k in json.dumps(m) for k in ("time", "created", "built_at"))


def test_store_reads_the_built_world(world):
    root = world.get("https://www.openpedia.test")
    assert root is not None and root.depth == 1 and root.kind == "wiki"
    fact = next(f for f in world.graph.iter_facts() if f.predicate == "course_room")
    assert fact.pages and all(world.get(u) is not None for u in fact.pages)


def test_failed_build_leaves_nothing_behind(tmp_path, monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError("renderer crashed")

    monkeypatch.setattr(build_mod, "render_world", boom)
    with pytest.raises(RuntimeError, match="renderer crashed"):
        build_world(WorldConfig(seed=1, size=2), tmp_path / "w", progress=False)
    assert list(tmp_path.iterdir()) == []


def test_rebuild_replaces_an_existing_world(tmp_path):
    out = tmp_path / "w"
    build_world(WorldConfig(seed=1, size=2), out, progress=False)
    (out / "stale.txt").write_text("left over")
    build_world(WorldConfig(seed=2, size=3), out, progress=False)
    assert not (out / "stale.txt").exists()
    assert json.loads((out / "manifest.json").read_text())["size"] == 3
    assert len(WorldStore(out)) > 0
