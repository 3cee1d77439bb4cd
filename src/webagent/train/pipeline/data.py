"""The data stages: worlds, questions (train shares and the held-out set) and oracle trajectories."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from webagent import aio
from webagent import protocol as P
from webagent.train.pipeline.config import PipelineConfig
from webagent.train.pipeline.run import Run, _read_jsonl, _write_jsonl


def _hash_order(items: list[dict[str, Any]], salt: str) -> list[dict[str, Any]]:
    return sorted(items, key=lambda t: hashlib.sha256(f"{salt}:{t['id']}".encode()).hexdigest())


def stage_worlds(run: Run) -> dict[str, Any]:
    """Build every train world and the evaluation world."""
    from webagent.progress import track
    from webagent.world.build import WorldConfig, build_world

    cfg, built = run.cfg, []
    todo = [*((s, run.train_world(s), cfg.world_size) for s in cfg.train_seeds),
            *((s, run.rl_world(s), cfg.world_size) for s in cfg.rl_seeds),
            (cfg.eval_seed, run.eval_world(), cfg.eval_world_size)]
    for seed, path, size in track(todo, desc="worlds", unit="world", disable=not cfg.progress):
        if not (path / "manifest.json").is_file():
            build_world(WorldConfig(seed=seed, size=size), path, progress=False)
        built.append(str(path))
    return {"worlds": built, "train_seeds": list(cfg.train_seeds), "rl_seeds": list(cfg.rl_seeds), "eval_seed": cfg.eval_seed}


def stage_qa(run: Run) -> dict[str, Any]:
    """Questions: SFT and RL shares of the train worlds, held-out questions of the eval world."""
    cfg = run.cfg
    sft, rl = [], []
    for i, seed in enumerate(cfg.train_seeds):
        pool = [{**t, "id": f"w{seed}-{t['id']}", "train_seed": seed}
                for t in _questions(run.train_world(seed), seed, cfg.qa_per_world)]
        ordered = _hash_order(pool, f"rl:{seed}")
        take = cfg.rl_questions if i == 0 and not cfg.rl_seeds else 0  # RL runs its tools on the first train world
        rl += ordered[:take]
        sft += ordered[take:]
    for seed in cfg.rl_seeds:  # each question names its world: RL rolls it out there
        pool = _questions(run.rl_world(seed), seed, cfg.qa_per_world)
        rl += [{**t, "id": f"r{seed}-{t['id']}", "world": str(run.rl_world(seed))}
               for t in _hash_order(pool, f"rl:{seed}")[:cfg.rl_questions]]
    pool = _questions(run.eval_world(), cfg.eval_seed, max(4 * cfg.eval_questions, 200))
    held_out = _stratified(pool, cfg.eval_questions, str(cfg.eval_seed))
    for name, rows in (("sft_tasks", sft), ("rl_tasks", rl), ("eval", held_out)):
        _write_jsonl(run.path("qa", f"{name}.jsonl"), rows)
    return {"sft_tasks": len(sft), "rl_tasks": len(rl), "eval": len(held_out),
            "eval_cells": _cells(held_out)}


def _questions(world: Path, seed: int, pool: int) -> list[dict[str, Any]]:
    """A pool of WebWalkerQA-style questions synthesised on one world."""
    from webagent.eval.suites import build_suite
    from webagent.world.store import WorldStore

    store = WorldStore(world)
    try:
        return build_suite(store, "webwalker", seed=seed, split="all", pool=pool)
    finally:
        store.close()


def _cell(t: dict[str, Any]) -> str:
    info = t.get("info") or {}
    return f"{info.get('type', '?')}/{info.get('difficulty_level', '?')}"


def _cells(tasks: list[dict[str, Any]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for t in tasks:
        out[_cell(t)] = out.get(_cell(t), 0) + 1
    return dict(sorted(out.items()))


def _stratified(pool: list[dict[str, Any]], n: int, salt: str) -> list[dict[str, Any]]:
    """``n`` questions spread evenly over the type × difficulty cells (round robin)."""
    by: dict[str, list[dict[str, Any]]] = {}
    for t in _hash_order(pool, salt):
        by.setdefault(_cell(t), []).append(t)
    out, cells = [], sorted(by)
    while len(out) < n and any(by.values()):
        for c in cells:
            if by[c] and len(out) < n:
                out.append(by[c].pop(0))
    return out


def grounding_problem(record: dict[str, Any]) -> str | None:
    """Why a trajectory cannot be learnt by copying (None: it can): a visited URL that no earlier
    observation showed, or an answer that no observation contains."""
    seen = ""
    for m in record.get("messages", []):
        if m.get("role") == "assistant":
            if any(u not in seen for u in _called_urls(m)):
                return "visited URL not shown before"
        elif m.get("role") != "system":
            seen += str(m.get("content") or "")
    answer = str(record.get("answer") or "")
    forms = [answer, *((record.get("qa") or {}).get("aliases") or [])]
    if not any(f and f in seen for f in forms):
        return "answer not in any observation"
    return None


def mark_detours(record: dict[str, Any]) -> int:
    """Mark the assistant turns that visit only pages outside the question's evidence with
    ``"loss": false``: the model sees the oracle's deliberate detour and learns the recovery after
    it, but is not trained to take the detour. Returns how many turns were marked."""
    evidence = set((record.get("qa") or {}).get("evidence_urls") or [])
    marked = 0
    for m in record.get("messages", []) if evidence else []:
        urls = _called_urls(m) if m.get("role") == "assistant" else []
        if urls and not evidence & set(urls):
            m["loss"] = False
            marked += 1
    return marked


def _called_urls(message: dict[str, Any]) -> list[str]:
    """The ``url`` arguments of an assistant message's well-formed tool calls, in order."""
    urls: list[str] = []
    for call in P.parse_reply(str(message.get("content") or "")).tool_calls:
        u = (call.arguments or {}).get("url") if call.ok else None
        urls += [u] if isinstance(u, str) else list(u or [])
    return urls


