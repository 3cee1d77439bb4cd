"""The privileged oracle: a ``ChatModel`` that knows a task's gold answer and evidence pages.

It writes protocol-exact replies for both agents, so the whole runtime (prompts, parsing, tools,
budgets, trajectories, judges, reports) runs end to end with no language model:

- **ReAct** (WebDancer/WebSailor): a concise ``<think>``, a search with a realistic query (entity
  names and attribute words, never the gold answer), visits of the evidence pages, then
  ``<answer>``.
- **WebWalker**: as explorer it clicks the buttons on the path from the root URL to each evidence
  page (found over the site's links); as critic it records the evidence pages in memory and
  answers once all of them have been read.

Exploration (:class:`OracleConfig`) makes the trajectories less of a straight line: with some
probability the first query is too vague and is reformulated, and a wrong page is opened first
(a non-evidence search hit, or a wrong button) before the oracle recovers. Everything is
deterministic for a given seed and task.

The oracle cheats by construction: it is always labelled ``privileged oracle`` (``name`` and
trajectory ``policy``), its results are an upper bound for the runtime, never a model's score.
Use one instance per episode (:meth:`OracleModel.for_task`); the WebWalker critic keeps state.
"""

from __future__ import annotations

import hashlib
import random
import re
from collections import deque
from dataclasses import dataclass
from typing import Any

from webagent import protocol as P
from webagent.llm.base import Completion
from webagent.tools.extract import plain_text, split_sentences

LABEL = "privileged oracle"
_URL = re.compile(r"\]\((https?://[^)\s]+)\)")
_QWORDS = {"what", "who", "which", "when", "where", "how", "is", "was", "the", "of", "a", "an", "did", "does",
           "are", "its", "it", "in", "has", "that", "many", "much"}


@dataclass
class OracleConfig:
    """How the oracle explores. Probabilities are per episode."""

    seed: int = 0
    p_reformulate: float = 0.3
    """Start with a vague query (attribute words only), then reformulate with the entity names."""
    p_wrong_page: float = 0.3
    """Open a wrong page first (a non-evidence search hit, or a wrong button), then recover."""
    visit_together: bool = False
    """Visit all evidence pages in one call instead of one per turn."""
    stepwise: bool = False
    """One hop at a time for small models: search for each evidence page's own entity and attribute
    right before visiting it, and keep thoughts short (no URLs). Every step then copies from what
    is already on screen: the question, the previous page's evidence, the last search results."""
    plans: bool = False
    """Stepwise only: the first thought names every hop ("I need the employer of X, then its
    location"), each visit's thought repeats the hop still to come, and the last thought quotes the
    page's line with the answer ("The page says: location: Liquin"). Cues for a small model's two
    weakest choices: whether to go on after a page, and which piece of the page is the answer."""
    label: str = LABEL


def _rng(seed: int, task_key: str) -> random.Random:
    return random.Random(int(hashlib.sha256(f"{seed}:{task_key}".encode()).hexdigest()[:16], 16))


def realistic_query(task: dict[str, Any]) -> str:
    """Entity names plus attribute words from the task hints, else the question's content words;
    the gold answer's words are removed either way."""
    hints = task.get("hints") or {}
    words = [*hints.get("entities", [])[:1], *hints.get("attributes", [])[-1:]]
    query = " ".join(words) if words else " ".join(w for w in re.findall(r"[\w'-]+", str(task["question"]))
                                                     if w.lower() not in _QWORDS)
    return _without(query, str(task.get("answer") or "")) or str(task["question"])


def _without(query: str, answer: str) -> str:
    """``query`` with the gold answer's text taken out (a query must never leak it)."""
    answer = answer.strip()
    if answer and answer.lower() in query.lower():
        query = re.sub(re.escape(answer), "", query, flags=re.I)
    return " ".join(query.split())


