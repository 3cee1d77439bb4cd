"""The released agents' exact interface (``--protocol released``), for released checkpoints.

A released WebSailor/WebDancer checkpoint served on vLLM reaches its own accuracy only when it sees
what it saw in training. This module reproduces that interface (facts of the released code and
data, R-T-04/07/09/11) while the prompt prose stays ours (``prompts/released.toml``; point
``--prompt-file`` at a file holding the released prose to match a checkpoint exactly):

- system turn: ``<prose>\\nCurrent date: <date>`` (the date after a single newline);
- first user turn: ``<prose>`` with the tool schemas pretty-printed inside ``<tools>``, then
  ``User: <question>``; templates fill ``{date}``, ``{tools}`` and ``{question}`` by plain
  replacement, so released prose (full of JSON braces) can be pasted as it is;
- tool output as a user turn ``<tool_response>\\n…\\n\\n</tool_response>`` (both wrapper strings
  are keys of the prompt file);
- search blocks in the released layout with its "no results" text, visit output stripped, with
  its failure texts and its invalid-request texts;
- only the first ``<tool_call>`` of a turn runs, its JSON parsed tolerantly (json5 syntax:
  single quotes, trailing commas, ``True``/``None``);
- an invalid call answers ``Error: Tool call is not a valid JSON. …``; an unknown tool
  ``Tool <name> does not exists.``;
- a turn with neither a call nor an answer gets no reply turn: the model is called again;
- the last LLM call without an answer has its reply replaced by
  ``Sorry, the number of llm calls exceeds the limit.``; past the context cap (counted with the
  served model's tokenizer when ``--tokenizer`` is given) the last message becomes the
  forced-answer order and the model gets one more call.

Everything a tool returns still passes through :func:`webagent.protocol.escape_observation`:
for clean text that changes nothing, and a page still cannot forge a protocol tag.
"""

from __future__ import annotations

import ast
import json
import re
import time
from dataclasses import dataclass
from typing import Any

from webagent import protocol as P
from webagent import trajectory as T
from webagent.agents.react import OVERFLOW, ReactAgent
from webagent.prompts import load_prompts
from webagent.tools.base import Tool, ToolError
from webagent.tools.extract import LexicalExtractor
from webagent.tools.search import SearchTool
from webagent.tools.visit import VisitTool, format_visit
from webagent.trajectory import Action, Step, Trajectory
from webagent.types import Hit
from webagent.web.fetch import page_markdown

PROTOCOLS = ("webagent", "released")

_FIRST_CALL_RE = re.compile(r"<tool_call>(.*?)</tool_call>", re.DOTALL)


@dataclass
class ReleasedTexts:
    """The fixed texts of the released interface, read from a prompt file (``released`` kind)."""

    system: str
    user: str
    token_limit: str
    llm_limit: str
    call_error: str
    unknown_tool: str
    tool_response_open: str
    tool_response_close: str
    search_no_results: str
    search_bad_request: str
    visit_bad_request: str
    visit_failed_evidence: str
    visit_failed_summary: str

    @classmethod
    def load(cls, prompt_file: str | None = None) -> ReleasedTexts:
        prompts = load_prompts("released", prompt_file)
        return cls(**{k: prompts[k] for k in cls.__dataclass_fields__})

    def wrap(self, observation: str) -> str:
        """One tool output as the user turn that carries it back."""
        return self.tool_response_open + P.escape_observation(observation) + self.tool_response_close


def fill(template: str, **values: str) -> str:
    """Replace ``{name}`` placeholders literally (no ``str.format``: released prose holds JSON braces)."""
    for name, value in values.items():
        template = template.replace("{" + name + "}", value)
    return template


def pretty_tools_block(schemas: list[dict[str, Any]]) -> str:
    """The ``<tools>`` block of the released prompt: each schema pretty-printed, comma-separated."""
    body = ",\n".join(json.dumps(s.get("function", s), ensure_ascii=False, indent=2) for s in schemas)
    return f"<tools>\n{body}\n</tools>"


