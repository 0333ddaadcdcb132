"""Late work as pure functions: nbgrader's timestamp formats, the penalty rule, course.toml's validation."""
from __future__ import annotations

import datetime as dt
from dataclasses import replace
from pathlib import Path

import pytest

from grader.config import load_course
from grader.errors import ConfigError
from grader.late import LateRule, assess, parse_timestamp, read_timestamp

ROOT = Path(__file__).resolve().parents[2]
UTC = dt.timezone.utc
DEADLINE = dt.datetime(2026, 10, 14, 23, 59, tzinfo=dt.timezone(dt.timedelta(hours=1)))   # 22:59 UTC
RULE = LateRule(grace=900, penalty=0.1, per="day", max_penalty=0.3, not_accepted_after=7 * 86400)


@pytest.mark.parametrize("text, expected", [
    # `nbgrader submit` through the exchange: "%Y-%m-%d %H:%M:%S.%f %Z" in its timezone (UTC by default)
    ("2026-10-14 22:01:05.123456 UTC", dt.datetime(2026, 10, 14, 22, 1, 5, 123456, tzinfo=UTC)),
    # nbgrader's docs: an IANA zone name (October in Berlin is CEST, +02:00)
    ("2026-10-14 23:30:00.000000 Europe/Berlin", dt.datetime(2026, 10, 14, 21, 30, tzinfo=UTC)),
    ("2015-02-02 14:58:23.948203 America/Los_Angeles", dt.datetime(2015, 2, 2, 22, 58, 23, 948203, tzinfo=UTC)),
    # `nbgrader zip_collect`: datetime.isoformat(" "), with or without an offset
    ("2026-10-14 22:01:05+00:00", dt.datetime(2026, 10, 14, 22, 1, 5, tzinfo=UTC)),
    ("2026-10-14 23:01:05.5+01:00\n", dt.datetime(2026, 10, 14, 22, 1, 5, 500000, tzinfo=UTC)),
    # no zone: UTC, as nbgrader's parse_utc reads it
    ("2026-10-14 22:01:05", dt.datetime(2026, 10, 14, 22, 1, 5, tzinfo=UTC)),
    ("2026-10-14T22:01:05Z", dt.datetime(2026, 10, 14, 22, 1, 5, tzinfo=UTC)),
    ("2026-10-14 20:01:05 -0200", dt.datetime(2026, 10, 14, 22, 1, 5, tzinfo=UTC)),
])
def test_reads_every_timestamp_nbgrader_writes(text, expected):
    assert parse_timestamp(text) == expected


@pytest.mark.parametrize("text, why", [("", "empty"), ("yesterday", "not a time stamp"),
                                       ("2026-10-14 22:01:05 CEST", "unknown time zone 'CEST'"),
                                       ("2026-10-14 22:01:05+01:00 UTC", "two time zones")])
def test_unreadable_timestamps_say_why(text, why):
    with pytest.raises(ValueError, match=why):
        parse_timestamp(text)


def test_abbreviations_of_the_exchange_timezone():
    # nbgrader with Exchange.timezone = "Europe/Berlin" writes %Z: CEST in summer, CET in winter
    berlin = "Europe/Berlin"
    assert parse_timestamp("2026-07-14 23:30:00.000000 CEST", berlin) == dt.datetime(2026, 7, 14, 21, 30, tzinfo=UTC)
    assert parse_timestamp("2026-12-02 00:26:31.018211 CET", berlin) == \
        dt.datetime(2026, 12, 1, 23, 26, 31, 18211, tzinfo=UTC)
    # 02:30 happens twice on 2026-10-25; the abbreviation says which
    assert parse_timestamp("2026-10-25 02:30:00 CEST", berlin) == dt.datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    assert parse_timestamp("2026-10-25 02:30:00 CET", berlin) == dt.datetime(2026, 10, 25, 1, 30, tzinfo=UTC)
    with pytest.raises(ValueError, match="set \\[late\\] timezone"):
        parse_timestamp("2026-07-14 23:30:00 CEST")
    with pytest.raises(ValueError, match="neither a zone name nor what Europe/Berlin is called"):
        parse_timestamp("2026-07-14 23:30:00 PDT", berlin)


def test_reading_the_file(tmp_path):
    assert read_timestamp(tmp_path) == (None, "timestamp.txt is missing")
    (tmp_path / "timestamp.txt").write_bytes(b"\xff\xfe")
    assert read_timestamp(tmp_path)[1].startswith("timestamp.txt is unreadable")
    (tmp_path / "timestamp.txt").unlink()
    (tmp_path / "timestamp.txt").symlink_to("/etc/hostname")
    assert read_timestamp(tmp_path)[0] is None   # a link is never followed
    (tmp_path / "timestamp.txt").unlink()
    (tmp_path / "timestamp.txt").write_text("2026-10-14 22:01:05.000001 UTC\n")
    assert read_timestamp(tmp_path) == (dt.datetime(2026, 10, 14, 22, 1, 5, 1, tzinfo=UTC), None)


