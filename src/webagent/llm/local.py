"""``ChatModel`` over a local Hugging Face causal LM, batching generation across concurrent episodes.

Example::

    model = LocalModel(LocalConfig("path/to/WebSailor-3B"))
    completion = await model.generate(messages, stop=["\\n<tool_response>", "<tool_response>"])
    completion.token_ids, completion.logprobs, completion.prompt_token_ids   # for RL

Any directory that ``AutoModelForCausalLM`` and ``AutoTokenizer`` can load works; the prompt is
built with the tokenizer's own chat template. Many episodes run concurrently on one asyncio loop,
each awaiting ``generate``; requests that arrive within ``batch_window`` seconds of each other are
left-padded into one batch and decoded together in a worker thread, so the loop (and the tools of
other episodes) keeps running meanwhile. Within a batch every request keeps its own stop strings,
``max_tokens``, temperature and top-p.

What comes back matches the HTTP backends: the text is cut before the first stop string (the stop
string itself is not returned) and the end-of-sequence token is never part of the text. The token
ids are exactly the sampled ids (through the end-of-sequence token, or through the token that
completed a stop string, as vLLM returns them), with the log-probability of each under the model's
own distribution (temperature 1, no top-p: vLLM's "raw" logprobs). The prompt ids are the ones the
model was actually fed. Nothing is ever re-derived by re-tokenizing text.

With ``LocalConfig.grounding`` set, replies keep to the protocol's format and URLs, search queries
and answers are sampled only from what the conversation contains (:mod:`webagent.llm.grounding`).
The policy is then the constrained one: each logprob is taken over the tokens that step allowed,
and ``Completion.token_masks`` records those sets, so an RL trainer can score the very
distribution the rollout came from.

Batches are static: a batch runs until all its requests finish, and requests arriving meanwhile
form the next batch. For high-throughput serving use vLLM or SGLang with the OpenAI-compatible
backend; this backend is for small models, tests and RL on one machine.
"""

from __future__ import annotations

import asyncio
import functools
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from webagent.llm.base import Completion
from webagent.llm.grounding import Grounder, RequestGrounding, parse_grounding


class _Stopped(Exception):
    """A batch abandoned mid-decoding because its batching task was cancelled."""


@dataclass
class LocalConfig:
    """Which model to load and how to sample from it."""

    path: str
    """A Hugging Face model directory, an adapter directory (merged into its base), a package model
    name (``smollm2-135m``, :mod:`webagent.train.base_models`) or a hub id when the hub is reachable."""
    device: str | None = None
    """``None``: ``cuda`` when available, else ``cpu``."""
    dtype: str | None = None
    """``None``: ``bfloat16`` on cuda, ``float32`` on cpu; or ``float16``/``bfloat16``/``float32``."""
    max_batch: int = 32
    """Most requests decoded together."""
    batch_window: float = 0.005
    """Seconds to wait after the first request for others to join its batch."""
    max_new_tokens: int = 1024
    """Per-reply cap when a request gives no ``max_tokens``."""
    temperature: float = 1.0
    """Used when a request gives none; 0 means greedy."""
    top_p: float = 1.0
    seed: int = 0
    """Seed of the sampler (one generator per model object)."""
    trust_remote_code: bool = False
    chat_template_kwargs: dict[str, Any] = field(default_factory=dict)
    """Extra variables for the chat template, e.g. ``{"enable_thinking": False}``."""
    prefix_cache: int = 32
    """Conversations whose keys and values are kept, so an episode's next turn computes only its
    new tokens (0: off). Valid while the weights stay as they are: an RL trainer builds a new
    model object after each update."""
    grounding: str | tuple[str, ...] = ()
    """Rules of grounded decoding: ``format`` (replies keep to the protocol), ``url``, ``query``,
    ``answer`` (values kept to the conversation's text), ``thought`` (its CJK text too); a tuple, or one comma-separated string;
    ``all``: every rule; see :mod:`webagent.llm.grounding`. Empty: sample freely."""


_MIN_REUSE = 16
"""Fewer shared tokens than this are not worth the cache's bookkeeping."""


@dataclass
class _Request:
    prompt_ids: list[int]
    stop: list[str]
    max_new: int
    temperature: float
    top_p: float
    future: asyncio.Future
    grounding: RequestGrounding | None = None


