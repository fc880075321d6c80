"""Where hautflow finds the Haut.AI service and its credentials.

Everything comes from the environment (or a ``.env`` file), prefixed ``HAUT_``:

============================  =================================================================
``HAUT_API_URL``              a Haut.AI-compatible service, e.g. an emulator from
                              ``hautflow emulator``
``HAUT_USERNAME``             login e-mail, with ``HAUT_PASSWORD``
``HAUT_API_TOKEN``            a private API token instead of username and password
``HAUT_COMPANY_ID``           the company, when a private token is used (else read from the
                              profile)
``HAUT_CREDENTIALS_BLOCK``    name of a Prefect Secret block holding the credentials instead:
                              JSON ``{"username": .., "password": ..}`` or
                              ``{"api_token": .., "company_id": ..}`` (it wins over the above)
``HAUT_REQUESTS_PER_SECOND``  the client's request rate to the API (default 10; the API's
                              limit is per company, so several clients share it)
``HAUT_MAX_CONCURRENCY``      HTTP requests in flight at once (default 8; ``--requests-in-flight``)
``HAUT_WEBHOOK_SECRET``       the secret of ``--wait webhook`` deliveries (token, password or
                              query value; default: random per run)
============================  =================================================================

With no credentials at all, hautflow starts the embedded emulator on a free loopback port.
With credentials and no URL, it talks to the real service at :data:`REAL_SERVICE_URL`.
Secrets are environment or block values only, never command-line arguments: those land in
shell history and process listings.
"""

from __future__ import annotations

from typing import Any

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from haut.auth import PasswordCredentials, TokenCredentials
from haut.redaction import register_secret
from schemas.errors import HautflowError

REAL_SERVICE_URL = "https://saas.haut.ai"

EMULATOR_USERNAME = "hautflow@localhost"
"""The user hautflow logs in as on an emulator when no credentials are configured: the emulator
lets any non-empty username and password in, each username its own user and company."""


EMULATOR_NOTICE = (
    "No Haut.AI credentials: the embedded emulator answers, so the results are not real "
    "analyses (set HAUT_USERNAME and HAUT_PASSWORD, or HAUT_API_TOKEN, for the real service)"
)
"""The first line of a command that falls back to the embedded emulator."""


class ConfigurationError(HautflowError, ValueError):
    """The settings contradict each other; the message says which variable to fix."""


class HautSettings(BaseSettings):
    """The ``HAUT_*`` environment, validated once."""

    model_config = SettingsConfigDict(env_prefix="HAUT_", env_file=".env", extra="ignore")

    api_url: str | None = None
    username: str | None = None
    password: SecretStr | None = None
    api_token: SecretStr | None = None
    company_id: str | None = None
    credentials_block: str | None = None
    requests_per_second: float = 10.0
    max_concurrency: int = 8
    webhook_secret: SecretStr | None = None

    async def with_credentials_block(self, name: str | None = None) -> HautSettings:
        """These settings with the credentials of the Prefect Secret block ``name`` (default:
        ``HAUT_CREDENTIALS_BLOCK``); unchanged when no block is named.

        The block is read only when named, so runs without one never need a Prefect API.
        """
        name = name or self.credentials_block
        if not name:
            return self
        value = await _read_secret_block(name)
        changes = _block_credentials(name, value)
        for secret in (changes.get("password"), changes.get("api_token")):
            register_secret(secret)
        # The block replaces the environment's credentials whole: no mix of the two.
        cleared: dict[str, Any] = dict.fromkeys(("username", "password", "api_token", "company_id"))
        return self.model_copy(update={**cleared, **changes, "credentials_block": name})

    def credentials(self) -> PasswordCredentials | TokenCredentials | None:
        """The configured credential, or None when none is configured (use the emulator)."""
        if self.api_token is not None:
            return TokenCredentials(self.api_token, company_id=self.company_id)
        if self.username and self.password is not None:
            return PasswordCredentials(self.username, self.password)
        if self.username or self.password is not None:
            raise ConfigurationError(
                "HAUT_USERNAME and HAUT_PASSWORD go together: set both, "
                "or set HAUT_API_TOKEN instead, or unset both to use the embedded emulator."
            )
        return None

    def credentials_or_emulator_user(self) -> PasswordCredentials | TokenCredentials:
        """The configured credential, or the local emulator user when none is configured."""
        return self.credentials() or PasswordCredentials(EMULATOR_USERNAME, "emulator")

    def uses_embedded_emulator(
        self, api_url: str | None = None, credentials_block: str | None = None
    ) -> bool:
        """Whether a command with these options would start the embedded emulator: no URL, no
        credentials, no credentials block (a block is assumed to hold credentials)."""
        if api_url or credentials_block or self.credentials_block:
            return False
        return self.service_url() is None

    def service_url(self) -> str | None:
        """The API base URL to use, or None when the embedded emulator should be started."""
        if self.api_url:
            return self.api_url.rstrip("/")
        if self.credentials() is not None:
            return REAL_SERVICE_URL
        return None


_BLOCK_SHAPE = (
    'a JSON object {"username": ..., "password": ...} or {"api_token": ..., "company_id": ...}'
)


async def _read_secret_block(name: str) -> object:
    # Here, not at the top: prefect takes seconds to import, and only a named block needs it.
    from prefect.blocks.system import Secret

    try:
        block: Secret[Any] = await Secret.aload(name)
    except ValueError as exc:  # Prefect's "Unable to find block document named ..."
        raise ConfigurationError(
            f"no Prefect Secret block named {name!r} ({exc}); create it with "
            f"Secret(value={{...}}).save({name!r}) holding {_BLOCK_SHAPE}, "
            "or unset HAUT_CREDENTIALS_BLOCK / --credentials-block"
        ) from None
    return block.get()


def _block_credentials(name: str, value: object) -> dict[str, Any]:
    """The settings fields a credentials block sets; its secrets as :class:`SecretStr`."""
    fields = ("username", "password", "api_token", "company_id")
    if not isinstance(value, dict) or not value or not set(value) <= set(fields):
        keys = sorted(value) if isinstance(value, dict) else type(value).__name__
        raise ConfigurationError(
            f"Prefect Secret block {name!r} holds {keys}; expected {_BLOCK_SHAPE}"
        )
    if not all(isinstance(v, str) and v for v in value.values()):
        raise ConfigurationError(
            f"Prefect Secret block {name!r}: every value must be a non-empty string"
        )
    has_password = "username" in value and "password" in value
    if "api_token" not in value and not has_password:
        raise ConfigurationError(
            f"Prefect Secret block {name!r} holds {sorted(value)}: it needs username and "
            "password together, or api_token"
        )
    secret = ("password", "api_token")
    return {k: SecretStr(v) if k in secret else v for k, v in value.items()}
