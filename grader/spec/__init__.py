"""The exercise and check model that a unit's checks.py is written in."""
from .model import Case, Exercise, Mistake, call_inputs

__all__ = ["Case", "Exercise", "Mistake", "call_inputs"]
