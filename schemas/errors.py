"""The root of hautflow's own errors.

Every error the pipeline defines (the client's :class:`~haut.errors.HautError` tree, discovery,
the ledger, the lake, the operations, the settings, the flows) derives from
:class:`HautflowError`, so one ``except HautflowError`` tells the pipeline's failures apart from
a bug or a library's error. Each keeps the built-in base it had (``ValueError``,
``RuntimeError``), so existing ``except`` clauses still catch it. It lives here, in the lowest
layer, because every other layer may import it.
"""

from __future__ import annotations


class HautflowError(Exception):
    """Base of every error hautflow defines; the message says what failed and how to fix it."""