def _takes(model: Any, arg: str) -> bool:
    """Whether the model's forward takes ``arg`` (looking through a peft wrapper)."""
    import inspect

    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    return arg in inspect.signature(type(base).forward).parameters


def _cache_arg(model: Any) -> str:
    """The name of the KV-cache argument: ``cache`` in current transformers (``past_key_values``
    is deprecated there), ``past_key_values`` before."""
    return "cache" if _takes(model, "cache") else "past_key_values"


def pick_device_dtype(device: str | None, dtype: str | None) -> tuple[str, Any]:
    """cuda + bfloat16 when a GPU is present, else cpu + float32; explicit choices win."""
    import torch

    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    if dtype is None:
        dtype = "bfloat16" if device.startswith("cuda") else "float32"
    try:
        return device, getattr(torch, dtype)
    except AttributeError:
        raise ValueError(f"unknown dtype {dtype!r} (float32, float16, bfloat16)") from None


class LocalModel:
    """``ChatModel`` for a local transformers model; see the module docstring."""

    def __init__(self, config: LocalConfig | str, *, model: Any = None, tokenizer: Any = None):
        try:
            import torch
            from transformers import AutoTokenizer

            from webagent.train.base_models import load_causal_lm, tokenizer_dir
        except ImportError as e:  # pragma: no cover - depends on the install
            raise ImportError("the local backend needs torch and transformers: pip install 'webagent[train]'") from e
        self.config = cfg = LocalConfig(config) if isinstance(config, str) else config
        self.name = Path(cfg.path).name or cfg.path
        self.device, self.dtype = pick_device_dtype(cfg.device, cfg.dtype)
        self.tokenizer = tokenizer or AutoTokenizer.from_pretrained(str(tokenizer_dir(cfg.path)),
                                                                    trust_remote_code=cfg.trust_remote_code)
        if getattr(self.tokenizer, "chat_template", None) is None:
            raise ValueError(f"{cfg.path}: the tokenizer has no chat template; the protocol needs one")
        self.model = model or load_causal_lm(cfg.path, dtype=self.dtype, trust_remote_code=cfg.trust_remote_code)
        self.model.to(self.device).eval()
        self.eos_ids = _eos_ids(self.model, self.tokenizer)
        fields = parse_grounding(cfg.grounding)
        self.grounder = Grounder(self.tokenizer, fields, self.eos_ids) if fields else None
        pad = self.tokenizer.pad_token_id
        self.pad_id = pad if pad is not None else min(self.eos_ids)
        self.max_positions = getattr(self.model.config, "max_position_embeddings", None)
        self._cache_arg = _cache_arg(self.model)
        self._forward_extra = {"logits_to_keep": 1} if _takes(self.model, "logits_to_keep") else {}
        self._prefixes: dict[int, tuple[Any, list]] = {}  # insertion order = age, for eviction
        self._prefix_key = 0
        self._torch = torch
        self._generator = torch.Generator(device=self.device).manual_seed(cfg.seed)
        # One worker thread: batches run one after another on the model, never interleaved.
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="local-llm")
        self._lock = threading.Lock()
        # Set when the batching task is cancelled (Ctrl-C, aclose): the decoding thread stops at its
        # next token instead of finishing a batch nobody waits for, which held the process for a
        # minute at exit (the interpreter joins executor threads). Each batching task gets its own
        # (_ensure_worker): a task started while the old one was being cancelled must not clear it.
        self._stop = threading.Event()
        self._queue: asyncio.Queue[_Request] | None = None
        self._worker: asyncio.Task | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.batch_sizes: list[int] = []
        """Size of every batch decoded so far (to see batching at work)."""
        self.usage = {"requests": 0, "prompt_tokens": 0, "completion_tokens": 0, "cached_prompt_tokens": 0}

    # --- the ChatModel interface ----------------------------------------------------------------
    async def generate(
        self,
        messages: list[dict[str, Any]],
        *,
        stop: list[str] | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
        top_p: float | None = None,
        **kwargs: Any,
    ) -> Completion:
        """Queue one request; it is decoded in the next batch. Returns text, ids and logprobs."""
        cfg = self.config
        prompt_ids = self.prompt_ids(messages)
        max_new = max_tokens if max_tokens is not None else cfg.max_new_tokens
        if self.max_positions and len(prompt_ids) >= self.max_positions:
            raise ValueError(f"prompt of {len(prompt_ids)} tokens does not fit the model's {self.max_positions} positions")
        if self.max_positions:
            max_new = min(max_new, self.max_positions - len(prompt_ids))
        loop = asyncio.get_running_loop()
        req = _Request(prompt_ids, [s for s in stop or [] if s], max(1, max_new),
                       cfg.temperature if temperature is None else temperature,
                       cfg.top_p if top_p is None else top_p, loop.create_future(),
                       self.grounder.request(messages) if self.grounder else None)
        self._ensure_worker(loop)
        self._queue.put_nowait(req)
        return await req.future

    def prompt_ids(self, messages: list[dict[str, Any]]) -> list[int]:
        """The prompt token ids: the tokenizer's chat template with the generation prompt."""
        text = self.tokenizer.apply_chat_template(
            messages, tokenize=False, add_generation_prompt=True, **self.config.chat_template_kwargs)
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    async def aclose(self) -> None:
        """Stop the batching task (queued requests are cancelled) and the worker thread."""
        if self._worker is not None:
            self._stop.set()
            self._worker.cancel()
            self._worker = None
        self._executor.shutdown(wait=False)

    # --- batching -------------------------------------------------------------------------------
    def _ensure_worker(self, loop: asyncio.AbstractEventLoop) -> None:
        # A queue belongs to one event loop; a new loop (a second asyncio.run) gets a fresh worker.
        if self._loop is not loop or self._worker is None or self._worker.done():
            self._stop = threading.Event()
            self._loop, self._queue = loop, asyncio.Queue()
            self._worker = loop.create_task(self._batches())

    async def _batches(self) -> None:
        queue, loop, stop = self._queue, asyncio.get_running_loop(), self._stop
        while True:
            batch = [await queue.get()]
            deadline = loop.time() + self.config.batch_window
            while len(batch) < self.config.max_batch:
                if not queue.empty():
                    batch.append(queue.get_nowait())
                    continue
                left = deadline - loop.time()
                if left <= 0:
                    break
                try:
                    batch.append(await asyncio.wait_for(queue.get(), left))
                except TimeoutError:
                    break
            batch = [r for r in batch if not r.future.done()]  # callers that gave up
            if not batch:
                continue
            try:
                results = await loop.run_in_executor(self._executor, self._decode_batch, batch, stop)
            except asyncio.CancelledError:
                stop.set()
                raise
            except Exception as e:  # a failed batch fails its requests, not the worker
                for r in batch:
                    if not r.future.done():
                        r.future.set_exception(e)
                continue
            for r, c in zip(batch, results, strict=True):
                if not r.future.done():
                    r.future.set_result(c)

    # --- decoding (worker thread) -------------------------------------------------------------
    def _decode_batch(self, batch: list[_Request], stop: threading.Event | None = None) -> list[Completion]:
        torch = self._torch
        with self._lock, torch.inference_mode():
            self.batch_sizes.append(len(batch))
            rows = [_Row(r) for r in batch]
            cache, mask, step_pos, logits = self._prefill(batch)
            temps = torch.tensor([r.temperature for r in batch], device=self.device, dtype=torch.float32)
            top_ps = torch.tensor([r.top_p for r in batch], device=self.device, dtype=torch.float32)
            for _ in range(max(r.max_new for r in batch)):
                logits, masks = self._ground(rows, logits)
                chosen = self._sample(logits, temps, top_ps)
                logprobs = torch.log_softmax(logits, -1).gather(1, chosen[:, None])[:, 0]
                for i, (row, tok, lp) in enumerate(zip(rows, chosen.tolist(), logprobs.tolist(), strict=True)):
                    if not row.done:
                        self._advance(row, tok, lp, masks.get(i))
                if all(r.done for r in rows):
                    break
                if stop is not None and stop.is_set():
                    raise _Stopped("decoding stopped: the batching task was cancelled")
                mask = torch.cat([mask, mask.new_ones((len(rows), 1))], dim=1)
                out = self.model(input_ids=chosen[:, None], attention_mask=mask, position_ids=step_pos,
                                 use_cache=True, **self._forward_extra, **{self._cache_arg: cache})
                cache = getattr(out, self._cache_arg)
                logits = out.logits[:, -1, :].float()
                step_pos = step_pos + 1
            if self.config.prefix_cache:
                self._remember(rows, cache, mask)
            completions = [self._completion(r) for r in rows]
        for c in completions:
            self.usage["requests"] += 1
            self.usage["prompt_tokens"] += c.prompt_tokens
            self.usage["completion_tokens"] += c.completion_tokens
        return completions

    # --- prompts: each row on its own, an agent's next turn extending its last one ---------------
    def _prefill(self, batch: list[_Request]):
        """``(cache, attention mask, next positions, last logits)`` after the batch's prompts.

        Each prompt goes through the model on its own and the results are stacked left-padded for
        decoding. Batching prompts of different lengths pads every row to the longest: an agent's
        new tokens per turn range from a few to over a thousand (a page), so padded prefill spent
        more than half of its compute on padding (the prompt pass is a third or more of a small
        model's time on a CPU). Each turn of an episode is the previous prompt plus the reply and a tool response, so
        a row starts from the keys and values of its longest prefix seen before (kept by
        :meth:`_remember`) and computes only its new tokens."""
        torch = self._torch
        caches, lengths, logits = [], [], []
        for req in batch:
            n, kv = self._lookup(req.prompt_ids)
            self.usage["cached_prompt_tokens"] += n
            cache = None
            if n:
                from transformers.cache_utils import DynamicCache

                cache = DynamicCache(config=self.model.config)
                for layer, (k, v) in enumerate(kv):
                    cache.update(k[:, :, :n].to(self.device), v[:, :, :n].to(self.device), layer)
            total = len(req.prompt_ids)
            # logits_to_keep=1 (in _forward_extra): the next token's logits only, not the vocabulary
            # projection of every prompt position (a fifth of a small model's prefill).
            out = self.model(input_ids=torch.tensor([req.prompt_ids[n:]], device=self.device),
                             attention_mask=torch.ones((1, total), dtype=torch.long, device=self.device),
                             position_ids=torch.arange(n, total, device=self.device)[None],
                             use_cache=True, **self._forward_extra, **{self._cache_arg: cache})
            caches.append(getattr(out, self._cache_arg))
            lengths.append(total)
            logits.append(out.logits[:, -1, :].float())
        width = max(lengths)
        mask = torch.zeros((len(batch), width), dtype=torch.long, device=self.device)
        for i, n in enumerate(lengths):
            mask[i, width - n:] = 1
        positions = torch.tensor(lengths, device=self.device)[:, None]
        room = max(r.max_new for r in batch)
        return self._stack(caches, lengths, width, room), mask, positions, torch.cat(logits)

    def _stack(self, caches: list, lengths: list[int], width: int, room: int):
        """One cache of batch ``len(caches)``: each row's keys and values left-padded to ``width``,
        with ``room`` more positions reserved in every full-attention layer for the reply."""
        legacy = not hasattr(caches[0], "layers")  # a model with a legacy (tuple) cache
        if legacy and len(caches) == 1:
            return caches[0]
        torch = self._torch

        def padded(rows):
            return torch.cat([torch.nn.functional.pad(t, (0, 0, width - t.shape[-2], 0)) for t in rows])

        per_row = [list(c) if legacy else [(x.keys, x.values) for x in c.layers] for c in caches]
        layers = [([k for k, _ in layer], [v for _, v in layer]) for layer in zip(*per_row, strict=True)]
        if legacy:
            return tuple((padded(keys), padded(values)) for keys, values in layers)
        from transformers.cache_utils import DynamicCache, DynamicLayer

        cache = DynamicCache(config=self.model.config)
        for i, (keys, values) in enumerate(layers):
            if type(cache.layers[i]) is DynamicLayer:  # sliding-window and other layers keep theirs
                cache.layers[i] = _reserved_layer_class()(keys, values, width, room)
            else:
                cache.update(padded(keys), padded(values), i)
        return cache

    def _lookup(self, prompt: list[int]) -> tuple[int, Any]:
        """The longest reusable prefix of ``prompt`` among the kept caches: ``(tokens, per-layer
        (keys, values))``, or ``(0, None)``. At least one token is always left to compute."""
        import numpy as np

        best, kv = 0, None
        want = np.asarray(prompt)
        for ids, layers in self._prefixes.values():
            n = min(len(ids), len(want) - 1)
            differ = np.flatnonzero(ids[:n] != want[:n])
            common = int(differ[0]) if differ.size else n
            if common > best:
                best, kv = common, layers
        return (best, kv) if best >= _MIN_REUSE else (0, None)

    def _remember(self, rows: list[_Row], cache, mask) -> None:
        """Keep each row's keys and values of the tokens it was fed (prompt and reply but its last
        token), evicting the prefix it extends and then the oldest entries."""
        import numpy as np

        if not hasattr(cache, "layers"):  # a model with a legacy (tuple) cache: nothing to reuse
            return
        length = cache.get_seq_length()
        for i, row in enumerate(rows):
            seq = list(row.req.prompt_ids) + row.token_ids[:-1]
            cols = mask[i, :length].nonzero().flatten()[:len(seq)]
            if len(cols) < len(seq):
                continue
            layers = [(layer.keys[i:i + 1, :, cols].clone(), layer.values[i:i + 1, :, cols].clone())
                      for layer in cache.layers]
            ids = np.asarray(seq)
            for key, (old, _) in list(self._prefixes.items()):
                if len(old) <= len(ids) and np.array_equal(old, ids[:len(old)]):
                    del self._prefixes[key]  # this turn extends it: the old entry is no use any more
            self._prefixes[self._prefix_key] = (ids, layers)
            self._prefix_key += 1
            while len(self._prefixes) > self.config.prefix_cache:
                self._prefixes.pop(next(iter(self._prefixes)))

    def _sample(self, logits, temps, top_ps):
        """One token per row: greedy where temperature is 0, else temperature + top-p sampling."""
        torch = self._torch
        greedy = logits.argmax(-1)
        if bool((temps <= 0).all()):
            return greedy
        probs = torch.softmax(logits / temps.clamp(min=1e-5)[:, None], -1)
        sorted_p, order = probs.sort(-1, descending=True)
        # Keep the smallest prefix whose mass reaches top_p (the first token always survives).
        drop = (sorted_p.cumsum(-1) - sorted_p) >= top_ps[:, None]
        sorted_p = sorted_p.masked_fill(drop, 0.0)
        pick = torch.multinomial(sorted_p, 1, generator=self._generator)
        sampled = order.gather(1, pick)[:, 0]
        return torch.where(temps <= 0, greedy, sampled)

    def _ground(self, rows: list[_Row], logits):
        """The logits to sample from (grounded rows keep only their allowed tokens) and, by row,
        the packed mask of each constrained step."""
        masks: dict[int, bytes] = {}
        if self.grounder is None:
            return logits, masks
        import numpy as np
        masked = None
        for i, row in enumerate(rows):
            if row.done or row.req.grounding is None:
                continue
            allowed = row.req.grounding.allowed(bytes(row.reply), row.req.max_new - len(row.token_ids))
            if allowed is None:
                continue
            if masked is None:
                masked = logits.clone()
            # Through numpy: a free-text step allows nearly the whole vocabulary, and a Python list
            # of those ids into a tensor would cost more than the grounding itself.
            keep = np.zeros(logits.shape[1], dtype=bool)
            keep[np.fromiter(allowed, dtype=np.int64, count=len(allowed))] = True
            masked[i].masked_fill_(~self._torch.from_numpy(keep).to(logits.device), float("-inf"))
            masks[i] = np.packbits(keep).tobytes()
        return (logits if masked is None else masked), masks

    def _advance(self, row: _Row, token: int, logprob: float, mask: bytes | None = None) -> None:
        row.token_ids.append(token)
        if self.grounder is not None:
            row.reply += self.grounder.token_bytes[token]
            row.token_masks.append(mask)
        row.logprobs.append(logprob)
        if token in self.eos_ids:
            row.finish("stop")
            return
        if row.req.stop:
            # Decode the whole reply: a stop string may span tokens, and byte-level pieces only
            # become text once complete. Only the new tail can hold a new match.
            text = self._decode(row.token_ids)
            start = max(0, row.checked - max(len(s) for s in row.req.stop))
            hits = [(i, s) for s in row.req.stop if (i := text.find(s, start)) >= 0]
            row.checked = len(text)
            if hits:
                i, s = min(hits)
                row.text, row.stop_string = text[:i], s
                row.finish("stop")
                return
        if len(row.token_ids) >= row.req.max_new:
            row.finish("length")

    def _decode(self, ids: list[int]) -> str:
        return self.tokenizer.decode([t for t in ids if t not in self.eos_ids], skip_special_tokens=False)

    def _completion(self, row: _Row) -> Completion:
        text = row.text if row.text is not None else self._decode(row.token_ids)
        meta = {"stop_string": row.stop_string} if row.stop_string is not None else {}
        return Completion(text=text, finish_reason=row.finish_reason or "length",
                          prompt_tokens=len(row.req.prompt_ids), completion_tokens=len(row.token_ids),
                          token_ids=row.token_ids, logprobs=row.logprobs,
                          prompt_token_ids=list(row.req.prompt_ids), meta=meta,
                          token_masks=row.token_masks if self.grounder is not None else None)


