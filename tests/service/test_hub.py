"""The hub's contract with the streams: items are carried only where this node sees
every commit, and anything the queue cannot vouch for sends the stream back to the
database (service/hub.py)."""

from __future__ import annotations

from exchange.service.hub import Arrival, Hub


def _arrival(seq: int, *recipients: str) -> Arrival:
    return Arrival({"seq": seq, "envelope": "e"}, list(recipients))


def test_a_new_subscription_reads_the_database_first() -> None:
    sub = Hub(carry=True).subscribe("KZ")
    assert sub.stale


def test_carried_items_reach_only_their_recipients_in_order() -> None:
    hub = Hub(carry=True)
    kz, uz, ge = hub.subscribe("KZ"), hub.subscribe("UZ"), hub.subscribe("GE")
    hub.publish([_arrival(1, "KZ", "UZ"), _arrival(2, "UZ"), _arrival(3, "KZ")])
    assert [a.seq for a in kz.arrivals] == [1, 3]
    assert [a.seq for a in uz.arrivals] == [1, 2]
    assert not ge.arrivals and not ge.wake.is_set()
    assert kz.wake.is_set() and uz.wake.is_set()
    assert kz.arrivals[0] is uz.arrivals[0]  # one object, one frame for all


def test_without_carry_a_publish_sends_streams_to_the_database() -> None:
    hub = Hub(carry=False)
    sub = hub.subscribe("KZ")
    sub.stale = False
    hub.publish([_arrival(1, "KZ")])
    assert sub.stale and not sub.arrivals and sub.wake.is_set()


def test_an_overflowing_queue_is_dropped_for_a_database_read() -> None:
    hub = Hub(carry=True, queue_size=3)
    sub = hub.subscribe("KZ")
    sub.stale = False
    hub.publish([_arrival(i, "KZ") for i in range(1, 4)])
    assert [a.seq for a in sub.arrivals] == [1, 2, 3] and not sub.stale
    hub.publish([_arrival(4, "KZ")])
    assert sub.stale and not sub.arrivals


def test_a_wake_without_items_cannot_be_served_from_memory() -> None:
    hub = Hub(carry=True)
    kz, uz = hub.subscribe("KZ"), hub.subscribe("UZ")
    kz.stale = uz.stale = False
    hub.publish([_arrival(1, "KZ")])
    hub.wake(["KZ"])  # e.g. another node's notification
    assert kz.stale and not kz.arrivals
    assert not uz.stale
    hub.wake_all()
    assert uz.stale


def test_an_unsubscribed_stream_gets_nothing() -> None:
    hub = Hub(carry=True)
    sub = hub.subscribe("KZ")
    hub.unsubscribe(sub)
    hub.publish([_arrival(1, "KZ")])
    assert not sub.arrivals and hub.connections == 0
