"""Late work: when a submission was handed in (nbgrader's timestamp.txt), how late, and the penalty.

nbgrader writes `timestamp.txt` into each `submitted/<student>/<unit>/`: `nbgrader submit`
through the exchange as `2026-10-14 22:01:05.123456 UTC` (its `timestamp_format`,
"%Y-%m-%d %H:%M:%S.%f %Z", in its `timezone`), `nbgrader zip_collect` as
`datetime.isoformat(" ")`, and its docs show an IANA name as the zone
(`2015-02-02 14:58:23.948203 America/Los_Angeles`). A time without a zone is UTC, as
nbgrader's `parse_utc` reads it. The rule itself (`LateRule`) is course.toml's `[late]`
(config.py); the functions here are pure, `record_lateness` is the batch's one hook.
"""
from __future__ import annotations

import datetime as dt
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

if TYPE_CHECKING:   # config imports this module: only the type checker needs these
    from .batch import StudentFolder
    from .config import Course, Unit
    from .gradebook import Gradebook

TIMESTAMP_FILE = "timestamp.txt"
MAX_TIMESTAMP_BYTES = 256
NOTE_PREFIX = "late work: "   # notes this module writes start with it, so a new run replaces them
UTC = dt.timezone.utc
PERIODS = {"hour": 3600.0, "day": 86400.0}
_DURATION = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")
_OFFSET = re.compile(r"([+-])(\d{2}):?(\d{2})")


@dataclass(frozen=True)
class LateRule:
    """course.toml's [late] (a unit's `late = {...}` overrides its keys). Fractions are of the unit's points."""

    grace: float = 0.0                        # seconds after the deadline that still count as on time
    penalty: float = 0.0                      # fraction of the points taken off per started period late
    per: str = "day"                          # "hour" or "day"
    max_penalty: float = 1.0                  # at most this fraction of the points
    not_accepted_after: float | None = None   # seconds after the deadline; later work gets no points
    timezone: str | None = None               # nbgrader's Exchange.timezone: reads its abbreviations (CEST)


@dataclass(frozen=True)
class Lateness:
    """What the rule made of one submission."""

    submitted_at: str | None   # ISO 8601, UTC; None when there is no readable timestamp
    late_seconds: float        # after the deadline (0 when on time, within the grace period, or no deadline)
    penalty: float             # points off the checks' score
    note: str | None = None    # a missing or unreadable timestamp.txt, or work not accepted


def parse_duration(value: object, what: str) -> float:
    """Seconds from a number of seconds or a text such as "15m", "2h", "7d", "1d12h"; ValueError otherwise."""
    if isinstance(value, bool):
        raise ValueError(f"{what} must be a duration such as \"15m\", \"2h\" or \"7d\"")
    if isinstance(value, (int, float)):
        if value < 0:
            raise ValueError(f"{what} must not be negative")
        return float(value)
    match = _DURATION.fullmatch(str(value).strip()) if isinstance(value, str) else None
    if not match or not value.strip():
        raise ValueError(f"{what} = {value!r} is not a duration such as \"15m\", \"2h\", \"7d\" or \"1d12h\"")
    days, hours, minutes, seconds = (int(g or 0) for g in match.groups())
    return float(((days * 24 + hours) * 60 + minutes) * 60 + seconds)


def parse_deadline(value: object, what: str) -> dt.datetime:
    """An aware datetime from a TOML datetime or ISO 8601 text with an offset; ValueError otherwise."""
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(f"{what} = {value!r} is not an ISO 8601 date and time") from None
    if not isinstance(value, dt.datetime):
        raise ValueError(f"{what} must be a date and time such as 2026-10-14T23:59:00+01:00")
    if value.tzinfo is None:
        raise ValueError(f"{what} = {value.isoformat()} has no time zone offset; "
                         "write it as 2026-10-14T23:59:00+01:00 (or ...Z for UTC)")
    return value


def parse_timestamp(text: str, timezone: str | None = None) -> dt.datetime:
    """The UTC time in a timestamp.txt written by nbgrader (any of its formats); ValueError when unreadable.

    timezone: the zone nbgrader's exchange writes in (its `Exchange.timezone`), which places the
    abbreviations its "%Z" writes (CET, CEST, PDT...) that are not zone names themselves.
    """
    text = text.strip()
    if not text:
        raise ValueError("it is empty")
    parts = text.split()
    if len(parts) > 3:
        raise ValueError(f"{text[:60]!r} is not a time stamp")
    zone = parts[2] if len(parts) == 3 else None
    core = " ".join(parts[:2])
    try:
        stamp = dt.datetime.fromisoformat(core)
    except ValueError:
        raise ValueError(f"{text[:60]!r} is not a time stamp") from None
    if zone is not None:
        if stamp.tzinfo is not None:
            raise ValueError(f"{text[:60]!r} has two time zones")
        stamp = _in_zone(stamp, zone, timezone)
    if stamp.tzinfo is None:   # nbgrader's parse_utc: a time without a zone is UTC
        stamp = stamp.replace(tzinfo=UTC)
    return stamp.astimezone(UTC)


