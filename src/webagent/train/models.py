"""Model presets: small Qwen2 models defined from config, or any Hugging Face causal-LM directory.

The presets use the Qwen2 architecture so that what we train loads unchanged in transformers
(``AutoModelForCausalLM``) and serves on vLLM/SGLang. Sizes (with the preset's own vocabulary):

============  =========  =======================================================
preset        params     meant for
============  =========  =======================================================
``nano``      ~1.5 M     CPU: the from-scratch pipeline and quick experiments
``micro``     ~10 M      CPU (slow) or any GPU
``small``     ~80 M      a GPU
============  =========  =======================================================

Each preset also carries training defaults sized for it (``TRAIN_DEFAULTS``); a model directory
gets WebSailor's RFT settings (batch 32, lr 5e-6, weight decay 0.1), meant for 3B–72B models.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

PRESETS: dict[str, dict[str, Any]] = {
    "nano": dict(vocab_size=4096, hidden_size=128, intermediate_size=512, num_hidden_layers=4,
                 num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=4096),
    "micro": dict(vocab_size=8192, hidden_size=256, intermediate_size=1024, num_hidden_layers=8,
                  num_attention_heads=8, num_key_value_heads=4, max_position_embeddings=8192),
    "small": dict(vocab_size=16384, hidden_size=640, intermediate_size=2048, num_hidden_layers=14,
                  num_attention_heads=10, num_key_value_heads=2, max_position_embeddings=32768),
}

# Training defaults per preset. "hf" (a user's model directory) follows WebSailor's RFT cold start
# (R-WS-42); the small presets learn from scratch, so they need a far larger learning rate.
TRAIN_DEFAULTS: dict[str, dict[str, Any]] = {
    "nano": dict(lr=3e-3, min_lr=3e-4, batch_size=16, micro_batch_size=4, seq_len=1024, weight_decay=0.1, warmup_steps=20),
    "micro": dict(lr=1e-3, min_lr=1e-4, batch_size=16, micro_batch_size=4, seq_len=2048, weight_decay=0.1, warmup_steps=50),
    "small": dict(lr=6e-4, min_lr=6e-5, batch_size=32, micro_batch_size=8, seq_len=4096, weight_decay=0.1, warmup_steps=100),
    # SmolLM2-135M-Instruct from its package (full fine-tuning; LoRA runs pass a larger rate).
    "smollm2-135m": dict(lr=5e-5, min_lr=5e-6, batch_size=16, micro_batch_size=1, seq_len=4096, weight_decay=0.0, warmup_steps=10),
    "hf": dict(lr=5e-6, min_lr=1e-10, batch_size=32, micro_batch_size=1, seq_len=32768, weight_decay=0.1, warmup_steps=10),
}


def is_preset(name: str) -> bool:
    return name in PRESETS


def check_model_arg(model: str, option: str = "--model") -> None:
    """A model preset passes; anything else must be able to be a model (clear error, before torch loads)."""
    from webagent.llm.factory import check_local_model

    if not is_preset(model):
        try:
            check_local_model(model)
        except ValueError as e:
            raise ValueError(str(e).replace("--model:", f"{option}:", 1) + " Or a model preset: nano, micro, small.") from None


def preset_config(name: str, vocab_size: int | None = None, **overrides: Any):
    """A ``Qwen2Config`` for a preset; ``vocab_size`` is usually ``len(tokenizer)``."""
    from transformers import Qwen2Config

    if name not in PRESETS:
        raise ValueError(f"unknown model preset {name!r}; choose one of {', '.join(PRESETS)} or give a model directory")
    kw = {**PRESETS[name], **overrides}
    if vocab_size is not None:
        kw["vocab_size"] = vocab_size
    return Qwen2Config(
        tie_word_embeddings=True,  # small models: the embedding is most of the parameters
        rope_theta=10000.0,
        rms_norm_eps=1e-6,
        use_sliding_window=False,
        **kw,
    )


def build_model(name_or_path: str | Path, tokenizer=None, *, seed: int = 0, dtype=None, **overrides: Any):
    """A causal LM: a fresh preset (initialised from ``seed``), a package model (``smollm2-135m``),
    a pretrained directory or an adapter directory (merged into its base).

    With a preset, the vocabulary follows ``tokenizer`` and the special-token ids are written into
    the config so that ``generate`` stops at ``<|im_end|>``.
    """
    import torch
    from transformers import AutoModelForCausalLM

    name = str(name_or_path)
    if is_preset(name):
        cfg = preset_config(name, len(tokenizer) if tokenizer is not None else None, **overrides)
        if tokenizer is not None:
            cfg.eos_token_id = tokenizer.eos_token_id
            cfg.pad_token_id = tokenizer.pad_token_id
            cfg.bos_token_id = None
        torch.manual_seed(seed)
        model = AutoModelForCausalLM.from_config(cfg, attn_implementation="sdpa")
        if dtype is not None:
            model = model.to(dtype)
        _set_generation_defaults(model, tokenizer)
        return model
    from webagent.train.base_models import PACKAGE_MODELS, is_package_model, load_causal_lm

    if not is_package_model(name) and not Path(name).is_dir():
        raise FileNotFoundError(f"{name!r} is neither a model preset ({', '.join(PRESETS)}), a package model "
                                f"({', '.join(PACKAGE_MODELS)}) nor a model directory")
    model = load_causal_lm(name, dtype=dtype)
    if tokenizer is not None and len(tokenizer) > model.get_input_embeddings().num_embeddings:
        model.resize_token_embeddings(len(tokenizer))  # added protocol tokens
    return model


def _set_generation_defaults(model, tokenizer) -> None:
    if tokenizer is None:
        return
    gc = model.generation_config
    gc.eos_token_id = tokenizer.eos_token_id
    gc.pad_token_id = tokenizer.pad_token_id
    gc.bos_token_id = None


def count_parameters(model) -> int:
    """Unique parameters (tied embeddings counted once)."""
    return sum(p.numel() for p in {id(p): p for p in model.parameters()}.values())


def train_defaults(name_or_path: str | Path) -> dict[str, Any]:
    """The training defaults for a preset, or WebSailor's RFT settings for a model directory."""
    return dict(TRAIN_DEFAULTS.get(str(name_or_path), TRAIN_DEFAULTS["hf"]))
