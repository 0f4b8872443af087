"""Exception classes (defined by nki._core) and how errors point at the kernel's source line."""
import linecache
import os
import sys

from . import _core

NkiValidationError = _core.NkiValidationError
NkiOutOfBoundsError = _core.NkiOutOfBoundsError
NkiAllocationError = _core.NkiAllocationError
NkiUnsupportedError = _core.NkiUnsupportedError
ERRORS = (NkiValidationError, NkiUnsupportedError)

_PKG = os.path.dirname(os.path.abspath(__file__)) + os.sep


def user_frame(depth=1):
    """The innermost frame outside the nki package (the kernel line that called us)."""
    f = sys._getframe(depth)
    while f is not None and f.f_code.co_filename.startswith(_PKG):
        f = f.f_back
    return f


def where(depth=2):
    f = user_frame(depth)
    if f is None:
        return ""
    src = linecache.getline(f.f_code.co_filename, f.f_lineno).strip()
    return f"{f.f_code.co_filename}:{f.f_lineno} in {f.f_code.co_name}: {src}"


def reraise(e):
    """Re-raise `e` with the kernel source line appended (once)."""
    msg = str(e)
    if "\n  at " not in msg:
        loc = where(3)
        if loc:
            msg = f"{msg}\n  at {loc}"
    raise type(e)(msg) from None


def fail(cls, msg):
    loc = where(3)
    raise cls(f"{msg}\n  at {loc}" if loc else msg)
