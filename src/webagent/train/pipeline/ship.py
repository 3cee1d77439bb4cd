"""Shipping: one arm's policy with its tokenizer, runtime settings, lineage and model card."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from webagent.train.pipeline.card import render_card
from webagent.train.pipeline.config import PipelineConfig, lineage, load_config, make_config
from webagent.train.pipeline.evaluate import TRAINED_ARMS, arm_model
from webagent.train.pipeline.run import Run

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
    names = run_names(chain)
    beyond = beyond_preset(cfg)
    if len(chain) > 1 or beyond:  # the preset alone would not redo it: ship the settings themselves
        (dest / "lineage").mkdir()
        for i, c in enumerate(chain, 1):
            text = json.dumps(portable(c.to_dict(), names), indent=2)
            (dest / "lineage" / f"{i}-pipeline_config.json").write_text(text + "\n")
    how = ("trained from scratch" if is_preset(chain[0].model)  # a lineage starts where its first run did
           else f"{cfg.model} post-trained{' with LoRA' if cfg.sft_lora_r else ''}")
    card = {"label": f"webagent {dest.name} ({how}, {params / 1e6:.1f}M params)", "name": dest.name, "arm": arm,
            "parameters": params, "results": rows, "rl_gain_harder_points": table.get("rl_gain_harder_points"),
            "timings_s": table.get("timings_s"), "pipeline": cfg.to_dict(), "beyond_preset": beyond,
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
    card = portable(json.loads(json.dumps(card, default=str)), names)
    (dest / "webagent_card.json").write_text(json.dumps(card, indent=2, ensure_ascii=False) + "\n")
    shutil.copy2(run.path("report", "results.md"), dest / "results.md")
    (dest / "README.md").write_text(render_card(card, run.path("report", "results.md").read_text()), encoding="utf-8")
    return dest


def beyond_preset(cfg: PipelineConfig) -> list[str]:
    """The settings of ``cfg`` that its preset does not give (where and how it ran aside; the RL
    arms in any order)."""
    mine, preset = cfg.to_dict(), make_config(cfg.preset, cfg.out).to_dict()
    mine["rl_algorithms"], preset["rl_algorithms"] = sorted(mine["rl_algorithms"]), sorted(preset["rl_algorithms"])
    return sorted(k for k in mine if k not in ("out", "device", "progress") and mine[k] != preset.get(k))


def run_names(chain) -> dict[str, str]:
    """``<run N>`` for each absolute run directory of a lineage (N from 1, oldest first)."""
    names = {}
    for i, c in enumerate(chain, 1):
        if Path(c.out).is_absolute():
            names[str(Path(c.out))] = names[str(Path(c.out).resolve())] = f"<run {i}>"
    return names


def portable(obj: Any, names: dict[str, str]) -> Any:
    """``obj`` with every path inside a run directory of ``names`` written from that run's name: a
    shipped card must not carry paths of the machine it was trained on (they mean nothing on
    another, and a temporary directory's name can leak a user's layout)."""
    if isinstance(obj, dict):
        return {k: portable(v, names) for k, v in obj.items()}
    if isinstance(obj, list):
        return [portable(v, names) for v in obj]
    if isinstance(obj, str):
        for root, name in names.items():
            if obj == root or obj.startswith(root + "/"):
                return name + obj[len(root):]
    return obj
