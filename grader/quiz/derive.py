"""Helper functions that question banks may call in their (trusted) formulas.

Banks derive answers declaratively: every ``answer``, ``derived`` value and
``constraint`` is a formula in the parameters, parsed by ``grader.quiz.expr``
and computed exactly with sympy.  A few formulas are long or easy to get
wrong when restated in every question (the conv output size, the parameter
count of a recurrent layer), so they live here once, as a small registry of
named functions.  Students cannot call them: they are only in ``BANK_GRAMMAR``.

Each helper takes and returns sympy numbers; tests check them against torch.
"""

from __future__ import annotations

import sympy

from grader.quiz.expr import STUDENT_FUNCTIONS, Function, Grammar


def conv_out(n: sympy.Expr, k: sympy.Expr, s: sympy.Expr = sympy.Integer(1),
             p: sympy.Expr = sympy.Integer(0), d: sympy.Expr = sympy.Integer(1)) -> sympy.Expr:
    """Output length of a conv along one axis: floor((n + 2p - d(k-1) - 1)/s) + 1."""
    return sympy.floor((n + 2 * p - d * (k - 1) - 1) / s) + 1


def pool_out(n: sympy.Expr, k: sympy.Expr, s: sympy.Expr | None = None,
             p: sympy.Expr = sympy.Integer(0)) -> sympy.Expr:
    """Output length of max/avg pooling (floor mode); the stride defaults to the kernel size."""
    return conv_out(n, k, k if s is None else s, p)


def _gates_params(gates: int, d: sympy.Expr, h: sympy.Expr, layers: sympy.Expr,
                  directions: sympy.Expr) -> sympy.Expr:
    # One layer and direction: gates * (h*input + h*h + 2h) -- PyTorch keeps two bias vectors.
    first = gates * (h * d + h * h + 2 * h)
    later = gates * (h * (directions * h) + h * h + 2 * h)
    return directions * (first + (layers - 1) * later)


def rnn_params(d: sympy.Expr, h: sympy.Expr, layers: sympy.Expr = sympy.Integer(1),
               directions: sympy.Expr = sympy.Integer(1)) -> sympy.Expr:
    """Number of parameters of ``nn.RNN(d, h, num_layers=layers)`` (with biases)."""
    return _gates_params(1, d, h, layers, directions)


def gru_params(d: sympy.Expr, h: sympy.Expr, layers: sympy.Expr = sympy.Integer(1),
               directions: sympy.Expr = sympy.Integer(1)) -> sympy.Expr:
    """Number of parameters of ``nn.GRU(d, h, num_layers=layers)`` (with biases)."""
    return _gates_params(3, d, h, layers, directions)


def lstm_params(d: sympy.Expr, h: sympy.Expr, layers: sympy.Expr = sympy.Integer(1),
                directions: sympy.Expr = sympy.Integer(1)) -> sympy.Expr:
    """Number of parameters of ``nn.LSTM(d, h, num_layers=layers)`` (with biases)."""
    return _gates_params(4, d, h, layers, directions)


def step(z: sympy.Expr) -> sympy.Expr:
    """Heaviside step used by the perceptron: 1 if z > 0 else 0."""
    return sympy.Integer(1) if bool(z > 0) else sympy.Integer(0)


def pick(i: sympy.Expr, *values: sympy.Expr) -> sympy.Expr:
    """The i-th (1-based) of ``values``: lets a formula use "the logit of class c"."""
    if not (i.is_Integer and 1 <= int(i) <= len(values)):
        raise ValueError(f"pick: index {i} is not between 1 and {len(values)}")
    return values[int(i) - 1]


BANK_FUNCTIONS: dict[str, Function] = {
    **STUDENT_FUNCTIONS,
    **{
        f.name: f
        for f in [
            Function("floor", 1, 1, sympy.floor),
            Function("ceil", 1, 1, sympy.ceiling),
            Function("mod", 2, 2, sympy.Mod),
            Function("step", 1, 1, step),
            Function("pick", 2, 9, pick),
            Function("conv_out", 2, 5, conv_out),
            Function("pool_out", 2, 4, pool_out),
            Function("rnn_params", 2, 4, rnn_params),
            Function("gru_params", 2, 4, gru_params),
            Function("lstm_params", 2, 4, lstm_params),
        ]
    },
}


def bank_grammar(names: frozenset[str]) -> Grammar:
    """Grammar for trusted bank formulas over the given parameter and variable names."""
    return Grammar(variables=names, functions=BANK_FUNCTIONS, allow_logic=True)
