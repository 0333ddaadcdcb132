"""Gradescope: the autograder bundle `grader export-gradescope` builds, and what it runs in the container."""
