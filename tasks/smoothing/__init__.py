"""Smoothing: the lake's own smoothed scores, the API's ``smoothed_results``, and their match.

:func:`local_smoothed` computes smoothed scores with the lake's DuckDB macros
(:mod:`~tasks.smoothing.local`); :func:`smoothed_rows` turns the API's answer for one image into
rows of the ``smoothed_results`` table (:mod:`~tasks.smoothing.rows`); :mod:`~tasks.smoothing.pull`
reads them from the API and :mod:`~tasks.smoothing.compare` sets the two side by side.

The package itself holds only the light settings: the CLI reads them for its help, and
importing the lake (DuckDB, pandas) for ``hautflow --help`` would cost seconds.
"""

from tasks.smoothing.settings import Smoothing, SmoothingMethod

__all__ = ["Smoothing", "SmoothingMethod"]
