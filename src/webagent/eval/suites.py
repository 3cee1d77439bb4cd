"""Synthetic evaluation suites: the ``webagent.synth`` generators run offline on the world.

Each suite is one generator, deterministic per seed, with its items split once and for all:

- ``webwalker``: WebWalkerQA construction (single/multi-source × easy/medium/hard by page depth).
  Items carry ``root_url``, so the suite runs in both settings: root URL + click only (the
  WebWalker paper, ``--agent walker``) and search + visit (``--agent react``).
- ``crawlqa``: CrawlQA (count, multi-hop, intersection and the other Mintaka types).
- ``e2hqa``: E2HQA (n = 1-3 entity-to-description rewrites).
- ``sailorfog``: SailorFog-QA (obfuscated random-walk subgraphs).

A suite is the first ``pool`` items the generator keeps for the seed (the same material a
``webagent synth`` run would write); each item's split (``train``/``dev``/``test``, 80/10/10)
comes from a hash of the seed and its id, so the held-out questions of a world never change.
Tasks have the benchmark task shape: the synthesis record plus ``aliases`` (every other form the
answer takes on pages) and ``hints`` (entity names and attribute labels for the oracle's queries).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from webagent.world.graph import KnowledgeGraph
from webagent.world.phrasing import surface_forms
from webagent.world.schema import PREDICATES

SPLITS = ("train", "dev", "test", "all")
DEFAULT_POOL = 1000
"""Items generated per suite before splitting: about 100 test questions on a large enough world."""


@dataclass(frozen=True)
class Suite:
    name: str
    generator: str
    setting: str
    description: str


SUITES = {
    "webwalker": Suite("webwalker", "webwalkerqa", "root_url+click",
                       "WebWalkerQA-style single/multi-source × easy/medium/hard (also runs with search+visit)"),
    "crawlqa": Suite("crawlqa", "crawlqa", "search+visit", "CrawlQA: count, multi-hop, intersection, ..."),
    "e2hqa": Suite("e2hqa", "e2hqa", "search+visit", "E2HQA: n entity-to-description rewrites (n = difficulty)"),
    "sailorfog": Suite("sailorfog", "sailorfog", "search+visit", "SailorFog-QA: obfuscated subgraph questions"),
}


def suite_name(name: str) -> str:
    """The suite ``name`` means: a suite's own name, or the name of its generator (``webwalkerqa``
    is the ``webwalker`` suite, as ``webagent synth webwalkerqa`` writes it)."""
    by_generator = {s.generator: s.name for s in SUITES.values()}
    return name if name in SUITES else by_generator.get(name, name)


def split_of(task_id: str, seed: int) -> str:
    """The fixed split of a task: 80% train, 10% dev, 10% test."""
    bucket = int(hashlib.sha256(f"{seed}:{task_id}".encode()).hexdigest(), 16) % 10
    return "test" if bucket == 9 else "dev" if bucket == 8 else "train"


def build_suite(world: Any, name: str, *, seed: int = 0, split: str = "test",
                pool: int = DEFAULT_POOL, ctx: Any = None) -> list[dict[str, Any]]:
    """Tasks of suite ``name`` in ``split``, in a fixed mixed order (``ctx``: a ``SynthContext``
    to reuse, so several suites share one crawl of the sites)."""
    name = suite_name(name)
    if name not in SUITES:
        raise ValueError(f"unknown synthetic suite {name!r} (have: {', '.join(SUITES)})")
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r} (have: {', '.join(SPLITS)})")
    from webagent.synth.cli import build_generator
    from webagent.synth.pipeline import RunOptions, SynthContext, run_synthesis

    ctx = ctx or SynthContext(world)
    summary = run_synthesis(build_generator(SUITES[name].generator, ctx, seed=seed), ctx,
                            RunOptions(n=pool, progress=False))
    tasks = [record_to_task(r, ctx.graph) for r in summary.records]
    tasks = [t for t in tasks if split == "all" or split_of(t["id"], seed) == split]
    # A hash order mixes categories, so `--limit N` still covers them all.
    return sorted(tasks, key=lambda t: hashlib.sha256(f"{seed}:{t['id']}".encode()).hexdigest())


def record_to_task(rec: Any, graph: KnowledgeGraph) -> dict[str, Any]:
    """A synthesis ``QARecord`` as a benchmark task (with aliases, hints and breakdown info)."""
    facts = [graph.facts[f] for f in rec.facts if f in graph.facts]
    info = dict(rec.info) if rec.info else {
        "type": rec.qtype, "difficulty_level": rec.difficulty, "domain": _domain(facts, graph), "lang": rec.lang}
    info["generator"] = rec.generator
    task = {"id": rec.id, "question": rec.question, "answer": rec.answer, "aliases": _aliases(rec.answer, facts, graph),
            "evidence_urls": list(rec.evidence_urls), "info": info, "hints": _hints(facts, graph, rec.lang, rec.question),
            "hops": rec.hops, "oracle_tool_calls": rec.oracle_tool_calls}
    if rec.root_url:
        task["root_url"] = rec.root_url
    return task


def _aliases(answer: str, facts: list, graph: KnowledgeGraph) -> list[str]:
    """Other forms of the answer: every surface form of a fact that can be written as ``answer``,
    and every name of an entity called ``answer`` among the facts' ends."""
    forms: list[str] = []
    for f in facts:
        fs = surface_forms(f, graph)
        if answer in fs:
            forms += fs
        for end in (f.subject, f.object if f.is_relation else None):
            e = graph.entities.get(end) if end else None
            if e is not None and answer in (e.display("en"), e.display("zh"), e.name):
                forms += [e.display("en"), e.display("zh"), e.name]
    return [a for a in dict.fromkeys(forms) if a and a != answer]


def _hints(facts: list, graph: KnowledgeGraph, lang: str, question: str) -> dict[str, list[str]]:
    """Entity names (those the question names first) and attribute labels of the facts."""
    ends = [e for f in facts for e in (f.subject, f.object if f.is_relation else None) if e]
    names = list(dict.fromkeys(graph[e].display(lang) for e in ends))
    entities = sorted(names, key=lambda n: n not in question)
    attributes = [(PREDICATES[f.predicate].zh if lang == "zh" else PREDICATES[f.predicate].en) for f in facts]
    return {"entities": entities, "attributes": list(dict.fromkeys(attributes))}


def _domain(facts: list, graph: KnowledgeGraph) -> str:
    from webagent.synth.words import DOMAIN_OF_SITE

    if not facts:
        return ""
    etype = graph[facts[0].subject].type
    return DOMAIN_OF_SITE.get(etype, etype)
