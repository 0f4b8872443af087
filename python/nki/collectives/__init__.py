"""nki.collectives: multi-rank communication. Not simulated yet: every call says so."""
from .._errors import NkiUnsupportedError as _Unsupported
from .._object import NKIObject  # noqa: F401  (the same class as nki.language.NKIObject)


class ReplicaGroup(NKIObject):
    """Groups of ranks taking part in a collective."""

    def __init__(self, groups):
        self.groups = [list(g) for g in groups]


def _absent(name):
    def f(*args, **kwargs):
        raise _Unsupported(f"nki.collectives.{name} is not implemented by nkisim yet: "
                           "multi-rank collectives are not simulated")
    f.__name__ = f.__qualname__ = name
    return f


for _n in ["all_reduce", "all_gather", "reduce_scatter", "all_to_all", "all_to_all_v",
           "collective_permute", "collective_permute_implicit", "collective_permute_implicit_reduce",
           "collective_permute_implicit_current_processing_rank_id", "rank_id"]:
    globals()[_n] = _absent(_n)
del _n
