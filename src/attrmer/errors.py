"""The base of attrmer's user-facing errors, and how a stage script reports them.

An `AttrmerError` is a problem the user can fix (a bad parameter, a malformed sheet, a missing
store); its message names the file, row or key. Stage scripts print it on one line and exit
non-zero instead of showing a traceback; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Callable


class AttrmerError(Exception):
    """A problem with the input or the configuration, explained by its message."""


def run_reporting_errors(stage: str, action: Callable[[], object]) -> int:
    """Run `action`; print an AttrmerError (or a missing file) as `stage: message`, exit 1."""
    try:
        action()
    except (AttrmerError, FileNotFoundError) as exc:
        print(f"{stage}: {exc}", file=sys.stderr)
        return 1
    return 0
