"""The training stages: tokenizer, copy warm-up, SFT and the RL arms."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from webagent.train.pipeline.config import PipelineConfig, own_tokenizer
from webagent.train.pipeline.run import Run, _read_jsonl


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
                  drop_all_wrong=cfg.rl_drop_all_wrong, concurrency=cfg.eval_concurrency,
                  device=cfg.device, save_every=max(1, cfg.rl_steps // 3), progress=cfg.progress)
    res = train_rl(rc, tasks, toolbox=rt.world_toolbox)
    rt.save(out)
    return asdict(res)