def _in_zone(stamp: dt.datetime, name: str, timezone: str | None) -> dt.datetime:
    """A naive local time in the zone `name`, or in `timezone` when `name` is what that zone is called then.

    Where the clocks go back an hour happens twice; the abbreviation (CEST, then CET) says which.
    """
    try:
        named: dt.tzinfo | None = _zone(name)
    except ValueError:
        if timezone is None:
            raise
        named = None
    for zone in ([ZoneInfo(timezone)] if timezone else []) + ([named] if named else []):
        for fold in (0, 1):
            candidate = stamp.replace(tzinfo=zone, fold=fold)
            if candidate.tzname() == name:
                return candidate
    if named is not None:   # a zone's own name (America/Los_Angeles) or an offset: its local time
        return stamp.replace(tzinfo=named)
    raise ValueError(f"time zone {name!r} is neither a zone name nor what {timezone} is called at {stamp}")


def _zone(name: str) -> dt.tzinfo:
    if name in ("Z", "UTC", "GMT"):
        return UTC
    if match := _OFFSET.fullmatch(name):
        sign = -1 if match.group(1) == "-" else 1
        return dt.timezone(sign * dt.timedelta(hours=int(match.group(2)), minutes=int(match.group(3))))
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r} (set [late] timezone in course.toml to the timezone "
                         "nbgrader's exchange uses, e.g. \"Europe/Berlin\")") from None


def read_timestamp(folder: Path, timezone: str | None = None) -> tuple[dt.datetime | None, str | None]:
    """(when the work in folder was handed in, None) or (None, why not); never follows a link."""
    path = folder / TIMESTAMP_FILE
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        return None, f"{TIMESTAMP_FILE} is missing"
    except OSError as exc:
        return None, f"{TIMESTAMP_FILE} could not be read ({exc.strerror or exc})"
    with os.fdopen(fd, "rb") as f:
        data = f.read(MAX_TIMESTAMP_BYTES + 1)
    if len(data) > MAX_TIMESTAMP_BYTES:
        return None, f"{TIMESTAMP_FILE} is not a time stamp (over {MAX_TIMESTAMP_BYTES} bytes)"
    try:
        return parse_timestamp(data.decode("utf-8-sig"), timezone), None
    except (UnicodeDecodeError, ValueError) as exc:
        return None, f"{TIMESTAMP_FILE} is unreadable: {exc}"


def assess(submitted: dt.datetime | None, problem: str | None, deadline: dt.datetime | None, rule: LateRule,
           score: float, max_score: float) -> Lateness:
    """Lateness and penalty of one submission; never more than the score (the exported score stays >= 0)."""
    stamp = submitted.astimezone(UTC).isoformat() if submitted else None
    if deadline is None:
        return Lateness(stamp, 0.0, 0.0)
    if submitted is None:
        return Lateness(None, 0.0, 0.0, f"{NOTE_PREFIX}{problem}; counted as on time")
    late = max(0.0, (submitted - deadline).total_seconds())
    if late <= rule.grace:   # within the grace period: on time
        return Lateness(stamp, 0.0, 0.0)
    if rule.not_accepted_after is not None and late > rule.not_accepted_after:
        return Lateness(stamp, late, round(score, 6),
                        f"{NOTE_PREFIX}handed in {describe(late)} after the deadline, later than the course accepts work "
                        f"({describe(rule.not_accepted_after)}): no points")
    periods = math.ceil(late / PERIODS[rule.per])
    fraction = min(rule.penalty * periods, rule.max_penalty)
    return Lateness(stamp, late, round(min(score, fraction * max_score), 6))


def describe(seconds: float) -> str:
    """'2 d 3 h', '5 h 10 min', '42 min', '30 s': how late, for a person."""
    seconds = int(round(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{minutes} min" if minutes else f"{secs} s"


def record_lateness(course: Course, unit: Unit, folders: list[StudentFolder], gradebook: Gradebook) -> None:
    """The batch's hook: (re)compute every student's lateness from timestamp.txt and the rule, into the gradebook.

    Runs on every batch for every student folder, graded now or skipped as unchanged, so a new
    timestamp.txt or a changed deadline or rule is applied without grading again.
    """
    rule = course.late_rule(unit)
    current = {g.student: g for g in gradebook.grades(unit.id, [f.student for f in folders])}
    for folder in folders:
        grade = current.get(folder.student)
        if grade is None:
            continue
        if folder.problem is not None:   # no folder to read (already "not graded", with the reason)
            late = Lateness(None, 0.0, 0.0)
        else:
            submitted, problem = read_timestamp(folder.path, rule.timezone)
            score = grade.score if grade.status == "graded" else 0.0
            late = assess(submitted, problem, unit.deadline, rule, score, grade.max_score)
        gradebook.set_lateness(unit.id, folder.student, late.submitted_at, late.late_seconds, late.penalty,
                               note=late.note, note_prefix=NOTE_PREFIX)
