"""Reading course.toml: the course, its units, exercises, tolerances and limits."""
from __future__ import annotations

import os
import tomllib
import datetime as _dt
from dataclasses import dataclass, field, replace
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError
from pathlib import Path

from .errors import ConfigError, unknown
from .late import PERIODS, LateRule, parse_deadline, parse_duration

SCHEMA_VERSION = 2   # 2 adds a unit's `deadline` and the [late] rule; version 1 files still load
READS_VERSIONS = (1, 2)
COURSE_FILE = "course.toml"
RELEASE_FILE = "release.json"   # beside course.toml in a student release (grader/release/)


@dataclass(frozen=True)
class Tolerance:
    rtol: float
    atol: float


@dataclass(frozen=True)
class Limits:
    """Wall-clock budgets (seconds, kept by the trusted side) and a worker's resources."""

    check_timeout: float = 10.0        # one check (a case may ask for more)
    load_timeout: float = 30.0         # running all of a student's cells once (all reloads together: 3x)
    exercise_timeout: float = 60.0     # every check of one exercise together (at least its longest check)
    submission_timeout: float = 120.0  # everything for one student: loading, reloading, every check
    memory_mb: int = 4096
    cpus: float = 1.0                  # CPU share of one worker's whole process tree (cgroup quota)


@dataclass(frozen=True)
class Grading:
    """Where the course secret that seeds the hidden checks lives: a file or an environment variable.

    course.toml names it, never holds it. The secret stays on the instructor's machine; a
    student release has no [grading] table (grader.secret reads and creates the secret).
    """

    secret_file: str | None = ".grader-secret"   # relative to the course root
    secret_env: str | None = None                 # "GRADER_..." (never passed to workers); used when set, before the file


@dataclass(frozen=True)
class ExerciseConfig:
    name: str
    points: float


@dataclass(frozen=True)
class QuizConfig:
    points: float = 10.0
    practice: bool = False


@dataclass(frozen=True)
class Unit:
    id: str
    title: str
    exercises: tuple[ExerciseConfig, ...]
    quiz: QuizConfig | None = None
    # when work is due and the unit's overrides of [late]; kept out of repr, so the batch's spec hash
    # (which has the unit's repr) does not change with them: a new deadline re-prices lateness, not grades
    deadline: _dt.datetime | None = field(default=None, repr=False, compare=False)
    late: dict = field(default_factory=dict, repr=False, compare=False)

    def exercise(self, name: str) -> ExerciseConfig:
        """Return the named exercise or raise a helpful UsageError."""
        for ex in self.exercises:
            if ex.name == name:
                return ex
        names = [e.name for e in self.exercises]
        raise unknown(f"exercise in {self.id}", name, names, f"try `grader list {self.id}`")


@dataclass(frozen=True)
class Course:
    root: Path
    name: str
    salt: str
    units: tuple[Unit, ...]
    tolerances: dict[str, Tolerance] = field(default_factory=dict)
    limits: Limits = Limits()
    version: str = ""   # [course] version: recorded in a release and in its notebooks
    release: dict | None = None   # the parsed release.json of a student release; None in the instructor course
    grading: Grading = Grading()   # [grading]: where the secret of the hidden checks is (grader.secret)
    device_tolerances: dict[str, dict[str, Tolerance]] = field(default_factory=dict)  # [tolerances.cuda]
    late: LateRule = LateRule()    # [late]: the penalty for work handed in after a unit's deadline (grader.late)

    def late_rule(self, unit: Unit) -> LateRule:
        """The course's [late] rule with the unit's own `late = {...}` keys over it."""
        return replace(self.late, **unit.late) if unit.late else self.late

    def unit(self, unit_id: str) -> Unit:
        """Return the unit with this id or raise a helpful UsageError."""
        for unit in self.units:
            if unit.id == unit_id:
                return unit
        raise unknown("unit", unit_id, [u.id for u in self.units], "try `grader list`")

    def tolerance(self, dtype: str, device: str = "cpu") -> Tolerance:
        """Default tolerance for a dtype name such as 'float32' (a device's own, `[tolerances.cuda]`, first)."""
        own = self.device_tolerances.get(device.split(":")[0], {}).get(dtype)
        return own or self.tolerances.get(dtype, Tolerance(rtol=0.0, atol=0.0))

    @property
    def solutions_dir(self) -> Path:
        return self.root / "solutions"

    @property
    def exercises_dir(self) -> Path:
        return self.root / "exercises"