# --- tool calls --------------------------------------------------------------------------------------

def loads_tolerant(text: str) -> Any:
    """JSON, else json5 syntax (single quotes, trailing commas, Python literals, comments via json5
    when installed). Raises ``ValueError`` when nothing reads it (also for nesting too deep or
    integers too long, which the readers report otherwise)."""
    try:
        value = _loads_tolerant(text)
    except (RecursionError, MemoryError):
        raise ValueError("nested too deeply") from None
    if not P.json_depth_ok(value):
        raise ValueError(f"nested deeper than {P.MAX_JSON_DEPTH} levels")
    return value


def _loads_tolerant(text: str) -> Any:
    try:
        return P.loads_safe(text)
    except ValueError:
        pass
    try:
        import json5  # optional: the fullest json5 reader

        return json5.loads(text)
    except ImportError:
        pass
    except Exception as e:
        raise ValueError(str(e)) from None
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as e:
        raise ValueError(str(e)) from None
    names = {"true": True, "false": False, "null": None, "True": True, "False": False, "None": None}

    class _Names(ast.NodeTransformer):
        def visit_Name(self, node: ast.Name) -> ast.AST:  # noqa: N802 - the ast API's name
            if node.id in names:
                return ast.copy_location(ast.Constant(names[node.id]), node)
            raise ValueError(f"unknown name {node.id!r}")

    try:
        return ast.literal_eval(_Names().visit(tree))
    except (ValueError, TypeError, SyntaxError) as e:
        raise ValueError(str(e)) from None


def first_tool_call(text: str) -> P.ToolCall | None:
    """The first complete ``<tool_call>`` of a turn (later ones are ignored, as the released loop
    does), or ``None`` when the turn has none."""
    m = _FIRST_CALL_RE.search(text.rsplit("</think>", 1)[-1] if "</think>" in text else text)
    if m is None:
        return None
    body = m.group(1)
    try:
        value = loads_tolerant(body)
    except ValueError as e:
        return P.ToolCall("", {}, body, f"not valid JSON ({e})")
    if not isinstance(value, dict) or not isinstance(value.get("name"), str):
        return P.ToolCall("", {}, body, 'the call needs a "name" and "arguments"')
    args = value.get("arguments", {})
    if isinstance(args, str):
        try:
            args = loads_tolerant(args) if args.strip() else {}
        except ValueError as e:
            return P.ToolCall(value["name"], {}, body, f'"arguments" is not valid JSON ({e})')
    if not isinstance(args, dict):
        return P.ToolCall(value["name"], {}, body, '"arguments" must be an object')
    return P.ToolCall(value["name"], args, body)


# --- tools -------------------------------------------------------------------------------------------

def render_search(query: str, hits: list[Hit]) -> str:
    """One query's block in the released layout, byte for byte (text escaped, never reflowed)."""
    items = []
    for i, hit in enumerate(hits, 1):
        date = f"\nDate published: {hit.date}" if hit.date else ""
        source = f"\nSource: {hit.source}" if hit.source else ""
        snippet = f"\n{hit.snippet}" if hit.snippet else ""
        item = f"{i}. [{hit.title}]({hit.url}){date}{source}\n{snippet}"
        items.append(P.escape_observation(item.replace("Your browser can't play this video.", "")))
    return (f"A Google search for '{P.escape_observation(query)}' found {len(items)} results:\n\n## Web Results\n"
            + "\n\n".join(items))


class _ReleasedReplies:
    """What the released tools share: their own cache fingerprint, and the released text (not our
    error) for a request that fails validation. Mixed in before the tool class."""

    bad_request = ""

    @property
    def fingerprint(self) -> str:
        return "released:" + super().fingerprint

    async def __call__(self, args: dict[str, Any] | str | None) -> str:
        try:
            self.validate(args)
        except ToolError:
            return self.bad_request
        return await super().__call__(args)


