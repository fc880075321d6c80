"""The operations tests' emulator: the uploading tests' (no delay, no rate limit worth the name)."""

from tests.tasks.upload_support import emulator

__all__ = ["emulator"]
