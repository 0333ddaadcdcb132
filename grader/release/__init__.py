"""A student release: the course without its answers (`grader release OUT`).

`build.build_release` writes the folder; `load.load_release_plan` plans a unit's public
checks from the data it ships; `layout` holds the file names, release.json and the
course version; `casefile` is the format of the check data. See docs/release.md.
"""
