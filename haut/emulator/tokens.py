"""JWT-shaped access and refresh tokens signed with the emulator's own secret (HS256).

The real service hands out Firebase ID tokens (RS256 JWTs); clients only need the
``header.payload.signature`` shape and the expiry, so an HMAC signature is enough here.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from typing import Any

REFRESH_LIFETIME_SECONDS = 30 * 24 * 3600


class TokenInvalid(ValueError):
    """Not a token this emulator signed."""


class TokenExpired(ValueError):
    """A token this emulator signed, past its ``exp``."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class TokenClaims:
    user_id: int
    company_id: str
    kind: str  # "access" | "refresh"
    expires_at: float


class TokenSigner:
    """Signs and verifies the emulator's tokens; ``secret`` stays in the emulator's state."""

    def __init__(self, secret: str):
        self._key = secret.encode()

    def __repr__(self) -> str:
        return "TokenSigner(<secret>)"

    def issue(
        self, user_id: int, company_id: str, *, kind: str, now: float, lifetime: float
    ) -> str:
        header = {"alg": "HS256", "typ": "JWT"}
        payload = {
            "sub": str(user_id),
            "user_id": user_id,
            "company_id": company_id,
            "token_type": kind,
            "iat": int(now),
            "exp": int(now + lifetime),
            "jti": secrets.token_hex(8),
        }
        signing_input = f"{_b64(_json(header))}.{_b64(_json(payload))}"
        return f"{signing_input}.{_b64(self._sign(signing_input))}"

    def verify(self, token: str, *, now: float) -> TokenClaims:
        parts = token.split(".")
        if len(parts) != 3:
            raise TokenInvalid("not a JWT")
        try:
            signature = _unb64(parts[2])
            payload: dict[str, Any] = json.loads(_unb64(parts[1]))
        except (binascii.Error, ValueError) as exc:
            raise TokenInvalid("malformed token") from exc
        if not hmac.compare_digest(signature, self._sign(f"{parts[0]}.{parts[1]}")):
            raise TokenInvalid("bad signature")
        claims = TokenClaims(
            user_id=int(payload["user_id"]),
            company_id=str(payload["company_id"]),
            kind=str(payload.get("token_type", "access")),
            expires_at=float(payload["exp"]),
        )
        if now >= claims.expires_at:
            raise TokenExpired("token expired")
        return claims

    def _sign(self, signing_input: str) -> bytes:
        return hmac.new(self._key, signing_input.encode(), hashlib.sha256).digest()


def _json(value: dict[str, Any]) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def new_private_token() -> str:
    """An opaque private (API) token."""
    return "hpt_" + secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    """Private tokens are stored only as this digest."""
    return hashlib.sha256(token.encode()).hexdigest()
