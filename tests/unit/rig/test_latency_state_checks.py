"""Alarm latency catches a late or missing alarm; state sequences; resources; commands."""

from __future__ import annotations

from rig.checks.alarms import check_alarms
from rig.checks.latency import check_alarm_latency, live_latencies, percentile
from rig.checks.liveness import check_commands
from rig.checks.recovery import check_recovery
from rig.checks.resources import check_resources, summarise
from rig.checks.states import check_states
from rig.faults.context import SentCommand
from rig.observe.faultlog import FaultRecord
from rig.observe.sampler import Sample
from rig.observe.truth import Truth
from rig.observe.upstream import Upstream, decode
from tests.unit.rig.upstream_factory import batch, event, reading


def _tilted(at: float) -> Truth:
    truth = Truth()
    truth.changed("manhole", "roll", at, 15.0)
    return truth


def _alarm(arrived: float) -> Upstream:
    alarm = event(7, "manhole", "alarm", arrived - 0.05, {"point": "roll", "alarm": "cover_tilt_roll"}, pri="alarm")
    return decode([batch([alarm], arrived, topic="events")])


def test_an_alarm_within_500_ms_passes() -> None:
    result = check_alarm_latency(_alarm(100.3), _tilted(100.0), 500)
    assert result.passed is True and "300 ms" in result.details[0]


def test_a_late_alarm_fails() -> None:
    result = check_alarm_latency(_alarm(100.7), _tilted(100.0), 500)
    assert result.passed is False and "700 ms" in result.details[0]


def test_a_missing_alarm_fails() -> None:
    other_point = decode([batch([event(7, "manhole", "alarm", 100.1, {"point": "pitch"}, pri="alarm")], 100.2,
                                topic="events")])
    assert check_alarm_latency(other_point, _tilted(100.0), 500).passed is False


def test_an_alarm_before_the_tilt_does_not_count() -> None:
    assert check_alarm_latency(_alarm(99.0), _tilted(100.0), 500).passed is False


def test_live_latency_percentiles() -> None:
    up = decode([batch([reading(i, "m", "v", 1, 100.0) for i in range(1, 101)], 100.2),
                 batch([reading(200, "m", "v", 1, 50.0)], 100.0, hist=True)])
    lat = live_latencies(up)
    assert lat.p50_ms is not None and abs(lat.p50_ms - 200) < 1e-6 and len(lat.samples) == 100
    assert percentile([], 50) is None


def test_device_states_must_pass_through_in_order() -> None:
    states = [event(i, "level", "device_state", float(i), {"state": s}) for i, s in
              enumerate(["online", "offline", "online"], start=1)]
    up = decode([batch(states, 10.0, topic="events")])
    ok, = check_states(up, {"level": ["online", "offline", "online"]})
    assert ok.passed is True
    never_back, = check_states(up, {"level": ["offline", "online", "offline"]})
    assert never_back.passed is False


def test_rss_growth_per_process_and_limits() -> None:
    samples = [Sample(float(t), 10, 50.0 + t, 5.0, 0, True, True) for t in range(0, 30)]
    samples += [Sample(float(t), 11, 40.0, 5.0, 0, True, True) for t in range(30, 60)]  # a restart: new baseline
    res = summarise(samples)
    assert res.rss_growth_mb == 24.0  # first process: 55 -> 79 after the 5 s warm-up
    rss, cpu = check_resources(res, 20.0, 4.0)
    assert rss.passed is False and cpu.passed is False
    rss, cpu = check_resources(res, 30.0, 10.0)
    assert rss.passed is True and cpu.passed is True


def test_soak_growth_is_reported_per_hour() -> None:
    samples = [Sample(float(t), 10, 50.0 + t / 3600 * 2, 1.0, 0, True, True) for t in range(0, 3 * 3600, 10)]
    res = summarise(samples)
    assert len(res.rss_hourly_mb) == 3 and all(1.9 < g < 2.0 for g in res.rss_hourly_mb)
    assert res.rss_per_hour_mb is not None and abs(res.rss_per_hour_mb - 2.0) < 1e-6


def test_every_command_needs_its_answer() -> None:
    sent = [SentCommand("a", 1.0, True), SentCommand("b", 1.0, False), SentCommand("c", 1.0, None)]
    up = Upstream(results=[(2.0, {"id": "a", "ok": True}), (2.0, {"id": "b", "ok": True})],
                  states=[(0.0, "online")])
    result = check_commands(up, sent)
    assert result.passed is False
    assert any("b: ok=True" in d for d in result.details) and any("c: no answer" in d for d in result.details)


def test_commands_sent_while_the_agent_was_offline_are_not_expected() -> None:
    up = Upstream(states=[(0.0, "online"), (10.0, "offline"), (20.0, "online")])
    lost_while_online = check_commands(up, [SentCommand("a", 5.0, None)])
    assert lost_while_online.passed is False
    while_offline = check_commands(up, [SentCommand("b", 15.0, None), SentCommand("c", 10.2, None)])
    assert while_offline.passed is True and "2 sent while the agent was offline" in while_offline.summary


def test_recovery_after_a_fault_is_bounded() -> None:
    up = decode([batch([reading(1, "m", "v", 1, 1.0)], 5.0), batch([reading(2, "m", "v", 1, 2.0)], 25.0)])
    fault = FaultRecord("broker_down", 0.0, 10.0)
    result, worst = check_recovery(up, [fault], 20.0)
    assert result.passed is True and worst == 15.0
    result, _ = check_recovery(up, [fault], 10.0)
    assert result.passed is False and "too late" in result.details[0]
    stuck, worst = check_recovery(up, [FaultRecord("link_stall", 20.0, 30.0)], 60.0)
    assert stuck.passed is False and worst is None
    skipped, _ = check_recovery(up, [FaultRecord("disk_full", 0.0, 1.0, status="skipped")], 10.0)
    assert skipped.passed is None


def test_alarms_must_alternate() -> None:
    def alarm(seq: int, ev: str) -> dict:  # type: ignore[type-arg]
        return event(seq, "manhole", ev, float(seq), {"alarm": "cover_tilt_roll", "point": "roll"}, pri="alarm")

    good = decode([batch([alarm(1, "alarm"), alarm(2, "alarm_cleared"), alarm(3, "alarm")], 10.0, topic="events")])
    assert check_alarms(good).passed is True
    twice = decode([batch([alarm(1, "alarm"), alarm(5, "alarm")], 10.0, topic="events")])
    result = check_alarms(twice)
    assert result.passed is False and "raised again while active" in result.details[0]
