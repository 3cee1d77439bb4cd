"""RL for the ReAct agent: GRPO-style updates with DAPO's loss, and DAPO or DUPO dynamic sampling.

One update (``step``), in the order it happens::

    tasks  = next batch_size questions of the RL pool             # deterministic order, resumable
    groups = G rollouts per task: ReactAgent + the policy + real tools; reward per rollout
    dupo:  drop zero-spread groups, refill by duplicating informative ones (no new rollouts)
    dapo:  drop zero-spread groups, roll out fresh questions until the batch is full again
    for each mini-batch of mini_batch_size groups:                # one optimizer step each
        loss = clipped token-level policy loss (clip-higher) [+ KL to the reference] / its tokens
    log metrics (JSONL + progress bar); every save_every: atomic checkpoint

Before training, DUPO's pre-filter (:func:`prefilter_tasks`) rolls out each question G times with
the starting policy and drops those it always answers correctly (optionally the never-correct too).

Rollouts and training share one set of weights: the rollout backend is a
:class:`~webagent.llm.local.LocalModel` wrapping the very module being optimised, so every update
is on-policy. Its sampling logprobs are the "old" logprobs of the loss; with temperature 1 and
top-p 1 (the defaults) they are exactly the behaviour policy's. A run resumes from its newest
checkpoint with the optimizer, step, data position and RNG state; sampling is seeded per step, so
with sequential rollouts (``concurrency=1``) a resumed run is bit-identical to an uninterrupted one.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import shutil
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from webagent import aio
from webagent.jsonl import dumps_line, read_jsonl, truncate_steps
from webagent.llm.grounding import parse_grounding
from webagent.train.grpo import (
    Group,
    LossConfig,
    dapo_fill,
    dupo_fill,
    policy_loss,
    prefilter,
    split_zero_spread,
)
from webagent.train.reward import RewardConfig
from webagent.train.rollout import Rollout, RolloutConfig, RolloutRunner

ALGORITHMS = ("dupo", "dapo", "grpo")

# WebSailor's RL settings (App. A.4) for real models, and sizes for the small presets.
RL_PRESETS: dict[str, dict[str, Any]] = {
    "websailor": dict(group_size=8, batch_size=128, mini_batch_size=32, lr=1e-6, steps=50, max_tokens=8192,
                      max_llm_calls=40, micro_batch_size=1, warmup_steps=0),
    "nano": dict(group_size=4, batch_size=8, mini_batch_size=4, lr=2e-4, steps=30, max_tokens=160,
                 max_llm_calls=6, micro_batch_size=8, warmup_steps=2),
    "micro": dict(group_size=4, batch_size=16, mini_batch_size=8, lr=1e-4, steps=40, max_tokens=256,
                  max_llm_calls=8, micro_batch_size=8, warmup_steps=3),
    "small": dict(group_size=8, batch_size=32, mini_batch_size=16, lr=3e-5, steps=50, max_tokens=512,
                  max_llm_calls=12, micro_batch_size=4, warmup_steps=5),
}


@dataclass
class RLConfig:
    """Everything an RL run needs; ``None`` fields come from ``preset``."""

    out_dir: str
    policy: str
    """The starting policy: a ``save_pretrained`` directory (e.g. the SFT output)."""
    tasks: list[str] = field(default_factory=list)
    """JSONL files of ``{"id", "question", "answer", "aliases"}`` (QA files or the RL pool)."""
    tokenizer: str | None = None
    """Tokenizer directory (default: the policy directory)."""
    preset: str = "websailor"
    """websailor (G 8, batch 128, mini-batch 32, lr 1e-6), nano, micro or small."""
    algorithm: str = "dupo"
    """dupo (in-batch duplication), dapo (re-sampling) or grpo (no dynamic sampling)."""
    group_size: int | None = None
    batch_size: int | None = None
    """Questions per update."""
    mini_batch_size: int | None = None
    """Questions per optimizer step (batch / mini-batch optimizer steps per update)."""
    micro_batch_size: int | None = None
    """Rows per forward pass (gradient accumulation inside a mini-batch)."""
    lr: float | None = None
    steps: int | None = None
    warmup_steps: int | None = None
    max_tokens: int | None = None
    """Generation cap per assistant turn."""
    max_llm_calls: int | None = None
    temperature: float = 1.0
    top_p: float = 1.0
    grounding: str | None = None
    """Roll out with grounded decoding (:mod:`webagent.llm.grounding`, e.g. ``all``); the loss then
    scores each token among those its step allowed, so training stays on-policy."""
    weight_decay: float = 0.0
    betas: tuple[float, float] = (0.9, 0.999)
    grad_clip: float = 1.0
    ppo_epochs: int = 1
    eps_low: float = 0.2
    eps_high: float = 0.28
    clip_c: float | None = None
    kl_coef: float = 0.0
    """KL penalty to the starting policy (0: none, as DAPO and WebSailor)."""
    norm_adv_by_std: bool = True
    recompute_old_logprobs: bool = False
    """Recompute old logprobs with a training forward pass (verl's way) instead of the sampler's."""
    reward: RewardConfig = field(default_factory=RewardConfig)
    max_gen_rounds: int = 10
    """DAPO: most rollout rounds per update before training on a short batch."""
    prefilter: bool | None = None
    """DUPO's pre-RL filter of too-easy questions (default: on for dupo)."""
    drop_all_wrong: bool = False
    concurrency: int = 64
    max_observation_chars: int | None = 4000
    prompt_file: str | None = None
    """ReAct prompt file (TOML) the policy was fine-tuned with; default: the shipped prompts."""
    world: str | None = None
    """Offline world directory for the tools (default: the default world)."""
    seed: int = 0
    device: str = "auto"
    save_every: int = 10
    keep_checkpoints: int = 2
    resume: bool = True
    halt_after: int | None = None
    """Stop after this many updates of this invocation (leaving a checkpoint)."""
    progress: bool = True

    def resolved(self) -> RLConfig:
        """A copy with every ``None`` filled from the preset."""
        if self.preset not in RL_PRESETS:
            raise ValueError(f"unknown RL preset {self.preset!r}; choose one of {', '.join(RL_PRESETS)}")
        if self.algorithm not in ALGORITHMS:
            raise ValueError(f"unknown algorithm {self.algorithm!r}; choose one of {', '.join(ALGORITHMS)}")
        d = {k: getattr(self, k) for k in self.__dataclass_fields__}
        for k, v in RL_PRESETS[self.preset].items():
            if d.get(k) is None:
                d[k] = v
        if d["prefilter"] is None:
            d["prefilter"] = self.algorithm == "dupo"
        parse_grounding(self.grounding)  # a typo fails here, not after the first rollouts
        cfg = RLConfig(**d)
        if cfg.batch_size % cfg.mini_batch_size:
            raise ValueError(f"batch_size {cfg.batch_size} must be a multiple of mini_batch_size {cfg.mini_batch_size}")
        return cfg

    def loss_config(self) -> LossConfig:
        return LossConfig(self.eps_low, self.eps_high, self.clip_c, self.kl_coef)

    def rollout_config(self) -> RolloutConfig:
        return RolloutConfig(group_size=self.group_size, max_tokens=self.max_tokens, max_llm_calls=self.max_llm_calls,
                             temperature=self.temperature, top_p=self.top_p, concurrency=self.concurrency,
                             max_observation_chars=self.max_observation_chars, prompt_file=self.prompt_file)


@dataclass
class RLResult:
    out_dir: str
    steps: int
    last: dict[str, Any]
    prefilter: dict[str, int] | None = None


# ---------------------------------------------------------------------------------------------
# Tasks


def load_tasks(paths: Sequence[str | os.PathLike]) -> list[dict[str, Any]]:
    """Read QA tasks (JSONL); every task needs a question and a gold answer."""
    from webagent.agents.runner import read_tasks, task_id

    tasks = []
    for p in paths:
        for n, t in enumerate(read_tasks(p), 1):
            if not t.get("question") or t.get("answer") in (None, ""):
                raise ValueError(f"{p}: task {n} needs a 'question' and an 'answer'")
            tasks.append({**t, "id": task_id(t)})
    if not tasks:
        raise ValueError("no RL tasks: give at least one JSONL file with question/answer records")
    return tasks


class TaskStream:
    """Questions in a seeded order, epoch after epoch; ``cursor`` is the data position to save."""

    def __init__(self, tasks: Sequence[dict[str, Any]], seed: int, cursor: int = 0):
        self.tasks, self.seed, self.cursor = list(tasks), seed, cursor

    def take(self, n: int) -> list[dict[str, Any]]:
        out = []
        for _ in range(n):
            epoch, offset = divmod(self.cursor, len(self.tasks))
            order = list(range(len(self.tasks)))
            random.Random(self.seed * 1_000_003 + epoch).shuffle(order)
            out.append(self.tasks[order[offset]])
            self.cursor += 1
        return out


# ---------------------------------------------------------------------------------------------
# Log-probabilities of rows under the policy


def row_logprobs(model, rows, device, *, with_entropy: bool = False):
    """Log-probability (and entropy) of every trained token of ``rows`` under ``model``.

    Returns flat tensors over the trained tokens, in row order. Only trained positions go through
    the LM head: observations dominate agent rows, so this saves most of the vocabulary projection.
    """
    import torch

    width = max(len(r) for r in rows)
    ids = torch.zeros((len(rows), width), dtype=torch.long)
    attn = torch.zeros((len(rows), width), dtype=torch.long)
    target = torch.zeros((len(rows), width), dtype=torch.bool)
    for i, r in enumerate(rows):
        ids[i, :len(r)] = torch.tensor(r.input_ids)
        attn[i, :len(r)] = 1
        target[i, :len(r)] = torch.tensor(r.loss_mask, dtype=torch.bool)
    ids, attn, target = ids.to(device), attn.to(device), target.to(device)
    out = model.get_decoder()(input_ids=ids, attention_mask=attn, use_cache=False)
    hidden = out.last_hidden_state if hasattr(out, "last_hidden_state") else out[0]
    # Position t predicts token t+1; a row's first token is never trained (it is the prompt).
    pred = target[:, 1:]
    logits = model.get_output_embeddings()(hidden[:, :-1][pred]).float()
    # Tokens sampled under grounded decoding are scored among the tokens their step allowed.
    from webagent.llm.local import unpack_masks

    masks = [m for r in rows for m, t in zip(r.token_masks[1:], r.loss_mask[1:], strict=True) if t]
    constrained = [k for k, m in enumerate(masks) if m is not None]
    if constrained:
        index = torch.tensor(constrained, device=logits.device)
        allowed = unpack_masks([masks[k] for k in constrained], logits.shape[1]).to(logits.device)
        logits = logits.index_copy(0, index, logits[index].masked_fill(~allowed, float("-inf")))
    logp_all = torch.log_softmax(logits, -1)
    logp = logp_all.gather(1, ids[:, 1:][pred][:, None])[:, 0]
    entropy = None
    if with_entropy:  # 0 · log 0 counts as 0 where a token was not allowed
        entropy = -(logp_all.exp() * torch.nan_to_num(logp_all, neginf=0.0)).sum(-1)
    return logp, entropy


def _flat(rows, key: str, device):
    import torch

    vals = [v for r in rows for v, m in zip(getattr(r, key), r.loss_mask, strict=True) if m]
    return torch.tensor(vals, dtype=torch.float32, device=device)


# ---------------------------------------------------------------------------------------------
# One update


@dataclass
class _Sample:
    row: Any
    advantage: float
    weight: int = 1
    """How many times the row's group is in the mini-batch (DUPO's in-batch copies)."""


def _samples(groups: Sequence[Group], norm_std: bool) -> list[_Sample]:
    """The rows of ``groups``, each group's once: a group DUPO put in the batch k times is one set of
    rows of weight k. Its k identical gradients are then computed once and scaled, which is exactly
    the same update at the cost of the unique groups only."""
    copies = Counter(id(g) for g in groups)
    out = []
    for g in {id(g): g for g in groups}.values():  # first appearance order
        for r, a in zip(g.rollouts, g.advantages(norm_std), strict=True):
            out += [_Sample(row, a, copies[id(g)]) for row in r.rows]
    return out


class Updater:
    """Optimizer steps on a batch of groups: mini-batches, micro-batches, the clipped loss."""

    def __init__(self, model, optimizer, cfg: RLConfig, device, ref_model=None):
        self.model, self.optimizer, self.cfg, self.device, self.ref = model, optimizer, cfg, device, ref_model
        self.loss_cfg = cfg.loss_config()

    def update(self, batch: list[Group]) -> dict[str, float]:
        import torch

        cfg = self.cfg
        if cfg.recompute_old_logprobs:
            self._recompute(batch)
        sums = {"tokens": 0.0, "clip_low": 0.0, "clip_high": 0.0, "dual_clip": 0.0, "ppo_kl": 0.0, "ref_kl": 0.0,
                "entropy": 0.0, "loss": 0.0, "grad_norm": 0.0, "opt_steps": 0.0}
        first_diff = None
        for _ in range(cfg.ppo_epochs):
            for m in range(0, len(batch), cfg.mini_batch_size):
                samples = _samples(batch[m:m + cfg.mini_batch_size], cfg.norm_adv_by_std)
                n_tokens = sum(s.weight * sum(s.row.loss_mask) for s in samples)
                if n_tokens == 0:
                    continue
                for k in range(0, len(samples), cfg.micro_batch_size):
                    diff = self._micro(samples[k:k + cfg.micro_batch_size], n_tokens, sums)
                    if first_diff is None:
                        first_diff = diff  # weights untouched yet: rollout vs trainer logprobs
                norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip)
                self.optimizer.step()
                self.optimizer.zero_grad(set_to_none=True)
                sums["grad_norm"] += float(norm)
                sums["opt_steps"] += 1
        n, steps = max(1.0, sums["tokens"]), max(1.0, sums["opt_steps"])
        return {"loss": sums["loss"] / steps, "clip_low": sums["clip_low"] / n, "clip_high": sums["clip_high"] / n,
                "dual_clip": sums["dual_clip"] / n, "ppo_kl": sums["ppo_kl"] / n, "ref_kl": sums["ref_kl"] / n,
                "entropy": sums["entropy"] / n, "grad_norm": sums["grad_norm"] / steps,
                "opt_steps": int(sums["opt_steps"]), "trained_tokens": int(sums["tokens"] / cfg.ppo_epochs),
                "logprob_diff": first_diff if first_diff is not None else 0.0}

    def _micro(self, samples: list[_Sample], n_tokens: int, sums: dict[str, float]) -> float:
        import torch

        rows = [s.row for s in samples]
        logp, entropy = row_logprobs(self.model, rows, self.device, with_entropy=True)
        old = _flat(rows, "old_logprobs", self.device)
        adv = torch.tensor([s.advantage for s in samples for m in s.row.loss_mask if m], device=self.device)
        ref = None
        if self.ref is not None and self.loss_cfg.kl_coef:
            with torch.no_grad():
                ref, _ = row_logprobs(self.ref, rows, self.device)
        mask = torch.tensor([float(s.weight) for s in samples for m in s.row.loss_mask if m], device=self.device)
        loss, stats = policy_loss(logp, old, adv, mask, self.loss_cfg, n_tokens=n_tokens, ref_logp=ref)
        loss.backward()
        for k, v in stats.items():
            sums[k] += v
        sums["entropy"] += float((entropy.detach() * mask).sum())
        sums["loss"] += float(loss.detach())
        return float((logp.detach() - old).abs().mean())

    def _recompute(self, batch: list[Group]) -> None:
        import torch

        seen = set()
        with torch.no_grad():
            for g in batch:
                for r in g.rollouts:
                    for row in r.rows:
                        if id(row) in seen:
                            continue
                        seen.add(id(row))
                        logp, _ = row_logprobs(self.model, [row], self.device)
                        it = iter(logp.tolist())
                        row.old_logprobs = [next(it) if m else 0.0 for m in row.loss_mask]


