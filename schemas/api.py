"""Pydantic models of the Haut.AI API payloads: auth, datasets, dictionaries, subjects, images.

Models are tolerant: unknown fields are kept (``extra="allow"``), timestamps in either wire
format (``"YYYY-MM-DD HH:MM:SS"`` or ISO 8601 with ``Z``) become aware UTC datetimes, and
lists may come as bare arrays or DRF pages (:func:`parse_items`). Results, aux images,
smoothing and notifications live in :mod:`schemas.api_results`. Secrets (tokens, webhook
keys) are ``SecretStr`` so reprs never show them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any, Self, TypeVar

from pydantic import (
    AliasChoices,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    TypeAdapter,
    model_validator,
)

from schemas.url_secrets import strip_url_secrets
from schemas.wire_time import parse_wire_time


def parse_api_time(value: Any) -> Any:
    """An aware UTC datetime from any wire format; other values pass through to pydantic."""
    if isinstance(value, str | datetime):
        return parse_wire_time(value)
    return value


ApiTime = Annotated[datetime, BeforeValidator(parse_api_time)]
"""A timestamp of the API, always an aware UTC datetime."""


# Names of unknown fields whose string values are secrets (token_access, id_token, ...).
_SECRET_FIELD = re.compile(r"token|secret|passw|signature|credential|cookie", re.IGNORECASE)


def strip_url_map_secrets(value: Any) -> Any:
    """A ``{"name": url}`` map with token-bearing query parameters removed from every URL.

    Nested maps are cleaned too; values that are neither text nor maps are dropped.
    """
    if not isinstance(value, Mapping):
        return value
    cleaned: dict[str, Any] = {}
    for key, item in value.items():
        if isinstance(item, str):
            cleaned[key] = strip_url_secrets(item)
        elif isinstance(item, Mapping):
            cleaned[key] = strip_url_map_secrets(item)
    return cleaned


UrlMap = Annotated[dict[str, Any], BeforeValidator(strip_url_map_secrets)]
"""URLs as the API lists them, stored without their signatures and tokens."""


class ApiModel(BaseModel):
    """Base of every payload model: unknown fields are kept, names match the wire.

    Unknown fields whose name says they are secret (``token_access``, ``id_token``...) are
    kept as ``SecretStr``, so no repr or dump of a payload shows a credential by accident.
    """

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    @model_validator(mode="after")
    def _hide_secret_extras(self) -> Self:
        extra = self.__pydantic_extra__
        for name, value in (extra or {}).items():
            if isinstance(value, str) and _SECRET_FIELD.search(name):
                extra[name] = SecretStr(value)  # type: ignore[index]
        return self


ModelT = TypeVar("ModelT", bound=BaseModel)


def page_items(body: Any) -> tuple[list[Any], str | None]:
    """The raw items of a bare array or a DRF page, and the next page's URL (if any)."""
    if isinstance(body, list):
        return body, None
    if isinstance(body, Mapping) and isinstance(body.get("results"), list):
        following = body.get("next")
        return body["results"], following if isinstance(following, str) else None
    raise ValueError(f"expected a JSON array or a paginated object, got {type(body).__name__}")


def parse_items(model: type[ModelT], body: Any) -> list[ModelT]:
    """Items of ``model`` from a bare array or a paginated envelope alike."""
    items, _ = page_items(body)
    return TypeAdapter(list[model]).validate_python(items)  # type: ignore[valid-type]


# --- auth -------------------------------------------------------------------------------


class Login(ApiModel):
    """Answer of ``/login/``, ``/auth/login/`` and ``/auth/refresh/``."""

    id: int | None = None
    email: str | None = None
    username: str | None = None
    company_id: str | None = None
    # The API sends the same token as both "access_token" and "token_access"; either is enough.
    access_token: SecretStr = Field(validation_alias=AliasChoices("access_token", "token_access"))
    token_access: SecretStr | None = None
    refresh_token: SecretStr | None = None
    is_verified: bool | None = None
    profile: dict[str, Any] | None = None


