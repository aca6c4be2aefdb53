"""One model from a space, sampled or from a user-given architecture, with a clear error if it is bad."""

from __future__ import annotations

import json

from perfsage.errors import PerfsageError
from perfsage.spaces.base import ArchSpec, Space


def synthesise(space: Space, seed: int, arch: str | None = None) -> tuple[ArchSpec, bytes]:
    if arch is None:
        return space.synth(seed)
    try:
        spec = space.parse_arch(arch)
    except json.JSONDecodeError as e:
        raise PerfsageError(f"--arch for {space.name} must be JSON (as `synth --json` prints it): {e}") from None
    try:
        return spec, space.build(spec, seed)
    except PerfsageError:
        raise
    except (KeyError, TypeError, ValueError, IndexError, AttributeError, ZeroDivisionError) as e:
        raise PerfsageError(f"invalid --arch for {space.name}: {type(e).__name__}: {e}") from None
