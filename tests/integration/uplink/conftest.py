"""Broker fixtures for the uplink integration tests."""

from tests.fixtures.mosquitto import mosquitto, mosquitto_tls

__all__ = ["mosquitto", "mosquitto_tls"]
