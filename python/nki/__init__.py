"""nki: run NKI 0.3.0 kernels on the nkisim CPU simulator.

    import nki, nki.language as nl, nki.isa as nisa
    out = nki.simulate(kernel)(a, b)      # or NKI_SIMULATOR=1 and call kernel(a, b)
"""
import atexit as _atexit
import os as _os

from . import _core  # noqa: F401  (the C++ simulator)

# The first launch's SBUF is faulted in on a background thread while the program imports the rest
# (NKI_SIM_PREWARM=0 turns it off); joined before fork and at exit.
if _os.environ.get("NKI_SIM_PREWARM", "1") != "0":
    _core.prewarm_start()
    _atexit.register(_core.prewarm_wait)
    _os.register_at_fork(before=_core.prewarm_wait)
from . import isa, language, typing, collectives, dtype  # noqa: F401
from ._kernel import Kernel, NkiPreciseFpWarning, jit, simulate, last_launch  # noqa: F401
from ._profile import Profile, last_profile, observe  # noqa: F401
from .language import NKIObject  # noqa: F401
from ._cpu_simulate import cpu_simulate  # noqa: F401

isa._finish(language)

__version__ = "0.3.0"
