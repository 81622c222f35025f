"""The formula language of program files: parsed once through a whitelist, evaluated in Decimal."""

from __future__ import annotations

import copy
import pickle
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from gamify._formula import Formula
from gamify.errors import FormulaError


def ev(text: str, **context: Decimal | int) -> Decimal:
    return Formula.parse(text).evaluate(context)


# -- arithmetic --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1 + 2", "3"),
        ("10 - 4", "6"),
        ("6 * 7", "42"),
        ("10 / 4", "2.5"),
        ("10 // 4", "2"),
        ("-5", "-5"),
        ("+5", "5"),
        ("- -5", "5"),
        ("2.5 * 4", "10"),
        ("1e3 + 1", "1001"),
        ("1_000 + 0.5", "1000.5"),
    ],
)
def test_operators(text: str, expected: str) -> None:
    """Each operator of the language computes its arithmetic meaning."""
    assert ev(text) == Decimal(expected)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2 + 3 * 4", 14),
        ("(2 + 3) * 4", 20),
        ("10 - 2 - 3", 5),
        ("100 / 10 / 5", 2),
        ("2 * 3 // 4", 1),
        ("-2 * 3", -6),
        ("-(2 + 3) * 2", -10),
        ("7 - 10 // 3", 4),
        ("2 * -3 + 1", -5),
    ],
)
def test_precedence_and_associativity(text: str, expected: int) -> None:
    """Multiplication binds tighter than addition, operators associate to the left, like Python."""
    assert ev(text) == expected


@pytest.mark.parametrize(
    ("a", "b"),
    [(7, 2), (-7, 2), (7, -2), (-7, -2), (6, 3), (-6, 3), (0, 5), (1, -1), (-1, 3)],
)
def test_floor_division_floors_toward_negative_infinity(a: int, b: int) -> None:
    """`//` floors toward -infinity exactly like Python's integer `//` (-7 // 2 is -4)."""
    assert ev("a // b", a=a, b=b) == a // b


def test_floor_division_of_decimals() -> None:
    """`//` on decimals gives the floor of the exact quotient."""
    assert ev("7.5 // 2") == 3
    assert ev("-0.5 // 1") == -1
    assert ev("-7.5 // 2") == -4


def test_decimal_arithmetic_is_exact() -> None:
    """Literals are read from their digits and summed in Decimal: 0.1 + 0.2 is exactly 0.3."""
    assert ev("0.1 + 0.2") == Decimal("0.3")
    assert ev("1.1 * 3") == Decimal("3.3")
    assert ev("12345678901234567890.5 + 0.25") == Decimal("12345678901234567890.75")
    assert ev("amount * 0.07", amount=Decimal("19.99")) == Decimal("1.3993")


def test_non_terminating_division_keeps_high_precision() -> None:
    """A non-terminating quotient is rounded to at least 28 significant digits."""
    third = ev("1 / 3")
    assert third == Decimal("0." + "3" * 50)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("min(3, 1, 2)", "1"),
        ("max(3, 1, 2)", "3"),
        ("min(-1, 1)", "-1"),
        ("floor(2.5)", "2"),
        ("floor(-2.5)", "-3"),
        ("ceil(2.1)", "3"),
        ("ceil(-2.5)", "-2"),
        ("floor(7)", "7"),
        ("max(floor(1.9), ceil(0.1))", "1"),
    ],
)
def test_functions(text: str, expected: str) -> None:
    """min and max take two or more arguments; floor and ceil round toward -inf and +inf."""
    assert ev(text) == Decimal(expected)


@pytest.mark.parametrize(("streak", "points"), [(1, 12), (5, 20), (20, 50), (25, 60), (100, 60)])
def test_fitness_workout_formula(streak: int, points: int) -> None:
    """The fitness example pays 10 + min(2 * streak, 50): 12 on day 1, at most 60."""
    assert ev("10 + min(2 * streak, 50)", streak=streak) == points


def test_names_are_the_free_names() -> None:
    """`names` lists the context names a formula reads, not its function names."""
    assert Formula.parse("floor(amount / 5) * 100 + min(level, streak)").names == frozenset(
        {"amount", "level", "streak"}
    )
    assert Formula.parse("50").names == frozenset()
    assert Formula.parse("level * level").names == frozenset({"level"})


def test_context_accepts_int_and_decimal() -> None:
    """Context values may be ints or Decimals, and the result is always a Decimal."""
    result = ev("level", level=3)
    assert isinstance(result, Decimal)
    assert result == 3
    assert ev("amount + level", amount=Decimal("0.5"), level=2) == Decimal("2.5")


def test_constant_formula() -> None:
    """Formula.constant wraps an int or Decimal and prints it back exactly."""
    assert Formula.constant(5).evaluate({}) == 5
    half = Formula.constant(Decimal("2.50"))
    assert str(half) == "2.50"
    assert half.evaluate({}) == Decimal("2.5")
    assert Formula.constant(-3).evaluate({}) == -3
    assert Formula.constant(Decimal("1E+3")).evaluate({}) == 1000


