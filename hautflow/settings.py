"""Where hautflow finds the Haut.AI service and its credentials.

Everything comes from the environment (or a ``.env`` file), prefixed ``HAUT_``:

========================  =====================================================================
``HAUT_API_URL``          a Haut.AI-compatible service, e.g. an emulator from ``hautflow emulator``
``HAUT_USERNAME``         login e-mail, with ``HAUT_PASSWORD``
``HAUT_API_TOKEN``        a private API token instead of username and password
``HAUT_COMPANY_ID``       the company, when a private token is used (else read from the profile)
========================  =====================================================================

With no credentials at all, hautflow starts the embedded emulator on a free loopback port.
With credentials and no URL, it talks to the real service at :data:`REAL_SERVICE_URL`.
"""

from __future__ import annotations

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from haut.auth import PasswordCredentials, TokenCredentials

REAL_SERVICE_URL = "https://saas.haut.ai"

EMULATOR_USERNAME = "hautflow@localhost"
"""The user hautflow logs in as on an emulator when no credentials are configured: the emulator
lets any non-empty username and password in, each username its own user and company."""


class ConfigurationError(ValueError):
    """The settings contradict each other; the message says which variable to fix."""


class HautSettings(BaseSettings):
    """The ``HAUT_*`` environment, validated once."""

    model_config = SettingsConfigDict(env_prefix="HAUT_", env_file=".env", extra="ignore")

    api_url: str | None = None
    username: str | None = None
    password: SecretStr | None = None
    api_token: SecretStr | None = None
    company_id: str | None = None
    requests_per_second: float = 10.0
    max_concurrency: int = 8

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

    def service_url(self) -> str | None:
        """The API base URL to use, or None when the embedded emulator should be started."""
        if self.api_url:
            return self.api_url.rstrip("/")
        if self.credentials() is not None:
            return REAL_SERVICE_URL
        return None
