"""NKIObject: the base class of user classes used in kernels, with NKI 0.3.0's class semantics.

NKI 0.3.0 treats every NKIObject subclass like a data class whether or not it carries
`@dataclass`: when the class body defines no `__init__`, one is synthesised that takes every
class field positionally or by keyword (annotated fields in annotation order, then the
unannotated class attributes in body order; a missing argument takes the class default, else
None) and then calls `__post_init__`. A user `@dataclass(...)` decorator keeps its own meaning
(frozen, eq, order, field order): the class is never turned into a dataclass behind the user's
back. The synthesised constructor is chosen when the class is first instantiated, after every
decorator has run:

- the class (or an NKIObject base) defines `__init__` in its body: that `__init__` is used;
- the class is a dataclass: the dataclass `__init__` is used, with NKI's defaults: a field
  without a default that is not passed is None (nki-library builds such configs without every
  field), and the unannotated class attributes the dataclass does not know are accepted too
  (e.g. `@dataclass class P(NKIObject): idx = None`; `P(idx=1)`);
- otherwise: the synthesised constructor described above.
"""
import dataclasses as _dc
import inspect as _inspect


def _data_attributes(klass):
    """Unannotated class attributes of `klass` that act as fields (not methods or descriptors)."""
    ann = klass.__dict__.get("__annotations__", {})
    out = []
    for name, value in klass.__dict__.items():
        if name.startswith("__") or name in ann or name.startswith("_nki_"):
            continue
        if callable(value) or isinstance(value, (classmethod, staticmethod, property, type)):
            continue
        if _inspect.isdatadescriptor(value) or _inspect.ismethoddescriptor(value):
            continue
        out.append(name)
    return out


def _chain(cls):
    """The NKIObject subclasses of cls's MRO, base first (NKIObject itself excluded)."""
    return [k for k in reversed(cls.__mro__) if isinstance(k, _NKIObjectMeta) and k is not NKIObject]


def _is_classvar(annotation):
    text = annotation if isinstance(annotation, str) else repr(annotation)
    return "ClassVar" in text


def _plan(cls):
    """How instances of cls are built: ('user', None) | ('dataclass', (init field names, names
    without a default, unannotated extras)) | ('synth', [(field name, default)])."""
    chain = _chain(cls)
    if any(k.__dict__.get("_nki_user_init") for k in chain):
        return ("user", None)
    if _dc.is_dataclass(cls):
        fields = [f for f in _dc.fields(cls) if f.init]
        known = {f.name for f in _dc.fields(cls)}
        extras = []
        for k in chain:
            for n in _data_attributes(k):
                if n not in known and n not in extras:
                    extras.append(n)
        # Fields without a default: NKI's initializer defaults them to None.
        required = [f.name for f in fields
                    if f.default is _dc.MISSING and f.default_factory is _dc.MISSING]
        return ("dataclass", ([f.name for f in fields], required, extras))
    fields = {}
    for k in chain:
        for n, a in k.__dict__.get("__annotations__", {}).items():
            if not _is_classvar(a):
                fields[n] = None
        for n in _data_attributes(k):
            fields.setdefault(n, None)
    return ("synth", [(n, getattr(cls, n, None)) for n in fields])


class _NKIObjectMeta(type):
    def __call__(cls, *args, **kwargs):
        plan = cls.__dict__.get("_nki_plan")
        if plan is None:
            plan = _plan(cls)
            type.__setattr__(cls, "_nki_plan", plan)
        kind, spec = plan
        if kind == "user":
            return super().__call__(*args, **kwargs)
        if kind == "dataclass":
            init_names, required, spec = spec
            n_init = len(init_names)
            given = set(init_names[:len(args)]) | set(kwargs)
            for name in required:
                if name not in given:
                    kwargs[name] = None
            if not spec:
                return super().__call__(*args, **kwargs)
            extra = {}
            for name, value in zip(spec, args[n_init:]):
                extra[name] = value
            if len(args) > n_init + len(spec):
                raise TypeError(f"{cls.__name__}() takes at most {n_init + len(spec)} positional "
                                f"arguments but {len(args)} were given")
            for name in spec:
                if name in kwargs:
                    if name in extra:
                        raise TypeError(f"{cls.__name__}() got multiple values for argument '{name}'")
                    extra[name] = kwargs.pop(name)
            obj = super().__call__(*args[:n_init], **kwargs)
            for name, value in extra.items():
                object.__setattr__(obj, name, value)
            return obj
        names = [n for n, _ in spec]
        if len(args) > len(names):
            raise TypeError(f"{cls.__name__}() takes at most {len(names)} positional arguments "
                            f"but {len(args)} were given")
        values = dict(zip(names, args))
        for k, v in kwargs.items():
            if k not in names:
                raise TypeError(f"{cls.__name__}() got an unexpected keyword argument '{k}'; its "
                                f"fields are: {', '.join(names) or '(none)'}")
            if k in values:
                raise TypeError(f"{cls.__name__}() got multiple values for argument '{k}'")
            values[k] = v
        obj = cls.__new__(cls)
        for name, default in spec:
            object.__setattr__(obj, name, values.get(name, default))
        post = getattr(obj, "__post_init__", None)
        if post is not None:
            post()
        return obj


class NKIObject(metaclass=_NKIObjectMeta):
    """Base class of user classes used in kernels (data-class semantics, see nki._object)."""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        # Seen before any decorator runs: was __init__ written in the class body?
        type.__setattr__(cls, "_nki_user_init", "__init__" in cls.__dict__)

    def __repr__(self):
        fields = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({fields})"