@functools.cache
def _reserved_layer_class():
    """``ReservedLayer``, defined on first use so that importing this module needs no transformers."""
    from transformers.cache_utils import DynamicLayer

    class ReservedLayer(DynamicLayer):
        """A full-attention cache layer with room reserved for the tokens still to decode.

        transformers' ``DynamicLayer`` grows by ``torch.cat``, copying every key and value so far
        at each token: on a CPU that copy was two thirds of a decoding step for agent prompts of a
        thousand tokens and more. This one writes each token into the reserved room and hands the
        attention a view of the filled part; it doubles its buffer if a reply outgrows the room."""

        def __init__(self, keys: list, values: list, width: int, room: int):
            """Rows' keys and values (``(1, heads, n_i, dim)`` each), left-padded with zeros to
            ``width`` in one buffer with ``room`` more positions."""
            super().__init__()
            self.device, self.is_initialized, self.length = keys[0].device, True, width
            self._keys, self._values = self._stack_rows(keys, width + room), self._stack_rows(values, width + room)
            self.keys, self.values = self._keys[:, :, :width], self._values[:, :, :width]

        def _stack_rows(self, rows: list, size: int):
            _, h, _, d = rows[0].shape
            # Zeros, not garbage, under the padding: masked positions still enter the attention's
            # sum with weight 0, and 0 * NaN would not be 0.
            buffer = rows[0].new_zeros((len(rows), h, size, d))
            for i, row in enumerate(rows):
                buffer[i, :, self.length - row.shape[-2]:self.length] = row[0]
            return buffer

        def _grow(self, tensor, size: int):
            b, h, n, d = tensor.shape
            buffer = tensor.new_empty((b, h, size, d))
            buffer[:, :, :n] = tensor
            return buffer

        def update(self, key_states, value_states, *args, **kwargs):
            n, m = self.length, key_states.shape[-2]
            if n + m > self._keys.shape[-2]:  # about doubles the buffer
                self._keys = self._grow(self._keys[:, :, :n], 2 * n + m)
                self._values = self._grow(self._values[:, :, :n], 2 * n + m)
            self._keys[:, :, n:n + m] = key_states
            self._values[:, :, n:n + m] = value_states
            self.length = n + m
            self.keys, self.values = self._keys[:, :, :n + m], self._values[:, :, :n + m]
            return self.keys, self.values

    return ReservedLayer


