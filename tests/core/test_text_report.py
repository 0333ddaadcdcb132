"""The terminal report groups repeated failures as the HTML table does."""
from grader.report.html import group_failures
from grader.report.text import _exercise
from grader.results import CheckResult, ExerciseResult


def test_failures_with_and_without_a_hint_are_one_problem_counted_once():
    problem = "values differ: 3 of 12 entries, largest at [0, 2]"
    hint = "subtract the row's max before exp"
    checks = [CheckResult("case 1", False, f"{problem}. Hint: {hint}", hint=hint),
              CheckResult("case 2", False, problem),
              CheckResult("case 3", False, f"{problem}. Hint: {hint}", hint=hint),
              CheckResult("case 4", True, "ok")]
    lines = _exercise(ExerciseResult("softmax", 2.0, checks), lambda _colour, text: text, 88, False)
    text = "\n".join(lines)
    assert "case 1 (and 2 more checks with the same problem)" in text
    assert text.count(problem) == 1 and text.count(f"hint: {hint}") == 1
    groups, hints = group_failures(checks)
    assert [(g.check, g.more, g.message) for g in groups] == [("case 1", 2, problem)] and hints == [hint]


def test_the_notebook_table_says_which_file_was_graded_and_why_an_exercise_may_fail():
    from grader.report.html import render_html
    from grader.results import UnitResult

    ex = ExerciseResult("small_resnet", 2.0, [CheckResult("case 1", False, "got shape (2, 3)")],
                        graded_from="convnets-Copy1.ipynb",
                        notes=["may fail only because `ResidualBlock`, which it uses, fails its checks"])
    page = render_html(UnitResult("unit5", {"small_resnet": ex}))
    assert "graded from <code>convnets-Copy1.ipynb</code>" in page
    assert "may fail only because <code>ResidualBlock</code>, which it uses" in page
