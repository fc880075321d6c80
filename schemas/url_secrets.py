"""Which names carry secrets, and a URL without them: the rule the API models apply on parse.

Aux image URLs arrive with ``?token=...``; :class:`schemas.api.UrlMap` stores them only after
:func:`strip_url_secrets`. The rule lives here, in the lowest layer, so the models can apply it;
:mod:`haut.redaction` (masking text, log records and registered secrets) builds on the same
names.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

SECRET_NAME = re.compile(r"token|signature|secret|passw|key|auth|credential|cookie", re.IGNORECASE)
"""Query parameter / field names that carry secrets (token=, access_token=, X-Goog-Signature=,
auth_key=, password=...), matched case-insensitively anywhere in the name."""


def is_secret_name(name: str) -> bool:
    """Whether a query parameter or field of this name carries a secret."""
    return bool(SECRET_NAME.search(name))


def strip_url_secrets(url: str) -> str:
    """``url`` without token-bearing query parameters or user:password (safe to store)."""
    if "?" not in url and "@" not in url:
        return url  # neither a query nor user info: nothing to take out (most aux URLs)
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)[-1]
    query = [
        (k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not is_secret_name(k)
    ]
    return urlunsplit((parts.scheme, netloc, parts.path, urlencode(query), parts.fragment))
