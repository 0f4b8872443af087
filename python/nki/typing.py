"""nki.typing: shape annotations for kernel parameters, checked when the kernel is called."""
import inspect

from . import _errors
from ._errors import NkiValidationError


class _Shaped:
    def __init__(self, shape):
        self.shape = tuple(shape)

    def __repr__(self):
        return f"nt.tensor[{', '.join(map(str, self.shape))}]"


class tensor:
    """`nt.tensor[128, 512]` declares the expected shape of a tensor argument."""

    def __class_getitem__(cls, shape):
        return _Shaped(shape if isinstance(shape, tuple) else (shape,))


mutable_tensor = tensor


def check_annotations(func, args, kwargs):
    try:
        sig = inspect.signature(func)
        bound = sig.bind_partial(*args, **kwargs)
    except (TypeError, ValueError):
        return
    for name, value in bound.arguments.items():
        ann = sig.parameters[name].annotation
        if isinstance(ann, _Shaped) and hasattr(value, "shape"):
            want, got = ann.shape, tuple(value.shape)
            ok = len(want) == len(got) and all(not isinstance(w, int) or w == g
                                               for w, g in zip(want, got))
            if not ok:
                _errors.fail(NkiValidationError,
                             f"kernel {func.__name__}: argument '{name}' has shape {got} but is "
                             f"annotated {ann!r}")
