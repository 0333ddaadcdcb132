"""Plain dataclasses for exercises, their cases and the mistakes they recognise."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import numpy as np


@dataclass(frozen=True)
class Case:
    """One check: a driver called on inputs, compared with the reference.

    `oracle(inputs, ctx)`, when given, computes the expected output in the
    trusted process instead of running the driver on the reference (for
    example with torch.autograd). It never reaches the worker.

    `measure(raw, inputs, ctx)`, when given, turns a driver's raw output (plain
    data) into the observations that are compared (a drop rate, accuracies of
    a trained model). It runs in the trusted process on the student's output,
    the reference's and each mistake's, so the student's code cannot forge an
    observation. An oracle, when given too, returns observations directly.

    `private` holds inputs for the trusted side only (a held-out test split,
    the grader's own models): oracles and `measure` see `{**inputs,
    **private}`, drivers and the worker see `inputs` alone. Nothing in
    `private` is ever put in a request to the worker.

    `public_only` marks a fixed example whose inputs do not come from the
    seed (the lecture's layer): `grader check` runs it, but the hidden cases
    that decide the grade leave it out, since its answer is known in advance.
    Give such an exercise cases drawn from the seed too.
    """

    name: str
    inputs: dict
    driver: str = "call"
    weight: float = 1.0
    rtol: float | None = None
    atol: float | None = None
    oracle: Callable[[dict, Any], Any] | None = None
    timeout: float | None = None
    measure: Callable[[Any, dict, Any], Any] | None = None
    private: dict = field(default_factory=dict)
    public_only: bool = False

    def trusted_inputs(self, inputs: dict) -> dict:
        """The worker's inputs plus this case's private part: what oracles and measurements see."""
        return {**inputs, **self.private} if self.private else inputs


@dataclass(frozen=True)
class Mistake:
    """A typical mistake and the hint shown when a failing output shows it.

    Either `replace` (names -> a wrong implementation, run through the case's
    driver in the trusted process; the student's output must match its output)
    or `when(actual, expected, inputs) -> bool`, a predicate over plain data
    that recognises the pattern of a failure (for example inf where a finite
    value was expected). Both run in the trusted process only.
    """

    hint: str
    replace: Mapping[str, Callable[..., Any]] = field(default_factory=dict)
    when: Callable[[Any, Any, dict], bool] | None = None


@dataclass(frozen=True)
class Exercise:
    """What a student must write, how it is exercised, and what it must not use."""

    name: str
    cases: Callable[[np.random.Generator], list[Case]]
    entry: tuple[str, ...]
    forbidden: tuple[str, ...] = ()
    mistakes: tuple[Mistake, ...] = ()
    outputs: tuple[str, ...] = ()  # names of the values in a returned tuple, for messages
    forbidden_hint: str = ""
    meta: dict = field(default_factory=dict)
    uses: tuple[str, ...] = ()  # exercises whose code this one calls: its failure is explained by theirs


def call_inputs(fn: str, args: Mapping[str, Any], **kwargs: Any) -> dict:
    """Inputs for the `call` driver: positional args by name (in order), then keyword args."""
    return {"fn": fn, "args": list(args.values()), "arg_names": list(args), "kwargs": kwargs}