def find_course_root(start: Path | None = None) -> Path:
    """Find the folder holding course.toml: $GRADER_COURSE, else upwards from start."""
    env = os.environ.get("GRADER_COURSE")
    if env:
        root = Path(env)
        if not (root / COURSE_FILE).is_file():
            raise ConfigError(f"GRADER_COURSE={env} holds no {COURSE_FILE}")
        return root.resolve()
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / COURSE_FILE).is_file():
            return folder
    raise ConfigError(
        f"no {COURSE_FILE} in {here} or any folder above it",
        "run grader inside the course folder, or set GRADER_COURSE",
    )


def load_course(root: Path | None = None) -> Course:
    """Load and validate course.toml from root (found automatically when None)."""
    root = root.resolve() if root else find_course_root()
    path = root / COURSE_FILE
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from exc
    course = _parse(root, data, path)
    if (root / RELEASE_FILE).exists():
        from .release.layout import read_release_json

        course = replace(course, release=read_release_json(root / RELEASE_FILE))
    return course


def _parse(root: Path, data: dict, path: Path) -> Course:
    version = data.get("schema_version")
    if version not in READS_VERSIONS:
        raise ConfigError(
            f"{path}: schema_version is {version!r}; this grader reads versions "
            f"{', '.join(map(str, READS_VERSIONS))}",
            "upgrade the grader or fix schema_version",
        )
    course = _table(data, "course", path)
    units = tuple(_unit(u, path, version) for u in _list(data, "units", path))
    ids = [u.id for u in units]
    if len(set(ids)) != len(ids):
        raise ConfigError(f"{path}: unit ids are not unique: {ids}")
    raw_tolerances = data.get("tolerances", {})
    tolerances = {
        dtype: Tolerance(rtol=float(t["rtol"]), atol=float(t["atol"]))
        for dtype, t in raw_tolerances.items() if "rtol" in t
    }
    device_tolerances = {   # [tolerances.cuda]: what a device's kernels need beyond the defaults
        device: {dtype: Tolerance(rtol=float(t["rtol"]), atol=float(t["atol"])) for dtype, t in table.items()}
        for device, table in raw_tolerances.items() if "rtol" not in table
    }
    lim = data.get("limits", {})
    limits = Limits(
        check_timeout=float(lim.get("check_timeout", Limits.check_timeout)),
        load_timeout=float(lim.get("load_timeout", Limits.load_timeout)),
        exercise_timeout=float(lim.get("exercise_timeout", Limits.exercise_timeout)),
        submission_timeout=float(lim.get("submission_timeout", Limits.submission_timeout)),
        memory_mb=int(lim.get("memory_mb", Limits.memory_mb)),
        cpus=float(lim.get("cpus", Limits.cpus)),
    )
    if min(limits.check_timeout, limits.load_timeout, limits.exercise_timeout, limits.submission_timeout,
           limits.cpus) <= 0 or limits.memory_mb <= 0:
        raise ConfigError(f"{path}: every value in [limits] must be positive")
    return Course(
        root=root,
        name=str(course.get("name", root.name)),
        salt=str(course.get("salt", "")),
        units=units,
        tolerances=tolerances,
        device_tolerances=device_tolerances,
        limits=limits,
        version=str(course.get("version", "")),
        grading=_grading(data.get("grading", {}), path),
        late=LateRule(**_late_keys(data["late"], "[late]", path)) if "late" in data else LateRule(),
    )