def stage_trajectories(run: Run) -> dict[str, Any]:
    """Oracle trajectories in the model's runtime, filtered to what a small model can copy."""
    return aio.run(_trajectories(run))


async def oracle_sample(cfg: PipelineConfig, tasks: list[dict[str, Any]], world_dir: str | os.PathLike,
                        out: Path) -> None:
    """The privileged oracle (``stepwise``) answers ``tasks`` on a world in the model's runtime,
    one trajectory per task, appended to ``out`` (resumable)."""
    from webagent.trajectories.sample import SampleConfig, asample
    from webagent.trajectories.teachers import Teacher, TeacherConfig
    from webagent.world.store import WorldStore

    rt = cfg.runtime
    store = WorldStore(world_dir)
    teacher = Teacher(TeacherConfig(p_wrong_page=cfg.oracle_p_wrong_page, p_reformulate=cfg.oracle_p_reformulate,
                                    prompt_file=rt.prompt_path(), max_llm_calls=rt.max_llm_calls, seed=cfg.seed,
                                    stepwise=True, plans=cfg.oracle_plans), world=store)
    try:
        async with rt.toolbox(world=store) as tb:
            await asample(tasks, out, teacher, SampleConfig(attempts=1, date=rt.date, world=str(world_dir)),
                          world=store, toolbox=tb, progress=cfg.progress)
    finally:
        store.close()


async def _trajectories(run: Run) -> dict[str, Any]:
    from webagent.trajectories.filters import FilterConfig, afilter

    cfg = run.cfg
    tasks = _read_jsonl(run.path("qa", "sft_tasks.jsonl"))
    kept, counts = [], {"sampled": 0, "filtered": 0, "rejected": {}, "detour_turns": 0}
    for seed in cfg.train_seeds:
        world_dir = str(run.train_world(seed))
        mine = [t for t in tasks if t.get("train_seed") == seed]
        if not mine:  # e.g. a world whose every question went to the RL pool
            continue
        out = run.path("trajectories", f"sampled-{seed}.jsonl")
        await oracle_sample(cfg, mine, world_dir, out)
        sampled = _read_jsonl(out)
        result = await afilter(sampled, FilterConfig())
        counts["sampled"] += len(sampled)
        counts["filtered"] += len(result.kept)
        for r in result.rejected:
            why = f"{r['filters']['stage']}"
            counts["rejected"][why] = counts["rejected"].get(why, 0) + 1
        for r in result.kept:
            why = grounding_problem(r)
            if why is None:
                counts["detour_turns"] += mark_detours(r)
                kept.append(r)
            else:
                counts["rejected"][f"grounding: {why}"] = counts["rejected"].get(f"grounding: {why}", 0) + 1
    _write_jsonl(run.path("trajectories", "sft.jsonl"), kept)
    counts["sft"] = len(kept)
    counts["sft_cells"] = _cells([r.get("qa") or {} for r in kept])
    return counts