class ReleasedSearchTool(_ReleasedReplies, SearchTool):
    """``search`` with the released observation texts; one string query is one block."""

    def __init__(self, engine: Any, texts: ReleasedTexts, *, k: int = 10, max_queries: int | None = None):
        super().__init__(engine, k=k, max_queries=max_queries)
        self.texts, self.bad_request = texts, texts.search_bad_request

    async def _one(self, query: str) -> str:
        try:
            hits = await self.engine.search(query, self.k)
        except Exception:
            hits = []
        if not hits:
            return fill(self.texts.search_no_results, query=P.escape_observation(query))
        return render_search(query, hits)


class ReleasedVisitTool(_ReleasedReplies, VisitTool):
    """``visit`` with the released failure and invalid-request texts; the whole output stripped."""

    def __init__(self, fetcher: Any, texts: ReleasedTexts, extractor: Any = None, **kw: Any):
        super().__init__(fetcher, extractor, **kw)
        self.texts, self.bad_request = texts, texts.visit_bad_request

    async def call(self, url: list[str], goal: str) -> str:
        return (await super().call(url, goal)).strip()

    async def read(self, url: str, goal: str) -> str:
        """As :meth:`VisitTool.read`, with the released failure texts for a page that cannot be read."""
        shown_url, shown_goal = P.escape_observation(url), P.escape_observation(goal)
        result = await self.fetcher.fetch(url)
        content = page_markdown(result, main_content=True)[: self.max_content] if result.ok else ""
        if not content.strip():
            return format_visit(shown_url, shown_goal, self.texts.visit_failed_evidence, self.texts.visit_failed_summary)
        try:
            found = await self.extractor.extract(content, goal)
        except Exception:  # a broken extractor must not cost the page
            found = await LexicalExtractor().extract(content, goal)
        return self._observation(shown_url, shown_goal, found, result.truncated)


def released_tools(search: Tool, visit: Tool, texts: ReleasedTexts) -> list[Tool]:
    """The released-interface versions of a toolbox's ``search`` and ``visit`` (same engine,
    fetcher and extractor; a record/replay cache keeps apart by the fingerprint)."""
    from webagent.tools.cache import CachedTool

    def inner(t: Tool) -> Tool:
        return t.tool if isinstance(t, CachedTool) else t

    s, v = inner(search), inner(visit)
    out: list[Tool] = [ReleasedSearchTool(s.engine, texts, k=s.k, max_queries=s.max_queries),
                       ReleasedVisitTool(v.fetcher, texts, v.extractor, max_urls=v.max_urls, max_content=v.max_content)]
    if isinstance(search, CachedTool):
        out = [CachedTool(t, search.cache) for t in out]
    return out


# --- the loop ----------------------------------------------------------------------------------------

