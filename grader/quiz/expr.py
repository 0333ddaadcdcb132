"""Safe parsing of formulas: a tokenizer and a recursive-descent parser.

Student answers are untrusted text. They are never given to ``eval``,
``exec`` or ``sympy.sympify``. Instead this module builds a small syntax tree
out of numbers, declared variable names, whitelisted function calls and the
arithmetic operators, and checks size bounds *before* anything is evaluated:

* the text is at most ``MAX_LENGTH`` characters and nests at most
  ``MAX_DEPTH`` levels deep;
* a number literal has at most ``MAX_DIGITS`` digits and a decimal exponent of
  at most ``MAX_LITERAL_EXPONENT``;
* a constant exponent is at most ``MAX_EXPONENT`` in size and a folded
  constant has at most ``MAX_BITS`` bits, so ``9**9**9**9`` or
  ``x**(10**100000)`` are format errors found in microseconds.

The same parser reads the trusted formulas in question banks, with a richer
grammar (comparisons, ``and``/``or`` and the helper functions of
``grader.quiz.derive``).  Trees convert to sympy (``to_sympy``) or evaluate
to floats (``evaluate``) without sympy at all.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Callable, Mapping

import sympy

MAX_LENGTH = 1000
MAX_DEPTH = 50
MAX_DIGITS = 60
MAX_LITERAL_EXPONENT = 300
MAX_EXPONENT = 1000
MAX_BITS = 4096


class ParseError(ValueError):
    """A formula that is not well formed; ``pos`` is the 0-based column of the problem."""

    def __init__(self, message: str, text: str, pos: int) -> None:
        super().__init__(message)
        self.message = message
        self.text = text
        self.pos = max(0, min(pos, len(text)))

    def caret(self) -> str:
        """Return the offending line with a caret under the problem position (control characters escaped)."""
        from grader.report.safe import printable

        line = self.text.replace("\n", " ").replace("\t", " ")
        if len(line) > 120:  # keep a window around the problem
            start = max(0, self.pos - 60)
            prefix = "..." if start > 0 else ""
            line = prefix + line[start:start + 120]
            col = self.pos - start + len(prefix)
        else:
            col = self.pos
        col = len(printable(line[:col]))
        return f"    {printable(line)}\n    {' ' * col}^"

    def __str__(self) -> str:
        return f"{self.message}\n{self.caret()}"


# --------------------------------------------------------------------------
# Syntax tree
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Num:
    value: Fraction
    pos: int


@dataclass(frozen=True)
class Name:
    name: str
    pos: int


@dataclass(frozen=True)
class Call:
    fn: str
    args: tuple["Node", ...]
    pos: int


@dataclass(frozen=True)
class Unary:
    op: str  # "-", "+", "not"
    operand: "Node"
    pos: int


@dataclass(frozen=True)
class Binary:
    op: str  # + - * / ** < <= > >= == != and or
    left: "Node"
    right: "Node"
    pos: int


Node = Num | Name | Call | Unary | Binary


# --------------------------------------------------------------------------
# Functions
# --------------------------------------------------------------------------


def _sigma_sym(z: sympy.Expr) -> sympy.Expr:
    return 1 / (1 + sympy.exp(-z))


def _sigma_float(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    ez = math.exp(z)
    return ez / (1.0 + ez)


def _sign_float(z: float) -> float:
    return float((z > 0) - (z < 0))


@dataclass(frozen=True)
class Function:
    """A whitelisted function: its arity and its sympy and float meanings."""

    name: str
    min_args: int
    max_args: int
    to_sympy: Callable[..., sympy.Expr]
    to_float: Callable[..., float] | None = None


STUDENT_FUNCTIONS: dict[str, Function] = {
    f.name: f
    for f in [
        Function("exp", 1, 1, sympy.exp, math.exp),
        Function("log", 1, 2, lambda x, b=None: sympy.log(x) if b is None else sympy.log(x, b),
                 lambda x, b=None: math.log(x) if b is None else math.log(x, b)),
        Function("sqrt", 1, 1, sympy.sqrt, math.sqrt),
        Function("tanh", 1, 1, sympy.tanh, math.tanh),
        Function("sinh", 1, 1, sympy.sinh, math.sinh),
        Function("cosh", 1, 1, sympy.cosh, math.cosh),
        Function("sin", 1, 1, sympy.sin, math.sin),
        Function("cos", 1, 1, sympy.cos, math.cos),
        Function("tan", 1, 1, sympy.tan, math.tan),
        Function("sigma", 1, 1, _sigma_sym, _sigma_float),
        Function("abs", 1, 1, sympy.Abs, abs),
        Function("sign", 1, 1, sympy.sign, _sign_float),
        Function("max", 2, 8, sympy.Max, max),
        Function("min", 2, 8, sympy.Min, min),
        Function("relu", 1, 1, lambda z: sympy.Max(0, z), lambda z: max(0.0, z)),
    ]
}

# Spellings students (and sympy's printer) use for the same functions.
ALIASES: dict[str, str] = {
    "sigmoid": "sigma", "σ": "sigma", "ln": "log", "Abs": "abs", "Max": "max",
    "Min": "min", "ReLU": "relu",
}

CONSTANTS: dict[str, tuple[sympy.Expr, float]] = {
    "pi": (sympy.pi, math.pi),
    "E": (sympy.E, math.e),
    "e": (sympy.E, math.e),
}


# --------------------------------------------------------------------------
# Tokenizer
# --------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<name>[A-Za-z_σ][A-Za-z_0-9]*)
  | (?P<op>\*\*|<=|>=|==|!=|[-+*/^(),<>])
    """,
    re.VERBOSE,
)


