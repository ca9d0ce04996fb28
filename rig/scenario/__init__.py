"""Scenario files: pydantic models (pole, timeline, expectations) and a loader with file:line errors."""
