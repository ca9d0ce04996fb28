"""The ``edgepost`` command line (typer + rich)."""