class OracleModel:
    """See the module docstring. ``task`` needs ``question``, ``answer`` and ``evidence_urls``;
    ``hints`` (``entities``, ``attributes``) make better queries; WebWalker needs ``world``."""

    def __init__(self, task: dict[str, Any], config: OracleConfig | None = None, *, world: Any = None):
        self.task, self.config, self.world = task, config or OracleConfig(), world
        self.name = self.config.label
        self.evidence = [u for u in dict.fromkeys(task.get("evidence_urls") or []) if u]
        rng = _rng(self.config.seed, str(task.get("id") or task["question"]))
        self.reformulate = rng.random() < self.config.p_reformulate
        self.wrong_first = rng.random() < self.config.p_wrong_page
        self._pick = rng.random()  # which wrong page, decided once
        self._critic_seen: list[str] = []
        self._clicks: list[tuple[str, str]] | None = None
        self._last_click = -1

    @classmethod
    def for_task(cls, task: dict[str, Any], config: OracleConfig | None = None, *, world: Any = None,
                 run: int = 0) -> OracleModel:
        """A fresh oracle for one episode; ``run`` varies the exploration between repeated runs."""
        cfg = config or OracleConfig()
        if run:
            cfg = OracleConfig(**{**vars(cfg), "seed": cfg.seed * 1000 + run})
        return cls(task, cfg, world=world)

    async def generate(self, messages: list[dict[str, Any]], **kwargs: Any) -> Completion:
        if messages and messages[0]["role"] == "user" and len(messages) == 1:
            text = self._critic(str(messages[0]["content"]))  # WebWalker critic calls are single-turn
        elif kwargs.get("stop") == P.REACT_STOP or "Action Input" in str(messages[0].get("content", "")):
            text = self._explorer(messages)
        else:
            text = self._react(messages)
        return Completion(text=text, prompt_tokens=sum(len(str(m.get("content") or "")) for m in messages) // 4,
                          completion_tokens=len(text) // 4)

    # --- ReAct ------------------------------------------------------------------------------------
    def _plan(self) -> list[str]:
        steps = (["vague_search"] if self.reformulate else []) + ["search"]
        steps += ["wrong_visit"] if self.wrong_first else []
        if self.config.stepwise:
            hops = [[f"search:{i}", f"visit:{u}"] for i, u in enumerate(self.evidence)]
            steps += [s for hop in hops for s in hop][1:]  # the first hop's search is "search"
        else:
            steps += ["visit_all"] if self.config.visit_together else [f"visit:{u}" for u in self.evidence]
        return steps + ["answer"]

    def _hop(self, i: int) -> tuple[str, str]:
        """(entity, attribute) of hop ``i`` from the task hints (the last ones when hints are short)."""
        hints = self.task.get("hints") or {}
        ents, attrs = hints.get("entities") or ["the subject"], hints.get("attributes") or ["requested detail"]
        return ents[min(i, len(ents) - 1)], attrs[min(i, len(attrs) - 1)]

    def _react(self, messages: list[dict[str, Any]]) -> str:
        turn = sum(m["role"] == "assistant" for m in messages)
        last = str(messages[-1].get("content") or "") if messages[-1]["role"] == "user" else ""
        plan = self._plan()
        forced = turn > 0 and "<tool_response>" not in last  # a budget notice: answer now
        said = " ".join(str(m.get("content") or "") for m in messages if m["role"] == "assistant")
        # Skip visits already made (a wrong-page step without a distractor visits evidence early).
        todo = [s for s in plan[turn:] if not (s.startswith("visit:") and s[6:] in said)]
        step = "answer" if forced or not todo else todo[0]
        hints = self.task.get("hints") or {}
        entity = (hints.get("entities") or ["the subject"])[0]
        attribute = (hints.get("attributes") or ["requested detail"])[-1]
        query = realistic_query(self.task)
        if step == "vague_search":
            vague = " ".join(hints.get("attributes") or query.split()[-2:])
            return P.format_assistant(f"I need the {attribute}. Let me start with a broad search.",
                                      [P.ToolCall("search", {"query": [vague]})])
        if self.config.stepwise and (step == "search" or step.startswith("search:")):
            hop = int(step.split(":")[1]) if ":" in step else 0
            ent, attr = self._hop(hop)
            query = _without(f"{ent} {attr}", str(self.task.get("answer") or ""))
            plan = self._rest_of_plan() if hop == 0 and self.config.plans else ""
            return P.format_assistant(f"I need the {attr} of {ent}{plan}.", [P.ToolCall("search", {"query": [query]})])
        if step == "search":
            why = ("Those results are too generic; I will add the name." if self.reformulate
                   else f"I need the {attribute} of {entity}. I will search for it.")
            return P.format_assistant(why, [P.ToolCall("search", {"query": [query]})])
        if step == "wrong_visit":
            urls = [u for u in _URL.findall(_last_search(messages)) if u not in self.evidence]
            if urls:
                url = urls[int(self._pick * len(urls))]
                return P.format_assistant("This result looks related; let me check it.",
                                          [P.ToolCall("visit", {"url": [url], "goal": f"the {attribute} of {entity}"})])
            step = todo[1]  # no distractor available: go straight on
        lead = "That page does not state it. " if turn and plan[turn - 1] == "wrong_visit" else ""
        if self.config.stepwise and step.startswith("visit:"):
            url = step.split(":", 1)[1]
            hop = self.evidence.index(url)
            ent, attr = self._hop(hop)
            if not self.config.plans:
                return P.format_assistant(f"{lead}The result {ent} should give it.",
                                          [P.ToolCall("visit", {"url": [url], "goal": attr})])
            # The hop still to come, said again right before the page is read, so that the choice
            # after it (search on, or answer) has its cue a few hundred tokens back, not a thousand.
            rest = self._rest_of_plan(hop)
            then = f" Then{rest.removeprefix(', then')}." if rest else ""
            return P.format_assistant(f"{lead}The result {ent} should give the {attr}.{then}",
                                      [P.ToolCall("visit", {"url": [url], "goal": attr})])
        if step == "visit_all" or step.startswith("visit:"):
            urls = self.evidence if step == "visit_all" else [step.split(":", 1)[1]]
            # Varied wording, so several visits in one episode do not read as one repeated sentence.
            says = [f"The page {urls[0]} should state the {attribute} of {entity}.",
                    f"Next I will read {urls[0]}; it looks like the page that gives the {attribute}.",
                    f"{urls[0]} is the most promising page left, so I will open it.",
                    f"To confirm the {attribute} of {entity}, I will check {urls[0]}.",
                    f"Let me read {urls[0]} for the remaining part of the evidence."]
            return P.format_assistant(lead + says[turn % len(says)],
                                      [P.ToolCall("visit", {"url": urls, "goal": f"the {attribute} of {entity}"})])
        answer = str(self.task.get("answer"))
        quote = _quote(messages, answer) if self.config.stepwise and self.config.plans and not self._compares() else ""
        thought = f"The page says: {quote}" if quote else f"The evidence gives the {attribute} of {entity}."
        return P.format_assistant(thought, None, answer)

    def _rest_of_plan(self, hop: int = 0) -> str:
        """What a multi-page question still needs after hop ``hop``, said in the first thought and
        again before that hop's page is read, so that a small model back from a page can read from
        its own words whether to go on: ", then its founder" (a bridge: the next entity is not known
        yet) or ", then the credits of Y" (a comparison: the question names it)."""
        if hop + 1 >= len(self.evidence):
            return ""
        ent, attr = self._hop(hop + 1)
        return f", then the {attr} of {ent}" if self._compares() else f", then its {attr}"

    def _compares(self) -> bool:
        """Whether the pages are read for one attribute of entities the question names (a
        comparison, its answer computed), as opposed to a bridge: one attribute per page, the
        second page's entity found on the first (its name may still be part of the question's)."""
        attributes = (self.task.get("hints") or {}).get("attributes") or []
        return len(self.evidence) > 1 and len(attributes) == 1

    # --- WebWalker --------------------------------------------------------------------------------
    def _explorer(self, messages: list[dict[str, Any]]) -> str:
        if self._clicks is None:
            self._clicks = self._click_plan()
        turn = sum(m["role"] == "assistant" for m in messages)
        if not self._clicks:
            return P.format_react("I cannot find a path to the page; I will go back home.", "visit_page", {"button": "Home"})
        i = min(turn, len(self._clicks) - 1)
        self._last_click = i
        label, url = self._clicks[i]
        wrong = url == "" or (self.wrong_first and i == self._detour_at())
        thought = ("This section might hold it; let me look." if wrong
                   else "That was the wrong section; back on track." if self.wrong_first and i == self._detour_at() + 1
                   else f"The '{label}' button should lead towards the answer.")
        return P.format_react(thought, "visit_page", {"button": label})

    def _detour_at(self) -> int:
        return next((i for i, (_, u) in enumerate(self._clicks or []) if u == ""), -1)

    def _click_plan(self) -> list[tuple[str, str]]:
        """(label, url) clicks from the root through every evidence page; a wrong click ("", url
        unknown) is inserted once when exploring."""
        root = self.task.get("root_url")
        if not (root and self.world is not None and self.evidence):
            return []
        site = site_links(self.world, root)
        clicks, here = [], site.root
        for target in self.evidence:
            path = site.path(here, target)
            if path is None:
                continue
            clicks += path
            here = target
        if self.wrong_first and clicks:
            start = site.root if len(clicks) == 1 else clicks[0][1]
            on_path = {u for _, u in clicks}
            nxt = clicks[0][0] if len(clicks) == 1 else clicks[1][0]
            options = [(lab, u) for lab, u in site.links.get(start, []) if u not in on_path
                       and site.label_target(u, nxt) in (None, site.label_target(start, nxt))]
            if options:
                lab, _ = options[int(self._pick * len(options))]
                at = 0 if len(clicks) == 1 else 1
                clicks.insert(at, (lab, ""))
        return clicks

    def _critic(self, prompt: str) -> str:
        if "Accumulated Information" in prompt:
            if self.evidence and all(u in self._critic_seen for u in self.evidence):
                return '{"judge": true, "answer": ' + _json_str(str(self.task.get("answer"))) + "}"
            return '{"judge": false}'
        clicks = self._clicks or []
        url = clicks[self._last_click][1] if 0 <= self._last_click < len(clicks) else ""
        if url in self.evidence and url not in self._critic_seen and "cannot be clicked" not in prompt[-400:]:
            self._critic_seen.append(url)
            done = all(u in self._critic_seen for u in self.evidence)
            info = (f"The page states the answer: {self.task.get('answer')}" if done
                    else f"This page ({url}) holds part of what the question needs.")
            return '{"usefulness": true, "information": ' + _json_str(info) + "}"
        return '{"usefulness": false}'


def _json_str(s: str) -> str:
    import json

    return json.dumps(s, ensure_ascii=False)


def _quote(messages: list[dict[str, Any]], answer: str, width: int = 48) -> str:
    """The latest observation line that holds ``answer``, as plain text of at most ``width``
    characters around it ("developer: Thodell Studios"); "" when no observation holds it (a
    computed answer). Ending the last thought on this line makes the answer a copy of the line
    just written, not of the entity that the thought would otherwise end on."""
    if not answer.strip():
        return ""
    # The sentence that holds it, as a whole word: the answer "2" is not the 2 of "2025".
    word = re.compile(rf"(?<![0-9A-Za-z]){re.escape(answer)}(?![0-9A-Za-z])")
    for m in reversed(messages):
        if m["role"] != "user":
            continue
        for line in reversed(str(m.get("content") or "").splitlines()):
            text = plain_text(line)
            if text.startswith(("A Google search", "The useful information")):
                continue
            text = next((t for t in split_sentences(text) if word.search(t)), "")
            found = word.search(text)
            if not found:
                continue
            if len(text) > width:
                start = max(0, min(found.start() - (width - len(answer)) // 2, len(text) - width))
                if start and text[start - 1] != " " and " " in text[start:found.start()]:
                    start = text.index(" ", start) + 1  # do not open on half a word
                text = text[start:start + width].strip()
            return text if answer in text else answer
    return ""


def _last_search(messages: list[dict[str, Any]]) -> str:
    for m in reversed(messages):
        if m["role"] == "user" and "<tool_response>" in str(m.get("content") or ""):
            return str(m["content"])
    return ""


class SiteLinks:
    """The button graph of one site: page URL -> [(label, target URL)], as the click tool sees it."""

    def __init__(self, root: str, links: dict[str, list[tuple[str, str]]]):
        self.root, self.links = root, links

    def label_target(self, page: str, label: str) -> str | None:
        """Where ``label`` leads from ``page`` (the click tool's map: a later button wins)."""
        target = None
        for lab, u in self.links.get(page, []):
            if lab == label:
                target = u
        return target

    def path(self, start: str, goal: str) -> list[tuple[str, str]] | None:
        """Shortest list of (label, url) clicks from ``start`` to ``goal`` (BFS), or None."""
        prev: dict[str, tuple[str, str] | None] = {start: None}
        queue = deque([start])
        while queue:
            page = queue.popleft()
            if page == goal:
                out = []
                while prev[page] is not None:
                    parent, label = prev[page]
                    out.append((label, page))
                    page = parent
                return out[::-1]
            for label, url in self.links.get(page, []):
                if url not in prev and self.label_target(page, label) == url:
                    prev[url] = (page, label)
                    queue.append(url)
        return None


_SITE_CACHE: dict[tuple[str, str], SiteLinks] = {}


def site_links(world: Any, root_url: str) -> SiteLinks:
    """The :class:`SiteLinks` of the site at ``root_url`` in ``world`` (cached per world and site)."""
    from webagent.tools.click import _canonical, extract_buttons

    root = _canonical(root_url)
    key = (str(getattr(world, "root", id(world))), root)
    if key not in _SITE_CACHE:
        links = {}
        for page in world.iter_pages(kind="site"):
            if page.site == root or page.url.startswith(root):
                links[page.url] = [(b.text, b.url) for b in extract_buttons(page.html, page.url, root)]
        _SITE_CACHE[key] = SiteLinks(root, links)
    return _SITE_CACHE[key]
