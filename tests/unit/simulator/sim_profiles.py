"""Small profiles for the simulator tests, built in code so they do not move with the shipped ones."""

from __future__ import annotations

from drivers.modbus.profile import Profile


def meter_profile(turnaround_ms: float = 5.0) -> Profile:
    return Profile.model_validate(
        {
            "id": "test/meter",
            "vendor": "Test",
            "model": "Meter",
            "source": "unit test",
            "limits": {"turnaround_ms": turnaround_ms},
            "identification": {
                "device_id": {"vendor_name": "Test Co", "product_code": "TM-1"},
                "registers": [
                    {"table": "holding", "address": 100, "type": "uint16", "expect": 4242},
                    {"table": "holding", "address": 101, "type": "uint16", "firmware": True},
                ]
            },
            "points": {
                "voltage": {"table": "input", "address": 0, "type": "float32", "unit": "V"},
                "current": {"table": "input", "address": 2, "type": "uint16", "scale": 0.01, "unit": "A"},
                "energy": {"table": "input", "address": 10, "type": "uint32", "word_order": "little"},
                "dim": {"table": "holding", "address": 20, "type": "uint16", "access": "rw", "min": 0, "max": 100},
                "mode": {"table": "holding", "address": 21, "type": "uint16", "enum": {0: "auto", 1: "manual"}},
                "relay": {"table": "coil", "address": 0, "type": "bool", "access": "rw"},
                "door": {"table": "discrete", "address": 3, "type": "bool"},
                # also the firmware identification register
                "version": {"table": "holding", "address": 101, "type": "uint16"},
            },
        }
    )
