from __future__ import annotations

import pytest

from drivers.modbus.simulator.faults import Fault, FaultKind, FaultSet, parse_fault


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("silent", Fault(FaultKind.SILENT)),
        ("exception:6", Fault(FaultKind.EXCEPTION, exception_code=6)),
        ("corrupt-crc", Fault(FaultKind.CORRUPT_CRC, probability=1.0)),
        ("corrupt-crc:0.25", Fault(FaultKind.CORRUPT_CRC, probability=0.25)),
        ("slow:150", Fault(FaultKind.SLOW, delay_ms=150)),
        ("slow-write:1300", Fault(FaultKind.SLOW_WRITE, delay_ms=1300)),
        ("drop:0.5", Fault(FaultKind.DROP, probability=0.5)),
    ],
)
def test_parse_round_trips(text: str, expected: Fault) -> None:
    fault = parse_fault(text)
    assert fault == expected
    assert parse_fault(str(fault)) == fault


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("sleepy", "unknown fault 'sleepy'; expected one of silent, exception"),
        ("exception", "needs a int argument"),
        ("exception:0", "exception code must be 1..255"),
        ("slow:-1", "milliseconds >= 0"),
        ("drop:1.5", "probability must be 0..1"),
        ("silent:3", "takes no argument"),
    ],
)
def test_parse_refuses_with_a_clear_message(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_fault(text)


def test_decisions_combine_faults() -> None:
    decision = FaultSet([parse_fault("slow:20"), parse_fault("slow:5"), parse_fault("corrupt-crc")]).decide()
    assert decision.answer
    assert decision.corrupt_crc
    assert decision.extra_delay_s == pytest.approx(0.025)
    assert not FaultSet([parse_fault("silent"), parse_fault("slow:5")]).decide().answer
    assert FaultSet([parse_fault("exception:4")]).exception_code == 4
    assert FaultSet().decide().answer
    writes = FaultSet([parse_fault("slow-write:1300"), parse_fault("slow:5")]).decide()
    assert writes.extra_delay_s == pytest.approx(0.005)
    assert writes.extra_write_delay_s == pytest.approx(1.3)


def test_probabilities_are_seeded_and_roughly_honoured() -> None:
    faults = FaultSet([parse_fault("drop:0.3")], seed=1)
    answers = [faults.decide().answer for _ in range(2000)]
    dropped = answers.count(False) / len(answers)
    assert 0.25 < dropped < 0.35
    again = FaultSet([parse_fault("drop:0.3")], seed=1)
    assert [again.decide().answer for _ in range(2000)] == answers
