"""The errors discovery raises: only for a source or manifest that cannot be used at all.

Bad files never raise; they are quarantined. These errors name what was given and the fix.
"""

from __future__ import annotations

from schemas.errors import HautflowError


class DiscoveryError(HautflowError):
    """Discovery cannot start: the source or the manifest itself is unusable."""


class SourceError(DiscoveryError):
    """The source folder does not exist, is a file, or cannot be listed."""


class ManifestError(DiscoveryError):
    """The manifest cannot be read or lacks a required column."""
