"""WebSailor reasoning reconstruction (R-WS-30…33).

The expert's thoughts are thrown away; only its actions and observations ``(a_0, o_0, …, a_T)`` are
kept. A new, concise thought is then written for every step in order,
``τ̂_t ~ π*(τ | Ĥ_{t-1}, a_t, o_t)``, where the history ``Ĥ_{t-1}`` holds the *reconstructed*
thoughts of the earlier steps (never the original ones). The last thought sums up the evidence
chain behind the answer.

Two writers:

- ``llm``: an instruction-following model with ``prompts/traj_reconstruct.toml``.
- ``template`` (offline): short action-oriented sentences built from the question, the action,
  its observation and the earlier steps; deterministic.

The rebuilt record keeps the system and first user turns and every observation unchanged; every
assistant turn, step text, thought, reasoning, token id and logprob of the expert is replaced or
cleared. :func:`check_no_original` verifies that no original thought survives anywhere in the
record; a record that fails the check is dropped, never written.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from webagent import aio
from webagent import protocol as P
from webagent.prompts import load_prompts
from webagent.trajectories.records import thoughts

MODES = ("template", "llm")
_LINK = re.compile(r"\[([^\]]{1,200})\]\((https?://[^)\s]+)\)")


class ReconstructionError(ValueError):
    """The record cannot be reconstructed (or would keep an original thought)."""


@dataclass
class ReconstructConfig:
    mode: str = "template"
    """``template`` (offline, default) or ``llm`` (needs a model)."""
    max_observation_chars: int = 1500
    """Observation text per step shown to the LLM writer."""
    temperature: float = 0.3
    concurrency: int = 16
    min_leak_chars: int = 12
    """Original thoughts at least this long must not appear anywhere in the rebuilt record."""


# --- the template writer --------------------------------------------------------------------------

def _pick(options: list[str], *key: Any) -> str:
    h = int(hashlib.sha256(json.dumps(key, ensure_ascii=False, default=str).encode()).hexdigest()[:8], 16)
    return options[h % len(options)]


def _titles(observations: list[str]) -> dict[str, str]:
    """URL -> title of every search result seen so far."""
    out: dict[str, str] = {}
    for o in observations:
        for title, url in _LINK.findall(o):
            out.setdefault(url, title)
    return out


def template_thought(question: str, step: dict[str, Any], history: list[dict[str, Any]], answer: str | None) -> str:
    """A concise thought for ``step`` from the question, the step's action and observation and the
    earlier (reconstructed) steps. ``answer`` is set on the final step."""
    past = [a for h in history for a in h.get("actions", [])]
    seen_obs = [a.get("observation", "") for a in past]
    if answer is not None:
        read = [u for a in past if a.get("name") == "visit" for u in _urls(a)]
        useful = [u for a in past if a.get("name") == "visit" and _mentions(a.get("observation", ""), answer)
                  for u in _urls(a)]
        pages = useful or read
        if pages:
            where = ", ".join(dict.fromkeys(pages))
            return (f"Putting the evidence together: {where} {'states' if len(pages) == 1 else 'state'} what the question "
                    f"asks, and nothing I read contradicts it. The answer is {answer}.")
        return f"The search results already settle the question; the answer is {answer}."
    parts = []
    for a in step.get("actions", []):
        name, args = a.get("name"), a.get("arguments") or {}
        if name == "search":
            q = "; ".join(map(str, args.get("query") or [])) if isinstance(args.get("query"), list) else str(args.get("query"))
            earlier = sum(p.get("name") == "search" for p in past)
            hits = len(_LINK.findall(a.get("observation", "")))
            if earlier:
                parts.append(_pick([f"What I have so far does not settle it, so I search again with \"{q}\".",
                                    f"A more specific search, \"{q}\", should find the missing piece."], q))
            else:
                parts.append(_pick([f"I have no evidence yet. A search for \"{q}\" should find pages about this.",
                                    f"To start, I search for \"{q}\" to find the relevant pages."], q))
            if hits:
                parts.append(f"It returns {hits} results to look through.")
        elif name == "visit":
            titles = _titles(seen_obs)
            for url in _urls(a):
                title = titles.get(url)
                named = f"\"{title}\" ({url})" if title else url
                goal = str(args.get("goal") or "what the question needs")
                # Rotate the wording by step, so a long trajectory does not repeat one sentence.
                options = [f"The result {named} looks like the page that states {goal}; I open it.",
                           f"Reading {named} should give {goal}.",
                           f"Next candidate: {named}. I check whether it gives {goal}.",
                           f"I still lack part of the evidence, and {named} may hold it."]
                parts.append(options[len(past) % len(options)])
        else:
            parts.append(f"I call {name} for the next piece of information.")
    return " ".join(parts) or "I continue with the next step."


def _urls(action: dict[str, Any]) -> list[str]:
    u = (action.get("arguments") or {}).get("url")
    return [str(x) for x in (u if isinstance(u, list) else [u] if u else [])]


def _mentions(text: str, answer: str) -> bool:
    return bool(answer.strip()) and answer.strip().lower() in text.lower()


# --- the LLM writer -------------------------------------------------------------------------------

def _render_action(step: dict[str, Any], answer: str | None) -> str:
    if answer is not None:
        return f"<answer>{answer}</answer>"
    return "\n".join(P.format_tool_call(a.get("name", ""), a.get("arguments") or {}) for a in step.get("actions", []))


def _render_history(history: list[dict[str, Any]], cap: int) -> str:
    if not history:
        return "(nothing yet)"
    lines = []
    for h in history:
        obs = h.get("observation", "")
        obs = obs if len(obs) <= cap else obs[:cap] + " [...]"
        lines.append(f"Thought: {h['thought']}\nAction: {_render_action(h, None)}\nObservation: {obs}")
    return "\n\n".join(lines)


def _clean(text: str) -> str:
    """The writer's reply as a bare thought: reasoning and protocol tags removed."""
    text = text.split("</think>")[-1] if "</think>" in text else text
    text = re.sub(r"</?\s*(think|tool_call|tool_response|answer|tools)\s*>", "", text, flags=re.I)
    return " ".join(text.split()).strip()


