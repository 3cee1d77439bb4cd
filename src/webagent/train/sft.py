"""Observation-masked SFT in plain torch: packing, accumulation, AdamW, warmup + cosine, DDP.

The loop, in the order it happens::

    rows = pack(encode_trajectory(chat) for chat in data)       # mask contract + packing
    for step in range(start, total):                             # start > 0 after a resume
        for micro-batch of this rank's share of the step's rows:
            loss = sum of -log p(target) over trained tokens / trained tokens in the whole step
            loss.backward()                                      # DDP syncs on the last one only
        clip grads; AdamW step with lr(step)                     # linear warmup, cosine decay
        every eval_every: eval loss; every save_every: atomic checkpoint

The loss is the token mean over *all* trained tokens of an optimizer step (every micro-batch on
every rank), which is WebDancer's masked objective and makes the result independent of how the
batch is split across accumulation steps and processes. Only positions that carry a target go
through the output layer: tool observations dominate agent chats, so this saves most of the
vocabulary projection.

Run it on several processes with ``torchrun --nproc_per_node N $(which webagent) train sft ...``;
the data order depends only on the seed and step, so a resumed run sees exactly the rows the
uninterrupted run would have seen.
"""

from __future__ import annotations

import json
import math
import os
import random
import shutil
import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from webagent.interrupt import GracefulStop
from webagent.jsonl import truncate_steps
from webagent.train.base_models import load_weights, save_model, save_policy
from webagent.train.data import IGNORE, DataStats, PackedRows, encode_records, load_chats, pack, split_eval
from webagent.train.masking import Encoded
from webagent.train.models import build_model, count_parameters, is_preset, train_defaults
from webagent.train.tokenizer import load_tokenizer


@dataclass
class SFTConfig:
    """Everything an SFT run needs; ``None`` fields take the model preset's defaults."""

    out_dir: str
    data: list[str] = field(default_factory=list)
    """JSONL files of chats or trajectories (see ``data.py`` for the accepted shapes)."""
    model: str = "nano"
    """A preset (nano, micro, small) or a Hugging Face causal-LM directory."""
    tokenizer: str | None = None
    """Tokenizer directory; defaults to the model directory (required with a preset)."""
    seq_len: int | None = None
    batch_size: int | None = None
    """Packed rows per optimizer step, over all processes (WebSailor RFT: 32)."""
    micro_batch_size: int | None = None
    """Rows per forward pass on one process; accumulation = batch / (micro x processes)."""
    lr: float | None = None
    min_lr: float | None = None
    weight_decay: float | None = None
    warmup_steps: int | None = None
    epochs: float = 1.0
    max_steps: int | None = None
    """Total optimizer steps (overrides ``epochs``)."""
    betas: tuple[float, float] = (0.9, 0.95)
    grad_clip: float = 1.0
    eval_fraction: float = 0.05
    eval_every: int = 50
    save_every: int = 100
    keep_checkpoints: int = 2
    seed: int = 0
    device: str = "auto"
    """auto (cuda when present), cpu or cuda."""
    bf16: bool | None = None
    """bf16 autocast; default: on for CUDA, off on CPU."""
    resume: bool = True
    """Continue from the newest checkpoint in ``out_dir`` when there is one."""
    halt_after: int | None = None
    """Stop after this many steps of this invocation (leaving a checkpoint): time-boxed jobs."""
    max_seconds: float | None = None
    """Wall-clock budget of this invocation's training loop: the run ends after the step that
    crosses it, as if that were the last step (the policy is saved). For equal-time comparisons;
    the learning-rate schedule still follows ``max_steps``/``epochs``."""
    progress: bool = True
    model_overrides: dict[str, Any] = field(default_factory=dict)
    """Extra Qwen2Config fields for a preset (e.g. a smaller ``hidden_size`` for tests)."""
    objective: str = "sft"
    """``sft``: the mask contract (only assistant tokens are trained); ``lm``: every token of the
    chats is a target, pages and search results included (language-model pretraining on the text
    an agent reads, e.g. before SFT of a model trained from scratch)."""
    copy_rows: int = 0
    """Rows of the copy drill (``drill.py``: random blocks and their repeats) added to every
    step on every process, so that the circuit of a copy warm-up survives SFT."""
    copy_weight: float = 0.3
    """Weight of the drill's token-mean loss next to the chats' loss."""
    pack: bool = True
    """Pack several chats into each row of ``seq_len`` (False: one chat per row, trimmed to its
    length; cheaper on a CPU, where attention always spans the whole row)."""
    lora_r: int = 0
    """LoRA rank (0: full fine-tuning). With LoRA only the adapters train; ``out_dir`` gets the
    merged model (what later stages load) and ``out_dir/adapter`` the adapter alone (what ships)."""
    lora_alpha: int | None = None
    """LoRA scale numerator (None: 2 x rank)."""
    lora_top_layers: int | None = None
    """Adapters only in the top N transformer layers (None: all). The layers below then need no
    backward pass at all (nothing under them trains), which on a CPU saves about a third of a step."""
    lora_targets: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
    """Modules that get adapters (Llama/Qwen2 names: every attention and MLP projection)."""

    def resolved(self) -> SFTConfig:
        """A copy with every ``None`` filled from the preset (or WebSailor's RFT) defaults."""
        if self.objective not in ("sft", "lm"):
            raise ValueError(f"unknown objective {self.objective!r}: use sft (assistant tokens) or lm (every token)")
        d = asdict(self)
        for k, v in train_defaults(self.model).items():
            if d.get(k) is None:
                d[k] = v
        d["betas"] = tuple(d["betas"])
        d["lora_targets"] = tuple(d["lora_targets"])
        return SFTConfig(**d)


