"""Grades for an LMS's grade import: Canvas's gradebook CSV, Moodle's grade import CSV, Gradescope's CSV.

Pure functions over StoredGrade lists and a roster; the callers open files. Every format
exports one number per student for the unit: `export.total` (the exercises, the quiz when it
counts, less the late penalty). A student whose grading failed on the grader's side gets an
empty cell, never a zero. Ids come from the roster (`read_roster`); a graded student
missing from it keeps a row with what the grader knows (its student id) and is reported.

Formats (docs/interop.md cites the import documentation each follows):
* canvas: "Student", "ID", "SIS User ID", "SIS Login ID", "Section", then one assignment
  column, and the "Points Possible" row under the header, as Canvas's own export has it.
* moodle: one identifier column, "Email address", "ID number" or "Username" (Moodle's
  "Identify user by": useremail, useridnumber, username), the grade, and a feedback column.
* gradescope-csv: Gradescope's assignment scores: "First Name", "Last Name", "SID", "Email",
  "Total Score", "Max Points", "Status", "Submission Time", "Lateness (H:M:S)".
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

from ..config import Unit
from ..errors import UsageError
from ..late import describe
from .export import max_total, total
from .store import StoredGrade

FORMATS = ("canvas", "moodle", "gradescope-csv")
MOODLE_IDS = {"email": ("Email address", "email"), "idnumber": ("ID number", "idnumber"),
              "username": ("Username", "username")}
ROSTER_COLUMNS = ("student_id", "name", "first_name", "last_name", "email", "canvas_id", "sis_user_id",
                  "sis_login_id", "section", "username", "idnumber")
MAX_ROSTER_BYTES = 16 << 20


@dataclass
class Roster:
    """student_id -> that student's other ids and name (columns of ROSTER_COLUMNS; all optional but the id)."""

    rows: dict[str, dict[str, str]] = field(default_factory=dict)

    def get(self, student: str) -> dict[str, str] | None:
        """The student's row, or None when the roster does not list them."""
        return self.rows.get(student)


def read_roster(path: Path) -> Roster:
    """Read a roster CSV (UTF-8, a header row with `student_id` and any of ROSTER_COLUMNS); UsageError when bad."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read the roster {path}: {exc.strerror or exc}") from None
    if len(data) > MAX_ROSTER_BYTES:
        raise UsageError(f"the roster {path} is over {MAX_ROSTER_BYTES >> 20} MB")
    try:
        reader = csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline=""))
        fields = [(f or "").strip() for f in reader.fieldnames or []]
        if "student_id" not in fields:
            raise UsageError(f"the roster {path} has no student_id column",
                             f"its header names the columns: {', '.join(ROSTER_COLUMNS)} (only student_id is needed)")
        roster = Roster()
        for number, raw in enumerate(reader, start=2):
            row = {(k or "").strip(): (v or "").strip() for k, v in raw.items() if isinstance(v, str)}
            student = row.get("student_id", "")
            if not student:
                continue
            if student in roster.rows:
                raise UsageError(f"the roster {path} lists student {student!r} twice (line {number})")
            roster.rows[student] = {k: row.get(k, "") for k in ROSTER_COLUMNS}
    except (UnicodeDecodeError, csv.Error) as exc:
        raise UsageError(f"the roster {path} is not a UTF-8 CSV file: {exc}") from None
    return roster


def default_assignment(unit: Unit) -> str:
    """The LMS column's name: 'unit1: Shallow networks'."""
    return f"{unit.id}: {unit.title}"


def lms_csv(fmt: str, grades: list[StoredGrade], unit: Unit, roster: Roster | None = None, *,
            assignment: str | None = None, moodle_id: str = "idnumber") -> tuple[str, list[str]]:
    """The import file's text, and the graded students the roster does not list (empty without a roster)."""
    if fmt not in FORMATS:
        raise UsageError(f"unknown LMS format {fmt!r}", f"use one of {', '.join(FORMATS)}")
    if moodle_id not in MOODLE_IDS:
        raise UsageError(f"unknown Moodle identifier {moodle_id!r}", f"use one of {', '.join(MOODLE_IDS)}")
    missing = [g.student for g in grades if roster is not None and roster.get(g.student) is None]
    writer_out = io.StringIO()
    writer = csv.writer(writer_out, lineterminator="\r\n")
    name = assignment or default_assignment(unit)
    if fmt == "canvas":
        writer.writerow(["Student", "ID", "SIS User ID", "SIS Login ID", "Section", name])
        writer.writerow(["    Points Possible", "", "", "", "", _num(max_total(unit))])
        for grade in grades:
            who = _who(grade.student, roster)
            writer.writerow([who["name"], who["canvas_id"], who["sis_user_id"] or grade.student, who["sis_login_id"],
                             who["section"], _score(grade, unit)])
    elif fmt == "moodle":
        header, key = MOODLE_IDS[moodle_id]
        writer.writerow([header, name, f"Feedback: {name}"])
        for grade in grades:
            who = _who(grade.student, roster)
            ident = who[key] or (grade.student if key in ("idnumber", "username") and roster is None else "")
            writer.writerow([ident, _score(grade, unit), _feedback(grade)])
    else:
        writer.writerow(["First Name", "Last Name", "SID", "Email", "Total Score", "Max Points", "Status",
                         "Submission Time", "Lateness (H:M:S)"])
        for grade in grades:
            who = _who(grade.student, roster)
            status = "Graded" if grade.status == "graded" else "Missing" if grade.status == "ungradable" else ""
            writer.writerow([who["first_name"], who["last_name"], who["sis_user_id"] or grade.student, who["email"],
                             _score(grade, unit), _num(max_total(unit)), status, grade.submitted_at or "",
                             _hms(grade.late_seconds)])
    return writer_out.getvalue(), missing


def _who(student: str, roster: Roster | None) -> dict[str, str]:
    row = dict.fromkeys(ROSTER_COLUMNS, "") | ((roster.get(student) if roster else None) or {})
    if not row["name"] and (row["first_name"] or row["last_name"]):
        row["name"] = f"{row['last_name']}, {row['first_name']}".strip(", ")
    row["name"] = row["name"] or student
    return row


def _score(grade: StoredGrade, unit: Unit) -> str:
    return "" if grade.status == "grader_error" else _num(total(grade, unit))


def _feedback(grade: StoredGrade) -> str:
    if grade.status == "grader_error":
        return ""
    if grade.penalty:
        return f"late: -{_num(grade.penalty)} points (handed in {describe(grade.late_seconds)} after the deadline)"
    return ""


def _hms(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def _num(value: float) -> str:
    return f"{round(value, 4):g}"


def lms_text(args, grades: list[StoredGrade], unit: Unit) -> str:  # noqa: ANN001  (argparse.Namespace)
    """`grader export --format canvas|moodle|gradescope-csv`: the file's text; says on stderr who the roster lacks."""
    import sys

    roster = read_roster(args.roster) if args.roster else None
    text, missing = lms_csv(args.format, grades, unit, roster, assignment=args.assignment, moodle_id=args.moodle_id)
    if missing:
        print(f"grader: {len(missing)} graded student(s) not in the roster {args.roster}, exported under their "
              f"student id: {', '.join(missing)}", file=sys.stderr)
    return text
