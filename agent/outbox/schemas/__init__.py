"""Versioned outbox schemas: ``schema_vN.sql``, loaded with importlib.resources."""