class Profile(ApiModel):
    """Answer of ``GET /api/v1/auth/profile/`` (shape unknown; company and user id searched)."""

    id: int | None = None
    email: str | None = None
    company_id: str | None = None
    user: dict[str, Any] | None = None
    companies: list[dict[str, Any]] | None = None

    def user_id(self) -> int | None:
        """The user id used by the notifications websocket."""
        if self.id is not None:
            return self.id
        found = (self.user or {}).get("id")
        return int(found) if isinstance(found, int | str) and str(found).isdigit() else None

    def resolved_company_id(self) -> str | None:
        """The company id, wherever the profile carries it."""
        if self.company_id:
            return self.company_id
        nested = (self.user or {}).get("company_id")
        if isinstance(nested, str):
            return nested
        for company in self.companies or []:
            if isinstance(company.get("id"), str):
                return str(company["id"])
        return None


class PrivateToken(ApiModel):
    """A long-lived API token; ``data`` (the token itself) only comes back on create."""

    id: int
    name: str
    expiration_time: ApiTime | None = None
    data: SecretStr | None = None


# --- dictionaries, applications, datasets -------------------------------------------------


class NamedRef(ApiModel):
    """A ``{"id", "name", "tech_name"}`` reference: side, light, aux image type, company."""

    id: int | str | None = None
    name: str | None = None
    tech_name: str | None = None


class ImageType(NamedRef):
    """An image type (selfie 1, skin 2, visia 3) with its sides and lights."""

    sides: list[NamedRef] = Field(default_factory=list)
    lights: list[NamedRef] = Field(default_factory=list)


class AlgorithmFamily(NamedRef):
    """The family of an algorithm version, e.g. ``{"id": 3, "name": "Redness"}``."""


class AlgorithmInfo(ApiModel):
    """One item of ``GET /api/v1/dicts/algorithms/``."""

    id: int
    tech_name: str | None = None
    version: str | None = None
    algorithm_family: AlgorithmFamily | None = None


class AlgorithmVersionRef(ApiModel):
    """An algorithm version listed by an application."""

    id: int
    name: str | None = None
    tech_name: str | None = None


class Application(ApiModel):
    """An algorithm application such as Face Skin Metrics 2.0."""

    id: str
    name: str | None = None
    tech_name: str | None = None
    description: str | None = None
    creation_time: ApiTime | None = None
    image_type: ImageType | None = None
    algorithms_versions: list[AlgorithmVersionRef] = Field(default_factory=list)


class ApplicationRun(ApiModel):
    """An application attached to a dataset, with its enabled algorithm ids."""

    id: str
    application_id: str | None = None
    dataset_id: str | None = None
    enabled_algorithms: list[int] = Field(default_factory=list)
    creation_time: ApiTime | None = None


class Dataset(ApiModel):
    """A dataset: where images go in, with its image type and retention settings."""

    id: str
    name: str
    company_id: str | None = None
    image_type: ImageType | None = None
    image_type_id: int | None = None
    expire_images_after_days: int | None = None
    expire_metadata_after_days: int | None = None
    clean_images_as_soon_as_ready: bool | None = None
    connected_applications: list[Any] = Field(default_factory=list)


# --- subjects, batches, images ------------------------------------------------------------


class Subject(ApiModel):
    """A subject: one end user whose captures are uploaded as batches."""

    id: str
    name: str
    creation_time: ApiTime | None = None
    birth_date: str | None = None
    biological_sex: Any = None
    meta: Any = None
    author_id: int | None = None
    company: NamedRef | None = None
    dataset: NamedRef | None = None


class Batch(ApiModel):
    """An image batch: one capture session (1 front image, or front/right/left)."""

    id: str
    creation_time: ApiTime | None = None
    subject_id: str | None = None


class Image(ApiModel):
    """An uploaded image (``urls`` may hold signed URLs: strip them before storing)."""

    id: str
    name: str | None = None
    side: NamedRef | None = None
    light: NamedRef | None = None
    side_id: int | None = None
    light_id: int | None = None
    creation_time: ApiTime | None = None
    image_batch_id: str | None = None
    urls: UrlMap = Field(default_factory=dict, repr=False)


class Webhook(ApiModel):
    """A dataset's webhook destination; its authorization value and secret key are secrets."""

    id: str | int | None = None
    url: str
    authorization: str | None = None
    authorization_key: str | None = None
    authorization_value: SecretStr | None = None
    method: str | None = None
    enabled: bool | None = None
    secret_key: SecretStr | None = None
