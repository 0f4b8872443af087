"""nki.cpu_simulate: the entry point nki-library's test harness calls in simulation mode.

    nki.cpu_simulate(kernel)[lnc](**inputs)     # or nki.cpu_simulate(kernel)(*args)

`kernel` is an nki.jit kernel or a plain function. When NKI_NC_VERSION (gen2, gen3 or gen4) is set
it selects the simulated target for the launch, as NEURON_PLATFORM_TARGET_OVERRIDE does otherwise.
"""
import os

from . import _core
from ._errors import NkiValidationError
from ._kernel import Kernel, simulate

_TARGET_ENV = "NEURON_PLATFORM_TARGET_OVERRIDE"


def _nc_version_target():
    v = os.environ.get("NKI_NC_VERSION", "").strip()
    if not v:
        return None
    try:
        return _core.target_info(v)["name"]
    except Exception as e:  # the C++ message lists the accepted names
        raise NkiValidationError(f"NKI_NC_VERSION={v!r}: {e}") from None


class cpu_simulate:
    """cpu_simulate(kernel)[lnc](*args, **kwargs) runs kernel on the simulator with LNC=lnc."""

    def __init__(self, kernel, lnc=None):
        self.kernel = kernel if isinstance(kernel, Kernel) else Kernel(kernel)
        self.lnc = lnc

    def __getitem__(self, lnc):
        return cpu_simulate(self.kernel, lnc)

    def __call__(self, *args, **kwargs):
        k = self.kernel if self.lnc is None else self.kernel[self.lnc]
        target = _nc_version_target()
        if target is None:
            return simulate(k)(*args, **kwargs)
        saved = os.environ.get(_TARGET_ENV)
        os.environ[_TARGET_ENV] = target
        try:
            return simulate(k)(*args, **kwargs)
        finally:
            if saved is None:
                os.environ.pop(_TARGET_ENV, None)
            else:
                os.environ[_TARGET_ENV] = saved