@dataclass(frozen=True)
class Token:
    kind: str  # "num", "name", "op", "end"
    text: str
    pos: int


def tokenize(text: str) -> list[Token]:
    """Split ``text`` into tokens; raise ``ParseError`` on any other character."""
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            ch = text[pos]
            hint = ""
            if ch in "'\"":
                hint = " (strings are not allowed in a formula)"
            elif ch in "[]{}":
                hint = " (use round brackets)"
            elif ch in ".;:=@!&|~%$#`\\":
                hint = " (only + - * / ** ^ and function calls are allowed)"
            raise ParseError(f"unexpected character {ch!r}{hint}", text, pos)
        kind = m.lastgroup or ""
        if kind != "ws":
            tokens.append(Token(kind, m.group(), pos))
        pos = m.end()
    tokens.append(Token("end", "", len(text)))
    return tokens


# --------------------------------------------------------------------------
# Parser
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Grammar:
    """What a formula may mention: variables, functions, and (for banks) comparisons."""

    variables: frozenset[str] = frozenset()
    functions: Mapping[str, Function] = field(default_factory=lambda: STUDENT_FUNCTIONS)
    allow_logic: bool = False

    def known_names(self) -> str:
        """Describe the allowed names, for error messages."""
        var = ", ".join(sorted(self.variables)) or "none"
        return f"variables: {var}; functions: {', '.join(sorted(self.functions))}"


_COMPARE = {"<", "<=", ">", ">=", "==", "!="}


