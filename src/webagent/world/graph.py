"""The knowledge graph behind the offline web: entities, typed facts and their provenance.

Every attribute of an entity is a ``Fact`` (subject, predicate, object), so that each one can name
the pages that state it (``Fact.pages``, filled in by the renderer). Relations between entities
are facts whose object is another entity's id. The predicate vocabulary lives in
``webagent.world.schema``.

Generation (``generate_graph``) is in ``webagent.world.generate``; this module is only the data
model, its JSONL round-trip and the lookups later stages need (multi-hop questions, random walks).
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from webagent.jsonl import iter_jsonl


@dataclass
class Entity:
    """A fictional thing: a university, a person, a game, a conference edition, ..."""

    id: str
    """Stable id, ``{type}/{slug}``, e.g. ``university/veloria-university``."""
    type: str
    name: str
    """English name."""
    name_zh: str
    """Chinese name."""
    lang: str = "en"
    """Language of the entity's official site, when it has one."""
    home: str | None = None
    """Root URL of its official site (universities, organizations, conferences, games)."""
    aliases: list[str] = field(default_factory=list)

    def display(self, lang: str = "en") -> str:
        return self.name_zh if lang == "zh" else self.name


@dataclass
class Fact:
    """One statement ``subject --predicate--> object`` with the pages that state it."""

    id: str
    subject: str
    predicate: str
    object: str
    """An entity id when ``kind == 'entity'``, otherwise the literal value as text
    (ISO date ``2024-05-17``, a number ``1250``, a name, a free text)."""
    kind: str = "entity"
    """``entity``, ``date``, ``number``, ``name``, ``location`` or ``text``."""
    qualifiers: dict[str, str] = field(default_factory=dict)
    """Extra context, e.g. ``{"year": "2021"}`` for an award."""
    pages: list[str] = field(default_factory=list)
    """Canonical URLs of the pages that state this fact (provenance)."""

    @property
    def is_relation(self) -> bool:
        return self.kind == "entity"


class KnowledgeGraph:
    """Entities and facts with indexes for lookups by subject, object and type."""

    def __init__(self, entities: Iterable[Entity] = (), facts: Iterable[Fact] = ()):
        self.entities: dict[str, Entity] = {}
        self.facts: dict[str, Fact] = {}
        self._by_subject: dict[str, list[Fact]] = defaultdict(list)
        self._by_object: dict[str, list[Fact]] = defaultdict(list)
        self._by_type: dict[str, list[Entity]] = defaultdict(list)
        for e in entities:
            self.add_entity(e)
        for f in facts:
            self.add_fact(f)

    # -- building ---------------------------------------------------------------------------

    def add_entity(self, e: Entity) -> Entity:
        if e.id in self.entities:
            raise ValueError(f"duplicate entity id {e.id}")
        self.entities[e.id] = e
        self._by_type[e.type].append(e)
        return e

    def add_fact(self, f: Fact) -> Fact:
        if f.id in self.facts:
            raise ValueError(f"duplicate fact id {f.id}")
        if f.subject not in self.entities:
            raise ValueError(f"fact {f.id}: unknown subject {f.subject}")
        if f.is_relation and f.object not in self.entities:
            raise ValueError(f"fact {f.id}: unknown object {f.object}")
        self.facts[f.id] = f
        self._by_subject[f.subject].append(f)
        if f.is_relation:
            self._by_object[f.object].append(f)
        return f

    # -- lookups ----------------------------------------------------------------------------

    def __getitem__(self, entity_id: str) -> Entity:
        return self.entities[entity_id]

    def of_type(self, type_: str) -> list[Entity]:
        return list(self._by_type.get(type_, []))

    def facts_about(self, entity_id: str, predicate: str | None = None) -> list[Fact]:
        """Facts whose subject is ``entity_id`` (optionally one predicate)."""
        fs = self._by_subject.get(entity_id, [])
        return [f for f in fs if predicate is None or f.predicate == predicate]

    def facts_pointing_to(self, entity_id: str, predicate: str | None = None) -> list[Fact]:
        """Relation facts whose object is ``entity_id``."""
        fs = self._by_object.get(entity_id, [])
        return [f for f in fs if predicate is None or f.predicate == predicate]

    def value(self, entity_id: str, predicate: str) -> str | None:
        """The object of the first ``predicate`` fact about ``entity_id``, or None."""
        fs = self.facts_about(entity_id, predicate)
        return fs[0].object if fs else None

    def neighbors(self, entity_id: str) -> list[tuple[Fact, str]]:
        """Entities linked to ``entity_id`` in either direction, with the linking fact."""
        out = [(f, f.object) for f in self._by_subject.get(entity_id, []) if f.is_relation]
        out += [(f, f.subject) for f in self._by_object.get(entity_id, [])]
        return out

    def __len__(self) -> int:
        return len(self.entities)

    def iter_facts(self) -> Iterator[Fact]:
        return iter(self.facts.values())

    # -- persistence ------------------------------------------------------------------------

    def save(self, directory: str | os.PathLike) -> None:
        """Write ``entities.jsonl`` and ``facts.jsonl`` (sorted by id: byte-identical per seed)."""
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        # vars() instead of asdict(): same JSON, without asdict's deep copies (5x faster at 100k pages).
        _write_jsonl(d / "entities.jsonl", (vars(e) for _, e in sorted(self.entities.items())))
        _write_jsonl(d / "facts.jsonl", (vars(f) for _, f in sorted(self.facts.items())))

    @classmethod
    def load(cls, directory: str | os.PathLike) -> KnowledgeGraph:
        d = Path(directory)
        ents = (Entity(**r) for r in _read_jsonl(d / "entities.jsonl"))
        facts = (Fact(**r) for r in _read_jsonl(d / "facts.jsonl"))
        return cls(ents, facts)


def _write_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        for r in rows:
            fh.write(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n")


def _read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    for _, rec in iter_jsonl(path, torn_ok=False):
        yield rec
