"""Discovery: from a source folder (or a manifest CSV) to captures ready to upload.

Lists any fsspec folder (:mod:`~tasks.discovery.listing`), reads the folder layout
``<subject>/<session>/<side>.<ext>`` or a manifest (:mod:`~tasks.discovery.layout`,
:mod:`~tasks.discovery.manifest`), checks every photo once and dates it
(:mod:`~tasks.discovery.image_file`, :mod:`~tasks.discovery.capture_time`), and groups photos
into captures (:mod:`~tasks.discovery.sessions`); every file it cannot use is quarantined with a
reason and a fix. :func:`discover` is the entry point; it raises only when the source or the
manifest itself cannot be used (:class:`DiscoveryError` and its subclasses).
"""

from tasks.discovery.discover import discover
from tasks.discovery.errors import DiscoveryError, ManifestError, SourceError
from tasks.discovery.layout import DEFAULT_LAYOUT, DEFAULT_SIDE_WORDS, FolderLayout, SideWords

__all__ = [
    "DEFAULT_LAYOUT",
    "DEFAULT_SIDE_WORDS",
    "DiscoveryError",
    "FolderLayout",
    "ManifestError",
    "SideWords",
    "SourceError",
    "discover",
]
