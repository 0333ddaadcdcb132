"""Reading and writing grades: one transaction per student, so a killed batch loses nothing.

The batch's main thread is the only writer. A grade is written as the student's
submission row, its exercise and check rows, and one line of the `gradings` log,
all in one transaction; a batch killed at any moment leaves each student either
fully graded or not graded at all.
"""
from __future__ import annotations

import datetime as _dt
import fcntl
import json
import os
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from .. import __version__
from ..results import UnitResult
from .schema import GradebookError, connect

STATUSES = ("graded", "ungradable", "grader_error")


@dataclass
class StoredCheck:
    name: str
    passed: bool
    message: str
    weight: float = 1.0
    hint: str | None = None
    stage: str | None = None   # where a failing check failed: "type", "shape", "dtype", "values"...


@dataclass
class StoredExercise:
    name: str
    score: float
    max_score: float
    error: str | None = None
    checks: list[StoredCheck] = field(default_factory=list)
    graded_from: str | None = None   # the file whose definition was graded, when several define it
    notes: list[str] = field(default_factory=list)   # e.g. it may fail only because one it uses fails


@dataclass
class StoredGrade:
    """A student's current grade for a unit, as the gradebook holds it."""

    unit: str
    student: str
    status: str
    score: float
    max_score: float
    error: str | None
    notes: list[str]
    content_hash: str
    spec_hash: str
    graded_at: str
    grader_version: str
    exercises: dict[str, StoredExercise] = field(default_factory=dict)
    quiz: dict | None = None  # QuizResult.to_json() shape, when the quiz engine recorded one
    submitted_at: str | None = None   # from the submission's timestamp.txt (nbgrader collect), ISO 8601
    late_seconds: float = 0.0         # how long after the unit's deadline it was handed in
    penalty: float = 0.0              # points the course's late rule took off `score`


@dataclass(frozen=True)
class Fingerprint:
    status: str
    content_hash: str
    spec_hash: str


def _text(value: str | None) -> str | None:
    """Text SQLite can store: a lone surrogate (from a student's message or file name) becomes '\\udcff'."""
    return value if value is None else str(value).encode("utf-8", "backslashreplace").decode("utf-8")


def now() -> str:
    """UTC time stamp with seconds, ISO 8601."""
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


