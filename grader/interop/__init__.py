"""Interoperation with the tools instructors already run (nbgrader): exports and gradebook writes."""
