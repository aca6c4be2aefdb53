"""Entry point: runs the typer app and turns every user-caused error into one line on stderr + exit 2."""

from __future__ import annotations

import os
import sys

from perfsage.errors import PerfsageError


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; usage errors are typer's (exit 2), `PerfsageError`s one line + exit 2."""
    from perfsage.cli.app import app

    try:
        app(args=argv, prog_name="perfsage")
    except PerfsageError as e:
        print(f"perfsage: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("perfsage: interrupted", file=sys.stderr)
        return 130
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except Exception as e:  # a bug, not bad input: still one line unless asked for the traceback
        if os.environ.get("PERFSAGE_DEBUG"):
            raise
        print(f"perfsage: internal error: {type(e).__name__}: {e} (set PERFSAGE_DEBUG=1 for a traceback)",
              file=sys.stderr)
        return 1
    return 0


def run() -> None:
    sys.exit(main())
