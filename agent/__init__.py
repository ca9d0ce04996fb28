"""edgepost: the street-pole edge agent."""

__version__ = "0.1.0"
