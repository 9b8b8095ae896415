"""The one error type of a bad parameter."""

from __future__ import annotations

from attrmer.errors import AttrmerError


class ConfigError(AttrmerError, ValueError):
    """A parameter is unknown, of the wrong type or out of range; the message names the key."""

