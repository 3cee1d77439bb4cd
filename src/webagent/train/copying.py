"""A copy warm-up for models trained from scratch: the copy drill (``drill.py``) and nothing else.

An agent copies all the time: the entity of the question into the query, a URL from the search
results into ``visit``, the value from the evidence into the answer. A model that learns only
from agent chats on a CPU budget never forms the circuit for it (copying by content needs two
attention layers to cooperate) and writes plausible names of its own instead. The warm-up trains
nothing but that circuit, on rows of random blocks of ids each followed by its repeat.

The loss sits at the uniform level for thousands of steps, then falls to near zero within a few
hundred: :func:`train_copy` stops soon after that drop (``stop_loss``). During SFT the same rows
are mixed into every step (``SFTConfig.copy_rows``) so that the circuit survives.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from webagent.jsonl import read_jsonl
from webagent.train.data import IGNORE
from webagent.train.drill import MAX_PERIOD, ROW_LEN, ordinary_ids, repeat_accuracy, repeat_batch


@dataclass
class CopyConfig:
    """The copy warm-up: the preset is built fresh and trained on drill rows only."""

    out_dir: str
    model: str = "nano"
    tokenizer: str | None = None
    steps: int = 6000
    """Most optimizer steps; a fresh nano's loss drops after about 2,300 and the run stops near 3,000."""
    batch_size: int = 8
    seq_len: int = ROW_LEN
    max_period: int = MAX_PERIOD
    lr: float = 2e-3
    warmup_steps: int = 20
    weight_decay: float = 0.1
    betas: tuple[float, float] = (0.9, 0.95)
    stop_loss: float = 0.1
    """Stop once the mean loss of the last ``window`` steps is below this (the circuit has formed)."""
    window: int = 100
    save_every: int = 250
    seed: int = 0
    device: str = "auto"
    bf16: bool | None = None
    progress: bool = True
    model_overrides: dict[str, Any] = field(default_factory=dict)


@dataclass
class CopyResult:
    out_dir: str
    steps: int
    loss: float
    stopped_early: bool
    repeat_accuracy: dict[int, float]
    seconds: float


def train_copy(cfg: CopyConfig) -> CopyResult:
    """Run (or resume) the warm-up; writes a ``save_pretrained`` model + tokenizer to ``out_dir``."""
    import torch
    from transformers.utils import logging as hf_logging

    from webagent.train.models import build_model
    from webagent.train.sft import (
        Dist,
        _loss_module,
        cpu_has_bf16,
        latest_checkpoint,
        load_checkpoint,
        make_optimizer,
        pick_device,
        save_checkpoint,
    )
    from webagent.train.tokenizer import load_tokenizer

    hf_logging.disable_progress_bar()
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    device = pick_device(cfg, Dist())
    bf16 = cfg.bf16 if cfg.bf16 is not None else device.type == "cuda" or cpu_has_bf16()
    tokenizer = load_tokenizer(cfg.tokenizer or cfg.model)
    ids = ordinary_ids(tokenizer)
    lm = build_model(cfg.model, tokenizer, seed=cfg.seed, dtype=torch.float32, **cfg.model_overrides).to(device)
    opt = make_optimizer(lm, cfg, device)
    start, log = 0, out / "train_log.jsonl"
    ckpt = latest_checkpoint(out)
    if ckpt is not None:
        start = load_checkpoint(ckpt, lm, opt)
    # The log keeps exactly the steps up to the checkpoint resumed from: no step twice.
    recs = read_jsonl(log, missing_ok=True)
    recs = [r for r in recs if r["step"] <= start]
    log.write_text("".join(json.dumps(r) + "\n" for r in recs))
    (out / "copy_config.json").write_text(json.dumps(asdict(cfg), indent=2))
    loss_mod = _loss_module()(lm)
    recent = [r["loss"] for r in recs[-cfg.window:]]
    from webagent.progress import progress

    bar = progress(cfg.steps, initial=start, desc="copy warm-up", unit="step", disable=not cfg.progress)
    t0, step, stopped = time.perf_counter(), start, False
    while step < cfg.steps and not stopped:
        lr = cfg.lr * min(1.0, (step + 1) / cfg.warmup_steps)
        for g in opt.param_groups:
            g["lr"] = lr
        x, y, pos = repeat_batch(ids, cfg.batch_size, cfg.seq_len, cfg.seed, step, max_period=cfg.max_period)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            loss = loss_mod(x.to(device), y.to(device), pos.to(device))
        n = int((y != IGNORE).sum())
        (loss / n).backward()
        torch.nn.utils.clip_grad_norm_(lm.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        step += 1
        recent = (recent + [float(loss.detach()) / n])[-cfg.window:]
        stopped = len(recent) == cfg.window and sum(recent) / cfg.window < cfg.stop_loss
        with log.open("a") as f:
            f.write(json.dumps({"step": step, "loss": round(recent[-1], 5), "lr": lr}) + "\n")
        bar.set_postfix(loss=f"{recent[-1]:.3f}")
        bar.update(1)
        if step % cfg.save_every == 0 and not stopped:
            save_checkpoint(out, step, lm, tokenizer, opt, keep=1)
    bar.close()
    lm.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    acc = repeat_accuracy(lm.to("cpu"), ids, seed=cfg.seed)
    return CopyResult(str(out), step, round(recent[-1], 5) if recent else float("nan"), stopped, acc,
                      round(time.perf_counter() - t0, 1))