@pytest.mark.parametrize("value", [True, 1.5, "5", Decimal("NaN"), Decimal("Infinity")])
def test_constant_rejects_non_numbers(value: object) -> None:
    """A constant is a finite int or Decimal."""
    with pytest.raises(FormulaError):
        Formula.constant(value)  # type: ignore[arg-type]


# -- the whitelist ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("__import__('os')", "unknown function '__import__'"),
        ("a.b", "attribute access"),
        ("a.b()", "only min, max, floor and ceil can be called"),
        ("a[0]", "subscripts"),
        ("x if y else z", "conditional expressions"),
        ("lambda: 1", "lambda"),
        ("2**8", "power operator"),
        ("7 % 2", "modulo"),
        ("abs(1)", "unknown function 'abs'"),
        ("round(1.5)", "unknown function 'round'"),
        ("min(1, 2, key=3)", "no keyword arguments"),
        ("min(*a)", "starred"),
        ("a < b", "comparisons"),
        ("a == b", "comparisons"),
        ("a and b", "and/or"),
        ("not a", "not"),
        ("~a", "~"),
        ("1 & 2", "&"),
        ("'text'", "is not a number"),
        ("True", "not a number"),
        ("None", "not a number"),
        ("1j", "is not a number"),
        ("(1, 2)", "tuples"),
        ("[1]", "lists"),
        ("{1: 2}", "dicts"),
        ("f'{a}'", "f-strings"),
        ("(a := 1)", ":="),
        ("min", "is a function"),
        ("min(1)", "at least 2"),
        ("floor(1, 2)", "exactly 1"),
        ("ceil()", "exactly 1"),
    ],
)
def test_forbidden_constructs(text: str, reason: str) -> None:
    """Anything but numbers, names, + - * / //, parentheses and the four functions is refused."""
    with pytest.raises(FormulaError) as info:
        Formula.parse(text)
    message = str(info.value)
    assert repr(text) in message
    assert reason in message


@pytest.mark.parametrize("text", ["", "   ", "1 +", "(1", "1 2", "a b", "1 +\n2", "import os"])
def test_syntax_errors(text: str) -> None:
    """Empty text and text that is not an expression are refused, naming the text."""
    with pytest.raises(FormulaError) as info:
        Formula.parse(text)
    assert repr(text.strip()) in str(info.value)


def test_empty_formula_says_so() -> None:
    """The error for an empty formula says it is empty."""
    with pytest.raises(FormulaError, match="empty"):
        Formula.parse("")


def test_deep_nesting_is_refused() -> None:
    """A pathologically nested formula is refused at parse time instead of exhausting the stack."""
    with pytest.raises(FormulaError):
        Formula.parse("-" * 200 + "1")
    with pytest.raises(FormulaError):
        Formula.parse("(" * 500 + "1" + ")" * 500)
    with pytest.raises(FormulaError):
        Formula.parse("+".join(["x"] * 600))


def test_non_string_text_is_refused() -> None:
    """Formula.parse takes text; other types are a FormulaError, not a crash."""
    with pytest.raises(FormulaError, match="must be a string"):
        Formula.parse(5)  # type: ignore[arg-type]


# -- evaluation errors ---------------------------------------------------------------------


def test_unknown_name_at_evaluation() -> None:
    """A name the context lacks is an error naming the formula, the name and what was given."""
    formula = Formula.parse("10 + min(2 * streak, 50)")
    with pytest.raises(FormulaError) as info:
        formula.evaluate({"level": 3})
    message = str(info.value)
    assert "'10 + min(2 * streak, 50)'" in message
    assert "unknown name 'streak'" in message
    assert "level" in message


@pytest.mark.parametrize("text", ["amount / count", "amount // count"])
def test_division_by_zero_at_evaluation(text: str) -> None:
    """Dividing by a context value of zero is an error naming the formula."""
    with pytest.raises(FormulaError) as info:
        ev(text, amount=10, count=0)
    assert repr(text) in str(info.value)
    assert "division by zero" in str(info.value)


@pytest.mark.parametrize("text", ["1 / 0", "amount * (2 // (1 - 1))"])
def test_constant_division_by_zero_is_refused_at_parse(text: str) -> None:
    """A constant sub-expression that divides by zero can never succeed, so it fails at load."""
    with pytest.raises(FormulaError, match="division by zero"):
        Formula.parse(text)


@pytest.mark.parametrize("value", ["ten", True, None, Decimal("NaN"), Decimal("-Infinity")])
def test_non_number_context_values(value: object) -> None:
    """A context value that is not a finite number is an error, never a silent result."""
    with pytest.raises(FormulaError):
        Formula.parse("amount + 1").evaluate({"amount": value})  # type: ignore[dict-item]


# -- value object ------------------------------------------------------------------------------


def test_str_returns_the_source_text() -> None:
    """str() gives back the text as written (without surrounding blanks)."""
    assert str(Formula.parse("10 + min(2 * streak, 50)")) == "10 + min(2 * streak, 50)"
    assert str(Formula.parse("  50 * level ")) == "50 * level"
    assert Formula.parse("50 * level").text == "50 * level"
    assert repr(Formula.parse("1+1")) == "Formula('1+1')"


