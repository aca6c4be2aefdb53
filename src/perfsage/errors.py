"""One error family: the CLI turns any `PerfsageError` into a one-line message and exit code 2."""

from __future__ import annotations


class PerfsageError(Exception):
    """Base of every error a user can cause (bad input, bad option); never a bug."""


class ModelFormatError(PerfsageError):
    """The file is not a readable TFLite model (missing, truncated, corrupt, not a flatbuffer)."""


class UnsupportedModelError(PerfsageError):
    """The file is a valid TFLite model that this part of perfsage cannot handle."""
