"""Training: the project tokenizer, Qwen2 model presets, the mask contract and observation-masked SFT.

Modules (heavy dependencies are imported inside functions, so importing this package is cheap):

- ``tokenizer``: byte-level BPE trained on the offline web, protocol tags as special tokens, ChatML;
- ``models``: ``nano`` / ``micro`` / ``small`` presets or any Hugging Face causal-LM directory;
- ``masking``: :func:`~webagent.train.masking.encode_trajectory`, the one trajectory → (ids, mask) map;
- ``data``: JSONL readers, packing without cross-contamination;
- ``sft``: the SFT loop (accumulation, AdamW, warmup + cosine, checkpoints, resume, DDP);
- ``drill``, ``copying``: the copy drill (random blocks of ids and their repeats) and the copy warm-up
  on it, for models trained from scratch (SFT mixes drill rows in too);
- ``reward``, ``rollout``, ``grpo``, ``rl``: RL on the agent runtime (0.1 format + 0.9 answer reward,
  token-exact rollouts, DAPO's clipped token-level loss, DAPO / DUPO dynamic sampling);
- ``pipeline``: the from-scratch pipeline, one module per stage group (``pipeline/__init__.py``).
"""
