"""A byte-level BPE tokenizer trained on the offline web, with the protocol tags as special tokens.

The tokenizer speaks ChatML, like the Qwen2 models the released agents are built on::

    <|im_start|>system\\n...<|im_end|>\\n<|im_start|>user\\n...<|im_end|>\\n<|im_start|>assistant\\n...

Two choices make the mask contract (``masking.py``) exact by construction:

- every protocol tag (``<think>``, ``<tool_call>``, ``<tool_response>``, ``<answer>`` and their closing
  forms) and every ChatML marker is a special token, so a tag is always one token and text never
  merges across it;
- a newline is always a piece of its own before byte-level BPE runs, so encoding a chat turn by turn
  gives exactly the ids of encoding the whole rendered chat at once (turn boundaries sit right after
  ``\\n`` or at a special token).

The chat template carries ``{% generation %}`` markers around what the assistant writes, so
``apply_chat_template(..., return_assistant_tokens_mask=True)`` (and TRL's ``assistant_only_loss``)
see the same mask as our own function.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from webagent import protocol as P

IM_START, IM_END, ENDOFTEXT = "<|im_start|>", "<|im_end|>", "<|endoftext|>"
CHATML_TOKENS = (ENDOFTEXT, IM_START, IM_END)
TAG_TOKENS = tuple(f"<{slash}{tag}>" for tag in (P.THINK, P.TOOL_CALL, P.TOOL_RESPONSE, P.ANSWER) for slash in ("", "/"))
SPECIAL_TOKENS = CHATML_TOKENS + TAG_TOKENS

# ChatML, as Qwen2 renders it, with generation markers around the assistant's own tokens: its
# content and the <|im_end|> that closes the turn (the model must learn to stop). The header
# "<|im_start|>assistant\n" and the "\n" after <|im_end|> are written by the runtime, not the model.
CHAT_TEMPLATE = (
    "{%- for message in messages %}"
    "{%- if message['role'] == 'assistant' %}"
    "{{- '<|im_start|>assistant\\n' }}"
    "{%- generation %}{{- message['content'] or '' }}{{- '<|im_end|>' }}{%- endgeneration %}"
    "{{- '\\n' }}"
    "{%- else %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + (message['content'] or '') + '<|im_end|>\\n' }}"
    "{%- endif %}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)


@dataclass
class TokenizerConfig:
    """How to train the tokenizer."""

    vocab_size: int = 8192
    min_frequency: int = 2
    max_chars: int = 20_000_000
    """Stop reading text after this many characters (BPE statistics saturate long before)."""
    model_max_length: int = 32768
    copy_friendly: bool = True
    """Make every space, digit and CJK character a piece of its own before BPE, so a name, URL or
    number tokenizes the same wherever it appears (after a space or a quote, inside a sentence or
    alone). An agent copies names from the question into queries and spans from pages into
    answers; this makes every such copy token for token instead of a re-spelling across different
    merges. Costs about 1.5x the tokens of plain byte-level BPE on the offline web."""


# CJK ideographs, kana, CJK punctuation and full-width forms.
_CJK = r"[\u2e80-\u2fff\u3000-\u303f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef]"


def world_texts(world, max_chars: int | None = None) -> Iterator[str]:
    """Titles and main text of every page of a :class:`~webagent.world.store.WorldStore`."""
    seen = 0
    for page in world.iter_pages():
        text = f"{page.title}\n{page.text}"
        yield text
        seen += len(text)
        if max_chars is not None and seen >= max_chars:
            return


def _protocol_samples() -> list[str]:
    """A few protocol-shaped strings so JSON tool calls and markdown tokenize compactly."""
    call = P.format_tool_call("search", {"query": ["example query"]})
    visit = P.format_tool_call("visit", {"url": ["http://www.example.test/"], "goal": "find the date"})
    return [call, visit, '{"name": "search", "arguments": {"query": ["a", "b"]}}', "# Title\n\n- item\n- [link](http://x.test/)"]


def train_tokenizer(texts: Iterable[str], config: TokenizerConfig | None = None):
    """Train a byte-level BPE on ``texts`` and wrap it as a ``PreTrainedTokenizerFast``."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers

    cfg = config or TokenizerConfig()
    if cfg.vocab_size < 256 + len(SPECIAL_TOKENS) + 1:
        raise ValueError(f"vocab_size must be above {256 + len(SPECIAL_TOKENS)} (the byte alphabet and special tokens)")
    tok = Tokenizer(models.BPE(unk_token=None, byte_fallback=False))
    pieces = [pre_tokenizers.Split(Regex(r"\n"), behavior="isolated")]  # newline = a piece of its own
    if cfg.copy_friendly:
        pieces += [pre_tokenizers.Split(Regex(_CJK), behavior="isolated"),
                   pre_tokenizers.Digits(individual_digits=True),
                   pre_tokenizers.Split(Regex(" "), behavior="isolated")]
    tok.pre_tokenizer = pre_tokenizers.Sequence([*pieces, pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=cfg.vocab_size,
        min_frequency=cfg.min_frequency,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )

    def limited() -> Iterator[str]:
        seen = 0
        for t in [*_protocol_samples(), *texts]:
            yield t
            seen += len(t)
            if seen >= cfg.max_chars:
                return

    tok.train_from_iterator(limited(), trainer=trainer)
    return wrap_tokenizer(tok, cfg.model_max_length)


def wrap_tokenizer(tok, model_max_length: int = 32768):
    """A ``tokenizers.Tokenizer`` as a transformers tokenizer with ChatML settings."""
    from transformers import PreTrainedTokenizerFast

    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token=None,
        eos_token=IM_END,  # generation stops at the end of the assistant turn
        pad_token=ENDOFTEXT,
        unk_token=None,
        additional_special_tokens=list(TAG_TOKENS) + [IM_START],
        model_max_length=model_max_length,
        clean_up_tokenization_spaces=False,
    )
    fast.chat_template = CHAT_TEMPLATE
    return fast


def train_world_tokenizer(world, config: TokenizerConfig | None = None):
    """Train the tokenizer on a world's pages (the default corpus)."""
    cfg = config or TokenizerConfig()
    return train_tokenizer(world_texts(world, cfg.max_chars), cfg)


def load_tokenizer(path: str | Path):
    """Load any tokenizer directory (ours or a Hugging Face model's) with ``AutoTokenizer``; a
    package model name or an adapter directory gives its base model's tokenizer."""
    from transformers import AutoTokenizer

    from webagent.train.base_models import tokenizer_dir

    path = tokenizer_dir(path)
    if not path.exists():
        raise FileNotFoundError(f"tokenizer directory not found: {path}")
    tok = AutoTokenizer.from_pretrained(str(path))
    if tok.pad_token is None:  # many base models ship without one; never train on padding anyway
        tok.pad_token = tok.eos_token
    return tok


def check_tokenizer(tok) -> list[str]:
    """Problems that would break the protocol or the mask contract (empty list: all good)."""
    problems = []
    for s in CHATML_TOKENS[1:] + TAG_TOKENS:
        ids = tok.encode(s, add_special_tokens=False)
        if len(ids) != 1:
            problems.append(f"{s!r} is not a single token ({len(ids)} ids)")
    if tok.chat_template is None:
        problems.append("no chat template")
    return problems
