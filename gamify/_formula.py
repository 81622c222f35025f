"""The small formula language of program files (``50 * level``, ``10 + min(2 * streak, 50)``).

A formula is parsed once, when the program is loaded, through Python's ``ast``
module and a strict whitelist of syntax nodes, then compiled into a tree of
small closures. Evaluating it (once per event, on the hot path) walks those
closures; nothing is ever passed to ``eval`` or ``compile``, so a program file
cannot run code. All arithmetic is exact ``Decimal`` arithmetic in a private,
high-precision context: floats never take part, so ``0.1 + 0.2`` is ``0.3``.

The language:

- numbers: integer and decimal literals (``5``, ``0.25``, ``1e3``), read from
  their source text so no float rounding creeps in;
- names supplied by the evaluation context (``amount``, ``level``, ``streak``,
  ``count``, attribute names);
- ``+ - * / //``, unary ``-`` and ``+``, parentheses;
- ``min(a, b, ...)`` and ``max(a, b, ...)`` with two or more arguments,
  ``floor(x)`` and ``ceil(x)`` with one.

``/`` is exact division (rounded to 50 significant digits when the quotient does
not terminate); ``//`` is floor division toward negative infinity, as in Python:
``-7 // 2`` is ``-4``. There is no power operator, no comparison and no
conditional: the design leaves them out, and a formula that uses them is refused
when the program loads.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Mapping
from decimal import (
    ROUND_CEILING,
    ROUND_FLOOR,
    ROUND_HALF_EVEN,
    Context,
    Decimal,
    DecimalException,
    DivisionByZero,
    InvalidOperation,
    Overflow,
)
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NoReturn, TypeAlias

from gamify._numbers import sized
from gamify.errors import FormulaError

if TYPE_CHECKING:
    from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
    from pydantic.json_schema import JsonSchemaValue
    from pydantic_core import CoreSchema

__all__ = ["Formula"]

Number: TypeAlias = Decimal | int
_Env: TypeAlias = Mapping[str, Number]
_Fn: TypeAlias = Callable[[_Env], Decimal]
# A structural key: equal keys mean equal formulas whatever the spacing.
_Key: TypeAlias = tuple[Any, ...]

# One context for every formula. Context methods are used explicitly (never the
# thread-local current context), so evaluation is thread-safe and immune to what
# the host application does with ``decimal.getcontext()``.
_CTX = Context(
    prec=50,
    rounding=ROUND_HALF_EVEN,
    traps=[InvalidOperation, DivisionByZero, Overflow],
)
_add = _CTX.add
_sub = _CTX.subtract
_mul = _CTX.multiply
_div = _CTX.divide
_divmod = _CTX.divmod
_minus = _CTX.minus
_min = _CTX.min
_max = _CTX.max
_ONE = Decimal(1)
# Literals past this many digits either way: 1e999999999 would make an integer of a billion
# digits when an award is rounded.
MAX_EXPONENT = 30

_MAX_LENGTH = 1000  # a formula longer than this is a mistake, not a rule
_MAX_DEPTH = 64  # bounds recursion when compiling and evaluating
_EMPTY: Mapping[str, Number] = MappingProxyType({})
_ALLOWED = "numbers, names, + - * / //, parentheses, min, max, floor, ceil"

_FUNCTION_ARITY: dict[str, tuple[int, int | None]] = {
    "min": (2, None),
    "max": (2, None),
    "floor": (1, 1),
    "ceil": (1, 1),
}

# Friendly names for the syntax a designer might try; anything else is reported
# by its node class name.
_FORBIDDEN: dict[type[ast.AST], str] = {
    ast.Attribute: "attribute access (a.b)",
    ast.Subscript: "subscripts (a[0])",
    ast.Compare: "comparisons",
    ast.BoolOp: "and/or",
    ast.IfExp: "conditional expressions (x if c else y)",
    ast.Lambda: "lambda",
    ast.Starred: "starred arguments",
    ast.List: "lists",
    ast.Tuple: "tuples",
    ast.Set: "sets",
    ast.Dict: "dicts",
    ast.ListComp: "comprehensions",
    ast.SetComp: "comprehensions",
    ast.DictComp: "comprehensions",
    ast.GeneratorExp: "comprehensions",
    ast.JoinedStr: "f-strings",
    ast.NamedExpr: "assignment expressions (:=)",
    ast.Await: "await",
    ast.Yield: "yield",
    ast.YieldFrom: "yield",
    ast.Slice: "slices",
}
_FORBIDDEN_OPERATORS: dict[type[ast.AST], str] = {
    ast.Pow: "the power operator **",
    ast.Mod: "the modulo operator %",
    ast.MatMult: "the operator @",
    ast.LShift: "the shift operator <<",
    ast.RShift: "the shift operator >>",
    ast.BitAnd: "the bitwise operator &",
    ast.BitOr: "the bitwise operator |",
    ast.BitXor: "the bitwise operator ^",
    ast.Not: "the operator not",
    ast.Invert: "the operator ~",
}


class _Rejected(Exception):
    """Internal: the text is not in the language; carries the reason."""


class _EvalFailure(Exception):
    """Internal: evaluation failed; ``Formula.evaluate`` adds the formula text."""


class Formula:
    """A parsed, immutable formula; ``str()`` gives back its source text.

    Build one with ``Formula.parse(text)`` (or ``Formula(text)``) or
    ``Formula.constant(value)``. Equality and hashing are structural: ``1+2``
    equals ``1 + 2``. It can be used directly as a pydantic field type.
    """

    __slots__ = ("_fn", "_key", "_names", "_text")

    _text: str
    _names: frozenset[str]
    _key: _Key
    _fn: _Fn

    def __init__(self, text: str) -> None:
        if not isinstance(text, str):
            raise FormulaError(f"a formula must be a string, not {type(text).__name__} ({text!r})")
        source = text.strip()
        try:
            key, fn, names = _compile_text(source)
        except _Rejected as exc:
            raise FormulaError(f"invalid formula {source!r}: {exc}") from None
        object.__setattr__(self, "_text", source)
        object.__setattr__(self, "_names", names)
        object.__setattr__(self, "_key", key)
        object.__setattr__(self, "_fn", fn)

    @classmethod
    def parse(cls, text: str) -> Formula:
        """Parse ``text``; raise :class:`FormulaError` naming the text and the reason."""
        return cls(text)

    @classmethod
    def constant(cls, value: Decimal | int) -> Formula:
        """A formula that always yields ``value`` (a program may write ``amount = 5``)."""
        if isinstance(value, bool) or not isinstance(value, int | Decimal):
            raise FormulaError(f"a formula constant must be an int or a Decimal, not {value!r}")
        if isinstance(value, Decimal) and not value.is_finite():
            raise FormulaError(f"a formula constant must be finite, not {value}")
        # str(Decimal) is a valid literal ("2.50", "1E+3", "-3") that parses back exactly.
        return cls(str(value))

    @property
    def text(self) -> str:
        """The source text (stripped of surrounding blanks)."""
        return self._text

    @property
    def names(self) -> frozenset[str]:
        """The free names the evaluation context must provide."""
        return self._names

    def evaluate(self, context: Mapping[str, Number] = _EMPTY) -> Decimal:
        """Evaluate exactly in Decimal; raise :class:`FormulaError` naming the problem."""
        try:
            result = self._fn(context)
        except _EvalFailure as exc:
            raise FormulaError(f"formula {self._text!r}: {exc}") from None
        except KeyError as exc:
            # A name missing from the context (the closures let KeyError through).
            provided = ", ".join(sorted(context)) or "nothing"
            raise FormulaError(
                f"formula {self._text!r}: unknown name {exc.args[0]!r} "
                f"(the context provides: {provided})"
            ) from None
        except DecimalException as exc:
            raise FormulaError(f"formula {self._text!r}: {_decimal_reason(exc)}") from None
        if not result.is_finite():
            raise FormulaError(f"formula {self._text!r}: the result {result} is not finite")
        return result

    # -- value object protocol -------------------------------------------------

    def __str__(self) -> str:
        return self._text

    def __repr__(self) -> str:
        return f"Formula({self._text!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Formula):
            return NotImplemented
        return self._key == other._key

    def __hash__(self) -> int:
        return hash(self._key)

    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise AttributeError(f"Formula is immutable: cannot set {name!r}")

    def __delattr__(self, name: str) -> NoReturn:
        raise AttributeError(f"Formula is immutable: cannot delete {name!r}")

    def __reduce__(self) -> tuple[type[Formula], tuple[str]]:
        # Closures do not pickle; the text rebuilds the same formula.
        return (Formula, (self._text,))

    # -- pydantic v2 -------------------------------------------------------------

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source_type: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        """Validate str/int/float/Decimal into a Formula; serialize to the source text."""
        from pydantic_core import core_schema  # imported here: parsing needs no pydantic

        return core_schema.no_info_plain_validator_function(
            _validate_input,
            serialization=core_schema.plain_serializer_function_ser_schema(
                str, return_schema=core_schema.str_schema()
            ),
        )

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {
            "anyOf": [{"type": "string"}, {"type": "number"}],
            "description": f"A formula over the context's names ({_ALLOWED}).",
        }


def _validate_input(value: object) -> Formula:
    """Pydantic validator: FormulaError is a ValueError, so pydantic reports its reason."""
    if isinstance(value, Formula):
        return value
    if isinstance(value, bool):
        raise FormulaError(f"a formula must be a string or a number, not a boolean ({value})")
    if isinstance(value, str):
        return Formula.parse(value)
    if isinstance(value, int | Decimal):
        return Formula.constant(value)
    if isinstance(value, float):
        # Through repr, never Decimal(x): 0.1 stays 0.1.
        return Formula.constant(Decimal(repr(value)))
    raise FormulaError(
        f"a formula must be a string or a number, not {type(value).__name__} ({value!r})"
    )


def _decimal_reason(exc: DecimalException) -> str:
    if isinstance(exc, DivisionByZero):
        return "division by zero"
    if isinstance(exc, Overflow):
        return "the result is too large"
    return "the result is too large or undefined"


# -- compilation -----------------------------------------------------------------


def _compile_text(source: str) -> tuple[_Key, _Fn, frozenset[str]]:
    if not source:
        raise _Rejected("the formula is empty")
    if len(source) > _MAX_LENGTH:
        raise _Rejected(f"the formula is longer than {_MAX_LENGTH} characters")
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError as exc:
        where = f" at column {exc.offset}" if exc.offset else ""
        raise _Rejected(f"syntax error{where}: {exc.msg}") from None
    except ValueError as exc:  # e.g. a NUL character in the text
        raise _Rejected(f"cannot parse: {exc}") from None
    except (RecursionError, MemoryError):
        raise _Rejected("the formula is too complex to parse") from None
    names: set[str] = set()
    try:
        key, fn, _ = _Compiler(source, names).visit(tree.body, 0)
    except RecursionError:
        raise _Rejected("the formula nests too deeply") from None
    return key, fn, frozenset(names)


class _Compiler:
    """Turns a whitelisted AST into (structural key, closure, constant-or-None)."""

    def __init__(self, source: str, names: set[str]) -> None:
        self._source = source
        self._names = names

    def visit(self, node: ast.AST, depth: int) -> tuple[_Key, _Fn, Decimal | None]:
        if depth > _MAX_DEPTH:
            raise _Rejected(f"the formula nests deeper than {_MAX_DEPTH} levels")
        if isinstance(node, ast.Constant):
            return self._constant(node)
        if isinstance(node, ast.Name):
            return self._name(node)
        if isinstance(node, ast.BinOp):
            return self._binop(node, depth)
        if isinstance(node, ast.UnaryOp):
            return self._unaryop(node, depth)
        if isinstance(node, ast.Call):
            return self._call(node, depth)
        raise _Rejected(f"forbidden syntax: {_describe(node)} (allowed: {_ALLOWED})")

    def _constant(self, node: ast.Constant) -> tuple[_Key, _Fn, Decimal | None]:
        value = node.value
        if isinstance(value, bool) or value is None:
            raise _Rejected(f"{value} is not a number")
        if isinstance(value, int):
            number = Decimal(value)
        elif isinstance(value, float):
            number = self._float_literal(node, value)
        else:
            raise _Rejected(f"forbidden literal: {value!r} is not a number (allowed: {_ALLOWED})")
        if not number.is_finite():
            raise _Rejected(f"the number {self._segment(node)} is not finite")
        if not sized(number, MAX_EXPONENT):
            raise _Rejected(
                f"the number {self._segment(node)} is out of range "
                f"(1e-{MAX_EXPONENT} to 1e{MAX_EXPONENT})"
            )
        return ("num", number), _const_fn(number), number

    def _float_literal(self, node: ast.Constant, value: float) -> Decimal:
        # Read the digits the designer wrote ("0.1", "1_000.5", "1e3"), not the float.
        segment = self._segment(node)
        try:
            return Decimal(segment)
        except InvalidOperation:
            return Decimal(repr(value))

    def _segment(self, node: ast.AST) -> str:
        return ast.get_source_segment(self._source, node) or ast.unparse(node)

    def _name(self, node: ast.Name) -> tuple[_Key, _Fn, Decimal | None]:
        name = node.id
        if name in _FUNCTION_ARITY:
            raise _Rejected(f"{name!r} is a function: call it, as in {name}(...)")
        self._names.add(name)
        return ("name", name), _name_fn(name), None

    def _binop(self, node: ast.BinOp, depth: int) -> tuple[_Key, _Fn, Decimal | None]:
        op_type = type(node.op)
        op = _BINARY.get(op_type)
        if op is None:
            raise _forbidden_operator(node.op)
        symbol, func = op
        left_key, left_fn, left_const = self.visit(node.left, depth + 1)
        right_key, right_fn, right_const = self.visit(node.right, depth + 1)
        key = (symbol, left_key, right_key)
        if left_const is not None and right_const is not None:
            return self._fold(key, func, left_const, right_const)
        if left_const is not None:
            lc = left_const

            def fn(env: _Env) -> Decimal:
                return func(lc, right_fn(env))

        elif right_const is not None:
            rc = right_const

            def fn(env: _Env) -> Decimal:
                return func(left_fn(env), rc)

        else:

            def fn(env: _Env) -> Decimal:
                return func(left_fn(env), right_fn(env))

        return key, fn, None

    def _fold(
        self, key: _Key, func: Callable[[Decimal, Decimal], Decimal], a: Decimal, b: Decimal
    ) -> tuple[_Key, _Fn, Decimal | None]:
        # A constant sub-expression is computed once, here; one that can never be
        # evaluated (1 / 0) is refused at load instead of failing on every event.
        try:
            value = func(a, b)
        except _EvalFailure as exc:
            raise _Rejected(str(exc)) from None
        except DecimalException as exc:
            raise _Rejected(_decimal_reason(exc)) from None
        return key, _const_fn(value), value

    def _unaryop(self, node: ast.UnaryOp, depth: int) -> tuple[_Key, _Fn, Decimal | None]:
        key, operand, const = self.visit(node.operand, depth + 1)
        if isinstance(node.op, ast.UAdd):
            return key, operand, const
        if not isinstance(node.op, ast.USub):
            raise _forbidden_operator(node.op)
        if const is not None:
            value = _minus(const)
            return ("neg", key), _const_fn(value), value

        def fn(env: _Env) -> Decimal:
            return _minus(operand(env))

        return ("neg", key), fn, None

    def _call(self, node: ast.Call, depth: int) -> tuple[_Key, _Fn, Decimal | None]:
        if not isinstance(node.func, ast.Name):
            raise _Rejected(
                f"only min, max, floor and ceil can be called, not {self._segment(node.func)}"
            )
        name = node.func.id
        arity = _FUNCTION_ARITY.get(name)
        if arity is None:
            raise _Rejected(f"unknown function {name!r} (allowed: min, max, floor, ceil)")
        if node.keywords:
            raise _Rejected(f"{name}() takes no keyword arguments")
        parts = [self.visit(arg, depth + 1) for arg in node.args]  # refuses *args too
        low, high = arity
        count = len(parts)
        if count < low or (high is not None and count > high):
            expected = f"exactly {low}" if high == low else f"at least {low}"
            raise _Rejected(f"{name}() takes {expected} argument(s), got {count}")
        key: _Key = ("call", name, *(part[0] for part in parts))
        fns = [part[1] for part in parts]
        consts = [part[2] for part in parts]
        if name in ("floor", "ceil"):
            rounding = ROUND_FLOOR if name == "floor" else ROUND_CEILING
            fn = _rounding_fn(fns[0], rounding)
        else:
            fn = _extremum_fn(_min if name == "min" else _max, fns)
        if all(const is not None for const in consts):
            value = fn(_EMPTY)
            return key, _const_fn(value), value
        return key, fn, None


def _describe(node: ast.AST) -> str:
    return _FORBIDDEN.get(type(node), f"the syntax {type(node).__name__}")


def _forbidden_operator(op: ast.AST) -> _Rejected:
    name = _FORBIDDEN_OPERATORS.get(type(op), f"the operator {type(op).__name__}")
    return _Rejected(f"forbidden operator: {name} (allowed: {_ALLOWED})")


# -- closures (the evaluation hot path) ------------------------------------------


def _const_fn(value: Decimal) -> _Fn:
    def fn(env: _Env) -> Decimal:
        return value

    return fn


def _name_fn(name: str) -> _Fn:
    def fn(env: _Env) -> Decimal:
        value = env[name]  # a KeyError is reported by Formula.evaluate
        if type(value) is Decimal:
            return value
        return _coerce(name, value)

    return fn


def _coerce(name: str, value: object) -> Decimal:
    if isinstance(value, bool):
        raise _EvalFailure(f"the value of {name!r} is a boolean, not a number")
    if isinstance(value, int | Decimal):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value))
    raise _EvalFailure(f"the value of {name!r} is not a number: {value!r}")


def _true_div(a: Decimal, b: Decimal) -> Decimal:
    if not b:
        raise _EvalFailure("division by zero")
    return _div(a, b)


def _floor_div(a: Decimal, b: Decimal) -> Decimal:
    # Decimal's own // truncates toward zero; the language floors like Python.
    if not b:
        raise _EvalFailure("division by zero")
    quotient, remainder = _divmod(a, b)
    if remainder and (remainder < 0) != (b < 0):
        return _sub(quotient, _ONE)
    return quotient


_BINARY: dict[type[ast.operator], tuple[str, Callable[[Decimal, Decimal], Decimal]]] = {
    ast.Add: ("+", _add),
    ast.Sub: ("-", _sub),
    ast.Mult: ("*", _mul),
    ast.Div: ("/", _true_div),
    ast.FloorDiv: ("//", _floor_div),
}


def _rounding_fn(operand: _Fn, rounding: str) -> _Fn:
    def fn(env: _Env) -> Decimal:
        return operand(env).to_integral_value(rounding=rounding, context=_CTX)

    return fn


def _extremum_fn(pick: Callable[[Decimal, Decimal], Decimal], fns: list[_Fn]) -> _Fn:
    if len(fns) == 2:
        first, second = fns

        def fn2(env: _Env) -> Decimal:
            return pick(first(env), second(env))

        return fn2

    def fn(env: _Env) -> Decimal:
        result = fns[0](env)
        for other in fns[1:]:
            result = pick(result, other(env))
        return result

    return fn