def test_equality_is_structural() -> None:
    """Two formulas are equal when they have the same structure, whatever their spacing."""
    assert Formula.parse("1+2*x") == Formula.parse("1 + 2 * x")
    assert hash(Formula.parse("1+2*x")) == hash(Formula.parse("(1 + (2 * x))"))
    assert Formula.parse("0.50 * x") == Formula.parse("0.5 * x")
    assert Formula.parse("1 + 2 * x") != Formula.parse("(1 + 2) * x")
    assert Formula.parse("x") != Formula.parse("y")


def test_formula_is_immutable() -> None:
    """A parsed formula cannot be changed after construction."""
    formula = Formula.parse("x")
    with pytest.raises(AttributeError):
        formula._text = "y"
    with pytest.raises(AttributeError):
        del formula._text


def test_pickle_and_copy() -> None:
    """A formula survives pickling and deep copies (its closures are rebuilt from the text)."""
    formula = Formula.parse("10 + min(2 * streak, 50)")
    for clone in (pickle.loads(pickle.dumps(formula)), copy.deepcopy(formula)):
        assert clone == formula
        assert clone.evaluate({"streak": 3}) == 16


# -- pydantic ----------------------------------------------------------------------------------


class Rule(BaseModel):
    amount: Formula
    bonus: Formula | None = None


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("50 * level", "50 * level"),
        (5, "5"),
        (0.1, "0.1"),
        (Decimal("2.50"), "2.50"),
        (Formula.parse("x + 1"), "x + 1"),
    ],
)
def test_pydantic_field_round_trip(value: object, text: str) -> None:
    """A Formula field accepts str, int, float and Decimal, and serializes to its source text."""
    rule = Rule.model_validate({"amount": value})
    assert isinstance(rule.amount, Formula)
    assert str(rule.amount) == text
    assert rule.model_dump() == {"amount": text, "bonus": None}
    again = Rule.model_validate_json(rule.model_dump_json())
    assert again == rule


def test_pydantic_float_goes_through_repr() -> None:
    """A float in a program file becomes the decimal it prints as: 0.1, not 0.100000000000000005."""
    assert Rule.model_validate({"amount": 0.1}).amount.evaluate({}) == Decimal("0.1")


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("2**8", "power operator"),
        ("abs(amount)", "unknown function 'abs'"),
        ("", "empty"),
        (True, "boolean"),
        ([1], "must be a string or a number"),
    ],
)
def test_pydantic_validation_error_carries_the_reason(value: object, reason: str) -> None:
    """An invalid formula surfaces as a pydantic validation error on the field, with the reason."""
    with pytest.raises(ValidationError) as info:
        Rule.model_validate({"amount": value})
    errors = info.value.errors()
    assert errors[0]["loc"] == ("amount",)
    assert reason in errors[0]["msg"]


def test_pydantic_json_schema() -> None:
    """The model's JSON schema describes a formula field as a string or a number."""
    schema = Rule.model_json_schema()
    assert schema["properties"]["amount"]["anyOf"] == [{"type": "string"}, {"type": "number"}]


# -- properties --------------------------------------------------------------------------------

ints = st.integers(min_value=-(10**12), max_value=10**12)


@given(a=ints, b=ints, c=ints)
def test_integer_arithmetic_matches_python(a: int, b: int, c: int) -> None:
    """On integers, + - * and // agree with Python's own integer arithmetic."""
    formula = Formula.parse("a + b * c - (a - c) * b")
    assert formula.evaluate({"a": a, "b": b, "c": c}) == a + b * c - (a - c) * b
    if b:
        assert Formula.parse("a // b").evaluate({"a": a, "b": b}) == a // b
        assert Formula.parse("floor(a / b)").evaluate({"a": a, "b": b}) == a // b


decimals = st.decimals(
    min_value=-(10**9), max_value=10**9, places=4, allow_nan=False, allow_infinity=False
)


@given(a=decimals, b=decimals)
def test_decimal_addition_and_extrema_are_exact(a: Decimal, b: Decimal) -> None:
    """Addition, min and max of decimals are exact, and floor(x) <= x < floor(x) + 1."""
    assert Formula.parse("a + b").evaluate({"a": a, "b": b}) == a + b
    assert Formula.parse("min(a, b)").evaluate({"a": a, "b": b}) == min(a, b)
    assert Formula.parse("max(a, b)").evaluate({"a": a, "b": b}) == max(a, b)
    floored = Formula.parse("floor(a)").evaluate({"a": a})
    assert floored == floored.to_integral_value()
    assert floored <= a < floored + 1


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("100 - amount", "96"),
        ("10 / amount", "2.5"),
        ("7 // amount", "1"),
        ("amount - 100", "-96"),
        ("1 - amount - 1", "-4"),
    ],
)
def test_a_constant_left_of_a_name_keeps_its_side(text: str, expected: str) -> None:
    """Subtraction and division are not commutative: a constant on the left of a name
    stays on the left (amount = 4)."""
    assert ev(text, amount=4) == Decimal(expected)