class _Row:
    """Decoding state of one request in a batch."""

    def __init__(self, req: _Request):
        self.req = req
        self.token_ids: list[int] = []
        self.logprobs: list[float] = []
        self.text: str | None = None
        self.stop_string: str | None = None
        self.finish_reason: str | None = None
        self.checked = 0
        self.reply = bytearray()
        """The reply's bytes so far (kept for grounded decoding)."""
        self.token_masks: list[bytes | None] = []

    @property
    def done(self) -> bool:
        return self.finish_reason is not None

    def finish(self, reason: str) -> None:
        self.finish_reason = reason


def unpack_masks(masks: list[bytes], vocab: int):
    """``Completion.token_masks`` entries (all of one vocabulary) -> a boolean tensor ``(len(masks), vocab)``."""
    import numpy as np
    import torch

    bits = np.unpackbits(np.frombuffer(b"".join(masks), dtype=np.uint8).reshape(len(masks), -1), axis=1)
    return torch.from_numpy(bits[:, :vocab].astype(bool))


def _eos_ids(model: Any, tokenizer: Any) -> set[int]:
    """Every id that ends a reply: the generation config's eos ids, the tokenizer's, ChatML's."""
    ids: set[int] = set()
    gen = getattr(model, "generation_config", None)
    eos = getattr(gen, "eos_token_id", None)
    ids.update(eos if isinstance(eos, list) else [eos] if eos is not None else [])
    if tokenizer.eos_token_id is not None:
        ids.add(tokenizer.eos_token_id)
    im_end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    if isinstance(im_end, int) and im_end != tokenizer.unk_token_id:
        ids.add(im_end)
    if not ids:
        raise ValueError("the model defines no end-of-sequence token")
    return ids