class _Parser:
    def __init__(self, text: str, grammar: Grammar) -> None:
        self.text = text
        self.grammar = grammar
        self.tokens = tokenize(text)
        self.i = 0
        self.depth = 0

    # helpers
    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def error(self, message: str, pos: int | None = None) -> ParseError:
        return ParseError(message, self.text, self.tok.pos if pos is None else pos)

    def take(self) -> Token:
        t = self.tokens[self.i]
        self.i += 1
        return t

    def at(self, *ops: str) -> bool:
        t = self.tok
        return (t.kind == "op" and t.text in ops) or (t.kind == "name" and t.text in ops)

    def expect(self, op: str, context: str) -> Token:
        if not self.at(op):
            found = f"{self.tok.text!r}" if self.tok.kind != "end" else "the end"
            raise self.error(f"expected {op!r} {context}, found {found}")
        return self.take()

    def enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.error(f"formula is nested too deeply (more than {MAX_DEPTH} levels)")

    # grammar
    def parse(self) -> Node:
        if self.tok.kind == "end":
            raise self.error("the answer is empty")
        node = self.logic() if self.grammar.allow_logic else self.additive()
        if self.tok.kind != "end":
            t = self.tok
            if t.kind in ("num", "name") or t.text == "(":
                raise self.error(f"missing operator before {t.text!r} (write '*' for a product)")
            raise self.error(f"unexpected {t.text!r}")
        return node

    def logic(self) -> Node:
        node = self.comparison()
        while self.at("and", "or"):
            t = self.take()
            node = Binary(t.text, node, self.comparison(), t.pos)
        return node

    def comparison(self) -> Node:
        if self.at("not"):
            t = self.take()
            return Unary("not", self.comparison(), t.pos)
        node = self.additive()
        if self.tok.kind == "op" and self.tok.text in _COMPARE:
            t = self.take()
            node = Binary(t.text, node, self.additive(), t.pos)
        return node

    def additive(self) -> Node:
        node = self.multiplicative()
        while self.at("+", "-"):
            t = self.take()
            node = Binary(t.text, node, self.multiplicative(), t.pos)
        return node

    def multiplicative(self) -> Node:
        node = self.unary()
        while self.at("*", "/"):
            t = self.take()
            node = Binary(t.text, node, self.unary(), t.pos)
        return node

    def unary(self) -> Node:
        if self.at("+", "-"):
            t = self.take()
            self.enter()
            operand = self.unary()
            self.depth -= 1
            return Unary(t.text, operand, t.pos)
        return self.power()

    def power(self) -> Node:
        base = self.atom()
        if self.at("**", "^"):
            t = self.take()
            self.enter()
            exponent = self.unary()  # right associative: 2**3**2 == 2**9
            self.depth -= 1
            return Binary("**", base, exponent, t.pos)
        return base

    def atom(self) -> Node:
        t = self.tok
        if t.kind == "num":
            self.take()
            return Num(_literal(t, self.text), t.pos)
        if t.kind == "name":
            return self.name()
        if self.at("("):
            self.take()
            self.enter()
            node = self.logic() if self.grammar.allow_logic else self.additive()
            self.depth -= 1
            self.expect(")", "to close the bracket")
            return node
        if t.kind == "end":
            raise self.error("the formula ends too early")
        raise self.error(f"unexpected {t.text!r}")

    def name(self) -> Node:
        t = self.take()
        raw = t.text
        if raw.startswith("_") or "__" in raw:
            raise ParseError(f"names may not start with '_' or contain '__': {raw!r}", self.text, t.pos)
        name = ALIASES.get(raw, raw)
        g = self.grammar
        if self.at("("):
            if name not in g.functions:
                if name in g.variables:
                    raise ParseError(f"{raw!r} is a variable, not a function "
                                     f"(write '{raw}*(...)' for a product)", self.text, t.pos)
                raise ParseError(f"unknown function {raw!r} ({g.known_names()})", self.text, t.pos)
            fn = g.functions[name]
            self.take()
            self.enter()
            args: list[Node] = []
            if not self.at(")"):
                args.append(self.additive())
                while self.at(","):
                    self.take()
                    args.append(self.additive())
            self.depth -= 1
            self.expect(")", f"to close the call of {raw}")
            if not fn.min_args <= len(args) <= fn.max_args:
                want = (str(fn.min_args) if fn.min_args == fn.max_args
                        else f"{fn.min_args} to {fn.max_args}")
                raise ParseError(f"{raw}() takes {want} argument(s), got {len(args)}",
                                 self.text, t.pos)
            return Call(name, tuple(args), t.pos)
        if name in g.variables:
            return Name(name, t.pos)
        if name in CONSTANTS:
            return Name(name, t.pos)
        if name in g.functions:
            raise ParseError(f"{raw!r} is a function: write {raw}(...)", self.text, t.pos)
        raise ParseError(f"unknown name {raw!r} ({g.known_names()})", self.text, t.pos)


def _literal(t: Token, text: str) -> Fraction:
    mantissa, _, exp = t.text.lower().partition("e")
    if sum(c.isdigit() for c in mantissa) > MAX_DIGITS:
        raise ParseError(f"number has more than {MAX_DIGITS} digits", text, t.pos)
    if exp and abs(int(exp)) > MAX_LITERAL_EXPONENT:
        raise ParseError(f"number exponent is larger than {MAX_LITERAL_EXPONENT}", text, t.pos)
    return Fraction(t.text)


def parse(text: str, grammar: Grammar) -> Node:
    """Parse ``text`` into a bounded syntax tree, or raise ``ParseError`` with a position."""
    if not isinstance(text, str):
        raise ParseError(f"expected text, got {type(text).__name__}", "", 0)
    if len(text) > MAX_LENGTH:
        raise ParseError(f"formula is longer than {MAX_LENGTH} characters", text[:MAX_LENGTH], MAX_LENGTH)
    try:
        node = _Parser(text, grammar).parse()
        check_bounds(node, text)
    except RecursionError:
        raise ParseError("formula is too complex", text, 0) from None
    return node


# --------------------------------------------------------------------------
# Bounds: fold constants exactly, refusing anything too large
# --------------------------------------------------------------------------


def _bits(q: Fraction) -> int:
    return max(q.numerator.bit_length(), q.denominator.bit_length())


def check_bounds(node: Node, text: str) -> Fraction | None:
    """Return the exact value of a constant subtree (else None); raise on oversized numbers."""
    if isinstance(node, Num):
        return node.value
    if isinstance(node, Name):
        return None
    if isinstance(node, Call):
        for a in node.args:
            check_bounds(a, text)
        return None
    if isinstance(node, Unary):
        v = check_bounds(node.operand, text)
        return -v if (v is not None and node.op == "-") else (v if node.op == "+" else None)
    left = check_bounds(node.left, text)
    right = check_bounds(node.right, text)
    op = node.op
    if op == "**":
        if right is not None and abs(right) > MAX_EXPONENT:
            raise ParseError(f"exponent is too large (at most {MAX_EXPONENT} allowed)", text, node.pos)
        if left is None or right is None or right.denominator != 1:
            return None
        if left == 0 and right < 0:
            raise ParseError("zero raised to a negative power", text, node.pos)
        if left != 0 and abs(right) * _bits(left) > MAX_BITS:
            raise ParseError(f"number is too large (more than {MAX_BITS} bits)", text, node.pos)
        return left ** int(right)
    if left is None or right is None:
        return None
    if op == "+":
        value = left + right
    elif op == "-":
        value = left - right
    elif op == "*":
        value = left * right
    elif op == "/":
        if right == 0:
            raise ParseError("division by zero", text, node.pos)
        value = left / right
    else:
        return None
    if _bits(value) > MAX_BITS:
        raise ParseError(f"number is too large (more than {MAX_BITS} bits)", text, node.pos)
    return value


# --------------------------------------------------------------------------
# Evaluation
# --------------------------------------------------------------------------


def names(node: Node) -> set[str]:
    """Return the variable and constant names used in a tree."""
    if isinstance(node, Name):
        return {node.name}
    if isinstance(node, Num):
        return set()
    if isinstance(node, Call):
        return set().union(*(names(a) for a in node.args)) if node.args else set()
    if isinstance(node, Unary):
        return names(node.operand)
    return names(node.left) | names(node.right)


def evaluate(node: Node, env: Mapping[str, float],
             functions: Mapping[str, Function] = STUDENT_FUNCTIONS) -> float:
    """Evaluate a tree to a float without sympy; overflow and domain errors give NaN."""
    try:
        return _eval(node, env, functions)
    except (OverflowError, ValueError, ZeroDivisionError, TypeError):
        return math.nan


def _eval(node: Node, env: Mapping[str, float], functions: Mapping[str, Function]) -> float:
    if isinstance(node, Num):
        return float(node.value)
    if isinstance(node, Name):
        if node.name in env:
            return float(env[node.name])
        return CONSTANTS[node.name][1]
    if isinstance(node, Call):
        fn = functions[node.fn]
        if fn.to_float is None:
            raise ValueError(f"{node.fn} has no numeric form")
        result = fn.to_float(*(_eval(a, env, functions) for a in node.args))
        return float(result)
    if isinstance(node, Unary):
        v = _eval(node.operand, env, functions)
        return -v if node.op == "-" else v
    a = _eval(node.left, env, functions)
    b = _eval(node.right, env, functions)
    op = node.op
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    if op == "/":
        return a / b
    if op == "**":
        return math.pow(a, b)
    raise ValueError(f"operator {op!r} has no numeric value")


def to_sympy(node: Node, env: Mapping[str, sympy.Expr] | None = None,
             functions: Mapping[str, Function] = STUDENT_FUNCTIONS) -> sympy.Expr:
    """Convert a tree to sympy; names in ``env`` are substituted, others become real symbols."""
    env = env or {}
    return _sym(node, env, functions)


def _sym(node: Node, env: Mapping[str, sympy.Expr], functions: Mapping[str, Function]) -> sympy.Expr:
    if isinstance(node, Num):
        return sympy.Rational(node.value.numerator, node.value.denominator)
    if isinstance(node, Name):
        if node.name in env:
            return env[node.name]
        if node.name in CONSTANTS:
            return CONSTANTS[node.name][0]
        return sympy.Symbol(node.name, real=True)
    if isinstance(node, Call):
        return functions[node.fn].to_sympy(*(_sym(a, env, functions) for a in node.args))
    if isinstance(node, Unary):
        v = _sym(node.operand, env, functions)
        if node.op == "not":
            return sympy.true if not _truth(v) else sympy.false
        return -v if node.op == "-" else v
    a = _sym(node.left, env, functions)
    if node.op in ("and", "or"):
        left = _truth(a)
        if node.op == "and" and not left:
            return sympy.false
        if node.op == "or" and left:
            return sympy.true
        return sympy.true if _truth(_sym(node.right, env, functions)) else sympy.false
    b = _sym(node.right, env, functions)
    op = node.op
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    if op == "/":
        return a / b
    if op == "**":
        return a ** b
    rel = {"<": sympy.Lt, "<=": sympy.Le, ">": sympy.Gt, ">=": sympy.Ge,
           "==": sympy.Eq, "!=": sympy.Ne}[op](a, b)
    return sympy.true if _truth(rel) else sympy.false


def _truth(value: sympy.Basic) -> bool:
    if value in (sympy.true, sympy.false):
        return bool(value)
    raise ValueError(f"cannot decide whether {value} is true (is every name a number?)")

