"""The base of attrmer's user-facing errors, and how a stage script reports them.

An `AttrmerError` is a problem the user can fix (a bad parameter, a malformed sheet, a missing
store); its message names the file, row or key. Stage scripts print it on one line and exit
non-zero instead of showing a traceback; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable

# The exit statuses of every attrmer command and stage: one table (`EXIT_CODES_HELP`, printed
# by each command's --help and by `attrmer --help`).
EXIT_OK = 0
EXIT_DATA = 1  # bad input or data: the message names the file, row, key or setting
EXIT_USAGE = 2  # an unknown option or a bad option value (argparse's own status)
EXIT_MODEL = 3  # a model or resource is missing, incomplete or from an incompatible version
EXIT_OUTPUT = 4  # cannot write: an output folder attrmer does not own, or a failed write
# Stopped by Ctrl-C or SIGTERM (128 + SIGINT, as shells report it).
EXIT_INTERRUPTED = 130

EXIT_CODES_HELP = f"""\
exit codes (the same for every attrmer command):
  {EXIT_OK}    done
  {EXIT_DATA}    bad input or data: a file, row, key or setting, named on one line (predict and
       spot: a clip that cannot be read; predict still answers for the others)
  {EXIT_USAGE}    usage: an unknown option or a bad option value
  {EXIT_MODEL}    a model or resource is missing, incomplete or from an incompatible version
  {EXIT_OUTPUT}    cannot write: an output folder holds files attrmer did not write (nothing
       changed; --force overrides), or a file could not be written
  {EXIT_INTERRUPTED}  interrupted (Ctrl-C, SIGTERM): files are written whole or not at all
"""


class AttrmerError(Exception):
    """A problem with the input or the configuration, explained by its message."""


def run_reporting_errors(stage: str, action: Callable[[], object]) -> int:
    """Run `action`; print an AttrmerError (or a missing file) as `stage: message`, exit 1;
    an interruption (Ctrl-C, SIGTERM) as `stage: interrupted`, exit EXIT_INTERRUPTED. Outputs
    are written atomically, so an interrupted stage leaves none of them half-written."""
    with interruptible():
        try:
            action()
        except (AttrmerError, FileNotFoundError) as exc:
            print(f"{stage}: {exc}", file=sys.stderr)
            return EXIT_DATA
        except KeyboardInterrupt:
            print(f"{stage}: interrupted; nothing it was writing was left half-written"
                  + INTERRUPTED_NOTES.get(stage, ""), file=sys.stderr)
            return EXIT_INTERRUPTED
    return 0


# What an interrupted stage keeps, for its one line.
INTERRUPTED_NOTES = {
    "train": "; finished (seed, fold) trainings are kept in checkpoints/ and the next run "
             "takes them up",
}


class interruptible:
    """SIGTERM handled as Ctrl-C (a KeyboardInterrupt) inside the block, in the main thread,
    so that `dvc exp` cancelling a stage and a user pressing Ctrl-C end it the same way."""

    def __enter__(self) -> interruptible:
        import threading

        self._previous = None
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGTERM, _raise_interrupt)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGTERM, self._previous)


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt
