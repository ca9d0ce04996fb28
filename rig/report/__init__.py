"""Reports of a run: console summary, JSON, JUnit XML and a self-contained HTML page with a plot."""
