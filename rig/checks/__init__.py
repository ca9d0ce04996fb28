"""Expectation checkers: pure functions from what the rig observed to ``CheckResult``s."""
