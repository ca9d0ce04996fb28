"""Rules between drivers and the outbox: report-by-exception, heartbeats, threshold alarms."""