class Gradebook:
    """An open gradebook. Use as a context manager; `lock()` before grading into it."""

    def __init__(self, path: Path, *, readonly: bool = False) -> None:
        self.path = Path(path)
        self.conn = connect(self.path, readonly=readonly)
        self._lock_fd: int | None = None

    def __enter__(self) -> "Gradebook":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection and release the batch lock."""
        self.conn.close()
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def lock(self) -> None:
        """Take the one-batch-at-a-time lock (a lock file beside the gradebook)."""
        lock_path = self.path.with_name(self.path.name + ".lock")
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise GradebookError(f"another `grader grade` is writing to {self.path}",
                                 "wait for it to finish, or use another --gradebook") from None
        self._lock_fd = fd

    # -- transactions -------------------------------------------------------
    def _transaction(self) -> "_Tx":
        return _Tx(self.conn)

    # -- runs ---------------------------------------------------------------
    def begin_run(self, unit: str, sandbox: str, options: dict) -> int:
        """Record the start of a batch; returns its id."""
        with self._transaction() as c:
            cur = c.execute("INSERT INTO runs (unit, started_at, grader_version, sandbox, options) VALUES (?,?,?,?,?)",
                            (unit, now(), __version__, sandbox, json.dumps(options, sort_keys=True)))
            return int(cur.lastrowid)

    def finish_run(self, run_id: int, counts: dict) -> None:
        """Record the end of a batch and what it did."""
        with self._transaction() as c:
            c.execute("UPDATE runs SET finished_at = ?, counts = ? WHERE id = ?",
                      (now(), json.dumps(counts, sort_keys=True), run_id))

    # -- grades -------------------------------------------------------------
    def fingerprints(self, unit: str) -> dict[str, Fingerprint]:
        """student -> what their current grade was computed from."""
        rows = self.conn.execute("SELECT student, status, content_hash, spec_hash FROM submissions WHERE unit = ?",
                                 (unit,))
        return {r[0]: Fingerprint(r[1], r[2], r[3]) for r in rows}

    def record(self, unit: str, student: str, result: UnitResult, *, status: str, content_hash: str,
               spec_hash: str, error: str | None = None, run_id: int | None = None,
               submitted_at: str | None = None, late_seconds: float = 0.0, penalty: float = 0.0) -> None:
        """Replace the student's grade for the unit with result, in one transaction.

        `score` stays the checks' score; `penalty` is what the late rule takes off it (exports subtract it).
        """
        if status not in STATUSES:
            raise ValueError(f"unknown status {status!r}")
        stamp = now()
        with self._transaction() as c:
            c.execute("DELETE FROM submissions WHERE unit = ? AND student = ?", (unit, student))
            c.execute("INSERT INTO submissions (unit, student, status, content_hash, spec_hash, score, max_score,"
                      " error, notes, graded_at, grader_version, run_id, submitted_at, late_seconds, penalty)"
                      " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                      (unit, student, status, content_hash, spec_hash, result.score, result.max_score, _text(error),
                       json.dumps(result.notes), stamp, __version__, run_id, submitted_at, float(late_seconds),
                       float(penalty)))
            for position, (name, ex) in enumerate(result.exercises.items()):
                c.execute("INSERT INTO exercises (unit, student, exercise, position, score, max_score, error,"
                          " graded_from, notes) VALUES (?,?,?,?,?,?,?,?,?)",
                          (unit, student, name, position, ex.score, ex.max_score, _text(ex.error),
                           _text(ex.graded_from), json.dumps([_text(n) for n in ex.notes])))
                c.executemany("INSERT INTO checks (unit, student, exercise, position, name, passed, weight, message,"
                              " hint, stage) VALUES (?,?,?,?,?,?,?,?,?,?)",
                              [(unit, student, name, i, ch.name, int(ch.passed), ch.weight, _text(ch.message),
                                _text(ch.hint), ch.stage) for i, ch in enumerate(ex.checks)])
            c.execute("INSERT INTO gradings (unit, student, status, content_hash, score, graded_at, run_id)"
                      " VALUES (?,?,?,?,?,?,?)", (unit, student, status, content_hash, result.score, stamp, run_id))

    def set_lateness(self, unit: str, student: str, submitted_at: str | None, late_seconds: float, penalty: float,
                     *, note: str | None = None, note_prefix: str = "") -> bool:
        """Update a recorded grade's lateness in place (grader.late); notes starting with note_prefix are replaced.

        Returns whether anything changed; a grade that is not there is left alone.
        """
        with self._transaction() as c:
            row = c.execute("SELECT notes, submitted_at, late_seconds, penalty FROM submissions"
                            " WHERE unit = ? AND student = ?", (unit, student)).fetchone()
            if row is None:
                return False
            notes = [n for n in json.loads(row[0]) if not (note_prefix and n.startswith(note_prefix))]
            if note:
                notes.append(_text(note))
            new = (json.dumps(notes), submitted_at, float(late_seconds), float(penalty))
            if new == tuple(row):
                return False
            c.execute("UPDATE submissions SET notes = ?, submitted_at = ?, late_seconds = ?, penalty = ?"
                      " WHERE unit = ? AND student = ?", (*new, unit, student))
            return True

    def record_quiz(self, unit: str, student: str, quiz: dict, *, answers_hash: str | None = None) -> None:
        """Store a quiz result (`QuizResult.to_json()`: score, max_score, questions) for a student.

        The hook for the quiz engine: call it with `grade_answers(variant, answers).to_json()`.
        """
        stamp = now()
        with self._transaction() as c:
            c.execute("DELETE FROM quiz_results WHERE unit = ? AND student = ?", (unit, student))
            c.execute("INSERT INTO quiz_results (unit, student, score, max_score, answers_hash, graded_at,"
                      " grader_version) VALUES (?,?,?,?,?,?,?)",
                      (unit, student, float(quiz["score"]), float(quiz["max_score"]), answers_hash, stamp,
                       __version__))
            c.executemany("INSERT INTO quiz_questions (unit, student, question, position, score, max_score, message,"
                          " answer) VALUES (?,?,?,?,?,?,?,?)",
                          [(unit, student, _text(str(qid)), i, float(q["score"]), float(q["max_score"]),
                            _text(str(q.get("message", ""))), _answer_json(q))
                           for i, (qid, q) in enumerate(quiz["questions"].items())])

    def grades(self, unit: str, students: list[str] | None = None) -> list[StoredGrade]:
        """Current grades for the unit (all students, or these), sorted by student id."""
        rows = self.conn.execute("SELECT unit, student, status, score, max_score, error, notes, content_hash,"
                                 " spec_hash, graded_at, grader_version, submitted_at, late_seconds, penalty"
                                 " FROM submissions WHERE unit = ? ORDER BY student", (unit,)).fetchall()
        wanted = set(students) if students is not None else None
        grades = {r[1]: StoredGrade(*r[:6], json.loads(r[6]), *r[7:11], submitted_at=r[11], late_seconds=r[12],
                                    penalty=r[13]) for r in rows
                  if wanted is None or r[1] in wanted}
        for student, name, score, max_score, error, graded_from, notes in self.conn.execute(
                "SELECT student, exercise, score, max_score, error, graded_from, notes FROM exercises"
                " WHERE unit = ? ORDER BY student, position", (unit,)):
            if student in grades:
                grades[student].exercises[name] = StoredExercise(name, score, max_score, error,
                                                                 graded_from=graded_from, notes=json.loads(notes))
        for student, name, check, passed, message, weight, hint, stage in self.conn.execute(
                "SELECT student, exercise, name, passed, message, weight, hint, stage FROM checks WHERE unit = ?"
                " ORDER BY student, exercise, position", (unit,)):
            if student in grades:
                grades[student].exercises[name].checks.append(
                    StoredCheck(check, bool(passed), message, weight, hint, stage=stage))
        for student, quiz in self._quizzes(unit):
            if student in grades:
                grades[student].quiz = quiz
        return list(grades.values())

    def _quizzes(self, unit: str) -> Iterator[tuple[str, dict]]:
        questions: dict[str, dict] = {}
        for student, qid, score, max_score, message, answer in self.conn.execute(
                "SELECT student, question, score, max_score, message, answer FROM quiz_questions WHERE unit = ?"
                " ORDER BY student, position", (unit,)):
            entry = {"score": score, "max_score": max_score, "message": message}
            if answer is not None:
                entry["answer"] = json.loads(answer)
            questions.setdefault(student, {})[qid] = entry
        for student, score, max_score in self.conn.execute(
                "SELECT student, score, max_score FROM quiz_results WHERE unit = ?", (unit,)):
            yield student, {"score": score, "max_score": max_score, "questions": questions.get(student, {})}

    def grading_counts(self, unit: str) -> dict[str, int]:
        """student -> how many times a grade was committed (from the append-only log)."""
        rows = self.conn.execute("SELECT student, COUNT(*) FROM gradings WHERE unit = ? GROUP BY student", (unit,))
        return {r[0]: int(r[1]) for r in rows}


def _answer_json(question: dict) -> str | None:
    """The student's answer to a quiz question as JSON text (None when the result carries none)."""
    if "answer" not in question:
        return None
    return _text(json.dumps(question["answer"], default=str))


class _Tx:
    """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on any exception."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> sqlite3.Connection:
        self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(self, kind: Any, value: Any, tb: Any) -> None:
        if kind is None:
            self.conn.execute("COMMIT")
        else:
            self.conn.execute("ROLLBACK")
