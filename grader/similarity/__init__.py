"""`grader similarity`: which students' code is alike, for an instructor to read side by side.

source.py (each student's own code, normalised) -> fingerprint.py (copydetect's winnowing, a stable
hash) -> analysis.py (every pair scored, clusters) -> report.py (the JSON report, files written) ->
pages.py and regions.py (the index and the side-by-side pair pages). docs/similarity.md has the
calibration. A score is a reason to look, not a verdict.
"""
