"""Training data: chat records from JSONL, encoded with the mask contract, packed into fixed rows.

Accepted JSONL lines (one chat per line, formats can be mixed):

- a :class:`~webagent.trajectory.Trajectory` as written by the runner (``messages`` + ``steps``);
- ``{"messages": [{"role", "content"}, ...]}`` (OpenAI / TRL / LLaMA-Factory "openai" style);
- ``{"conversations": [{"from", "value"}, ...]}`` (ShareGPT style: human, gpt, observation/tool).

Packing puts several chats in one row of ``seq_len`` tokens without cross-contamination: position
ids restart at 0 for every chat, which makes transformers build a block-diagonal causal mask
(attention never crosses into another chat), and the last token of a chat never predicts the
first token of the next one. Labels are already shifted: ``labels[i]`` is the target of position
``i``, or ``-100`` where nothing is trained.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from webagent.jsonl import iter_jsonl
from webagent.train.masking import Encoded, encode_trajectory

IGNORE = -100

_SHAREGPT_ROLES = {"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant",
                   "system": "system", "observation": "user", "tool": "tool", "function": "tool"}


def normalize_record(record: dict[str, Any]) -> Any:
    """A JSONL record as something :func:`encode_trajectory` accepts (a Trajectory or messages)."""
    if "steps" in record and "messages" in record:
        from webagent.trajectory import Trajectory

        return Trajectory.from_dict(record)
    if "messages" in record:
        return record["messages"]
    if "conversations" in record:
        out = []
        for turn in record["conversations"]:
            role = _SHAREGPT_ROLES.get(str(turn.get("from", "")).lower())
            if role is None:
                raise ValueError(f"unknown ShareGPT speaker {turn.get('from')!r}")
            out.append({"role": role, "content": turn.get("value", "")})
        if record.get("system"):
            out.insert(0, {"role": "system", "content": record["system"]})
        return out
    raise ValueError("a record needs 'messages' (chat / trajectory) or 'conversations' (ShareGPT)")


def read_jsonl(paths: str | Path | Iterable[str | Path]) -> Iterator[tuple[str, dict[str, Any]]]:
    """``(where, record)`` for every non-empty line; a bad line raises with its file and number."""
    if isinstance(paths, (str, Path)):
        paths = [paths]
    for path in paths:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"training data not found: {path}")
        for n, record in iter_jsonl(path, torn_ok=False):
            if not isinstance(record, dict):
                raise ValueError(f"{path}:{n}: expected a JSON object")
            yield f"{path}:{n}", record


@dataclass
class DataStats:
    """What encoding and packing did to the data (shown to the user before training)."""

    chats: int = 0
    truncated: int = 0
    dropped: int = 0
    """Chats with no trained token left (after truncation)."""
    tokens: int = 0
    trained_tokens: int = 0
    rows: int = 0
    seq_len: int = 0

    @property
    def fill(self) -> float:
        """Share of row slots holding real tokens (the rest is padding)."""
        return self.tokens / max(1, self.rows * self.seq_len)


def encode_records(records: Iterable[Any], tokenizer, seq_len: int, stats: DataStats | None = None) -> list[Encoded]:
    """Encode chats with the mask contract, truncating each to ``seq_len`` tokens.

    A chat longer than a row keeps its beginning (the question and first turns); a chat with no
    trained token left is dropped, since it would only cost compute.
    """
    stats = stats if stats is not None else DataStats()
    out = []
    for rec in records:
        enc = encode_trajectory(rec, tokenizer)
        stats.chats += 1
        if len(enc) > seq_len:
            enc = Encoded(enc.input_ids[:seq_len], enc.loss_mask[:seq_len], [s for s in enc.turn_starts if s < seq_len])
            stats.truncated += 1
        # The first token is never a target (nothing precedes it), so it cannot count as trained.
        if sum(enc.loss_mask[1:]) == 0:
            stats.dropped += 1
            continue
        out.append(enc)
    return out


def load_chats(paths, tokenizer, seq_len: int, stats: DataStats | None = None) -> list[Encoded]:
    """Read JSONL chat files and encode them (see :func:`encode_records`)."""
    def records():
        for where, rec in read_jsonl(paths):
            try:
                yield normalize_record(rec)
            except (ValueError, TypeError) as e:
                raise ValueError(f"{where}: {e}") from None

    return encode_records(records(), tokenizer, seq_len, stats)


def plan_rows(lengths: list[int], seq_len: int) -> list[list[int]]:
    """Best-fit-decreasing bin packing: lists of example indices whose lengths fit one row.

    Deterministic (ties broken by index), so every process of a distributed run agrees.
    """
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    rows: list[list[int]] = []
    free: list[int] = []
    for i in order:
        n = lengths[i]
        if n > seq_len:
            raise ValueError(f"example {i} has {n} tokens, more than seq_len {seq_len}; truncate first")
        best = min((k for k in range(len(rows)) if free[k] >= n), key=lambda k: (free[k], k), default=None)
        if best is None:
            rows.append([i])
            free.append(seq_len - n)
        else:
            rows[best].append(i)
            free[best] -= n
    return rows


@dataclass
class PackedRows:
    """Packed rows as tensors of shape ``[rows, seq_len]``."""

    input_ids: Any
    labels: Any
    position_ids: Any
    lengths: Any
    """Real (non-padding) tokens per row."""

    def __len__(self) -> int:
        return int(self.input_ids.shape[0])

    def select(self, index) -> PackedRows:
        """The rows ``index``, cut to the longest one's real tokens: padding sits at the end of a
        row, so the cut drops only untrained padding (and its attention cost)."""
        lengths = self.lengths[index]
        width = max(1, int(lengths.max())) if lengths.numel() else self.input_ids.shape[1]
        return PackedRows(self.input_ids[index][..., :width], self.labels[index][..., :width],
                          self.position_ids[index][..., :width], lengths)


def pack(examples: list[Encoded], seq_len: int, pad_id: int, stats: DataStats | None = None,
         *, one_per_row: bool = False) -> PackedRows:
    """Pack encoded chats into rows (see the module docstring for the layout). ``one_per_row``
    gives every chat a row of its own: without a varlen attention kernel (CPU) a packed row costs
    attention over its whole width, so short rows of one chat each are cheaper."""
    import torch

    plan = [[i] for i in range(len(examples))] if one_per_row else plan_rows([len(e) for e in examples], seq_len)
    ids = torch.full((len(plan), seq_len), pad_id, dtype=torch.long)
    labels = torch.full((len(plan), seq_len), IGNORE, dtype=torch.long)
    pos = torch.zeros((len(plan), seq_len), dtype=torch.long)
    lengths = torch.zeros(len(plan), dtype=torch.long)
    for r, members in enumerate(plan):
        at = 0
        for i in members:
            e = examples[i]
            n = len(e)
            ids[r, at:at + n] = torch.tensor(e.input_ids)
            pos[r, at:at + n] = torch.arange(n)
            target = torch.tensor(e.input_ids[1:])
            trained = torch.tensor(e.loss_mask[1:], dtype=torch.bool)
            labels[r, at:at + n - 1] = torch.where(trained, target, IGNORE)
            at += n
        lengths[r] = at
        # Padding continues as its own "chat" (positions from 0) so it never joins the last one.
        pos[r, at:] = torch.arange(seq_len - at)
    if stats is not None:
        stats.rows, stats.seq_len = len(plan), seq_len
        stats.tokens = sum(len(e) for e in examples)
        stats.trained_tokens = int((labels != IGNORE).sum())
    return PackedRows(ids, labels, pos, lengths)


def split_eval(examples: list[Encoded], eval_fraction: float, seed: int) -> tuple[list[Encoded], list[Encoded]]:
    """A deterministic train/eval split (at least one eval chat when the fraction is positive)."""
    if eval_fraction <= 0 or len(examples) < 2:
        return examples, []
    idx = list(range(len(examples)))
    random.Random(seed).shuffle(idx)
    n_eval = max(1, round(len(examples) * eval_fraction))
    held = set(idx[:n_eval])
    return [e for i, e in enumerate(examples) if i not in held], [e for i, e in enumerate(examples) if i in held]


def page_chats(world, n: int, seed: int = 0, max_obs_chars: int = 1200) -> list[list[dict[str, str]]]:
    """Agent-shaped chats built from a world's pages, for smoke tests and benchmarks.

    Each chat follows the protocol: a question naming a page, a ``search`` call, its results as a
    ``<tool_response>`` user turn, a ``visit`` call, the page text as another tool response, and an
    ``<answer>`` quoting the page's first sentence. Not a substitute for real trajectories (the
    trajectories stage makes those); the shapes and the observation share are realistic.
    """
    from webagent import protocol as P

    pages = [p for p in world.iter_pages() if p.text.strip()]
    if not pages:
        raise ValueError("the world has no page with text")
    rng = random.Random(seed)
    chats = []
    for _ in range(n):
        page = rng.choice(pages)
        others = rng.sample(pages, min(3, len(pages)))
        first = page.text.strip().split(". ")[0][:200]
        results = "\n".join(f"{i + 1}. [{p.title}]({p.url})\n{p.text[:160]}" for i, p in enumerate([page, *others]))
        chats.append([
            {"role": "system", "content": "You are a web research assistant. Use the tools, then answer."},
            {"role": "user", "content": f"What does the page titled {page.title!r} say first?"},
            {"role": "assistant", "content": f"<think>\nI should search for {page.title}.\n</think>\n"
                                             + P.format_tool_call("search", {"query": [page.title]})},
            {"role": "user", "content": P.format_tool_response(results)},
            {"role": "assistant", "content": "<think>\nThe first result looks right; I will read it.\n</think>\n"
                                             + P.format_tool_call("visit", {"url": [page.url], "goal": "the first sentence"})},
            {"role": "user", "content": P.format_tool_response(page.text[:max_obs_chars])},
            {"role": "assistant", "content": f"<think>\nThe page opens with the sentence I need.\n</think>\n<answer>{first}</answer>"},
        ])
    return chats