class ReleasedReactAgent(ReactAgent):
    """:class:`ReactAgent` speaking the released interface (see the module docstring)."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.texts = ReleasedTexts.load(self.config.prompt_file)

    def initial_messages(self, question: str) -> list[dict[str, Any]]:
        import datetime as _dt

        date = self.config.date or _dt.date.today().isoformat()
        tools = pretty_tools_block([t.schema() for t in self.tools.values()])
        return [{"role": "system", "content": fill(self.texts.system, date=date)},
                {"role": "user", "content": fill(self.texts.user, tools=tools, question=question)}]

    def _parse(self, c: Any, index: int) -> tuple[Step, list[P.ToolCall]]:
        step, _ = super()._parse(c, index)
        call = first_tool_call(step.text)
        return step, [call] if call is not None else []

    async def _loop(self, traj: Trajectory, start: float) -> None:
        cfg, messages = self.config, traj.messages
        left = cfg.max_llm_calls
        while left > 0:
            left -= 1
            step, calls = await self._call_model(messages, len(traj.steps), start)
            if step.finish_reason == OVERFLOW:  # the server's window is full: the forced final turn now
                traj.meta["context_overflow"] = step.observation
                if traj.steps:
                    await self._forced_answer(traj, start)
                else:
                    traj.termination, traj.meta["forced_final"] = T.NOT_FOUND, T.TOKEN_LIMIT
                return
            traj.steps.append(step)
            if step.finish_reason == "error":
                traj.termination = T.LLM_ERROR
                return
            messages.append({"role": "assistant", "content": step.text})
            if calls:
                await self._run_first(step, calls[0], start)
                messages.append({"role": "user", "content": step.observation})
            if step.answer is not None:
                traj.answer, traj.termination = step.answer, T.ANSWER
                return
            if left <= 0:  # the released loop overwrites the last message, whichever it is
                messages[-1] = {**messages[-1], "content": self.texts.llm_limit}
                if messages[-1]["role"] == "user":
                    step.observation = self.texts.llm_limit
                traj.meta["llm_limit_replaced"] = messages[-1]["role"]
            if self.count_tokens(messages) > cfg.max_context_tokens:
                await self._forced_answer(traj, start)
                return
        traj.termination = T.LLM_CALLS if left == 0 else T.NOT_FOUND

    async def _run_first(self, step: Step, call: P.ToolCall, start: float) -> None:
        self._emit("tool_call", P.format_tool_call(call.name, call.arguments) if call.ok else call.raw, step.index,
                   {"name": call.name, "arguments": call.arguments, "error": call.error})
        t0 = time.perf_counter()
        action = Action(name=call.name, arguments=call.arguments, error=call.error)
        if not call.ok:
            action.observation = self.texts.call_error
        elif call.name not in self.tools:
            action.error = f"unknown tool {call.name!r}"
            action.observation = fill(self.texts.unknown_tool, name=call.name)
        else:
            action = await self._within_deadline(self._run_one(call), start)
        action.seconds = time.perf_counter() - t0
        step.tool_seconds = action.seconds
        step.actions = [action]
        step.observation = self.texts.wrap(action.observation)
        self._emit("observation", action.observation, step.index, {"name": action.name})

    async def _forced_answer(self, traj: Trajectory, start: float) -> None:
        messages = traj.messages
        messages[-1] = {**messages[-1], "content": self.texts.token_limit}
        self._emit("notice", "context limit reached: asking for the final answer")
        step, _ = await self._call_model(messages, len(traj.steps), start)
        if step.finish_reason == OVERFLOW:  # even the order to answer does not fit
            traj.meta["context_overflow"] = step.observation
            traj.termination, traj.meta["forced_final"] = T.NOT_FOUND, T.TOKEN_LIMIT
            return
        traj.steps.append(step)
        if step.finish_reason == "error":
            traj.termination = T.LLM_ERROR
            return
        messages.append({"role": "assistant", "content": step.text})
        if step.answer is not None:
            traj.answer, traj.termination = step.answer, T.TOKEN_LIMIT
        else:
            traj.termination = T.NOT_FOUND
            traj.meta["forced_final"] = T.TOKEN_LIMIT


def make_react_agent(protocol: str, model: Any, tools: list[Tool], config: Any, **kwargs: Any) -> ReactAgent:
    """A ReAct agent speaking ``protocol``: ``webagent`` (ours) or ``released`` (the released
    agents' exact interface; ``tools`` are converted to its observation texts)."""
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown protocol {protocol!r} (have: {', '.join(PROTOCOLS)})")
    if protocol == "webagent":
        return ReactAgent(model, tools, config, **kwargs)
    by_name = {t.name: t for t in tools}
    if "search" in by_name and "visit" in by_name:
        texts = ReleasedTexts.load(config.prompt_file)
        tools = released_tools(by_name["search"], by_name["visit"], texts) + [
            t for t in tools if t.name not in ("search", "visit")]
    return ReleasedReactAgent(model, tools, config, **kwargs)
