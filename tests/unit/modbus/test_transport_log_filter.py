"""pymodbus repeats its errors per request: they fold by message shape, and the filter stays bounded."""

from __future__ import annotations

import logging
import string

from drivers.modbus.transport import _PymodbusRepeats, repeat_key


def record(message: str) -> logging.LogRecord:
    return logging.LogRecord("pymodbus.logging", logging.ERROR, __file__, 1, message, None, None)


def test_transaction_ids_and_frame_bytes_do_not_make_a_new_message() -> None:
    f = _PymodbusRepeats()
    passed = [
        f.filter(record(f"ERROR: request ask for transaction_id={tid} but got id={tid + 7}, Skipping."))
        for tid in range(1, 200)
    ]
    assert passed == [True] + [False] * 198
    frames = [f"recv: 0x1 0x3 0x2 0x{v:x} 0x{v + 3:x} extra data: " for v in range(10, 60)]
    assert [f.filter(record(m)) for m in frames].count(True) == 1
    assert f.filter(record("Not connected, trying to connect!"))  # another message still gets through
    assert f.remembered == 3


def test_words_stay_words() -> None:
    assert repeat_key("No response received after 3 retries, continue with next request") == (
        "No response received after # retries, continue with next request"
    )
    # the first line only; "ff" has no digit and stays (it could be a word)
    assert repeat_key("Unable to decode frame b8 ff 0xFF\nsecond line") == "Unable to decode frame # ff #"


def _word(n: int) -> str:
    letters = string.ascii_lowercase[6:]  # g..z: never read as hex digits
    out = ""
    while True:
        n, r = divmod(n, len(letters))
        out = letters[r] + out
        if n == 0:
            return out


def test_distinct_messages_are_bounded_oldest_forgotten_first() -> None:
    f = _PymodbusRepeats(max_keys=256)
    assert f.filter(record("oldest message"))
    assert not f.filter(record("oldest message"))
    for n in range(1000):
        assert f.filter(record(f"unexpected {_word(n)}"))
    assert f.remembered == 256 and len(f._limiter._last) <= 256
    assert f.filter(record("oldest message"))  # forgotten, so it is news again
