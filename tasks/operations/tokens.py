"""Private API tokens: long-lived tokens a deployment logs in with instead of a password.

The token's value is shown once, when it is created (the API never shows it again); the client
registers it with :mod:`haut.redaction`, so logs and errors mask it from then on.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from schemas.api import PrivateToken
from tasks.operations.errors import OperationError


def parse_expiry(text: str, *, now: datetime | None = None) -> datetime:
    """The expiry ``text`` (``2027-01-01`` or ``2027-01-01T12:00[+02:00]``, UTC unless a zone
    is given) as an aware datetime; refused if it is not in the future."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise OperationError(
            f"--expires {text!r}: expected a date such as 2027-01-01 or 2027-01-01T12:00"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    now = now or datetime.now(UTC)
    if moment <= now:
        # The vendor guide's example expiry is in the past: copied as is, it makes a token
        # that is already expired.
        raise OperationError(
            f"--expires {text}: {moment:%Y-%m-%d %H:%M %Z} is not in the future, so the token "
            f"would be expired at once: choose a later date, e.g. {now.year + 1}-01-01"
        )
    return moment


def token_lines(tokens: Sequence[PrivateToken], *, now: datetime | None = None) -> list[str]:
    """One line per token: id, name, expiry, whether expired. Never the token's value."""
    now = now or datetime.now(UTC)
    if not tokens:
        return ["No private tokens."]
    lines = [f"{'ID':>6}  {'EXPIRES (UTC)':<19}  NAME"]
    for token in sorted(tokens, key=lambda t: t.id):
        expires = token.expiration_time
        when = f"{expires:%Y-%m-%d %H:%M:%S}" if expires else "never"
        expired = "  (expired)" if expires is not None and expires <= now else ""
        lines.append(f"{token.id:>6}  {when:<19}  {token.name}{expired}")
    return lines
