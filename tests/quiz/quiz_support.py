"""Constants shared by the quiz tests."""
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
UNITS = ["unit1", "unit2", "unit3", "unit4", "unit5"]
SALT = "test-salt"
