"""Control socket: JSON lines over a unix socket between the daemon and the CLI."""