def _at(minutes_late: float) -> dt.datetime:
    return DEADLINE + dt.timedelta(minutes=minutes_late)


def test_the_penalty_rule():
    on_time = assess(_at(-60), None, DEADLINE, RULE, 18.0, 20.0)
    assert (on_time.submitted_at, on_time.late_seconds, on_time.penalty) == ("2026-10-14T21:59:00+00:00", 0, 0)
    assert assess(_at(15), None, DEADLINE, RULE, 18.0, 20.0).late_seconds == 0        # within the grace period
    assert assess(_at(16), None, DEADLINE, RULE, 18.0, 20.0).penalty == 2.0            # 1 started day: 10% of 20
    assert assess(_at(16), None, DEADLINE, RULE, 1.5, 20.0).penalty == 1.5            # never below zero
    assert assess(_at(24 * 60 + 1), None, DEADLINE, RULE, 18.0, 20.0).penalty == 4.0   # 2 started days
    assert assess(_at(6 * 24 * 60), None, DEADLINE, RULE, 18.0, 20.0).penalty == 6.0   # capped at 30%
    refused = assess(_at(7 * 24 * 60 + 1), None, DEADLINE, RULE, 18.0, 20.0)
    assert refused.penalty == 18.0 and "later than the course accepts work (7 d): no points" in refused.note
    hourly = LateRule(penalty=0.05, per="hour")
    assert assess(_at(61), None, DEADLINE, hourly, 20.0, 20.0).penalty == 2.0          # 2 started hours
    missing = assess(None, "timestamp.txt is missing", DEADLINE, RULE, 20.0, 20.0)
    assert (missing.penalty, missing.note) == (0, "late work: timestamp.txt is missing; counted as on time")
    assert assess(_at(600), None, None, RULE, 20.0, 20.0).penalty == 0                 # no deadline, no penalty


def _course(tmp_path: Path, head: str, unit_extra: str = "", version: int = 2) -> Path:
    text = (ROOT / "course.toml").read_text(encoding="utf-8")
    text = text.replace("schema_version = 1", f"schema_version = {version}\n{head}", 1)
    text = text.replace('id = "unit1"', f'id = "unit1"\n{unit_extra}', 1)
    (tmp_path / "course.toml").write_text(text, encoding="utf-8")
    return tmp_path


def test_course_toml_late_rules(tmp_path):
    course = load_course(_course(tmp_path, '[late]\ngrace = "15m"\npenalty = 0.1\nper = "day"\nmax_penalty = 0.3\n'
                                 'not_accepted_after = "7d"\ntimezone = "Europe/Berlin"\n',
                                 'deadline = 2026-10-14T23:59:00+01:00\nlate = { penalty = 0.2, per = "hour" }'))
    unit1, unit2 = course.unit("unit1"), course.unit("unit2")
    assert unit1.deadline == DEADLINE and unit2.deadline is None
    assert course.late_rule(unit2) == replace(RULE, timezone="Europe/Berlin")
    assert course.late_rule(unit1) == LateRule(900, 0.2, "hour", 0.3, 7 * 86400, "Europe/Berlin")
    assert load_course(ROOT).unit("unit1").deadline is None   # schema_version 1 files still load
    text_deadline = load_course(_course(tmp_path, "", 'deadline = "2026-10-14T23:59:00Z"'))
    assert text_deadline.unit("unit1").deadline == dt.datetime(2026, 10, 14, 23, 59, tzinfo=UTC)


@pytest.mark.parametrize("head, unit_extra, version, message", [
    ("", "deadline = 2026-10-14T23:59:00+01:00", 1, "needs schema_version = 2"),
    ("", "deadline = 2026-10-14T23:59:00", 2, "has no time zone offset"),
    ("", 'deadline = "next friday"', 2, "is not an ISO 8601 date and time"),
    ('[late]\nper = "week"\n', "", 2, 'must be "hour" or "day"'),
    ("[late]\npenalty = 10\n", "", 2, "must be a fraction of the points, 0 to 1"),
    ('[late]\ngrace = "15 minutes"\n', "", 2, "is not a duration"),
    ("[late]\npenalty_per_day = 0.1\n", "", 2, "unknown key(s) in [late]: penalty_per_day"),
    ("", "late = { cap = 1 }", 2, "unknown key(s) in unit unit1 late: cap"),
    ('[late]\ntimezone = "CEST"\n', "", 2, "is not a time zone name"),
])
def test_course_toml_late_errors(tmp_path, head, unit_extra, version, message):
    with pytest.raises(ConfigError) as err:
        load_course(_course(tmp_path, head, unit_extra, version))
    assert message in str(err.value)
