"""The SQLite gradebook: schema and migrations, per-student writes, exports."""
from .schema import APPLICATION_ID, LATEST, GradebookError
from .store import Fingerprint, Gradebook, StoredCheck, StoredExercise, StoredGrade

__all__ = ["APPLICATION_ID", "LATEST", "Fingerprint", "Gradebook", "GradebookError", "StoredCheck",
           "StoredExercise", "StoredGrade"]
