"""LLM mode: the same pipeline, with a model writing (and, for WebWalkerQA, judging) the text.

The offline generator still picks the grounded material (pages, facts, subgraphs); the model
gets that material through our prompts (``webagent/prompts/synth_<generator>.toml``) and writes
the item. Every reply must be a JSON object with the fields the prompt asks for; anything else is
rejected with a counted reason (``llm_malformed``, ``llm_missing_fields``, ``llm_answer_changed``,
``llm_error`` ...) and never written. Accepted items then pass the same verification and quality
gate as offline ones (the answer must be grounded in the evidence pages and absent from the
question).
"""

from __future__ import annotations

from typing import Any

from webagent.prompts import load_prompts
from webagent.synth.qa import Draft, contains_phrase, normalize_text
from webagent.tools.extract import parse_json_object

LANG_NAMES = {"en": "English", "zh": "Chinese"}


class LLMRealizer:
    """Turns offline drafts into model-written items; see the module docstring."""

    def __init__(self, *, max_page_chars: int = 6000, max_tokens: int = 1024, temperature: float = 0.7,
                 prompt_files: dict[str, str] | None = None):
        self.max_page_chars = max_page_chars
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.prompt_files = prompt_files or {}
        self._prompts: dict[str, dict[str, str]] = {}
        self._page_facts: dict[int, dict[str, list]] = {}

    def prompts(self, generator: str) -> dict[str, str]:
        if generator not in self._prompts:
            self._prompts[generator] = load_prompts(f"synth_{generator}", self.prompt_files.get(generator))
        return self._prompts[generator]

    async def ask(self, model: Any, generator: str, key: str, **fields: Any) -> tuple[dict | None, str | None]:
        """One model call with prompt ``key``: (parsed JSON object, None) or (None, reason)."""
        p = self.prompts(generator)
        messages = [{"role": "system", "content": p["system"]},
                    {"role": "user", "content": p[key].format(**fields)}]
        try:
            reply = await model.generate(messages, max_tokens=self.max_tokens, temperature=self.temperature)
        except Exception:  # a backend failure costs this item, not the run
            return None, "llm_error"
        obj = parse_json_object(reply.text)
        return (obj, None) if obj is not None else (None, "llm_malformed")

    async def ask_question(self, model: Any, generator: str, key: str, gold: str,
                           **fields: Any) -> tuple[str, str | None]:
        """:meth:`ask` for a question whose answer the material fixes: (question, None) or
        (question, reason to reject: a failed call, a missing field or a changed answer)."""
        obj, why = await self.ask(model, generator, key, **fields)
        return ("", why) if obj is None else _question_keeping_answer(obj, gold)

    def _page(self, ctx, url: str | None) -> str:
        text = (ctx.page_text(url) if url else None) or ""
        return text[: self.max_page_chars]

    def _sublinks(self, ctx, urls: list[str]) -> str:
        return "\n\n".join(f"Sublink {k} URL: {u}\nSublink {k} INFO: {self._page(ctx, u)}"
                           for k, u in enumerate(urls, 1))

    # -- per generator ----------------------------------------------------------------------------

    async def realize(self, gen: Any, draft: Draft, model: Any) -> tuple[Draft, str | None]:
        handler = getattr(self, f"_realize_{gen.name}")
        draft.record.mode = "llm"
        return draft, await handler(gen, draft, model)

    async def _realize_webwalkerqa(self, gen, draft: Draft, model) -> str | None:
        rec, mat = draft.record, draft.material
        lang_name = LANG_NAMES[rec.lang]
        if mat["kind"] == "single":
            obj, why = await self.ask(model, gen.name, "single_user", lang_name=lang_name,
                                      doc1=self._page(gen.ctx, mat.get("doc1_url")), doc2=self._page(gen.ctx, mat["doc2_url"]))
        else:
            obj, why = await self.ask(model, gen.name, "multi_user", lang_name=lang_name,
                                      sublinks=self._sublinks(gen.ctx, mat["urls"]))
        if obj is None:
            return why
        question, answer = _text(obj.get("query") or obj.get("question")), _text(obj.get("answer"))
        if not question or not answer:
            return "llm_missing_fields"
        if draft.answer_kind == "derived" and normalize_text(answer) == normalize_text(rec.answer):
            rec.question = question  # the computed answer (a difference) of the offline draft
            return None
        fact = self._fact_for_answer(gen, answer, rec.evidence_urls)
        if fact is None:
            return "llm_answer_not_a_fact"  # not a value some evidence page states about something
        rec.question, rec.answer = question, answer
        # The model may have picked another fact of the pages than the draft's: that fact is now
        # the support (shown on a page in one of its surface forms), and each of its forms is a leak.
        draft.support, draft.answer_fact, draft.answer_kind = [fact], fact, "fact"
        return None

    def _fact_for_answer(self, gen, answer: str, urls: list[str]):
        """The graph fact stated on one of ``urls`` whose value, in one of its surface forms
        (both names of an entity, every date format), is ``answer``; None if there is none."""
        from webagent.world.phrasing import surface_forms

        graph, want = gen.ctx.graph, normalize_text(answer)
        index = self._page_facts.get(id(graph))
        if index is None:
            index = self._page_facts[id(graph)] = {}
            for f in graph.iter_facts():
                for u in f.pages:
                    index.setdefault(u, []).append(f)
        for url in urls:
            text = gen.ctx.page_text(url) or ""
            for f in index.get(url, []):
                forms = [x for x in surface_forms(f, graph) if x]
                if any(x in text for x in forms) and any(normalize_text(x) == want for x in forms):
                    return f  # shown on the page, and the answer is one way of writing its value
        return None

    async def _realize_crawlqa(self, gen, draft: Draft, model) -> str | None:
        rec = draft.record
        p = self.prompts(gen.name)
        pages = self._sublinks(gen.ctx, rec.evidence_urls)
        question, why = await self.ask_question(model, gen.name, "user", rec.answer, qtype=rec.qtype,
                                                type_hint=p.get(rec.qtype, ""), pages=pages,
                                                lang_name=LANG_NAMES[rec.lang])
        if why:
            return why
        rec.question = question
        return None

    async def _realize_e2hqa(self, gen, draft: Draft, model) -> str | None:
        rec = draft.record
        question = rec.meta.get("seed_question", rec.question)
        for step in rec.meta.get("steps", []):
            entity = step["replaced"]
            obj, why = await self.ask(model, gen.name, "user", question=question, entity=entity,
                                      evidence=self._page(gen.ctx, step["page"]), lang_name=LANG_NAMES[rec.lang])
            if obj is None:
                return why
            new_q = _text(obj.get("question"))
            if not new_q or not _text(obj.get("description")):
                return "llm_missing_fields"
            if "answer" in obj and normalize_text(_text(obj["answer"])) != normalize_text(rec.answer):
                return "llm_answer_changed"
            if contains_phrase(new_q, entity):
                return "llm_entity_not_replaced"
            question = new_q
        rec.question = question
        return None

    async def _realize_sailorfog(self, gen, draft: Draft, model) -> str | None:
        rec = draft.record
        if draft.material.get("explored"):
            return await self._realize_explored(gen, draft, model)
        sub = draft.material["subgraph"]
        answer_type = gen.graph[sub.answer].type
        question, why = await self.ask_question(model, gen.name, "user", rec.answer, clues=rec.question,
                                                answer=rec.answer, answer_type=answer_type,
                                                lang_name=LANG_NAMES[rec.lang])  # the node meeting every constraint
        if why:
            return why
        rec.question = question
        return None

    async def _realize_explored(self, gen, draft: Draft, model) -> str | None:
        """A subgraph of an explored graph: the model obfuscates and asks; no name may remain."""
        rec, sub = draft.record, draft.material["subgraph"]
        edges = "\n".join(f"{s} | {p} | {o}" for s, p, o, _ in rec.meta["edges"])
        question, why = await self.ask_question(model, gen.name, "explored_user", rec.answer, edges=edges,
                                                answer=rec.answer, answer_type=draft.material.get("answer_type", "entity"),
                                                lang_name=LANG_NAMES[rec.lang])
        if why:
            return why
        if any(contains_phrase(question, name) for name in sub.nodes):
            return "llm_names_not_obfuscated"  # the question would be a lookup, not a fog
        rec.question = question
        return None

    # -- judging ----------------------------------------------------------------------------------

    async def judge(self, gen: Any, draft: Draft, model: Any) -> str | None:
        """WebWalkerQA's strict judge (R-WW-16/17); other generators have no LLM judge."""
        if gen.name != "webwalkerqa":
            return None
        rec, mat = draft.record, draft.material
        if mat["kind"] == "single":
            obj, why = await self.ask(model, gen.name, "judge_single", query=rec.question, answer=rec.answer,
                                      doc1=self._page(gen.ctx, mat.get("doc1_url")), doc2=self._page(gen.ctx, mat["doc2_url"]))
        else:
            obj, why = await self.ask(model, gen.name, "judge_multi", query=rec.question, answer=rec.answer,
                                      sublinks=self._sublinks(gen.ctx, mat["urls"]))
        if obj is None:
            return why
        decision = str(obj.get("decision", "")).strip().lower()
        if decision not in ("true", "false"):
            return "llm_malformed"
        rec.meta["judge_reason"] = _text(obj.get("reason"))
        return None if decision == "true" else "judge_rejected"


def _text(value: Any) -> str:
    return " ".join(str(value).split()) if isinstance(value, (str, int, float)) and not isinstance(value, bool) else ""


def _question_keeping_answer(obj: dict, gold: str) -> tuple[str, str | None]:
    """The model's ``question``, or the reason to reject the reply: a missing field, or an answer
    other than the one the material fixes (a changed answer would go unchecked)."""
    question, answer = _text(obj.get("question")), _text(obj.get("answer"))
    if not question or not answer:
        return question, "llm_missing_fields"
    if normalize_text(answer) != normalize_text(gold):
        return question, "llm_answer_changed"
    return question, None
