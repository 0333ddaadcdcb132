import numpy as np

from grader.compare.tensors import compare_tree
from grader.runner.wire import Array


def tol(dtype):
    return {"float32": (1.3e-6, 1e-5), "float64": (1e-7, 1e-7)}.get(dtype, (0.0, 0.0))


def arr(values, dtype="float32", device="cpu"):
    return Array(np.asarray(values, dtype=dtype), dtype, device)


def test_staged_messages():
    expected = arr(np.zeros((4, 3)))
    assert compare_tree(arr(np.zeros(4)), expected, tol).message == "got shape (4,), expected (4, 3)"
    assert compare_tree(arr(np.zeros((4, 3)), "float64"), expected, tol).message == \
        "got dtype float64, expected float32"
    assert "expected one on cuda" in compare_tree(arr(np.zeros(2)), arr(np.zeros(2), device="cuda"), tol).message
    assert compare_tree(3.0, expected, tol).message == "got a float, expected a tensor of shape (4, 3)"
    assert compare_tree((1.0,), (1.0, 2.0), tol, names=("loss", "dscores")).message == \
        "got 1 value, expected 2 (loss, dscores)"


def test_mismatch_statistics_report_every_mismatch_and_the_largest():
    actual = np.zeros((4, 3), dtype=np.float32)
    actual[1, 2], actual[0, 0], actual[3, 1] = 0.41, 0.1, 0.2
    verdict = compare_tree(arr(actual), arr(np.zeros((4, 3))), tol)
    assert verdict.message == "3 of 12 values differ, largest difference 0.41 at index (1, 2), tolerance 1e-05"


def test_nan_is_never_close_to_a_number_but_equal_to_nan():
    assert "1 is NaN" in compare_tree(arr([np.nan, 0.0]), arr([0.5, 0.0]), tol).message
    assert compare_tree(arr([np.nan]), arr([np.nan]), tol).passed


def test_dtype_dependent_tolerance():
    assert compare_tree(arr([1.0 + 5e-6]), arr([1.0]), tol).passed
    assert not compare_tree(arr([1.0 + 5e-6], "float64"), arr([1.0], "float64"), tol).passed


def test_scalar_tensor_and_number_are_interchangeable():
    assert compare_tree(0.5, arr(0.5), tol).passed
    assert compare_tree(arr(0.5), 0.5, tol).passed


def test_dicts_report_missing_and_extra_keys():
    verdict = compare_tree({"W1": 1.0, "c": 2.0}, {"W1": 1.0, "b1": 2.0}, tol)
    assert verdict.message == "missing key 'b1'; unexpected key 'c'"


def test_integers_and_strings_compare_exactly():
    assert not compare_tree(arr([1, 2], "int64"), arr([1, 3], "int64"), tol).passed
    assert compare_tree("raises ValueError", "raises ValueError", tol).passed
    assert compare_tree(7, 7, tol).passed and not compare_tree(7, 8, tol).passed


def test_a_wrong_number_gives_its_direction_never_the_expected_value():
    assert compare_tree(9472, 9408, tol).message == "got 9472, which is too large"
    assert compare_tree(arr(3, "int64"), arr(5, "int64"), tol).message == "got 3, which is too small"
    assert compare_tree(4.16151, 3.16151, tol).message == "got 4.16151, which is too large"
    assert compare_tree(arr([1.0 + 2e-4]), arr([1.0]), tol).message == \
        "got 1.0002, which is slightly too large (tolerance 1.13e-05: a rounding or precision problem?)"
    assert compare_tree(True, False, tol).message == "got True, which is not the expected value"
    assert compare_tree(arr([np.inf]), arr([1.0]), tol).message == "got inf where a finite value was expected"


def test_hidden_cases_reveal_no_expected_value_shape_or_text():
    hidden = {"reveal": False}
    assert compare_tree(9472, 9408, tol, **hidden).message == "got 9472, which is not the expected value"
    assert compare_tree(4.16151, 3.16151, tol, **hidden).message == "got 4.16151, which is not the expected value"
    assert compare_tree(arr(1.5), arr(0.5), tol, **hidden).message == "got 1.5, which is not the expected value"
    actual = np.zeros((4, 3), dtype=np.float32)
    actual[1, 2], actual[0, 0], actual[3, 1] = 0.41, 0.1, 0.2
    assert compare_tree(arr(actual), arr(np.zeros((4, 3))), tol, **hidden).message == \
        "3 of 12 values differ, the worst at index (1, 2)"
    assert compare_tree(arr(np.zeros((2, 5))), arr(np.zeros((2, 4))), tol, **hidden).message == \
        "got shape (2, 5), which differs from the expected shape in dimension 1"
    assert compare_tree(arr(np.zeros(4)), arr(np.zeros((4, 3))), tol, **hidden).message == \
        "got shape (4,), but the result has 2 dimensions"
    assert compare_tree(3.0, arr(np.zeros((4, 3))), tol, **hidden).message == "got a float, expected a tensor"
    assert compare_tree("returns without an error", "raises ValueError", tol, **hidden).message == \
        "got 'returns without an error', which is not the expected value"
    assert compare_tree(arr([np.nan, 0.0]), arr([np.inf, 0.0]), tol, **hidden).message == \
        "1 of 2 values differ, 1 is NaN, the worst at index (0,)"
    verdict = compare_tree((arr(1.0), arr([1.0, 2.0])), (arr(0.5), arr([1.0, 2.0])), tol,
                           names=("loss", "grad"), **hidden)
    assert verdict.message == "loss: got 1, which is not the expected value"
    # what is no answer reads the same in both: dtype, device, structure, keys
    assert compare_tree(arr(np.zeros(3), "float64"), arr(np.zeros(3)), tol, **hidden).message == \
        "got dtype float64, expected float32"
    assert compare_tree({"a": 1.0}, {"b": 1.0}, tol, **hidden).message == "missing key 'b'; unexpected key 'a'"
