"""Preparing clips in a second process while this one loads torch and the networks.

A cold `attrmer predict` spends about as long importing torch and loading the networks as it
does loading dlib's models and preparing the clip (decode, alignment, window, TIM, flow), and
neither needs the other: only the networks need torch, only the preparation needs dlib. On
Linux, before torch is imported, `PreparingAhead` forks a child that prepares the clips with
its own `ClipPreparer` and sends them back through a pipe; the parent loads the networks
meanwhile. The child computes exactly what the parent would (the same functions on the same
frames), so the answer does not depend on where the clips were prepared.

Where forking is not safe or not available (torch already imported, as in a test run or a
notebook, whose threads a fork would copy mid-flight; not Linux), when the caller declines
(many clips: the second ahead is worth nothing there, and every prepared clip would be held
twice while it is sent back), or when the child dies, the work runs here instead, as it always
did. Not for batch preprocessing (the pipeline's stages).
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import pickle
import signal
import sys
import threading
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any, Generic, TypeVar

from attrmer.modelfile import ModelSettings
from attrmer.predict.predictor import ClipPreparer

Result = TypeVar("Result")


def can_prepare_ahead() -> bool:
    """Whether a fork is safe here: Linux, one thread, and no torch in this process (a fork
    copies no thread but the caller's, and torch's thread pools would be left half-made)."""
    return (sys.platform.startswith("linux") and "torch" not in sys.modules
            and threading.active_count() == 1
            and "fork" in multiprocessing.get_all_start_methods())


class PreparingAhead(Generic[Result]):
    """`with PreparingAhead(settings, work) as ahead: ...; ahead.result(preparer)`: the
    result of `work(preparer)`, computed in a forked child from the start of the block when
    `can_prepare_ahead()`, else (or when the child is lost) here, with `preparer`."""

    def __init__(self, settings: ModelSettings, work: Callable[[ClipPreparer], Result], *,
                 enabled: bool = True) -> None:
        self.settings = settings
        self.work = work
        self.enabled = enabled
        self.running = False  # a child is preparing
        self._process: Any = None
        self._receiver: Connection | None = None

    def __enter__(self) -> PreparingAhead[Result]:
        if self.enabled and can_prepare_ahead():
            context = multiprocessing.get_context("fork")
            self._receiver, sender = context.Pipe(duplex=False)
            self._process = context.Process(target=_prepare_in_child,
                                            args=(sender, self.settings, self.work),
                                            daemon=True)
            self._process.start()
            sender.close()
            self.running = True
        return self

    def result(self, preparer: ClipPreparer) -> Result:
        if self.running:
            assert self._receiver is not None
            self.running = False
            try:
                outcome, value = self._receiver.recv()
            except (EOFError, OSError):
                outcome, value = "lost", None
            self._process.join()
            if outcome == "done":
                return value
            if outcome == "failed":
                raise value
        # Here: dlib's models load before the first clip, as when the child does the work.
        preparer.warm_up()
        return self.work(preparer)

    def __exit__(self, *exc: object) -> None:
        # A block left early (a model that does not load) stops the child.
        if self._process is not None and self._process.is_alive():
            self._process.terminate()
            self._process.join()


def _prepare_in_child(sender: Connection, settings: ModelSettings,
                      work: Callable[[ClipPreparer], Any]) -> None:
    _end_with_parent()
    try:
        preparer = ClipPreparer(settings)
        preparer.warm_up()  # as the in-process Predictor does: not billed to the first clip
        sender.send(("done", work(preparer)))
    except BaseException as exc:
        sender.send(("failed", _sendable(exc)))
    finally:
        sender.close()
        # Leave without the parent's exit handlers, and without flushing output buffers the
        # fork copied (the parent writes them).
        os._exit(0)


def _end_with_parent() -> None:
    """Ask Linux to stop this child when its parent dies (a killed `predict` must not leave
    a long video being prepared); stop at once if the parent is already gone."""
    parent = os.getppid()
    # The parent's "SIGTERM as Ctrl-C" (attrmer.errors.interruptible) is not the child's: on
    # the parent's death it just stops.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:
        os._exit(1)


def _sendable(exc: BaseException) -> BaseException:
    """The exception itself when it pickles (so the parent raises what preparing in-process
    would have raised), else a RuntimeError carrying its traceback."""
    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:
        return RuntimeError(f"preparing the clips failed:\n{traceback.format_exc()}")
