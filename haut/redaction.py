"""The single home of secret redaction: text, URLs, log records and credential values.

Errors, logging and run artifacts all pass text through :func:`redact`; aux image URLs are
stored only after :func:`schemas.url_secrets.strip_url_secrets`, whose names of secret-bearing
fields are the ones masked here too. Secrets that have no recognisable shape
(opaque tokens, passwords) are masked too once registered with :func:`register_secret`, which
the client does for every credential and token it handles.
"""

from __future__ import annotations

import contextlib
import logging
import re
import threading

import hyperscan
from pydantic import SecretStr

from schemas.url_secrets import SECRET_NAME

MASK = "***"

_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*")
_HEADER = re.compile(
    r"(?im)^(\s*(?:authorization|proxy-authorization|cookie|set-cookie|access-token|"
    r"x-csrftoken)\s*:\s*)(\S[^\r\n]*)"
)
_BEARER = re.compile(r"(?i)\b(bearer:?\s+)[A-Za-z0-9._~+/=-]+")
_KEY_VALUE = re.compile(
    r"""(?ix)
    (["']?(?:password|passwd|access[_-]token|token_access|refresh_token|token|data_token|
           authorization|authorization_value|secret_key|secret|api_key|b64data)["']?
     \s*[:=]\s*
     (?:SecretStr\()?["']?)
    ([^"'\s,&;)}]+)
    """
)
_QUERY_SECRET = re.compile(
    r"([?&;][^=&\s#\"']*?(?:" + SECRET_NAME.pattern + r")[^=&\s#\"']*=)"
    r"([^&\s#\"']+)",
    re.IGNORECASE,
)

_MIN_SECRET_LENGTH = 4
_MAX_REGISTERED = 512
_registered: dict[str, None] = {}  # an insertion-ordered set of exact secret values
_registered_lock = threading.Lock()
# The same values, longest first (a secret that contains another is masked whole). Replaced,
# never mutated, under the lock: readers take the tuple as it is, without locking or sorting.
_longest_first: tuple[str, ...] = ()


def register_secret(value: str | SecretStr | None) -> None:
    """Mask this exact value wherever it appears from now on (tokens, passwords)."""
    text = value.get_secret_value() if isinstance(value, SecretStr) else value
    if not text or len(text) < _MIN_SECRET_LENGTH:
        return
    global _longest_first
    with _registered_lock:
        if text in _registered:
            return
        _registered[text] = None
        while len(_registered) > _MAX_REGISTERED:
            del _registered[next(iter(_registered))]
        _longest_first = tuple(sorted(_registered, key=len, reverse=True))


def _known_secrets() -> tuple[str, ...]:
    return _longest_first


def redact(text: str) -> str:
    """``text`` with every token, password, signature and credential header value masked."""
    for secret in _known_secrets():
        if secret in text:
            text = text.replace(secret, MASK)
    text = _JWT.sub(MASK, text)
    text = _HEADER.sub(lambda m: m.group(1) + MASK, text)
    text = _BEARER.sub(lambda m: m.group(1) + MASK, text)
    text = _QUERY_SECRET.sub(lambda m: m.group(1) + MASK, text)
    return _KEY_VALUE.sub(lambda m: m.group(1) + MASK, text)


# Every pattern above needs one of these words: text without them (or a registered secret)
# comes through redact() unchanged, so bulk callers can skip it cheaply. Plain words, looked for
# with `in` in the lower-cased text: a case-insensitive regex of the same alternation takes
# ~100x longer over a 200 KB payload.
_HINT_WORDS: tuple[str, ...] = (*SECRET_NAME.pattern.split("|"), "eyj", "bearer", "csrf", "b64data")
if any(re.escape(word) != word or word != word.lower() for word in _HINT_WORDS):
    raise AssertionError("the secret-hint words must be plain lower-case words")
_HINT_BYTES = tuple(word.encode() for word in _HINT_WORDS)


def may_hold_secret(text: str) -> bool:
    """A cheap test: False means ``redact(text)`` returns ``text`` unchanged."""
    lowered = text.lower()
    if any(word in lowered for word in _HINT_WORDS):
        return True
    return any(secret in text for secret in _known_secrets())


# A URL that strip_url_secrets could change (one with a query or user info), also with its
# slashes escaped as JSON may write them; and an ASCII character written as a JSON escape
# (\u0074oken is "token" once decoded), which no encoder needs and a check of bytes cannot read.
BYTES_SIGNS = (
    rb"://[^\s\"'<>?@]*[?@]",
    rb":\\/\\/[^\s\"'<>?@]*[?@]",
    rb"\\u00[2-7][0-9a-fA-F]",
)


class _BulkScanner:
    """Every sign of a secret in one pass over bytes (Hyperscan): the hint words in any case,
    a URL with a query or user info, and each registered secret exactly.

    The database is rebuilt when the registered secrets change (a few times a run); each
    thread scans with scratch space of its own, as Hyperscan requires."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._database: tuple[tuple[str, ...], hyperscan.Database] | None = None
        self._scratch = threading.local()

    def _current(self) -> hyperscan.Database:
        secrets = _known_secrets()
        compiled = self._database
        if compiled is not None and compiled[0] is secrets:
            return compiled[1]
        with self._lock:
            compiled = self._database
            if compiled is None or compiled[0] is not secrets:
                compiled = (secrets, _compile(secrets))
                self._database = compiled
            return compiled[1]

    def found_in(self, data: bytes) -> bool:
        database = self._current()
        scratch = getattr(self._scratch, "pair", None)
        if scratch is None or scratch[0] is not database:
            scratch = (database, hyperscan.Scratch(database))
            self._scratch.pair = scratch
        found = False

        def on_match(*_: object) -> bool:
            nonlocal found
            found = True
            return True  # stop: one sign is enough

        with contextlib.suppress(hyperscan.ScanTerminated):
            database.scan(data, match_event_handler=on_match, scratch=scratch[1])
        return found


def _compile(secrets: tuple[str, ...]) -> hyperscan.Database:
    caseless = hyperscan.HS_FLAG_CASELESS | hyperscan.HS_FLAG_SINGLEMATCH
    patterns = [re.escape(word.encode()) for word in _HINT_WORDS] + list(BYTES_SIGNS)
    flags = [caseless] * len(_HINT_WORDS) + [hyperscan.HS_FLAG_SINGLEMATCH] * len(BYTES_SIGNS)
    patterns += [re.escape(secret.encode()) for secret in secrets]
    flags += [hyperscan.HS_FLAG_SINGLEMATCH] * len(secrets)
    database = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
    database.compile(expressions=patterns, ids=list(range(len(patterns))), flags=flags)
    return database


_SCANNER = _BulkScanner()


def bytes_may_hold_secret(data: bytes) -> bool:
    """Whether UTF-8 text still in bytes (a JSON answer as it came) shows any place a secret
    could be: what :func:`may_hold_secret` looks for, a URL with a query or user info, or a
    JSON escape of an ASCII character. False means neither :func:`redact` nor stripping URL
    secrets would change it, nor the strings decoded from it. One pass,
    ~1 GB/s: the way to check large texts."""
    return _SCANNER.found_in(data)


class RedactingFilter(logging.Filter):
    """A logging filter that rewrites each record's message (and traceback) redacted."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


_FILTER = RedactingFilter()

# Loggers that see URLs or headers of our traffic: ours, httpx (logs every request URL,
# and aux image URLs carry ?token=) and websockets.
DEFAULT_REDACTED_LOGGERS = (
    "haut",
    "httpx",
    "httpcore.http11",
    "httpcore.connection",
    "websockets.client",
)


def install_log_redaction(*logger_names: str) -> None:
    """Attach the redacting filter to these loggers (default: ours and the HTTP libraries)."""
    for name in logger_names or DEFAULT_REDACTED_LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)


def get_logger(name: str) -> logging.Logger:
    """A module logger whose records are always redacted."""
    install_log_redaction(name)
    return logging.getLogger(name)
