"""The one error of the operations: something the user asked cannot be done as asked."""

from __future__ import annotations

from schemas.errors import HautflowError


class OperationError(HautflowError, RuntimeError):
    """A request the user fixes; the message names the thing and the fix, so the command line
    prints it without a traceback."""
