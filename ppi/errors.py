"""Errors that mean "the user's input is wrong", as opposed to a bug.

The CLI turns every :class:`InputError` into one line on stderr and exit code 2.
"""

from __future__ import annotations


class InputError(ValueError):
    """Bad user input: a file, a record, a config key or a value.

    The message must say where (file, line or record), what was expected and
    what came instead.
    """


class ConfigError(InputError):
    """A config key that does not exist or a value that is not allowed."""


class WeightsError(InputError):
    """Pretrained weights that cannot be found or loaded."""
