"""Every seq checker catches its planted violation: a dropped seq, a changed duplicate, order."""

from __future__ import annotations

from rig.checks.seqs import check_seqs, holes
from rig.observe.upstream import decode
from tests.unit.rig.upstream_factory import batch, event, reading


def _by_name(results: list) -> dict:  # type: ignore[type-arg]
    return {r.name: r for r in results}


def test_all_seqs_delivered_passes() -> None:
    up = decode([batch([reading(i, "m", "v", i, 100.0 + i) for i in range(1, 11)], 200.0)])
    results, stats = check_seqs(up)
    assert all(r.passed for r in results)
    assert (stats.delivered, stats.lost, stats.produced) == (10, 0, 10)


def test_a_dropped_seq_is_lost() -> None:
    up = decode([batch([reading(i, "m", "v", i, 100.0 + i) for i in (1, 2, 4, 5)], 200.0)])
    results, stats = check_seqs(up)
    complete = _by_name(results)["seqs.complete"]
    assert complete.passed is False
    assert stats.lost == 1 and complete.details == ["seq 3"]


def test_trailing_seqs_up_to_the_settle_point_count() -> None:
    up = decode([batch([reading(i, "m", "v", i, 100.0 + i) for i in (1, 2, 3)], 200.0)])
    _, stats = check_seqs(up, upto=5)
    assert stats.lost == 2


def test_a_gap_event_explains_as_many_missing_seqs_as_it_counts() -> None:
    records = [reading(1, "m", "v", 1, 1.0), reading(4, "m", "v", 4, 4.0),
               event(5, "m", "gap", 5.0, {"count": 2, "reason": "evicted"})]
    results, stats = check_seqs(decode([batch(records, 10.0)]))
    assert _by_name(results)["seqs.complete"].passed is True
    assert stats.explained == 2
    one_short = [reading(1, "m", "v", 1, 1.0), reading(5, "m", "v", 5, 5.0),
                 event(6, "m", "gap", 6.0, {"count": 2, "reason": "evicted"})]
    _, stats = check_seqs(decode([batch(one_short, 10.0)]))
    assert stats.lost == 1


def test_the_hole_before_an_outbox_corrupt_alarm_is_explained() -> None:
    records = [reading(1, "m", "v", 1, 1.0), event(5000, "gw", "outbox_corrupt", 2.0, pri="alarm"),
               reading(5001, "m", "v", 2, 3.0)]
    results, stats = check_seqs(decode([batch(records, 10.0)]))
    assert _by_name(results)["seqs.complete"].passed is True
    assert stats.moved_aside == 4998 and stats.produced == 3


def test_an_identical_duplicate_passes_and_a_changed_one_fails() -> None:
    first = batch([reading(1, "m", "v", 230.5, 1.0)], 10.0)
    same = batch([reading(1, "m", "v", 230.5, 1.0)], 11.0, hist=True)
    changed = batch([reading(1, "m", "v", 231.0, 1.0)], 12.0)
    results, stats = check_seqs(decode([first, same]))
    assert _by_name(results)["seqs.duplicates_identical"].passed is True and stats.duplicates == 1
    results, _ = check_seqs(decode([first, same, changed]))
    dup = _by_name(results)["seqs.duplicates_identical"]
    assert dup.passed is False and "seq 1" in dup.details[0]


def test_per_device_order_within_a_stream() -> None:
    ordered = [batch([reading(1, "a", "v", 1, 1.0), reading(2, "b", "v", 1, 1.0)], 10.0),
               batch([reading(3, "a", "v", 1, 2.0)], 11.0)]
    results, _ = check_seqs(decode(ordered))
    assert _by_name(results)["seqs.order"].passed is True
    swapped = [batch([reading(3, "a", "v", 1, 2.0)], 10.0), batch([reading(1, "a", "v", 1, 1.0)], 11.0),
               batch([reading(2, "a", "v", 1, 1.5)], 12.0)]
    results, _ = check_seqs(decode(swapped))
    order = _by_name(results)["seqs.order"]
    assert order.passed is False and len(order.details) == 2


def test_backlog_and_live_streams_are_ordered_separately() -> None:
    messages = [batch([reading(5, "a", "v", 1, 5.0)], 10.0), batch([reading(1, "a", "v", 1, 1.0)], 11.0, hist=True)]
    results, _ = check_seqs(decode(messages))
    assert _by_name(results)["seqs.order"].passed is True


def test_holes_are_ranges() -> None:
    assert holes({2, 3, 7}, 9) == [(1, 1), (4, 6), (8, 9)]
    assert holes(set(), 2) == [(1, 2)]


def test_command_answers_sent_through_the_outbox_account_for_their_seqs() -> None:
    from rig.pole.collector import Received

    def answer(cid: str, via_outbox: bool) -> Received:
        props = (("kind", "cmd_result"),) if via_outbox else ()
        payload = b'{"id": "%s", "ok": true}' % cid.encode()
        return Received("edgepost/gw/cmd-result", payload, False, 1, props, None, 9.0)

    records = batch([reading(1, "m", "v", 1, 1.0), reading(4, "m", "v", 1, 2.0)], 10.0)
    via_outbox = decode([records, answer("a", True), answer("b", True)])
    _, stats = check_seqs(via_outbox)
    assert stats.lost == 0 and stats.explained == 2
    one_answer_short = decode([records, answer("a", True)])
    _, stats = check_seqs(one_answer_short)
    assert stats.lost == 1
    direct = decode([records, answer("a", False), answer("b", False)])  # published directly: no seq used
    _, stats = check_seqs(direct)
    assert stats.lost == 2


def test_reserved_seqs_skipped_after_a_crash_are_not_records_produced() -> None:
    # kill -9: the outbox skips the rest of its reserved range and announces it as a lost_in_ram gap
    records = [reading(1, "m", "v", 1, 1.0), reading(2, "m", "v", 2, 2.0),
               event(100_003, "gw", "gap", 3.0, {"count": 100_000, "reason": "lost_in_ram"}),
               reading(100_004, "m", "v", 3, 4.0)]
    results, stats = check_seqs(decode([batch(records, 10.0)]))
    assert _by_name(results)["seqs.complete"].passed is True
    assert (stats.skipped, stats.explained, stats.lost) == (100_000, 0, 0)
    assert stats.produced == 4
    short = [reading(1, "m", "v", 1, 1.0), event(100_003, "gw", "gap", 3.0, {"count": 99_999, "reason": "lost_in_ram"}),
             reading(100_004, "m", "v", 3, 4.0)]
    _, stats = check_seqs(decode([batch(short, 10.0)]))
    assert stats.lost == 2 and stats.skipped == 99_999
