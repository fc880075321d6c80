"""The async Haut.AI client: every call of the quick-start guide and reference §13, typed.

Usage::

    async with HautClient("https://saas.haut.ai", PasswordCredentials(email, password)) as client:
        dataset = await client.create_dataset("Clinic A", image_type_id=1)
        await client.attach_application(dataset.id)
        subject = await client.create_subject(dataset.id, "alice")
        ...

Identity, private tokens, dictionaries, datasets, applications, webhooks and the websocket
streams are here; subjects, batches, images and results come from
:class:`haut.captures.CaptureCalls`. The network, throttle, retries and token live in
:class:`haut.session.ApiSession`. Pass ``transport`` to run on ``httpx.ASGITransport`` or a
``MockTransport``; pass ``sleep`` and ``clock`` to test retry waits and token expiry.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any
from urllib.parse import urlencode

import httpx

from haut import paths
from haut.auth import Credentials, PasswordCredentials, TokenCredentials
from haut.captures import CaptureCalls
from haut.errors import AuthError
from haut.notifications import (
    NotificationStream,
    authorization_headers,
    cookie_headers,
    websocket_url,
)
from haut.ratelimit import RequestBudget
from haut.redaction import register_secret
from haut.retry import RetryPolicy, Sleep
from haut.session import ApiSession, TokenPlacement
from schemas.api import (
    AlgorithmInfo,
    Application,
    ApplicationRun,
    Dataset,
    ImageType,
    PrivateToken,
    Profile,
    Webhook,
    parse_items,
)

_UNSET: Any = object()


class HautClient(CaptureCalls):
    """An async session with one Haut.AI company; use as ``async with HautClient(...)``."""

    def __init__(
        self,
        base_url: str,
        credentials: Credentials,
        *,
        company_id: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        max_concurrency: int = 8,
        requests_per_second: float | None = 10.0,
        budget: RequestBudget | None = None,
        retry: RetryPolicy | None = None,
        timeout: float = 30.0,
        sleep: Sleep = asyncio.sleep,
        clock: Callable[[], float] = time.time,
        login_paths: Sequence[str] = paths.LOGIN_PATHS,
        refresh_margin: float = 300.0,
        rng: random.Random | None = None,
    ) -> None:
        self._credentials = credentials
        self._company_id = company_id or (
            credentials.company_id if isinstance(credentials, TokenCredentials) else None
        )
        self._user_id: int | None = None
        self._session = ApiSession(
            base_url,
            credentials,
            transport=transport,
            timeout=timeout,
            max_concurrency=max_concurrency,
            requests_per_second=requests_per_second,
            budget=budget,
            retry=retry or RetryPolicy(),
            sleep=sleep,
            clock=clock,
            login_paths=login_paths,
            refresh_margin=refresh_margin,
            rng=rng,
        )
        self._sleep = sleep

    def __repr__(self) -> str:
        who = (
            self._credentials.username
            if isinstance(self._credentials, PasswordCredentials)
            else "private token"
        )
        return (
            f"HautClient({self._session.base_url!r}, as={who!r}, company_id={self._company_id!r})"
        )

    async def __aenter__(self) -> HautClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._session.aclose()

    @property
    def session(self) -> ApiSession:
        """The HTTP session (its ``tokens`` count logins and refreshes)."""
        return self._session

    @property
    def answered_by(self) -> str | None:
        """Who has been answering: ``"emulator"`` (it says so in a header), else the service's
        host; None before the first answer."""
        if self._session.emulated is None:
            return None
        if self._session.emulated:
            return "emulator"
        return httpx.URL(self._session.base_url).host or self._session.base_url

    # --- identity ----------------------------------------------------------------------

    async def login(self) -> None:
        """Make sure a valid token is held (calls log in lazily anyway)."""
        await self._session.tokens.token()

    async def profile(self) -> Profile:
        return Profile.model_validate(await self._session.json("GET", paths.PROFILE_PATH))

    async def company_id(self) -> str:
        """The company all calls act on: configured, from login, or from the profile."""
        if self._company_id is None:
            await self._session.tokens.token()
            grant = self._session.tokens.grant
            found = grant.company_id if grant else None
            self._company_id = found or (await self.profile()).resolved_company_id()
            if self._company_id is None:
                raise AuthError("no company id in the login answer or the profile")
        return self._company_id

    async def user_id(self) -> int:
        """The user id the notifications websocket is keyed by (login ``id``)."""
        if self._user_id is None:
            await self._session.tokens.token()
            grant = self._session.tokens.grant
            self._user_id = (grant.user_id if grant else None) or (await self.profile()).user_id()
            if self._user_id is None:
                raise AuthError("no user id in the login answer or the profile")
        return self._user_id

    # --- private tokens ----------------------------------------------------------------

    async def create_private_token(self, name: str, expiration_time: datetime) -> PrivateToken:
        """A long-lived API token; its ``data`` (a SecretStr) is the token."""
        body = {"name": name, "expiration_time": expiration_time.isoformat()}
        # A create: repeated only if the request never left; else CreateInDoubtError.
        answer = await self._session.json(
            "POST", paths.PRIVATE_TOKENS_PATH, body=body, create=True, reconcile_by={"name": name}
        )
        token = PrivateToken.model_validate(answer)
        register_secret(token.data)
        return token

    async def list_private_tokens(self) -> list[PrivateToken]:
        return [
            PrivateToken.model_validate(item)
            async for page in self._session.pages(paths.PRIVATE_TOKENS_PATH)
            for item in page
        ]

    async def delete_private_token(self, token_id: int) -> None:
        await self._session.send("DELETE", f"{paths.PRIVATE_TOKENS_PATH}{token_id}/")

    # --- dictionaries and applications -------------------------------------------------

    async def algorithms(self) -> list[AlgorithmInfo]:
        """``/dicts/algorithms/``: algorithm version ids with family names (no auth)."""
        body = await self._session.json(
            "GET", paths.ALGORITHMS_DICT_PATH, token=TokenPlacement.NONE
        )
        return parse_items(AlgorithmInfo, body)

    async def image_types(self) -> list[ImageType]:
        """``/dicts/image_types/``: image types with their sides and lights (no auth)."""
        body = await self._session.json(
            "GET", paths.IMAGE_TYPES_DICT_PATH, token=TokenPlacement.NONE
        )
        return parse_items(ImageType, body)

    async def list_applications(self) -> list[Application]:
        path = paths.company(await self.company_id()) + "/applications/"
        return [
            Application.model_validate(item)
            async for page in self._session.pages(path)
            for item in page
        ]

    async def attach_application(
        self,
        dataset_id: str,
        *,
        application_id: str = paths.FSM2_APPLICATION_ID,
        enabled_algorithms: Sequence[int] | None = None,
    ) -> ApplicationRun:
        """Attach an application (default FSM 2.0) to a dataset; None enables every algorithm.

        Attaching again replaces the algorithm list, so this is retried like any idempotent call.
        """
        body: dict[str, Any] = {"dataset_id": dataset_id}
        if enabled_algorithms is not None:
            body["enabled_algorithms"] = list(enabled_algorithms)
        path = f"{paths.company(await self.company_id())}/applications/{application_id}/runs/"
        return ApplicationRun.model_validate(await self._session.json("POST", path, body=body))

    # --- datasets ----------------------------------------------------------------------

    async def create_dataset(
        self,
        name: str,
        *,
        image_type_id: int = 1,
        expire_images_after_days: int | None = None,
        expire_metadata_after_days: int | None = None,
        clean_images_as_soon_as_ready: bool = False,
    ) -> Dataset:
        """Create a dataset (once per project, not per analysis: see find_dataset)."""
        body = {
            "name": name,
            "image_type_id": image_type_id,
            "expire_images_after_days": expire_images_after_days,
            "expire_metadata_after_days": expire_metadata_after_days,
            "clean_images_as_soon_as_ready": clean_images_as_soon_as_ready,
        }
        # A create: repeated only if the request never left; else CreateInDoubtError.
        answer = await self._session.json(
            "POST",
            paths.datasets(await self.company_id()),
            body=body,
            create=True,
            reconcile_by={"name": name},
        )
        return Dataset.model_validate(answer)

    async def get_dataset(self, dataset_id: str) -> Dataset:
        path = paths.dataset(await self.company_id(), dataset_id)
        return Dataset.model_validate(await self._session.json("GET", path))

    async def iter_datasets(
        self, *, q: str | None = None, page_size: int = 100
    ) -> AsyncIterator[Dataset]:
        """Every dataset of the company (name containing ``q``), page by page."""
        params = {"q": q} if q else None
        path = paths.datasets(await self.company_id())
        async for items in self._session.pages(path, params, page_size=page_size):
            for item in items:
                yield Dataset.model_validate(item)

    async def list_datasets(self, *, q: str | None = None) -> list[Dataset]:
        return [dataset async for dataset in self.iter_datasets(q=q)]

    async def datasets_short_list(self, q: str | None = None) -> list[Dataset]:
        """``datasets/short_list/?q=``: a bare array of ``{id, name}``."""
        path = paths.datasets(await self.company_id()) + "short_list/"
        body = await self._session.json("GET", path, params={"q": q} if q else None)
        return parse_items(Dataset, body)

    async def find_dataset(self, name: str) -> Dataset | None:
        """The dataset named exactly ``name``, if any."""
        return next((d for d in await self.datasets_short_list(name) if d.name == name), None)

    async def update_dataset(
        self,
        dataset_id: str,
        *,
        name: str = _UNSET,
        expire_images_after_days: int | None = _UNSET,
        expire_metadata_after_days: int | None = _UNSET,
        clean_images_as_soon_as_ready: bool = _UNSET,
    ) -> Dataset:
        """PATCH the given fields (retention: None means keep forever)."""
        changes = {
            k: v
            for k, v in (
                ("name", name),
                ("expire_images_after_days", expire_images_after_days),
                ("expire_metadata_after_days", expire_metadata_after_days),
                ("clean_images_as_soon_as_ready", clean_images_as_soon_as_ready),
            )
            if v is not _UNSET
        }
        path = paths.dataset(await self.company_id(), dataset_id)
        return Dataset.model_validate(await self._session.json("PATCH", path, body=changes))

    # --- webhooks ----------------------------------------------------------------------

    async def set_webhook(
        self,
        dataset_id: str,
        url: str,
        *,
        authorization: str = "bearer",
        authorization_key: str | None = None,
        authorization_value: str | None = None,
        method: str = "post",
        enabled: bool = True,
    ) -> Webhook:
        """Create (or replace: one per dataset) the dataset's webhook destination."""
        body = {
            "url": url,
            "authorization": authorization,
            "authorization_key": authorization_key,
            "authorization_value": authorization_value,
            "method": method,
            "enabled": enabled,
        }
        # A create: repeated only if the request never left; else CreateInDoubtError.
        answer = await self._session.json(
            "POST",
            paths.dataset(await self.company_id(), dataset_id) + "webhooks/",
            body=body,
            create=True,
            reconcile_by={"dataset_id": dataset_id, "url": url},
        )
        return Webhook.model_validate(answer)

    async def list_webhooks(self, dataset_id: str) -> list[Webhook]:
        path = paths.dataset(await self.company_id(), dataset_id) + "webhooks/"
        return [Webhook.model_validate(i) async for page in self._session.pages(path) for i in page]

    async def delete_webhook(self, dataset_id: str, webhook_id: str | int) -> None:
        path = paths.dataset(await self.company_id(), dataset_id) + f"webhooks/{webhook_id}/"
        await self._session.send("DELETE", path)

    # --- websocket notifications -------------------------------------------------------

    def user_notifications(self, *, reconnect: bool = True) -> NotificationStream:
        """``async with client.user_notifications() as stream: async for message in stream``:
        one PhotoCalculated message per processed image."""
        return self._stream(
            paths.USER_NOTIFICATIONS_PATH,
            cookie_headers,
            reconnect,
            lambda: self._query("user_id", self.user_id()),
        )

    def result_notifications(self, *, reconnect: bool = True) -> NotificationStream:
        """The server-to-server results stream: AlgorithmResultMessage per finished row,
        then PhotoCalculated per image."""
        return self._stream(
            paths.RESULT_NOTIFICATIONS_PATH,
            authorization_headers,
            reconnect,
            lambda: self._query("company_id", self.company_id()),
        )

    async def _renewed_if_refused(self, token: str) -> str | None:
        """After a websocket refused ``token``: a new token if the API refuses it too, else None.

        The REST API answers 401 only for a bad token (the session then renews it once for
        everybody); if it accepts the token, the refusal was about the user or company id.
        """
        tokens = self._session.tokens
        if tokens.grant is None or tokens.grant.access_token.get_secret_value() == token:
            await self.profile()
        grant = tokens.grant
        current = grant.access_token.get_secret_value() if grant else None
        return current if current is not None and current != token else None

    async def _query(self, name: str, value: Awaitable[Any]) -> str:
        return urlencode({name: await value})

    def _stream(
        self,
        path: str,
        headers_for: Callable[[str], dict[str, str]],
        reconnect: bool,
        query: Callable[[], Any],
    ) -> NotificationStream:
        tokens = self._session.tokens
        return NotificationStream(
            lambda q: websocket_url(self._session.base_url, path, q),
            headers_for,
            query=query,
            token=tokens.token,
            renewed_if_refused=self._renewed_if_refused,
            policy=self._session.retry,
            sleep=self._sleep,
            reconnect=reconnect,
        )
