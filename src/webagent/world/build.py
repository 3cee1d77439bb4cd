"""Build a world directory: graph → pages → SQLite → search index → manifest.

``build_world(WorldConfig(seed=0, size=24), out_dir)`` writes::

    out_dir/graph/entities.jsonl, facts.jsonl   the knowledge graph, facts with provenance
    out_dir/pages.db                            every page (``webagent.world.store``)
    out_dir/index/                              the BM25 index (``webagent.web.index``)
    out_dir/manifest.json                       config, counts and content hashes

Everything is written into a temporary sibling directory that is renamed into place at the end,
so a crash never leaves a half-built world that looks complete. The manifest has no timestamps:
two builds with the same config give byte-identical manifests, graph files, page hashes and
search index files (the manifest's ``sha256["index"]`` covers the index; see
``webagent.web.index``), hence the same search results.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

from webagent.progress import progress as progress_bar
from webagent.world.generate import generate_graph
from webagent.world.render import RenderConfig, render_world
from webagent.world.store import write_pages


@dataclass
class WorldConfig:
    """What world to build. The same config always gives the same world."""

    seed: int = 0
    """Seed of the graph and of the per-site rendering choices."""
    size: int = 24
    """Number of official sites (about 250 pages per site, all kinds included; see docs/offline-web.md)."""
    zh_share: float = 0.6
    """Share of Chinese-language sites (WebWalkerQA: 60.5%)."""
    workers: int = 1
    """Processes rendering official sites in parallel. Does not change the output. Rendering is
    cheap string building, so shipping pages back from workers costs about what it saves on 2
    cores; more cores help large worlds a little."""
    index: bool = True
    """Build the search index (skipped with a warning when ``webagent.web.index`` is missing)."""


def _package_version() -> str:
    try:
        from importlib.metadata import version

        return version("webagent")
    except Exception:  # noqa: BLE001 - an uninstalled checkout still builds worlds
        return "0+unknown"


def generator_fingerprint() -> str:
    """SHA-256 over the source of the world package: it changes whenever the code that decides
    what a world contains changes, so a cached default world built by older code is rebuilt."""
    h = hashlib.sha256()
    root = Path(__file__).resolve().parent
    for path in sorted(p for p in root.rglob("*") if p.is_file() and p.suffix in (".py", ".txt", ".json", ".toml")):
        h.update(path.relative_to(root).as_posix().encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def build_world(config: WorldConfig, out_dir: str | os.PathLike, progress: bool = True) -> Path:
    """Build the world described by ``config`` into ``out_dir`` (replaced if it exists)."""
    out = Path(out_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.building-", dir=out.parent))
    try:
        with progress_bar(5, desc="world", unit="step", disable=not progress) as bar:
            bar.set_postfix_str("graph")
            graph = generate_graph(config.seed, config.size, config.zh_share)
            bar.update()
            bar.set_postfix_str("render")
            pages = render_world(graph, RenderConfig(seed=config.seed, workers=max(1, config.workers)))
            bar.update()
            bar.set_postfix_str("pages.db")
            pages_sha = write_pages(tmp / "pages.db", pages)
            graph.save(tmp / "graph")
            bar.update()
            bar.set_postfix_str("index")
            indexed = _build_index(pages, tmp / "index", progress) if config.index else False
            bar.update()
            manifest = _manifest(config, graph, pages, pages_sha, tmp, indexed)
            (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
            bar.update()
        if out.exists():
            shutil.rmtree(out)
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def _build_index(pages, directory: Path, progress: bool) -> bool:
    try:
        from webagent.web.index import SearchIndex
    except ImportError:
        if progress:
            print("webagent.web.index is not available: the world is built without a search index")
        return False
    SearchIndex.build(pages, directory)  # one writer thread, URL order: byte-identical files
    return True


def _index_digest(directory: Path) -> str:
    from webagent.web.index import index_digest

    return index_digest(directory)


def _manifest(config: WorldConfig, graph, pages, pages_sha: str, root: Path, indexed: bool) -> dict:
    cfg = asdict(config)
    cfg.pop("workers")  # how it was built, not what was built
    return {
        "format": 1,
        "webagent_version": _package_version(),
        "generator": generator_fingerprint(),
        "config": cfg,
        "seed": config.seed,
        "size": config.size,
        "zh_share": config.zh_share,
        "counts": {
            "pages": len(pages),
            "by_kind": dict(sorted(Counter(p.kind for p in pages).items())),
            "by_lang": dict(sorted(Counter(p.lang for p in pages).items())),
            "by_depth": {str(k): v for k, v in sorted(Counter(p.depth for p in pages).items())},
            "sites": len({p.site for p in pages}),
            "entities": len(graph.entities),
            "entities_by_type": dict(sorted(Counter(e.type for e in graph.entities.values()).items())),
            "facts": len(graph.facts),
        },
        "sha256": {
            "pages": pages_sha,
            "graph/entities.jsonl": _sha256_file(root / "graph" / "entities.jsonl"),
            "graph/facts.jsonl": _sha256_file(root / "graph" / "facts.jsonl"),
            **({"index": _index_digest(root / "index")} if indexed else {}),
        },
        "index": indexed,
    }
