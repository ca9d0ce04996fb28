"""Metrics: a Prometheus text endpoint on 127.0.0.1 and a node-exporter textfile, from Runtime.status()."""
