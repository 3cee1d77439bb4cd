"""The copy drill: rows of random blocks of token ids, each block then repeated.

An agent copies all the time (the question's entity into a query, a URL from the results into
``visit``, a value from the evidence into the answer); the drill trains nothing but that::

    row  = [a b c d e  a b c d e  p q r  p q r  ...]    block lengths vary within every row
    targets: the repeat of each block after its first token (which no model can know)

Two facts, both measured on the nano preset (``docs/training.md``), shaped the drill:

* the block length must change within every row: with one fixed period a model with rotary
  positions learns "copy from P tokens back", which never applies in a chat;
* ids come from the whole vocabulary (minus special tokens), or the copy works only for the ids
  drilled.

Both the copy warm-up (``copying.py``) and SFT (``SFTConfig.copy_rows``) draw their rows here;
:func:`repeat_accuracy` probes whether a model has the circuit.
"""

from __future__ import annotations

import random

from webagent.llm.grounding import special_ids
from webagent.train.data import IGNORE

MIN_PERIOD, MAX_PERIOD, ROW_LEN = 8, 250, 512
"""Block lengths and row length of the drill: a row holds one to thirty blocks and their repeats."""


def ordinary_ids(tokenizer) -> list[int]:
    """Every id of ``tokenizer`` but its special tokens (the drill never writes protocol tags)."""
    special = special_ids(tokenizer)
    return [i for i in range(len(tokenizer)) if i not in special]


def repeat_row(ids: list[int], seq_len: int, rng: random.Random, min_period: int = MIN_PERIOD,
               max_period: int = MAX_PERIOD) -> tuple[list[int], list[int]]:
    """One drill row: ``(input_ids, labels)``, labels already shifted (``labels[i]`` is the target
    of position ``i``) and ``IGNORE`` wherever the next token is not a predictable repeat."""
    seq: list[int] = []
    copied: list[bool] = []  # whether seq[j] can be predicted by copying
    while len(seq) < seq_len:
        block = [ids[rng.randrange(len(ids))] for _ in range(rng.randint(min_period, max_period))]
        seq += block + block
        copied += [False] * (len(block) + 1) + [True] * (len(block) - 1)
    seq, copied = seq[:seq_len], copied[:seq_len]
    labels = [seq[j + 1] if copied[j + 1] else IGNORE for j in range(seq_len - 1)] + [IGNORE]
    return seq, labels


def repeat_batch(ids: list[int], rows: int, seq_len: int, seed: int, step: int, rank: int = 0,
                 max_period: int = MAX_PERIOD):
    """``rows`` drill rows as tensors ``(input_ids, labels, position_ids)``; a function of
    ``(seed, step, rank)`` only, so a resumed run draws exactly the rows it would have drawn."""
    import torch

    rng = random.Random(f"{seed}/{step}/{rank}")
    made = [repeat_row(ids, seq_len, rng, max_period=max_period) for _ in range(rows)]
    input_ids = torch.tensor([m[0] for m in made])
    labels = torch.tensor([m[1] for m in made])
    return input_ids, labels, torch.arange(seq_len).expand(rows, -1)


def repeat_accuracy(model, ids: list[int], gaps: tuple[int, ...] = (16, 64, 128, 250, 512),
                    trials: int = 8, seed: int = 0) -> dict[int, float]:
    """Greedy next-token accuracy on the repeat of a random block of ``gap`` ids (the probe of the
    circuit: near 1 for every gap drilled, near 0 for a model that cannot copy)."""
    import torch

    rng = random.Random(seed)
    was_training = model.training
    model.eval()
    out = {}
    with torch.no_grad():
        for gap in gaps:
            right = total = 0
            for _ in range(trials):
                block = [ids[rng.randrange(len(ids))] for _ in range(gap)]
                row = torch.tensor([block + block])
                pred = model(input_ids=row).logits[0].argmax(-1)
                right += int((pred[gap:2 * gap - 1] == row[0, gap + 1:]).sum())
                total += gap - 1
            out[gap] = round(right / total, 3)
    model.train(was_training)
    return out
