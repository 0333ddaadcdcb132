"""The gradebook's SQLite schema, its migrations, and how a file is recognised as ours.

A gradebook carries `PRAGMA application_id = APPLICATION_ID` and `PRAGMA user_version`
= the schema version. Each migration runs in one transaction with the version bump, so
a gradebook is always at some whole version. Anything else (not SQLite, another
application's database, a newer schema, a damaged file) is refused, never overwritten.
"""
from __future__ import annotations

import sqlite3
from pathlib import Path

from ..errors import GraderError

APPLICATION_ID = 0x44474231  # "DGB1"
SQLITE_MAGIC = b"SQLite format 3\x00"

# version -> SQL that takes a gradebook from version-1 to version.
MIGRATIONS: dict[int, str] = {
    1: """
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE runs (
            id INTEGER PRIMARY KEY, unit TEXT NOT NULL, started_at TEXT NOT NULL, finished_at TEXT,
            grader_version TEXT NOT NULL, sandbox TEXT NOT NULL, options TEXT NOT NULL, counts TEXT);
        -- the current grade of one student for one unit
        CREATE TABLE submissions (
            unit TEXT NOT NULL, student TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('graded', 'ungradable', 'grader_error')),
            content_hash TEXT NOT NULL, spec_hash TEXT NOT NULL,
            score REAL NOT NULL, max_score REAL NOT NULL, error TEXT, notes TEXT NOT NULL,
            graded_at TEXT NOT NULL, grader_version TEXT NOT NULL, run_id INTEGER REFERENCES runs(id),
            PRIMARY KEY (unit, student));
        CREATE TABLE exercises (
            unit TEXT NOT NULL, student TEXT NOT NULL, exercise TEXT NOT NULL, position INTEGER NOT NULL,
            score REAL NOT NULL, max_score REAL NOT NULL, error TEXT,
            PRIMARY KEY (unit, student, exercise),
            FOREIGN KEY (unit, student) REFERENCES submissions (unit, student) ON DELETE CASCADE);
        CREATE TABLE checks (
            unit TEXT NOT NULL, student TEXT NOT NULL, exercise TEXT NOT NULL, position INTEGER NOT NULL,
            name TEXT NOT NULL, passed INTEGER NOT NULL, weight REAL NOT NULL, message TEXT NOT NULL, hint TEXT,
            PRIMARY KEY (unit, student, exercise, position),
            FOREIGN KEY (unit, student, exercise) REFERENCES exercises (unit, student, exercise) ON DELETE CASCADE);
        -- append-only: one row each time a grade was committed (audit; proves 'graded once')
        CREATE TABLE gradings (
            id INTEGER PRIMARY KEY, unit TEXT NOT NULL, student TEXT NOT NULL, status TEXT NOT NULL,
            content_hash TEXT NOT NULL, score REAL NOT NULL, graded_at TEXT NOT NULL, run_id INTEGER);
    """,
    2: """
        -- quiz results per student (written by the quiz engine through Gradebook.record_quiz)
        CREATE TABLE quiz_results (
            unit TEXT NOT NULL, student TEXT NOT NULL, score REAL NOT NULL, max_score REAL NOT NULL,
            answers_hash TEXT, graded_at TEXT NOT NULL, grader_version TEXT NOT NULL,
            PRIMARY KEY (unit, student));
        CREATE TABLE quiz_questions (
            unit TEXT NOT NULL, student TEXT NOT NULL, question TEXT NOT NULL, position INTEGER NOT NULL,
            score REAL NOT NULL, max_score REAL NOT NULL, message TEXT NOT NULL,
            PRIMARY KEY (unit, student, question),
            FOREIGN KEY (unit, student) REFERENCES quiz_results (unit, student) ON DELETE CASCADE);
    """,
    3: """
        -- which file's definition was graded (several files define it), and notes on the exercise
        ALTER TABLE exercises ADD COLUMN graded_from TEXT;
        ALTER TABLE exercises ADD COLUMN notes TEXT NOT NULL DEFAULT '[]';
    """,
    4: """
        -- the stage at which a check failed (type, shape, dtype, device, values...), for the class report
        ALTER TABLE checks ADD COLUMN stage TEXT;
        -- the student's answer to a quiz question (JSON), for item analysis
        ALTER TABLE quiz_questions ADD COLUMN answer TEXT;
        -- when the work was handed in (nbgrader's timestamp.txt), how late, and the points the late rule took
        ALTER TABLE submissions ADD COLUMN submitted_at TEXT;
        ALTER TABLE submissions ADD COLUMN late_seconds REAL NOT NULL DEFAULT 0;
        ALTER TABLE submissions ADD COLUMN penalty REAL NOT NULL DEFAULT 0;
    """,
}
LATEST = max(MIGRATIONS)


