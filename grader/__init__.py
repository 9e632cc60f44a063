"""Grading of submissions: train them in a sandbox and score them against a rubric."""
