"""The data a finding carries for its quick fix: one small frozen dataclass per shape (frozen by its base).

``core/codes.py`` records, per code, which class its findings carry (``data=`` on the row); a finding
of that code has an instance of it or ``None``. The LSP layer sends ``to_json(data)`` as the
diagnostic's ``data`` (plus the code) and rebuilds the class with ``from_json(code, payload)``.
A field marked ``_omit()`` is left out of the JSON when it is None (the key was absent before the
data was typed, and the wire format stays as it was).
"""

from __future__ import annotations

from dataclasses import MISSING, FrozenInstanceError, asdict, dataclass, field, fields
from typing import Any


def _omit() -> Any:
    return field(default=None, metadata={"omit_none": True})


# Every shape is ``@dataclass(init=False, eq=False, repr=False)``: its fields (``fields``, ``asdict``, ``replace``),
# and the base's one generic __init__, __eq__, __hash__, __repr__ and frozen __setattr__ / __delattr__, the
# methods the dataclass would generate. A generated method is an exec() per class and method at import: 6 per
# frozen shape made this module a tenth of a `check`'s start-up.
@dataclass(init=False, eq=False, repr=False)
class FixData:
    """Base of every shape (lets the registry check a code's type). Frozen: a field cannot be assigned."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        cls = type(self)
        shape = _shape(cls)
        if len(args) > len(shape):
            raise TypeError(f"{cls.__name__}() takes {len(shape)} arguments but {len(args)} were given")
        for name in kwargs:
            if not any(name == known for known, _, _ in shape):
                raise TypeError(f"{cls.__name__}() got an unexpected keyword argument {name!r}")
        for i, (name, default, factory) in enumerate(shape):
            if i < len(args):
                if name in kwargs:
                    raise TypeError(f"{cls.__name__}() got multiple values for argument {name!r}")
                value = args[i]
            elif name in kwargs:
                value = kwargs[name]
            elif default is not MISSING:
                value = default
            elif factory is not MISSING:
                value = factory()
            else:
                raise TypeError(f"{cls.__name__}() missing required argument: {name!r}")
            object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value: Any) -> None:
        raise FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise FrozenInstanceError(f"cannot delete field {name!r}")

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return _values(self) == _values(other)

    def __hash__(self) -> int:
        return hash(_values(self))

    def __repr__(self) -> str:
        return f"{self.__class__.__qualname__}({', '.join(f'{f.name}={getattr(self, f.name)!r}' for f in fields(self))})"


_SHAPES: dict[type, tuple] = {}


def _shape(cls: type) -> tuple:
    """(name, default, default_factory) of each field of the shape ``cls``, in order."""
    shape = _SHAPES.get(cls)
    if shape is None:
        shape = _SHAPES[cls] = tuple((f.name, f.default, f.default_factory) for f in fields(cls))
    return shape


def _values(data: FixData) -> tuple:
    return tuple(getattr(data, name) for name, _, _ in _shape(type(data)))


# --- 1xx structure ------------------------------------------------------------------------------
@dataclass(init=False, eq=False, repr=False)
class MissingPart(FixData):
    missing: str  # the Kind value of the missing part
    style: str  # "decorator" | "legacy": the style of the project, for the stub


@dataclass(init=False, eq=False, repr=False)
class FunctionKind(FixData):
    function: str | None
    kind: str


@dataclass(init=False, eq=False, repr=False)
class NameKind(FixData):
    name: str | None
    kind: str


@dataclass(init=False, eq=False, repr=False)
class UndefinedName(FixData):
    name: str
    suggestion: str | None = _omit()  # the defined name it is a slip of ("did you mean")
    imports: str | None = _omit()  # the import statement that binds it (or the suggestion) where the module lacks it


@dataclass(init=False, eq=False, repr=False)
class ImportedName(FixData):
    name: str  # `from <module> import <name>`
    module: str  # the module as written (dots of a relative import included)
    suggestion: str | None = _omit()  # the name of that module it is a slip of


@dataclass(init=False, eq=False, repr=False)
class OfKind(FixData):
    kind: str


@dataclass(init=False, eq=False, repr=False)
class FilePath(FixData):
    path: str  # root-relative for an include fix (TL405/TL406), absolute for a skipped file (TL191)


@dataclass(init=False, eq=False, repr=False)
class BundleGap(FixData):
    """TL405: the local modules one cause leaves out of the bundle (one finding for all of them)."""

    paths: list  # root-relative .py files the integration imports
    globs: list  # include patterns that bring them all back ("mnist_tl/**/*.py"), [] when none would


@dataclass(init=False, eq=False, repr=False)
class SyntaxDetail(FixData):
    detail: str


# --- 2xx contracts ------------------------------------------------------------------------------
@dataclass(init=False, eq=False, repr=False)
class Function(FixData):
    function: str | None


@dataclass(init=False, eq=False, repr=False)
class Annotated(FixData):
    function: str
    kind: str
    annotation: str  # the annotation as written


@dataclass(init=False, eq=False, repr=False)
class EncoderDtype(FixData):
    function: str
    kind: str
    dtype: str


@dataclass(init=False, eq=False, repr=False)
class VisualizerAnnotation(FixData):
    function: str
    expected: str | None  # the Leap class matching visualizer_type
    visualizer_type: str | None  # the LeapDataType member
    annotation: str | None  # the annotation as written (None: there is none)


@dataclass(init=False, eq=False, repr=False)
class StringizedAnnotation(FixData):
    function: str
    expected: str | None
    visualizer_type: str | None
    annotation: str | None = _omit()  # a string annotation; absent for the __future__ import
    future_line: int | None = None  # 0-based line of `from __future__ import annotations`


@dataclass(init=False, eq=False, repr=False)
class ChannelDim(FixData):
    function: str | None
    kind: str
    style: str


@dataclass(init=False, eq=False, repr=False)
class DefaultChannelDim(FixData):
    function: str | None
    kind: str
    style: str
    insert_at: tuple[int, int] | None  # where a keyword goes: just before the call's ')'


@dataclass(init=False, eq=False, repr=False)
class InsertKeyword(FixData):
    function: str | None
    insert_at: tuple[int, int] | None


@dataclass(init=False, eq=False, repr=False)
class InsertAt(FixData):
    insert_at: tuple[int, int] | None


@dataclass(init=False, eq=False, repr=False)
class StateMember(FixData):
    member: str | None  # the DataStateType member to use (None: offer all)


@dataclass(init=False, eq=False, repr=False)
class DefaultState(FixData):
    insert_at: tuple[int, int] | None
    member: str | None


@dataclass(init=False, eq=False, repr=False)
class Keyword(FixData):
    keyword: str


@dataclass(init=False, eq=False, repr=False)
class MetadataOrder(FixData):
    function_text: str
    type_text: str
    name_text: str


@dataclass(init=False, eq=False, repr=False)
class Companion(FixData):
    missing: str | None = _omit()  # the decorator to create (absent when creating one is not the fix)
    name: str | None = None
    shape: str | None = _omit()  # an expression of the ground truth's shape


# --- 3xx integration-test body ------------------------------------------------------------------
@dataclass(init=False, eq=False, repr=False)
class NotInTest(FixData):
    function: str | None
    kind: str
    test: str | None  # the integration test's function


@dataclass(init=False, eq=False, repr=False)
class TestStatement(FixData):
    __test__ = False  # not a pytest class
    function: str | None  # the integration test's function
    line: int  # 0-based line of the offending statement


# --- 4xx leap.yaml, bundle, environment ---------------------------------------------------------
@dataclass(init=False, eq=False, repr=False)
class UnknownKey(FixData):
    key: str
    suggestion: str | None


@dataclass(init=False, eq=False, repr=False)
class YamlValue(FixData):
    value: str


@dataclass(init=False, eq=False, repr=False)
class UnlistedRequirement(FixData):
    package: str
    distribution: str
    in_pyproject: bool


@dataclass(init=False, eq=False, repr=False)
class Distribution(FixData):
    distribution: str


@dataclass(init=False, eq=False, repr=False)
class SdkName(FixData):
    name: str
    since: str | None  # first release that has it
    suggestion: str | None = _omit()  # the name of the installed release it is a slip of (none has it)


@dataclass(init=False, eq=False, repr=False)
class SdkPin(FixData):
    pin: str
    installed: str


# --- 5xx run time -------------------------------------------------------------------------------
@dataclass(init=False, eq=False, repr=False)
class RunSample(FixData):
    sample: Any = _omit()  # the sample id the check failed on
    subset: str | None = _omit()


@dataclass(init=False, eq=False, repr=False)
class Install(FixData):
    install: str  # the command that installs code-loader in the project interpreter
    venv: bool | None = _omit()  # the command creates the project's .venv (it had no interpreter of its own)


# --- 6xx model ----------------------------------------------------------------------------------
@dataclass(init=False, eq=False, repr=False)
class ModelName(FixData):
    model: str


@dataclass(init=False, eq=False, repr=False)
class Replacement(FixData):
    replacement: str | None  # the text the model's facts call for (None: no single answer)


@dataclass(init=False, eq=False, repr=False)
class ExpectedSize(FixData):
    expected: int


@dataclass(init=False, eq=False, repr=False)
class SessionCall(FixData):
    callee: list  # [line, col, end_line, end_col] of `onnx.load` in `onnx.load(path)`
    statement: list  # [line, col] where the statement holding that call starts (the import goes before it)


@dataclass(init=False, eq=False, repr=False)
class ObservedShape(FixData):
    observed: list
    expected: list | None


def to_json(data: FixData | None) -> dict[str, Any]:
    """The JSON object the diagnostic carries (``{}`` for no data)."""
    if data is None:
        return {}
    out = asdict(data)
    for f in fields(data):
        if f.metadata.get("omit_none") and out[f.name] is None:
            del out[f.name]
    return out


def registered(code: str) -> tuple[type[FixData], ...]:
    """The classes a finding of ``code`` may carry (empty: the code carries no data)."""
    from tensorleap_ls.core.codes import CODES

    entry = CODES.get(code)
    cls = entry.data if entry is not None else None
    return () if cls is None else cls if isinstance(cls, tuple) else (cls,)


def from_json(code: str, payload: Any) -> FixData | None:
    """The registered class of ``code`` rebuilt from a diagnostic's ``data`` (None when none fits)."""
    if not isinstance(payload, dict):
        return None
    for cls in registered(code):
        names = {f.name for f in fields(cls)}
        required = {f.name for f in fields(cls) if f.default is MISSING and f.default_factory is MISSING}
        given = {k: v for k, v in payload.items() if k in names}
        if required <= set(given) and set(payload) - {"code"} <= names:
            if isinstance(given.get("insert_at"), list):
                given["insert_at"] = tuple(given["insert_at"])
            return cls(**given)
    return None