class GradebookError(GraderError):
    """The gradebook file cannot be used: foreign, damaged, too new, or locked."""

    exit_code = 4


def connect(path: Path, *, target: int = LATEST, readonly: bool = False) -> sqlite3.Connection:
    """Open (creating or migrating when needed) the gradebook at path; refuse anything not ours."""
    path = Path(path)
    _check_header(path)
    if readonly and not path.exists():
        raise GradebookError(f"no gradebook at {path}", "run `grader grade` first, or pass --gradebook")
    if not path.parent.is_dir():
        raise GradebookError(f"the folder for the gradebook {path} does not exist")
    uri = f"file:{path}?mode=ro" if readonly else f"file:{path}"
    try:
        conn = sqlite3.connect(uri, uri=True, timeout=30, isolation_level=None, check_same_thread=False)
    except sqlite3.Error as exc:
        raise GradebookError(f"cannot open the gradebook {path}: {exc}") from exc
    try:
        _recognise(conn, path)
        if not readonly:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA foreign_keys=ON")
        if not readonly:
            migrate(conn, target)
        elif version(conn) < target:
            raise GradebookError(f"{path} has schema version {version(conn)}; open it for writing to upgrade it")
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise GradebookError(f"{path} is damaged or not a gradebook ({exc}); it was left untouched",
                             "restore it from a backup, or pass another --gradebook path") from exc
    except BaseException:
        conn.close()
        raise
    return conn


def version(conn: sqlite3.Connection) -> int:
    """The schema version stored in the file."""
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def migrate(conn: sqlite3.Connection, target: int = LATEST) -> None:
    """Apply the missing migrations up to target, each with its version bump in one transaction."""
    current = version(conn)
    for step in range(current + 1, target + 1):
        conn.execute("BEGIN IMMEDIATE")
        try:
            if version(conn) >= step:  # another process migrated meanwhile
                conn.execute("ROLLBACK")
                continue
            for statement in _statements(MIGRATIONS[step]):
                conn.execute(statement)
            if step == 1:
                conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                conn.execute("INSERT INTO meta (key, value) VALUES ('format', 'dl-grader gradebook')")
            conn.execute(f"PRAGMA user_version = {step}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise


def _statements(script: str) -> list[str]:
    """Split a migration script on ';' (no statement in MIGRATIONS contains one in a literal)."""
    lines = [line for line in script.splitlines() if not line.strip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]


def _check_header(path: Path) -> None:
    if path.is_symlink():
        raise GradebookError(f"{path} is a symbolic link; give the real path of the gradebook")
    if path.exists() and not path.is_file():
        raise GradebookError(f"{path} is not a file")
    if path.exists() and path.stat().st_size > 0:
        with open(path, "rb") as f:
            head = f.read(len(SQLITE_MAGIC))
        if head != SQLITE_MAGIC:
            raise GradebookError(f"{path} is not a gradebook (not an SQLite file); it was left untouched",
                                 "pass another --gradebook path, or move that file away")


def _recognise(conn: sqlite3.Connection, path: Path) -> None:
    app_id = int(conn.execute("PRAGMA application_id").fetchone()[0])
    ver = version(conn)
    tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    if app_id == 0 and ver == 0 and not tables:
        return  # a new, empty database: ours to set up
    if app_id != APPLICATION_ID:
        raise GradebookError(f"{path} is an SQLite database of another application "
                             f"(application_id {app_id:#x}, tables: {', '.join(tables[:5]) or 'none'}); "
                             "it was left untouched", "pass another --gradebook path")
    if ver > LATEST:
        raise GradebookError(f"{path} has gradebook schema version {ver}, newer than this grader's {LATEST}",
                             "upgrade the grader")
    problems = [r[0] for r in conn.execute("PRAGMA quick_check")]
    if problems != ["ok"]:
        raise GradebookError(f"{path} is damaged: {'; '.join(problems[:3])}; it was left untouched",
                             "restore it from a backup, or pass another --gradebook path")
