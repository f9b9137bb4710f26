"""Exceptions that carry a message a user can act on.

Every error raised for bad input says what was wrong and what to fix; the command line prints
it as one line on stderr and exits non-zero, and the Slicer modules show it in a dialog.
"""


class HititError(Exception):
    """Base class of the errors HITIT raises on purpose."""


class InputError(HititError, ValueError):
    """A file, parameter or image that cannot be used as given (what to fix is in the message)."""


class GeometryError(InputError):
    """Images or masks whose physical grids do not fit together."""
