"""Smoothing computed from the lake alone, by the DuckDB macros of :mod:`schemas.views`.

The macros reproduce the API's ``smoothed_results`` (reference §13.12) from the face scores the
lake already holds, so analysts can smooth with any method, window and sample size without
asking the API, and :mod:`tasks.smoothing.compare` can check one against the other.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tasks.smoothing.settings import Smoothing, method_named

if TYPE_CHECKING:
    import duckdb
    import pandas as pd

LOCAL_COLUMNS = (
    "image_id",
    "subject_id",
    "subject_key",
    "session_key",
    "side",
    "captured_at",
    "algorithm_family",
    "algorithm",
    "value",
    "smoothed",
    "sample_size",
)
"""The columns of :func:`local_smoothed`, in order."""

_SQL = f"""
SELECT {", ".join(LOCAL_COLUMNS)}
FROM smoothing_for($subject, $method, $window_days, $max_size)
ORDER BY subject_key, captured_at, side, algorithm_family, image_id
"""  # noqa: S608 (constant column names; the arguments are bound parameters)


def local_smoothed(
    con: duckdb.DuckDBPyConnection,
    *,
    method: str = "mean",
    window_days: int = 14,
    max_size: int = 10,
    subject_key: str | None = None,
) -> pd.DataFrame:
    """Every image x smoothable family of the lake (or of one subject), smoothed as the API does.

    ``con`` comes from :func:`tasks.lake.query.connect` (the macros are installed with the
    views). Columns: :data:`LOCAL_COLUMNS`; ``value`` is the image's own face score,
    ``smoothed`` the unrounded smoothed value (the API rounds it half up), ``sample_size`` the
    number of images whose score went into it (before outlier removal). Oldest first.
    """
    settings = Smoothing(method_named(method), window_days, max_size)
    params = {
        "subject": subject_key,
        "method": settings.method.value,
        "window_days": settings.window_days,
        "max_size": settings.max_size,
    }
    return con.execute(_SQL, params).df()
