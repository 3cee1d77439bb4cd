"""Teachers: what writes the assistant turns of sampled trajectories.

Three kinds, one interface (:class:`Teacher`: a label, ``model_for(task, attempt)`` and the ReAct
settings to run it with):

- ``oracle`` (the offline default): :class:`webagent.agents.oracle.OracleModel`, which knows the
  gold evidence pages from the world's provenance and writes protocol-exact turns with concise
  thoughts, realistic queries and configurable exploration (vague query then reformulation, wrong
  page then recovery). Always labelled ``privileged oracle``: its data is a stand-in for a strong
  model's, never a model's score.
- ``openai``: any OpenAI-compatible server (GPT-4o, QwQ, a vLLM checkpoint ...).
- ``local``: a Hugging Face model directory through :class:`webagent.llm.local.LocalModel`.

The two LLM kinds run in one of two modes (R-WD-20/21):

- ``short`` (short-CoT, instruct model): the ReAct prompt with an execution framework that asks
  every thought for an evidence-chain check and a reason for the chosen tool
  (``prompts/traj_short.toml``).
- ``long`` (long-CoT, reasoning model): :class:`LongCoTModel` removes earlier thoughts from the
  history, so the model sees only the question and past actions and observations; its
  ``reasoning_content`` becomes the step's ``<think>`` (``ReactAgent`` records it so).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from webagent.llm.base import ChatModel, Completion
from webagent.prompts import PROMPT_DIR

KINDS = ("oracle", "openai", "local")
MODES = ("short", "long")
_THINK_BLOCK = re.compile(r"<\s*think\s*>.*?<\s*/\s*think\s*>\s*", re.DOTALL | re.IGNORECASE)


@dataclass
class TeacherConfig:
    """Which teacher samples trajectories, and how."""

    kind: str = "oracle"
    """``oracle`` (privileged, offline default), ``openai`` or ``local``."""
    mode: str = "short"
    """``short`` (instruct model, short-CoT) or ``long`` (reasoning model, long-CoT). LLM kinds only."""
    model: str = "default"
    """Model name on the server (``openai``) or model directory (``local``)."""
    base_url: str | None = None
    api_key_env: str = "OPENAI_API_KEY"
    temperature: float | None = 0.6
    top_p: float | None = 0.95
    max_tokens: int | None = None
    """Most tokens per reply of an LLM teacher (``None``: the backend's default)."""
    prompt_file: str | None = None
    """A TOML file overriding the mode's shipped prompt (see ``prompts/traj_short.toml``)."""
    max_llm_calls: int = 40
    # --- oracle exploration -----------------------------------------------------------------
    seed: int = 0
    p_wrong_page: float = 0.3
    p_reformulate: float = 0.3
    visit_together: bool = False
    stepwise: bool = False
    """One search per evidence page and short thoughts (see ``OracleConfig.stepwise``)."""
    plans: bool = False
    """Stepwise thoughts that state the hops to come and quote the answer's line (``OracleConfig.plans``)."""

    def validate(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown teacher {self.kind!r} (have: {', '.join(KINDS)})")
        if self.mode not in MODES:
            raise ValueError(f"unknown teacher mode {self.mode!r} (have: {', '.join(MODES)})")
        if self.kind == "local" and self.model == "default":
            raise ValueError("a local teacher needs a model directory (model=PATH)")
        for name in ("p_wrong_page", "p_reformulate"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be within [0, 1]")


class LongCoTModel:
    """Wrap a reasoning model for long-CoT sampling (R-WD-21).

    Before each call the ``<think>`` blocks of earlier assistant turns are removed, so the model
    sees the question and the previous actions and observations only. The reply's
    ``reasoning_content`` (``Completion.reasoning``) is what the agent records as the thought.
    A reply that carries its reasoning inline instead (``<think>…</think>`` in the text) is kept.
    """

    def __init__(self, inner: ChatModel):
        self.inner = inner
        self.name = getattr(inner, "name", type(inner).__name__)
        self.calls = 0

    @staticmethod
    def strip_thoughts(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """A copy of ``messages`` whose assistant turns hold only their actions and answers."""
        out = []
        for m in messages:
            if m.get("role") == "assistant" and isinstance(m.get("content"), str):
                content = _THINK_BLOCK.sub("", m["content"])
                if "</think>" in content:  # an unopened think block (chat templates open it)
                    content = content.split("</think>", 1)[1]
                m = {**m, "content": content.strip()}
            out.append(m)
        return out

    async def generate(self, messages: list[dict[str, Any]], **kwargs: Any) -> Completion:
        self.calls += 1
        return await self.inner.generate(self.strip_thoughts(messages), **kwargs)


class Teacher:
    """A configured teacher: builds the model for each attempt and labels what it made."""

    def __init__(self, config: TeacherConfig | None = None, *, world: Any = None, model: ChatModel | None = None):
        """``model`` replaces the configured LLM (tests and benchmarks pass a scripted model)."""
        self.config = config = config or TeacherConfig()
        config.validate()
        self.world = world
        self._model = model
        if model is None and config.kind in ("openai", "local"):
            from webagent.llm.factory import make_model

            self._model = make_model(config.kind, config.model, base_url=config.base_url,
                                     api_key_env=config.api_key_env, top_p=config.top_p,
                                     max_tokens=config.max_tokens,
                                     temperature=config.temperature if config.kind == "openai" else config.temperature or 0.0)
        if self._model is not None and config.kind != "oracle" and config.mode == "long":
            self._model = LongCoTModel(self._model)

    @property
    def label(self) -> str:
        """What made the trajectories, in words (recorded in every record's ``teacher``)."""
        c = self.config
        if c.kind == "oracle":
            from webagent.agents.oracle import LABEL

            return LABEL
        return f"{c.model} ({'long' if c.mode == 'long' else 'short'}-CoT, {c.kind})"

    def describe(self) -> dict[str, Any]:
        """The teacher entry of a trajectory record."""
        c = self.config
        d: dict[str, Any] = {"label": self.label, "kind": c.kind, "mode": "short" if c.kind == "oracle" else c.mode,
                             "model": c.model if c.kind != "oracle" else "oracle", "privileged": c.kind == "oracle"}
        if c.kind == "oracle":
            d["exploration"] = {"seed": c.seed, "p_wrong_page": c.p_wrong_page, "p_reformulate": c.p_reformulate}
        return d

    def model_for(self, task: dict[str, Any], attempt: int) -> ChatModel:
        """The model for one attempt; the oracle varies its exploration with ``attempt``."""
        if self.config.kind == "oracle" and self._model is None:
            from webagent.agents.oracle import OracleConfig, OracleModel

            c = self.config
            ocfg = OracleConfig(seed=c.seed, p_wrong_page=c.p_wrong_page, p_reformulate=c.p_reformulate,
                                visit_together=c.visit_together, stepwise=c.stepwise, plans=c.plans)
            return OracleModel.for_task(task, ocfg, world=self.world, run=attempt)
        assert self._model is not None
        return self._model

    def prompt_file(self) -> str | None:
        """The prompt overlay of this teacher's mode (``None``: the agent's own prompt)."""
        c = self.config
        if c.prompt_file:
            return c.prompt_file
        if c.kind == "oracle":
            return None  # the oracle ignores prose; keep the standard prompt in its data
        return str(PROMPT_DIR / f"traj_{c.mode}.toml")

    def react_config(self) -> Any:
        from webagent.agents.react import ReactConfig

        c = self.config
        return ReactConfig(max_llm_calls=c.max_llm_calls, temperature=c.temperature, top_p=c.top_p,
                           prompt_file=self.prompt_file())

