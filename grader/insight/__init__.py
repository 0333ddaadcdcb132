"""Instructor insight: the class report (`grader report`) built from the gradebook.

`classwork` computes score distributions, per-check failure stages, the mistakes a class
makes and who needs attention; `items` does the quiz's item analysis; `page` and `plots`
render the data as one self-contained HTML page. The data is plain JSON (`--format json`).
"""
