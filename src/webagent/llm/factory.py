"""One factory for configured models, and the matching command-line options.

Every command that can use a language model (``run``, ``eval``, ``synth``, ``traj``, the UI) builds
it here, so ``--llm openai|local --model … --base-url …`` means the same thing everywhere.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from webagent.llm.base import ChatModel
from webagent.llm.grounding import parse_grounding

MODEL_KINDS = ("openai", "local")


def make_model(
    kind: str,
    model: str,
    *,
    base_url: str | None = None,
    api_key_env: str = "OPENAI_API_KEY",
    temperature: float | None = None,
    top_p: float | None = None,
    grounding: str | tuple[str, ...] | None = None,
    max_tokens: int | None = None,
    **extra: Any,
) -> ChatModel:
    """A ``ChatModel`` of ``kind``: ``openai`` (any OpenAI-compatible server: vLLM, SGLang, OpenAI,
    DashScope, OpenRouter; ``model`` is the served name) or ``local`` (a Hugging Face model
    directory run with transformers; ``model`` is its path). ``grounding`` (local only) names the
    values kept to the conversation's text (:mod:`webagent.llm.grounding`). ``max_tokens`` caps
    each reply (``None``: the backend's default, 2048 for a server, 1024 for a local model).
    ``extra`` goes to the backend config."""
    if max_tokens is not None and max_tokens <= 0:
        raise ValueError(f"--max-tokens must be positive (got {max_tokens})")
    if parse_grounding(grounding) and kind != "local":
        raise ValueError("grounded decoding needs the local backend (--llm local)")
    if kind == "openai":
        from webagent.llm.openai_compat import OpenAICompatModel, OpenAIConfig

        if max_tokens is not None:
            extra["max_tokens"] = max_tokens
        return OpenAICompatModel(OpenAIConfig(model=model, base_url=base_url, api_key_env=api_key_env,
                                              temperature=temperature, top_p=top_p, **extra))
    if kind == "local":
        if not model or model == "default":
            raise ValueError("a local model needs --model PATH (a Hugging Face model directory)")
        check_local_model(model)
        from webagent.llm.local import LocalConfig, LocalModel

        if max_tokens is not None:
            extra["max_new_tokens"] = max_tokens
        try:
            return LocalModel(LocalConfig(model, temperature=1.0 if temperature is None else temperature,
                                          top_p=1.0 if top_p is None else top_p, grounding=grounding or (), **extra))
        except OSError as e:  # transformers' "not a local folder and not a valid repo id"
            raise ValueError(local_model_error(model, e)) from None
    raise ValueError(f"unknown model kind {kind!r} (one of {', '.join(MODEL_KINDS)})")


def check_local_model(model: str) -> None:
    """Raise a clear ``ValueError`` when ``model`` cannot be a local model: a missing path, a file, a
    directory without config.json. Cheap (no torch import), so commands call it before any work; a
    bare name is left to the loader, which knows the names it can load."""
    path = Path(model).expanduser()
    weights = (path / "config.json").is_file() or (path / "adapter_config.json").is_file()  # a model or an adapter
    if path.is_file() or (path.is_dir() and not weights) or \
            (not path.exists() and ("/" in model or model.startswith((".", "~")))):
        raise ValueError(local_model_error(model))


def local_model_error(model: str, error: BaseException | None = None) -> str:
    """One line saying why ``model`` could not be loaded as a local model, and what to give instead."""
    path = Path(model).expanduser()
    if path.is_dir():
        why = (f"{model} is a directory but not a loadable model "
               f"({str(error).splitlines()[0] if error else 'it has no config.json'})")
    elif path.exists():
        why = f"{model} is a file, not a model directory"
    else:
        why = f"{model} is neither a model directory nor a model name webagent knows"
    return (f"--model: {why}. Give a Hugging Face model directory (config.json + weights) or a LoRA adapter "
            "directory, e.g. checkpoints/smol or the sft/ folder of a `webagent pipeline` run, or a package model "
            "name such as smollm2-135m.")


def describe_model(kind: str, model: str, base_url: str | None = None) -> str:
    """How a report or a display names the model."""
    if kind == "local":
        return f"local model {model}"
    return f"{model} via {base_url or '$OPENAI_BASE_URL'}"


def add_model_args(p: argparse.ArgumentParser, *, temperature: float | None = 0.6,
                   temperature_help: str | None = None) -> None:
    """``--model``, ``--base-url``, ``--api-key-env``, ``--temperature`` and ``--top-p``."""
    p.add_argument("--model", default="default",
                   help="model name on the server (--llm openai) or model directory (--llm local)")
    p.add_argument("--base-url", help="OpenAI-compatible server URL, e.g. http://localhost:8000/v1 "
                                      "(default $OPENAI_BASE_URL)")
    p.add_argument("--api-key-env", default="OPENAI_API_KEY", help="environment variable holding the API key")
    p.add_argument("--temperature", type=float, default=temperature,
                   help=temperature_help or f"sampling temperature (default {temperature})")
    p.add_argument("--top-p", type=float, default=None, help="nucleus sampling (default: the backend's)")
    add_max_tokens_arg(p)
    add_grounding_arg(p)


def add_max_tokens_arg(p: argparse.ArgumentParser, flag: str = "--max-tokens") -> None:
    """The per-reply token limit of a model (``max_tokens`` of each request)."""
    p.add_argument(flag, type=int, default=None, metavar="N", dest="max_tokens",
                   help="most tokens in one model reply (default 2048 for --llm openai, 1024 for a local model)")


def add_grounding_arg(p: argparse.ArgumentParser) -> None:
    """``--grounding``: grounded decoding of a local model."""
    p.add_argument("--grounding", metavar="VALUES",
                   help="local models: keep replies to the protocol (format) and url, query and/or answer "
                        "to text the conversation contains (comma-separated, all, or none; default: a trained "
                        "model's own setting in its webagent_agent.json, else none)")


def model_from_args(args: argparse.Namespace, kind: str | None = None) -> ChatModel:
    """The model ``add_model_args`` options describe (``kind`` defaults to ``args.llm``)."""
    return make_model(kind or args.llm, args.model, base_url=args.base_url, api_key_env=args.api_key_env,
                      temperature=args.temperature, top_p=getattr(args, "top_p", None),
                      grounding=getattr(args, "grounding", None), max_tokens=getattr(args, "max_tokens", None))


LOCAL_CONCURRENCY = 32
"""Episodes in flight for a local model when none is asked for: on 2 cores the batched decoder
gave 1.35x the episodes per minute at 32 against 8 (bench/bench_local.py, docs/benchmarks.md), as
each decoding step reads the weights once for the whole batch; it matches ``LocalConfig.max_batch``
and ``prefix_cache``, so no episode in flight loses its cached turn."""


def resolve_policy(args: Any) -> None:
    """``--llm auto`` (the default of ``run`` and ``eval``) and ``--llm local`` without ``--model``:
    the shipped trained policy (:func:`webagent.checkpoints.default_policy`) when it loads here,
    else the rule-based baseline, saying why on stderr. Edits ``args`` in place."""
    import sys

    if args.llm not in ("auto", "local") or (args.llm == "local" and args.model not in (None, "default")):
        return
    from webagent.checkpoints import default_policy

    path, why = default_policy()
    if path is not None:
        args.llm, args.model = "local", str(path)
    elif args.llm == "local":
        raise ValueError(f"--llm local needs --model PATH (a model directory or a package model); {why}")
    else:
        args.llm = "baseline"
        if why != "WEBAGENT_POLICY=baseline":  # asked for: nothing to explain
            print(f"(the trained policy is not available: {why}; the rule-based baseline answers)", file=sys.stderr)
