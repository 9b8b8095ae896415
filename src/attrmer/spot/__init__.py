"""Finding expressions in time: a per-frame facial-motion signal of an aligned clip, and the
onset–apex–offset window it implies (`attrmer predict --window auto`)."""

from attrmer.spot.signal import MotionSignal, Window, find_window, motion_signal

__all__ = ["MotionSignal", "Window", "find_window", "motion_signal"]