# ---------------------------------------------------------------------------------------------
# Checkpoints (atomic: written to a temporary directory, then renamed)


def save_checkpoint(out_dir: Path, step: int, model, tokenizer, optimizer, cursor: int, keep: int) -> Path:
    import torch

    from webagent.train.base_models import save_model

    root = out_dir / "checkpoints"
    root.mkdir(parents=True, exist_ok=True)
    final, tmp = root / f"step-{step:08d}", root / f".step-{step:08d}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    save_model(model, tmp)
    tokenizer.save_pretrained(tmp)
    rng = {"torch": torch.get_rng_state(), "python": random.getstate()}
    torch.save({"step": step, "cursor": cursor, "optimizer": optimizer.state_dict(), "rng": rng},
               tmp / "rl_state.pt")
    shutil.rmtree(final, ignore_errors=True)
    os.replace(tmp, final)
    pointer = root / "latest.tmp"
    pointer.write_text(final.name)
    os.replace(pointer, root / "latest")
    for old in sorted(p for p in root.glob("step-*") if p.is_dir())[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def latest_checkpoint(out_dir: Path) -> Path | None:
    pointer = out_dir / "checkpoints" / "latest"
    if not pointer.is_file():
        return None
    path = pointer.parent / pointer.read_text().strip()
    return path if (path / "rl_state.pt").is_file() else None


def load_checkpoint(path: Path, model, optimizer) -> tuple[int, int]:
    """Restore weights, optimizer and RNG; returns ``(step, data cursor)``."""
    import torch

    from webagent.train.base_models import load_weights

    load_weights(model, path)
    state = torch.load(path / "rl_state.pt", weights_only=False)
    optimizer.load_state_dict(state["optimizer"])
    torch.set_rng_state(state["rng"]["torch"])
    random.setstate(state["rng"]["python"])
    return int(state["step"]), int(state["cursor"])


# ---------------------------------------------------------------------------------------------
# The run


def _device(name: str):
    import torch

    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(name)


def _judge(judge):
    if judge is not None:
        return judge
    from webagent.eval.judges import RuleJudge

    return RuleJudge()


def _local(model, tokenizer, cfg: RLConfig, device, step: int):
    """A LocalModel on the policy's own weights, with sampling seeded by (seed, step)."""
    from webagent.llm.local import LocalConfig, LocalModel

    lc = LocalConfig(path=cfg.policy, device=str(device), max_batch=max(1, cfg.concurrency),
                     max_new_tokens=cfg.max_tokens, temperature=cfg.temperature, top_p=cfg.top_p,
                     seed=cfg.seed * 1_000_003 + step, grounding=cfg.grounding or ())
    return LocalModel(lc, model=model, tokenizer=tokenizer)


def _lr(step: int, cfg: RLConfig) -> float:
    """Linear warmup, then constant (DAPO and WebSailor train RL at a constant rate)."""
    return cfg.lr * min(1.0, (step + 1) / cfg.warmup_steps) if cfg.warmup_steps else cfg.lr


def _rollout_metrics(rollouts: list[Rollout], generated: list[Group]) -> dict[str, float]:
    n = max(1, len(rollouts))

    def mean(f):
        return sum(f(r) for r in rollouts) / n

    zero = sum(g.zero_spread for g in generated)
    return {
        "rollouts": len(rollouts), "groups_generated": len(generated),
        "zero_spread": zero / max(1, len(generated)),
        "reward": mean(lambda r: r.reward.total), "reward_format": mean(lambda r: r.reward.format),
        "reward_answer": mean(lambda r: r.reward.answer), "reward_overlong": mean(lambda r: r.reward.overlong),
        "tool_calls": mean(lambda r: r.trajectory.tool_calls), "turns": mean(lambda r: r.trajectory.llm_calls),
        "response_tokens": mean(lambda r: r.generated_tokens), "truncated": mean(lambda r: float(r.truncated)),
        "rows_per_rollout": mean(lambda r: len(r.rows)),
    }


class RLTrainer:
    """Holds the policy, optimizer, toolboxes and data stream of a run; ``step()`` runs one update.

    ``toolbox`` is the toolbox of every episode, or a function ``world -> Toolbox`` that opens the
    world a task names in its ``world`` field (``cfg.world`` when it names none), so one run can
    train on questions of many worlds; None: toolboxes with the default settings."""

    def __init__(self, cfg: RLConfig, tasks: list[dict[str, Any]], judge=None, *, toolbox=None):
        import torch

        from webagent.train.base_models import is_adapter_dir, load_causal_lm
        from webagent.train.models import build_model
        from webagent.train.sft import make_optimizer
        from webagent.train.tokenizer import load_tokenizer

        self.cfg, self.judge = cfg, _judge(judge)
        self._step_cursor: int | None = None
        self.device = _device(cfg.device)
        self.tokenizer = load_tokenizer(cfg.tokenizer or cfg.policy)
        if is_adapter_dir(cfg.policy):  # a LoRA policy: RL trains its adapter, the base stays frozen
            self.model = load_causal_lm(cfg.policy, dtype=torch.float32, trainable_adapter=True).to(self.device)
        else:
            self.model = build_model(cfg.policy, self.tokenizer, dtype=torch.float32).to(self.device)
        self.optimizer = make_optimizer(self.model, cfg, self.device)
        self.ref = None
        if cfg.kl_coef:
            self.ref = build_model(cfg.policy, self.tokenizer, dtype=torch.float32).to(self.device).eval()
            self.ref.requires_grad_(False)
        self.updater = Updater(self.model, self.optimizer, cfg, self.device, self.ref)
        self.stream = TaskStream(tasks, cfg.seed)
        self.step_no = 0
        shared = toolbox is not None and not callable(toolbox)
        self._shared = toolbox if shared else None
        self._open_toolbox = None if shared else (toolbox or _default_toolbox)
        self._toolboxes: dict[str | None, Any] = {}  # the ones this trainer opened, by world

    def resume(self) -> bool:
        ckpt = latest_checkpoint(Path(self.cfg.out_dir)) if self.cfg.resume else None
        if ckpt is None:
            return False
        self.step_no, self.stream.cursor = load_checkpoint(ckpt, self.model, self.optimizer)
        return True

    def _tools(self, task: dict[str, Any]):
        if self._shared is not None:
            return self._shared.react_tools
        world = task.get("world") or self.cfg.world
        if world not in self._toolboxes:
            self._toolboxes[world] = self._open_toolbox(world)
        return self._toolboxes[world].react_tools

    async def rollout_groups(self, tasks: list[dict[str, Any]], local, group_size: int | None = None,
                             on_done=None) -> list[Group]:
        runner = RolloutRunner(local, self._tools, self.judge, self.cfg.rollout_config(), self.cfg.reward)
        return await runner.groups(tasks, group_size, on_done)

    async def collect(self, local) -> tuple[list[Group], list[Group], dict[str, float]]:
        """The step's training batch, every group generated for it, and sampling figures."""
        cfg = self.cfg
        generated = await self.rollout_groups(self.stream.take(cfg.batch_size), local)
        rounds, dup = 1, 0
        if cfg.algorithm == "dupo":
            batch, dup = dupo_fill(generated, cfg.batch_size, random.Random(cfg.seed * 7919 + self.step_no))
        elif cfg.algorithm == "dapo":
            batch, _ = split_zero_spread(generated)
            while len(batch) < cfg.batch_size and rounds < cfg.max_gen_rounds:
                fresh = await self.rollout_groups(self.stream.take(cfg.batch_size - len(batch)), local)
                generated += fresh
                batch = dapo_fill(batch, fresh, cfg.batch_size)
                rounds += 1
        else:
            batch = list(generated)
        return batch, generated, {"gen_rounds": rounds, "duplicated": dup / cfg.batch_size,
                                  "batch_groups": len(batch)}

    async def step(self) -> dict[str, Any]:
        """One update: rollouts, dynamic sampling, optimizer steps. Returns the metrics."""
        cfg, t0 = self.cfg, time.perf_counter()
        self._step_cursor = self.stream.cursor  # where a save during this update resumes from
        for g in self.optimizer.param_groups:
            g["lr"] = _lr(self.step_no, cfg)
        local = _local(self.model, self.tokenizer, cfg, self.device, self.step_no)
        try:
            batch, generated, sampling = await self.collect(local)
        finally:
            await local.aclose()
        t1 = time.perf_counter()
        rollouts = [r for g in generated for r in g.rollouts]
        rec: dict[str, Any] = {"step": self.step_no + 1, "lr": _lr(self.step_no, cfg), **sampling,
                               **_rollout_metrics(rollouts, generated)}
        if batch:
            rec.update(self.updater.update(batch))
        rec["skipped"] = int(not batch)  # nothing informative: no optimizer step this update
        rec.update(rollout_seconds=t1 - t0, update_seconds=time.perf_counter() - t1, seconds=time.perf_counter() - t0)
        self.step_no += 1
        self._step_cursor = None
        self._log_rollouts(generated, batch)
        return {k: (round(v, 6) if isinstance(v, float) else v) for k, v in rec.items()}

    def _log_rollouts(self, generated: list[Group], batch: list[Group]) -> None:
        """Append this update's rollouts to ``rollouts.jsonl``: each episode's trajectory (without
        token ids and logprobs) with its update, group, reward parts and ``copies``, how many times
        its group is in the training batch (0: dropped; above 1: duplicated by DUPO), so what RL
        saw can be read back like any evaluation run."""
        copies = Counter(id(g) for g in batch)
        with (Path(self.cfg.out_dir) / "rollouts.jsonl").open("a", encoding="utf-8") as f:
            for gi, group in enumerate(generated):
                for r in group.rollouts:
                    rec = r.trajectory.to_dict()
                    for s in rec["steps"]:
                        s.pop("token_ids", None)
                        s.pop("logprobs", None)
                    rec.update(step=self.step_no, group=gi, task_id=r.task.get("id"), copies=copies[id(group)],
                               reward=r.reward.to_dict(), correct=r.reward.correct)
                    f.write(dumps_line(rec))

    def save(self) -> Path:
        """Checkpoint the finished updates. Saved in the middle of an update (Ctrl-C during its
        rollouts, the only place it awaits, so the weights are still those of ``step_no``), the
        checkpoint keeps the task cursor of that update's start: resume hands its tasks out again."""
        cursor = self.stream.cursor if self._step_cursor is None else self._step_cursor
        return save_checkpoint(Path(self.cfg.out_dir), self.step_no, self.model, self.tokenizer, self.optimizer,
                               cursor, self.cfg.keep_checkpoints)

    async def aclose(self) -> None:
        for toolbox in self._toolboxes.values():
            await toolbox.aclose()
        self._toolboxes.clear()


def _default_toolbox(world: str | None):
    from webagent.tools.toolbox import Toolbox, WebConfig

    return Toolbox(WebConfig(web="offline", world=world))


def prefilter_tasks(cfg: RLConfig, tasks: list[dict[str, Any]], judge=None, *, toolbox=None):
    """DUPO's pre-RL filter with the starting policy (see :func:`webagent.train.grpo.prefilter`).
    Never-solved questions are flagged in ``all_wrong`` and stay in ``kept``: :func:`train_rl`
    applies ``drop_all_wrong`` to the saved result, so one result serves a resume with or without it."""
    cfg = cfg.resolved()

    from webagent.progress import progress

    # G rollouts of every question: on a large pool the longest wait of a run, so it shows progress.
    bar = progress(len(tasks) * cfg.group_size, desc="pre-filter", unit="ep", disable=not cfg.progress)
    seen = correct = 0  # counted here: a disabled bar counts nothing

    def done(rollout) -> None:
        nonlocal seen, correct
        seen, correct = seen + 1, correct + bool(rollout.reward.correct)
        bar.update()
        bar.set_postfix_str(f"correct {correct / seen:.1%}")

    async def go():
        trainer = RLTrainer(cfg, tasks, judge, toolbox=toolbox)
        local = _local(trainer.model, trainer.tokenizer, cfg, trainer.device, -1)
        try:
            groups = await trainer.rollout_groups(tasks, local, on_done=done)
        finally:
            await local.aclose()
            await trainer.aclose()
            bar.close()
        return prefilter(groups)

    return aio.run(go())


def train_rl(config: RLConfig, tasks: list[dict[str, Any]] | None = None, judge=None, *, toolbox=None) -> RLResult:
    """Run (or resume) RL; writes ``rl_log.jsonl``, checkpoints and a ``save_pretrained`` policy."""
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    cfg = config.resolved()
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tasks = tasks if tasks is not None else load_tasks(cfg.tasks)
    (out / "rl_config.json").write_text(json.dumps(asdict(cfg), indent=2, default=str))
    summary = None
    if cfg.prefilter:
        tasks, summary = _prefiltered(cfg, tasks, judge, toolbox, out)
    return aio.run(_train(cfg, tasks, judge, toolbox, summary))


def _prefiltered(cfg: RLConfig, tasks, judge, toolbox, out: Path):
    """Run the pre-filter once and keep its result in ``prefilter.json``, which a resumed run reads
    back (no second pre-filter); ``drop_all_wrong`` is applied here, to either."""
    path = out / "prefilter.json"
    if cfg.resume and path.is_file():
        saved = json.loads(path.read_text())
    else:
        res = prefilter_tasks(cfg, tasks, judge, toolbox=toolbox)
        saved = {"summary": res.summary(), "kept_ids": [t["id"] for t in res.kept],
                 "all_correct_ids": [t["id"] for t in res.all_correct],
                 "all_wrong_ids": [t["id"] for t in res.all_wrong]}
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(saved, indent=1))
        os.replace(tmp, path)
    keep = set(saved["kept_ids"])
    if cfg.drop_all_wrong:
        keep -= set(saved.get("all_wrong_ids", ()))
    summary = {**saved["summary"], "kept": len(keep)}
    if not keep:
        raise ValueError(f"the pre-filter left no question to train on ({summary}); "
                         "use easier/harder tasks or turn the pre-filter off")
    return [t for t in tasks if t["id"] in keep], summary


async def _train(cfg: RLConfig, tasks, judge, toolbox, summary) -> RLResult:
    from webagent.progress import progress

    out = Path(cfg.out_dir)
    trainer = RLTrainer(cfg, tasks, judge, toolbox=toolbox)
    trainer.resume()
    start = trainer.step_no
    for log in ("rl_log.jsonl", "rollouts.jsonl"):  # steps past the checkpoint are done (and logged) again
        truncate_steps(out / log, start)
    end = cfg.steps if cfg.halt_after is None else min(cfg.steps, start + cfg.halt_after)
    bar = progress(cfg.steps, initial=start, desc=f"rl/{cfg.algorithm}", unit="update", disable=not cfg.progress)
    rec: dict[str, Any] = {}
    saved = start
    try:
        while trainer.step_no < end:
            rec = await trainer.step()
            with (out / "rl_log.jsonl").open("a") as f:
                f.write(json.dumps(rec) + "\n")
            bar.set_postfix(reward=f"{rec['reward']:.3f}", acc=f"{rec['reward_answer']:.2f}",
                            zero=f"{rec['zero_spread']:.2f}", s=f"{rec['seconds']:.1f}")
            bar.update(1)
            if trainer.step_no % cfg.save_every == 0 or trainer.step_no == end:
                trainer.save()
                saved = trainer.step_no
    except (asyncio.CancelledError, KeyboardInterrupt):
        if trainer.step_no > saved:  # Ctrl-C: keep the updates finished since the last checkpoint
            trainer.save()
        raise
    finally:
        bar.close()
        await trainer.aclose()
    if trainer.step_no >= cfg.steps:
        from webagent.train.base_models import save_policy

        trainer.model = save_policy(trainer.model, trainer.tokenizer, out)
    return RLResult(str(out), trainer.step_no, rec, summary)


def metrics_summary(log: Path) -> dict[str, float]:
    """Means of the numeric metrics of an ``rl_log.jsonl`` (for reports and benchmarks)."""
    recs = read_jsonl(log)
    keys = {k for r in recs for k, v in r.items() if isinstance(v, int | float)}
    return {k: sum(r.get(k, 0) for r in recs) / len(recs) for k in sorted(keys)} if recs else {}


__all__ = ["RLConfig", "RLResult", "RLTrainer", "RL_PRESETS", "TaskStream", "Updater", "load_tasks",
           "metrics_summary", "prefilter_tasks", "row_logprobs", "train_rl"]
