"""Exception classes (defined by nki._core) and how errors point at the kernel's source line."""
import linecache
import os
import sys
import warnings

from . import _core

NkiValidationError = _core.NkiValidationError
NkiOutOfBoundsError = _core.NkiOutOfBoundsError
NkiAllocationError = _core.NkiAllocationError
NkiUnsupportedError = _core.NkiUnsupportedError
NkiUninitializedReadError = _core.NkiUninitializedReadError
NkiTypeError = _core.NkiTypeError
NkiLaunchAbortedError = _core.NkiLaunchAbortedError
NkiRaceError = _core.NkiRaceError
NkiRaceWarning = _core.NkiRaceWarning
_Notice = _core._UninitializedReadNotice
ERRORS = (NkiValidationError, NkiUnsupportedError, _Notice)


class NkiUninitializedReadWarning(UserWarning):
    """An instruction read an on-chip tensor that no instruction has written (NKI_SIM_UNINIT=warn)."""

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
    """Re-raise `e` with the kernel source line appended (once). A notice (the instruction ran,
    but read uninitialized memory) becomes a warning instead."""
    msg = str(e)
    if isinstance(e, _Notice):
        loc = where(3)
        warnings.warn_explicit(NkiUninitializedReadWarning(f"{msg}\n  at {loc}" if loc else msg),
                               NkiUninitializedReadWarning, *_file_line(3))
        return
    if "\n  at " not in msg:
        loc = where(3)
        if loc:
            msg = f"{msg}\n  at {loc}"
    raise type(e)(msg) from None


def _file_line(depth):
    f = user_frame(depth + 1)
    return (f.f_code.co_filename, f.f_lineno) if f is not None else ("<nki>", 0)


def fail(cls, msg):
    loc = where(3)
    raise cls(f"{msg}\n  at {loc}" if loc else msg)


def _locate():
    """For the simulator core: the kernel line of the instruction being executed."""
    return where(2)


def _warn_uninit(msg):
    """For the simulator core: an instruction read unwritten memory (NKI_SIM_UNINIT=warn)."""
    loc = where(2)
    warnings.warn_explicit(NkiUninitializedReadWarning(f"{msg}\n  at {loc}" if loc else msg),
                           NkiUninitializedReadWarning, *_file_line(2))


_core.set_hooks(_locate, _warn_uninit)
