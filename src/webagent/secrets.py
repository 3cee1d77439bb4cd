"""Secrets never reach a file or the console: one redaction function for everything stored or printed.

What counts as a secret:

- every value registered with :func:`register_secret` (the API key an OpenAI-compatible client was
  given is registered when the client is made, whatever variable it came from);
- the value of every environment variable whose name says it holds one (``*API_KEY*``, ``*TOKEN*``,
  ``*SECRET*``, ``*PASSWORD*``, ``*PASSWD*``), read when redacting, so keys set later count too;
- anything shaped like a provider key (``sk-...``, ``Bearer ...``) and the password of a URL's
  ``user:password@`` part.

A server's error text may echo the key it rejected (``401 - Incorrect API key provided: sk-...``);
that text goes into observations, trajectories, evaluation records and log lines, so the JSONL
writer (:func:`webagent.jsonl.dumps`), the log handler and the command line's error output all call
:func:`redact`. Values shorter than 8 characters are not treated as secrets (too many false hits).
"""

from __future__ import annotations

import logging
import os
import re
from typing import Any

MASK = "[REDACTED]"
MIN_SECRET_CHARS = 8
_SECRET_ENV = re.compile(r"API_?KEY|TOKEN|SECRET|PASSWORD|PASSWD", re.IGNORECASE)


def _key_at_word_start(m: re.Match) -> str:
    """MASK for a key that starts a word ("sk-..." but not "desk-..."): the check a leading ``\\b``
    made, done after the fast literal search instead of before a slow scan."""
    before = m.string[m.start() - 1] if m.start() else " "
    return m.group(0) if before.isalnum() or before == "_" else MASK


# (pattern, replacement, a lower-case substring every match contains): the substring test is a fast
# C scan that skips the regex for nearly every text (redacting each record was 40 % of an episode's
# CPU). The user:password@ pattern starts at "://", a literal the regex engine jumps between; from
# the scheme's first letter it was tried at every letter of the text (0.4 ms for a 12 KB record,
# which any page with an e-mail address on it triggers).
_PATTERNS = [
    (re.compile(r"sk-[A-Za-z0-9_\-]{16,}"), _key_at_word_start, "sk-"),  # OpenAI-style keys, echoed by 401 errors
    (re.compile(r"(?i)\b(Bearer\s+)[A-Za-z0-9._~+/\-]{8,}=*"), r"\1" + MASK, "bearer"),
    (re.compile(r"(://[^\s:/@]+:)[^\s/@]+@"), r"\1" + MASK + "@", "@"),  # scheme://user:password@
]
_registered: set[str] = set()


def register_secret(value: str | None) -> None:
    """Treat ``value`` as a secret from now on (ignored when shorter than 8 characters)."""
    if value and len(value) >= MIN_SECRET_CHARS:
        _registered.add(value)


_cache: tuple[Any, list[str]] = (None, [])


def _secrets() -> list[str]:
    """Registered and environment secrets, longest first (no partial leftovers). Recomputed only
    when the environment or the registry changed: the scan decodes every variable, and it ran for
    every event and record (a snapshot of the raw environment compares in about a microsecond)."""
    global _cache
    raw = getattr(os.environ, "_data", None)  # CPython's undecoded mapping; without it, no cache
    key = (tuple(raw.items()), len(_registered)) if raw is not None else None
    if key is None or key != _cache[0]:
        env = [v for k, v in os.environ.items() if _SECRET_ENV.search(k) and len(v) >= MIN_SECRET_CHARS]
        _cache = (key, sorted(_registered.union(env), key=len, reverse=True))
    return _cache[1]


def redact(text: str) -> str:
    """``text`` with every secret replaced by ``[REDACTED]``."""
    if not text:
        return text
    for secret in _secrets():
        if secret in text:
            text = text.replace(secret, MASK)
    folded = text.lower()
    for pattern, repl, needle in _PATTERNS:
        if needle in folded:
            text = pattern.sub(repl, text)
    return text


def redact_value(value: Any) -> Any:
    """:func:`redact` applied to every string inside ``value`` (dicts, lists, tuples; keys too)."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {redact_value(k): redact_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_value(v) for v in value]
    return value


class RedactingFilter(logging.Filter):
    """A logging filter that redacts each record's final message."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: leave it to logging's own error path
            return True
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        return True


def install_log_redaction(logger: logging.Logger | None = None) -> None:
    """Redact every record that reaches the handlers of ``logger`` (default: the root logger)."""
    logger = logger or logging.getLogger()
    for handler in logger.handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
    if not any(isinstance(f, RedactingFilter) for f in logger.filters):
        logger.addFilter(RedactingFilter())


__all__ = ["MASK", "RedactingFilter", "install_log_redaction", "redact", "redact_value", "register_secret"]
