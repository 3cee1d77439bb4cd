"""Shared pieces of the training tests: one tokenizer per process, real agent trajectories."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
from functools import cache
from pathlib import Path

# A ~0.1M-parameter Qwen2: small enough for a fast CPU test, same code paths as the presets.
TINY = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=1)

_DIR = Path(tempfile.mkdtemp(prefix="webagent-train-tests-"))


@cache
def world_tokenizer(world_dir: str, vocab_size: int = 1024) -> str:
    """Train the project tokenizer on the test world once per process; returns its directory."""
    from webagent.train.tokenizer import TokenizerConfig, train_world_tokenizer
    from webagent.world.store import WorldStore

    store = WorldStore(world_dir)
    try:
        tok = train_world_tokenizer(store, TokenizerConfig(vocab_size=vocab_size, max_chars=2_000_000))
    finally:
        store.close()
    out = _DIR / f"tok-{vocab_size}"
    tok.save_pretrained(out)
    return str(out)


def params(path):
    """The state dict of a saved model directory."""
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(str(path)).state_dict()


def torchrun_webagent(args: list[str], processes: int = 2, timeout: int = 240) -> subprocess.CompletedProcess:
    """``torchrun --nproc_per_node N -m webagent.cli ARGS`` on CPU (gloo over loopback)."""
    env = {**os.environ, "GLOO_SOCKET_IFNAME": "lo", "OMP_NUM_THREADS": "1", "MASTER_ADDR": "127.0.0.1"}
    return subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node",
                           str(processes), "-m", "webagent.cli", *args], env=env, capture_output=True, text=True,
                          timeout=timeout)


def baseline_trajectories(world, questions: list[str]):
    """Real ReAct trajectories: the rule-based baseline policy with real tools on the offline web."""
    from webagent.agents.baseline import BaselinePolicy
    from webagent.agents.react import ReactAgent
    from webagent.tools.toolbox import Toolbox, WebConfig

    async def go():
        async with Toolbox(WebConfig(web="offline"), world=world) as tb:
            agent = ReactAgent(BaselinePolicy(), tb.react_tools)
            return [await agent.run(q) for q in questions]

    return asyncio.run(go())