@dataclass
class SFTResult:
    out_dir: str
    steps: int
    train_loss: float
    eval_loss: float | None
    tokens_per_s: float
    parameters: int
    data: dict[str, Any]


# ---------------------------------------------------------------------------------------------
# Distributed setup


@dataclass
class Dist:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0


def init_distributed(device: str) -> Dist:
    """Join the process group torchrun set up (gloo on CPU, nccl on GPU); a no-op otherwise."""
    import torch
    import torch.distributed as dist

    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Dist()
    cuda = device.startswith("cuda") or (device == "auto" and torch.cuda.is_available())
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if cuda else "gloo")
    return Dist(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))


def cpu_has_bf16() -> bool:
    """Whether this CPU multiplies bf16 natively (AVX512-BF16 or AMX): autocast then about doubles
    a small model's training speed; without it bf16 is emulated and slower than fp32."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return " avx512_bf16" in flags or " amx_bf16" in flags


def pick_device(cfg: SFTConfig, d: Dist):
    import torch

    want = cfg.device
    if want == "auto":
        want = "cuda" if torch.cuda.is_available() else "cpu"
    if want == "cuda":
        torch.cuda.set_device(d.local_rank)
        return torch.device("cuda", d.local_rank)
    return torch.device(want)


# ---------------------------------------------------------------------------------------------
# Model pieces


def _loss_module():
    import torch
    import torch.nn.functional as F

    class MaskedLMLoss(torch.nn.Module):
        """Sum of token losses over trained positions; only those positions reach the LM head."""

        def __init__(self, lm):
            super().__init__()
            self.lm = lm

        def forward(self, input_ids, labels, position_ids):
            # attention_mask=None + restarting position_ids = block-diagonal causal attention.
            hidden = self.lm.get_decoder()(input_ids=input_ids, position_ids=position_ids, use_cache=False)
            hidden = hidden.last_hidden_state if hasattr(hidden, "last_hidden_state") else hidden[0]
            keep = labels != IGNORE
            logits = self.lm.get_output_embeddings()(hidden[keep]).float()
            return F.cross_entropy(logits, labels[keep], reduction="sum")

    return MaskedLMLoss


def add_lora(lm, cfg: SFTConfig):
    """Wrap ``lm`` with trainable LoRA adapters (the base weights freeze). The adapter names its
    base as given (``smollm2-135m``, not the cache path), so a shipped adapter finds it anywhere."""
    from peft import LoraConfig, get_peft_model

    layers = None
    if cfg.lora_top_layers:
        n = lm.config.num_hidden_layers
        layers = list(range(max(0, n - cfg.lora_top_layers), n))
    lora = LoraConfig(r=cfg.lora_r, lora_alpha=cfg.lora_alpha or 2 * cfg.lora_r, lora_dropout=0.0,
                      target_modules=list(cfg.lora_targets), layers_to_transform=layers, bias="none",
                      task_type="CAUSAL_LM")
    model = get_peft_model(lm, lora)
    model.peft_config["default"].base_model_name_or_path = str(cfg.model)
    return model


def make_optimizer(model, cfg: SFTConfig, device):
    """AdamW; weight decay on matrices only (not on norms and biases), as in nanoGPT."""
    import torch

    params = [p for p in model.parameters() if p.requires_grad]
    decay = [p for p in params if p.dim() >= 2]
    no_decay = [p for p in params if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=cfg.betas, fused=device.type == "cuda")


def lr_at(step: int, cfg: SFTConfig, total: int) -> float:
    """Linear warmup to ``lr`` over ``warmup_steps``, then cosine decay to ``min_lr`` at ``total``."""
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    span = max(1, total - cfg.warmup_steps)
    progress = min(1.0, (step - cfg.warmup_steps) / span)
    return cfg.min_lr + 0.5 * (cfg.lr - cfg.min_lr) * (1 + math.cos(math.pi * progress))


# ---------------------------------------------------------------------------------------------
# Data order: a function of (seed, step) only, which is what makes resume exact.


def step_rows(step: int, n_rows: int, batch_size: int, seed: int) -> list[int]:
    """Row indices of optimizer step ``step``: consecutive slices of per-epoch shuffles."""
    import torch

    out: list[int] = []
    at = step * batch_size
    while len(out) < batch_size:
        epoch, offset = divmod(at, n_rows)
        perm = torch.randperm(n_rows, generator=torch.Generator().manual_seed(seed * 1_000_003 + epoch))
        take = perm[offset:offset + batch_size - len(out)].tolist()
        out += take
        at += len(take)
    return out


def micro_batches(rows: list[int], d: Dist, micro: int) -> list[list[int]]:
    """This rank's share of a step's rows (every world-th row), cut into micro-batches."""
    mine = rows[d.rank::d.world]
    return [mine[i:i + micro] for i in range(0, len(mine), micro)]


# ---------------------------------------------------------------------------------------------
# Checkpoints


def _rng_state() -> dict[str, Any]:
    import torch

    state = {"torch": torch.get_rng_state(), "python": random.getstate()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict[str, Any]) -> None:
    import torch

    torch.set_rng_state(state["torch"])
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(out_dir: Path, step: int, model, tokenizer, optimizer, keep: int) -> Path:
    """Write ``checkpoints/step-N`` atomically: into a temporary directory, then rename.

    A crash mid-write leaves only a ``.tmp`` directory that resume ignores; the ``latest`` file is
    replaced atomically after the rename, so it always names a complete checkpoint.
    """
    import torch

    root = out_dir / "checkpoints"
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"step-{step:08d}"
    tmp = root / f".step-{step:08d}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    save_model(model, tmp)
    tokenizer.save_pretrained(tmp)
    torch.save({"step": step, "optimizer": optimizer.state_dict(), "rng": _rng_state()}, tmp / "trainer_state.pt")
    shutil.rmtree(final, ignore_errors=True)
    os.replace(tmp, final)
    _write_atomic(root / "latest", final.name)
    for old in sorted(p for p in root.glob("step-*") if p.is_dir())[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def latest_checkpoint(out_dir: Path) -> Path | None:
    pointer = out_dir / "checkpoints" / "latest"
    if not pointer.is_file():
        return None
    path = pointer.parent / pointer.read_text().strip()
    return path if (path / "trainer_state.pt").is_file() else None


def load_checkpoint(path: Path, model, optimizer) -> int:
    """Restore weights, optimizer and RNG from ``path``; returns the step to continue from."""
    import torch

    load_weights(model, path)  # a LoRA run's checkpoints hold the adapter only
    state = torch.load(path / "trainer_state.pt", weights_only=False)
    optimizer.load_state_dict(state["optimizer"])
    _set_rng_state(state["rng"])
    return int(state["step"])


# ---------------------------------------------------------------------------------------------
# The run


def prepare_data(cfg: SFTConfig, tokenizer, records=None) -> tuple[PackedRows, PackedRows | None, DataStats]:
    """Encode (mask contract), split and pack the data; identical on every process."""
    stats = DataStats()
    if records is not None:
        examples = encode_records(records, tokenizer, cfg.seq_len, stats)
    else:
        examples = load_chats(cfg.data, tokenizer, cfg.seq_len, stats)
    if not examples:
        raise ValueError("no training example has an assistant token to learn from")
    if cfg.objective == "lm":  # language-model pretraining on whole chats: every token is a target
        examples = [Encoded(e.input_ids, [1] * len(e.input_ids), e.turn_starts) for e in examples]
    train_ex, eval_ex = split_eval(examples, cfg.eval_fraction, cfg.seed)
    train_rows = pack(train_ex, cfg.seq_len, tokenizer.pad_token_id, stats, one_per_row=not cfg.pack)
    eval_rows = pack(eval_ex, cfg.seq_len, tokenizer.pad_token_id, one_per_row=not cfg.pack) if eval_ex else None
    return train_rows, eval_rows, stats


def _load_tokenizer(cfg: SFTConfig):
    source = cfg.tokenizer or (None if is_preset(cfg.model) else cfg.model)
    if source is None:
        raise ValueError(f"model preset {cfg.model!r} needs --tokenizer (train one with `webagent train tokenizer`)")
    return load_tokenizer(source)


def _all_sum(value: float, d: Dist, device) -> float:
    if d.world == 1:
        return value
    import torch
    import torch.distributed as dist

    t = torch.tensor([value], dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return float(t.item())


def _any(flag: bool, d: Dist, device) -> bool:
    """Whether any process raised ``flag`` (all processes then agree to stop at the same step)."""
    return _all_sum(float(flag), d, device) > 0 if d.world > 1 else flag


def evaluate(loss_mod, rows: PackedRows, cfg: SFTConfig, d: Dist, device, autocast) -> float:
    """Token-mean loss over the held-out rows (sharded over processes)."""
    import torch

    loss_mod.eval()
    total, count = 0.0, 0
    mine = list(range(d.rank, len(rows), d.world))
    with torch.no_grad():
        for i in range(0, len(mine), cfg.micro_batch_size):
            b = rows.select(mine[i:i + cfg.micro_batch_size])
            with autocast():
                total += float(loss_mod(b.input_ids.to(device), b.labels.to(device), b.position_ids.to(device)))
            count += int((b.labels != IGNORE).sum())
    loss_mod.train()
    return _all_sum(total, d, device) / max(1.0, _all_sum(count, d, device))


def train_sft(config: SFTConfig, records=None) -> SFTResult:
    """Run (or resume) SFT and write a ``save_pretrained`` model + tokenizer to ``out_dir``.

    ``records`` (chats or Trajectories) may be given directly instead of ``config.data`` files.
    """
    import torch
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # our own bar shows the run; per-save bars would break it
    cfg = config.resolved()
    out_dir = Path(cfg.out_dir)
    d = init_distributed(cfg.device)
    device = pick_device(cfg, d)
    if cfg.batch_size % (cfg.micro_batch_size * d.world):
        raise ValueError(f"batch_size {cfg.batch_size} must be a multiple of micro_batch_size x processes "
                         f"({cfg.micro_batch_size} x {d.world})")
    use_bf16 = cfg.bf16 if cfg.bf16 is not None else device.type == "cuda"

    def autocast():
        return torch.autocast(device.type, dtype=torch.bfloat16) if use_bf16 else nullcontext()

    tokenizer = _load_tokenizer(cfg)
    rows, eval_rows, stats = prepare_data(cfg, tokenizer, records)
    total = cfg.max_steps or max(1, math.ceil(cfg.epochs * len(rows) / cfg.batch_size))

    lm, optimizer, loss_mod, start = _build(cfg, d, device, tokenizer)
    if d.main:
        out_dir.mkdir(parents=True, exist_ok=True)
        # Steps logged after the checkpoint resumed from are trained (and logged) again.
        truncate_steps(out_dir / "train_log.jsonl", start)
        (out_dir / "sft_config.json").write_text(json.dumps(asdict(cfg), indent=2, default=str))

    state = _Loop(cfg, d, device, autocast, loss_mod, optimizer, rows, total)
    if cfg.copy_rows:
        from webagent.train.drill import ordinary_ids

        state.copy_ids = ordinary_ids(tokenizer)
    end = total if cfg.halt_after is None else min(total, start + cfg.halt_after)
    log_path = out_dir / "train_log.jsonl"
    bar = _progress(cfg, d, start, total)
    eval_loss = None
    budget_start = time.perf_counter()
    with GracefulStop() as stop:
        for step in range(start, end):
            rec = state.step(step)
            spent = cfg.max_seconds is not None and _any(time.perf_counter() - budget_start >= cfg.max_seconds, d, device)
            if eval_rows is not None and ((step + 1) % cfg.eval_every == 0 or step + 1 == total):
                plain = getattr(loss_mod, "module", loss_mod)  # no DDP hooks for a forward-only pass
                eval_loss = rec["eval_loss"] = round(evaluate(plain, eval_rows, cfg, d, device, autocast), 5)
            if d.main:
                with log_path.open("a") as f:
                    f.write(json.dumps(rec) + "\n")
                bar.set_postfix(loss=f"{rec['loss']:.4f}", tok_s=f"{state.tokens_per_s:,.0f}", lr=f"{rec['lr']:.2e}")
                bar.update(1)
            if spent:
                end = total = step + 1  # the budget ends the run here
            # Ctrl-C (one rank's signal is enough) checkpoints the finished step, then stops.
            interrupted = _any(stop.requested, d, device) and step + 1 < end
            if (step + 1) % cfg.save_every == 0 or step + 1 == end or interrupted:
                if d.main:
                    save_checkpoint(out_dir, step + 1, lm, tokenizer, optimizer, cfg.keep_checkpoints)
                _barrier(d)
            if interrupted:
                bar.close()
                raise KeyboardInterrupt
            if spent:
                break
    bar.close()
    if d.main and end == total:
        lm = save_policy(lm, tokenizer, out_dir)
    _barrier(d)
    return SFTResult(str(out_dir), end, state.last_loss, eval_loss, state.tokens_per_s, count_parameters(lm),
                     {"chats": stats.chats, "truncated": stats.truncated, "dropped": stats.dropped,
                      "rows": stats.rows, "tokens": stats.tokens, "trained_tokens": stats.trained_tokens,
                      "fill": round(stats.fill, 3)})


def _build(cfg: SFTConfig, d: Dist, device, tokenizer):
    """Model (fp32 master weights), optimizer, the loss module (DDP-wrapped) and the start step."""
    import torch

    lm = build_model(cfg.model, tokenizer, seed=cfg.seed, dtype=torch.float32, **cfg.model_overrides).to(device)
    if cfg.lora_r:
        lm = add_lora(lm, cfg)
    optimizer = make_optimizer(lm, cfg, device)
    start = 0
    ckpt = latest_checkpoint(Path(cfg.out_dir)) if cfg.resume else None
    if ckpt is not None:
        start = load_checkpoint(ckpt, lm, optimizer)
    loss_mod = _loss_module()(lm)
    if d.world > 1:
        from torch.nn.parallel import DistributedDataParallel as DDP

        # No buffer broadcast: the only buffers (rotary tables) are constants, and a collective in
        # every forward would also hang evaluation, where processes may run different counts.
        loss_mod = DDP(loss_mod, device_ids=[device.index] if device.type == "cuda" else None,
                       broadcast_buffers=False)
    return lm, optimizer, loss_mod, start


def _barrier(d: Dist) -> None:
    if d.world > 1:
        import torch.distributed as dist

        dist.barrier()


def _progress(cfg: SFTConfig, d: Dist, start: int, total: int):
    from webagent.progress import progress

    return progress(total, initial=start, desc="sft", unit="step", disable=not (cfg.progress and d.main))


class _Loop:
    """One optimizer step at a time; keeps the throughput figures."""

    def __init__(self, cfg, d, device, autocast, loss_mod, optimizer, rows, total):
        self.cfg, self.d, self.device, self.autocast = cfg, d, device, autocast
        self.loss_mod, self.optimizer, self.rows, self.total = loss_mod, optimizer, rows, total
        self.tokens, self.seconds, self.last_loss = 0, 0.0, float("nan")
        self.copy_ids: list[int] = []

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / self.seconds if self.seconds else 0.0

    def step(self, step: int) -> dict[str, Any]:
        import torch

        cfg, d, dev = self.cfg, self.d, self.device
        t0 = time.perf_counter()
        lr = lr_at(step, cfg, self.total)
        for g in self.optimizer.param_groups:
            g["lr"] = lr
        rows = step_rows(step, len(self.rows), cfg.batch_size, cfg.seed)
        batch = self.rows.select(rows)
        # Every process knows the whole step's rows, so the global token count needs no all-reduce.
        n_trained = int((batch.labels != IGNORE).sum())
        micros = micro_batches(rows, d, cfg.micro_batch_size)
        rec: dict[str, Any] = {}
        if cfg.copy_rows:
            rec["copy_loss"] = self._copy_drill(step)
        loss_sum = 0.0
        for k, idx in enumerate(micros):
            b = self.rows.select(idx)
            sync = k == len(micros) - 1 or d.world == 1
            with nullcontext() if sync else self.loss_mod.no_sync():
                with self.autocast():
                    loss = self.loss_mod(b.input_ids.to(dev), b.labels.to(dev), b.position_ids.to(dev))
                # DDP averages gradients over processes; scale by world so the result is the
                # token mean over the whole step.
                (loss * d.world / max(1, n_trained)).backward()
            loss_sum += float(loss.detach())
        grad_norm = torch.nn.utils.clip_grad_norm_(self.loss_mod.parameters(), cfg.grad_clip)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        if dev.type == "cuda":
            torch.cuda.synchronize()
        seconds, tokens = time.perf_counter() - t0, int(batch.lengths.sum())
        self.seconds += seconds
        self.tokens += tokens
        self.last_loss = _all_sum(loss_sum, d, dev) / max(1, n_trained)
        return {"step": step + 1, "loss": round(self.last_loss, 5), "lr": lr, "grad_norm": round(float(grad_norm), 4),
                "trained_tokens": n_trained, "tokens": tokens, "seconds": round(seconds, 4),
                "tokens_per_s": round(self.tokens_per_s, 1), **rec}

    def _copy_drill(self, step: int) -> float:
        """Forward and backward of this process's drill rows; returns their token-mean loss.

        Run before the chats' micro-batches and outside DDP's sync, so its gradient is summed
        into theirs and all-reduced with the last micro-batch (DDP's average over processes is
        the mean of the per-process drill losses, as wanted)."""
        from webagent.train.drill import ROW_LEN, repeat_batch

        cfg, dev = self.cfg, self.device
        ids, labels, pos = repeat_batch(self.copy_ids, cfg.copy_rows, ROW_LEN, cfg.seed, step, rank=self.d.rank)
        n = int((labels != IGNORE).sum())
        with self.loss_mod.no_sync() if self.d.world > 1 else nullcontext():
            with self.autocast():
                loss = self.loss_mod(ids.to(dev), labels.to(dev), pos.to(dev))
            (cfg.copy_weight * loss / n).backward()
        return round(float(loss.detach()) / n, 5)
