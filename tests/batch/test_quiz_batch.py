"""`grader grade` grades each student's quiz answers against that student's own variant."""
import json
import subprocess
import sys

from grader.quiz.answers_file import dump_answers

from batch_support import ROOT, grader, grade_json, make_course


def test_quiz_answers_are_graded_per_student(tmp_path):
    course = make_course(tmp_path / "course")
    (course / "quizzes").symlink_to(ROOT / "quizzes")
    text = (course / "course.toml").read_text().replace(
        'quiz = { points = 10, practice = true }', 'quiz = { points = 10, practice = false }', 1)
    (course / "course.toml").write_text(text)
    subs = tmp_path / "submitted"
    reference = (ROOT / "solutions" / "unit1" / "shallow.py").read_text()
    for student in ("ana", "ben", "cy"):
        (subs / student / "unit1").mkdir(parents=True)
        (subs / student / "unit1" / "work.py").write_text(reference)
    key = json.loads(subprocess.run([sys.executable, "-m", "grader", "--course", str(course), "quiz", "unit1",
                                     "--student", "ana", "--key", "--json"], capture_output=True, text=True,
                                    check=True).stdout)
    answers = {q["id"]: q["answer"] for q in key["questions"]}
    (subs / "ana" / "unit1" / "answers.toml").write_text(dump_answers(answers))
    (subs / "ben" / "unit1" / "answers.toml").write_text(dump_answers(answers))  # ana's key, ben's variant
    data = grade_json(grader(course, "grade", "unit1", "--submissions", str(subs), "--json",
                             "--csv", str(tmp_path / "grades.csv")))
    quiz = {s: v["quiz"] for s, v in data["students"].items()}
    assert quiz["ana"]["score"] == quiz["ana"]["max_score"] == 10
    assert 0 <= quiz["ben"]["score"] < 10
    assert quiz["cy"]["score"] == 0
    assert "no answers.toml" in quiz["cy"]["questions"]["answers.toml"]["message"]
    assert set(quiz["ana"]["questions"]) == {q["id"] for q in key["questions"]}
    header, ana = (tmp_path / "grades.csv").read_text().splitlines()[:2]
    assert header.split(",")[-2:] == ["quiz", "total"]
    assert ana.split(",")[-2:] == ["10", "27"]   # shallow.py holds 17 of unit1's 20 points (not the autoencoder)
    stats = grader(course, "quiz", "unit1", "--stats")
    assert stats.returncode == 0, stats.stderr
    for question in key["questions"]:
        assert question["id"] in stats.stdout