def _late_keys(raw: object, where: str, path: Path) -> dict:
    """The keys of a late rule, validated: durations in seconds, fractions in 0..1, per = hour | day."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: {where} must be a table")
    allowed = ("grace", "penalty", "per", "max_penalty", "not_accepted_after", "timezone")
    extra = sorted(set(raw) - set(allowed))
    if extra:
        raise ConfigError(f"{path}: unknown key(s) in {where}: {', '.join(extra)}",
                          f"a late rule takes {', '.join(allowed)} (docs/interop.md, \"Deadlines and the late rule\")")
    keys: dict = {}
    try:
        for key in ("grace", "not_accepted_after"):
            if key in raw:
                keys[key] = parse_duration(raw[key], f"{where} {key}")
    except ValueError as exc:
        raise ConfigError(f"{path}: {exc}", "durations are seconds or text such as \"15m\", \"2h\", \"7d\"") from None
    for key in ("penalty", "max_penalty"):
        if key in raw:
            value = raw[key]
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
                raise ConfigError(f"{path}: {where} {key} = {value!r} must be a fraction of the points, 0 to 1",
                                  "penalty = 0.1 takes 10% of the unit's points per started hour or day")
            keys[key] = float(value)
    if "timezone" in raw:
        try:
            zone = ZoneInfo(str(raw["timezone"]))
        except (ZoneInfoNotFoundError, ValueError):
            zone = None
        if zone is None or not isinstance(raw["timezone"], str):
            raise ConfigError(f"{path}: {where} timezone = {raw['timezone']!r} is not a time zone name",
                              "give the IANA name nbgrader's exchange uses (Exchange.timezone), e.g. \"Europe/Berlin\"")
        keys["timezone"] = raw["timezone"]
    if "per" in raw:
        if raw["per"] not in PERIODS:
            raise ConfigError(f"{path}: {where} per = {raw['per']!r} must be \"hour\" or \"day\"")
        keys["per"] = raw["per"]
    return keys


def _grading(raw: object, path: Path) -> Grading:
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: [grading] must be a table")
    if "secret" in raw:
        raise ConfigError(f"{path}: [grading] holds a secret itself",
                          "name where it is instead: secret_file = \".grader-secret\" or secret_env = \"GRADER_SECRET\"")
    unknown_keys = sorted(set(raw) - {"secret_file", "secret_env"})
    if unknown_keys:
        raise ConfigError(f"{path}: unknown key(s) in [grading]: {', '.join(unknown_keys)}",
                          "[grading] takes secret_file and secret_env")
    for key in ("secret_file", "secret_env"):
        if key in raw and (not isinstance(raw[key], str) or not raw[key].strip()):
            raise ConfigError(f"{path}: [grading] {key} must be a non-empty string")
    env = raw.get("secret_env")
    if env is not None and not (env.startswith("GRADER_") and env.replace("_", "a").isalnum()):
        raise ConfigError(f"{path}: [grading] secret_env = {env!r} must be a variable name starting with GRADER_",
                          "workers never inherit GRADER_* variables, so student code cannot read the secret")
    if not raw:
        return Grading()
    return Grading(secret_file=raw.get("secret_file"), secret_env=raw.get("secret_env"))


def _unit(raw: dict, path: Path, version: int = SCHEMA_VERSION) -> Unit:
    if "id" not in raw:
        raise ConfigError(f"{path}: a [[units]] entry has no id")
    where = f"unit {raw['id']}"
    if version < 2 and ("deadline" in raw or "late" in raw):
        raise ConfigError(f"{path}: {where} has a deadline or late rule, which needs schema_version = 2",
                          "set schema_version = 2: a grader that reads only version 1 would ignore the deadline")
    deadline = None
    if "deadline" in raw:
        try:
            deadline = parse_deadline(raw["deadline"], f"{where} deadline")
        except ValueError as exc:
            raise ConfigError(f"{path}: {exc}") from None
    late = _late_keys(raw["late"], f"{where} late", path) if "late" in raw else {}
    exercises = []
    for ex in raw.get("exercises", []):
        if "name" not in ex:
            raise ConfigError(f"{path}: an exercise of {raw['id']} has no name")
        exercises.append(ExerciseConfig(name=str(ex["name"]), points=float(ex.get("points", 1))))
    quiz = raw.get("quiz")
    return Unit(
        id=str(raw["id"]),
        title=str(raw.get("title", raw["id"])),
        exercises=tuple(exercises),
        quiz=QuizConfig(float(quiz.get("points", 10)), bool(quiz.get("practice", False))) if quiz else None,
        deadline=deadline,
        late=late,
    )


def _table(data: dict, key: str, path: Path) -> dict:
    value = data.get(key)
    if not isinstance(value, dict):
        raise ConfigError(f"{path}: missing [{key}] table")
    return value


def _list(data: dict, key: str, path: Path) -> list:
    value = data.get(key)
    if not isinstance(value, list) or not value:
        raise ConfigError(f"{path}: missing [[{key}]] entries")
    return value