async def llm_thought(model: Any, prompts: dict[str, str], question: str, step: dict[str, Any],
                      history: list[dict[str, Any]], answer: str | None, cfg: ReconstructConfig) -> str:
    obs = step.get("observation", "") if answer is None else "(none: this step gives the final answer)"
    cap = cfg.max_observation_chars
    user = prompts["user"].format(question=question, history=_render_history(history, cap),
                                  action=_render_action(step, answer),
                                  observation=obs if len(obs) <= cap else obs[:cap] + " [...]",
                                  final="yes" if answer is not None else "no")
    c = await model.generate([{"role": "system", "content": prompts["system"]}, {"role": "user", "content": user}],
                             temperature=cfg.temperature)
    thought = _clean(c.text)
    if not thought:
        raise ReconstructionError("the writer returned an empty thought")
    return thought


# --- rebuilding a record --------------------------------------------------------------------------

def check_no_original(new: dict[str, Any], originals: list[str], min_chars: int = 12) -> None:
    """Raise :class:`ReconstructionError` if any original thought appears anywhere in ``new``."""
    blob = json.dumps(new, ensure_ascii=False)
    for t in originals:
        t = t.strip()
        if len(t) >= min_chars and json.dumps(t, ensure_ascii=False)[1:-1] in blob:
            raise ReconstructionError("an original thought survived reconstruction")


async def areconstruct_record(record: dict[str, Any], config: ReconstructConfig | None = None, model: Any = None) -> dict[str, Any]:
    """A copy of ``record`` with every thought regenerated; see the module docstring."""
    cfg = config or ReconstructConfig()
    if cfg.mode == "llm" and model is None:
        raise ValueError("LLM reconstruction needs a model")
    originals = thoughts(record) + [s.get("reasoning") or "" for s in record.get("steps", [])]
    steps = [s for s in record.get("steps", []) if s.get("role", "agent") == "agent"]
    if not steps or steps[-1].get("answer") is None:
        raise ReconstructionError("the trajectory does not end with an answer")
    prompts = load_prompts("traj_reconstruct") if cfg.mode == "llm" else {}
    question = str(record.get("question", ""))
    history: list[dict[str, Any]] = []
    new = copy.deepcopy({k: v for k, v in record.items() if k not in ("messages", "steps")})
    new_steps, messages = [], [dict(m) for m in record.get("messages", [])[:2]]
    for i, s in enumerate(steps):
        answer = s.get("answer") if i == len(steps) - 1 else None
        if answer is None and not s.get("actions"):
            raise ReconstructionError(f"step {i} has neither an action nor the answer")
        if cfg.mode == "llm":
            thought = await llm_thought(model, prompts, question, s, history, answer, cfg)
        else:
            thought = template_thought(question, s, history, answer)
        calls = [P.ToolCall(a.get("name", ""), a.get("arguments") or {}) for a in s.get("actions", [])]
        text = P.format_assistant(thought, calls or None, answer)
        ns = {**copy.deepcopy(s), "text": text, "thought": thought, "reasoning": None, "token_ids": None,
              "logprobs": None, "completion_tokens": 0}
        new_steps.append(ns)
        history.append(ns)
        messages.append({"role": "assistant", "content": text})
        if answer is None:
            messages.append({"role": "user", "content": s.get("observation", "")})
    new["messages"], new["steps"] = messages, new_steps
    new.setdefault("meta", {})
    new["meta"] = {**new["meta"], "reconstructed": {
        "mode": cfg.mode, "model": getattr(model, "name", None) if model is not None else None,
        "original_thought_chars": sum(len(t) for t in thoughts(record))}}
    check_no_original(new, originals, cfg.min_leak_chars)
    return new


async def areconstruct(records: list[dict[str, Any]], config: ReconstructConfig | None = None, model: Any = None,
                       ) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Reconstruct many records concurrently; returns the rebuilt ones and dropped counts by reason."""
    cfg = config or ReconstructConfig()
    if cfg.mode not in MODES:
        raise ValueError(f"unknown reconstruction mode {cfg.mode!r} (have: {', '.join(MODES)})")
    sem = asyncio.Semaphore(cfg.concurrency)

    async def one(r: dict[str, Any]) -> dict[str, Any] | str:
        async with sem:
            try:
                return await areconstruct_record(r, cfg, model)
            except ReconstructionError as e:
                return str(e)
            except Exception as e:  # a writer outage drops one record with a counted reason
                return f"writer failed ({type(e).__name__})"

    results = await asyncio.gather(*(one(r) for r in records))
    dropped: dict[str, int] = {}
    for x in results:
        if isinstance(x, str):
            dropped[x] = dropped.get(x, 0) + 1
    return [x for x in results if isinstance(x, dict)], dropped


def reconstruct(records: list[dict[str, Any]], config: ReconstructConfig | None = None, model: Any = None):
    """Synchronous :func:`areconstruct`."""
    return aio.run(areconstruct(records, config, model))
