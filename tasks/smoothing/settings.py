"""What a smoothing is asked for: the method, the window in days and the sample's maximum size.

The API's ``smoothed_results`` takes these three as ``smoothing_method``, ``sample_time_window``
and ``sample_max_size`` (reference §13.12); the lake's macros take the same three, so a local
and an API value are comparable exactly when their settings are equal.
"""

from __future__ import annotations

from dataclasses import dataclass

from schemas.api_results import SmoothingMethod as SmoothingMethod  # its home: schemas/

DEFAULT_WINDOW_DAYS = 14
DEFAULT_MAX_SIZE = 10


def method_named(name: str) -> SmoothingMethod:
    """The method called ``name``; a ValueError naming the choices otherwise."""
    try:
        return SmoothingMethod(name)
    except ValueError:
        choices = ", ".join(m.value for m in SmoothingMethod)
        raise ValueError(f"no smoothing method {name!r}; choose one of: {choices}") from None


@dataclass(frozen=True)
class Smoothing:
    """One setting of smoothed_results: method, window (days back) and max sample size."""

    method: SmoothingMethod = SmoothingMethod.MEAN
    window_days: int = DEFAULT_WINDOW_DAYS
    max_size: int = DEFAULT_MAX_SIZE

    def __post_init__(self) -> None:
        object.__setattr__(self, "method", method_named(str(self.method)))
        if self.window_days < 1 or self.max_size < 1:
            raise ValueError(
                f"window_days ({self.window_days}) and max_size ({self.max_size}) must both be "
                "at least 1, as the API requires"
            )

    def __str__(self) -> str:
        return f"{self.method.value}, {self.window_days} days, at most {self.max_size} images"
