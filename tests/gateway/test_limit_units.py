"""The pure parts of the gateway's limits: the in-memory sliding windows (the fallback while
Redis is away) and the caller's address behind trusted proxies."""

from __future__ import annotations

from gateway.throttle import client_address, parse_networks
from gateway.windows import LocalWindows, arguments


def hit(windows: LocalWindows, now: int, *keys: str, quota: int = 3, window: int = 1000) -> list[int]:
    return windows.evaluate(list(keys), arguments(True, "m", [(quota, window)] * len(keys)), now=now)


def test_the_in_memory_windows_slide() -> None:
    windows = LocalWindows()
    assert [hit(windows, t, "k")[0] for t in (0, 100, 900)] == [1, 1, 1]
    assert hit(windows, 999, "k") == [0, 3, 1]  # spent: the oldest frees a place at t=1000
    assert hit(windows, 1000, "k")[:2] == [1, 3]  # t=0 left the window: one place, taken
    assert hit(windows, 1050, "k")[0] == 0
    assert hit(windows, 1100, "k") == [1, 3, 800]  # t=100 left; the next frees at 1900
    # Every counter of a decision must have room; a refused event is counted nowhere.
    assert hit(windows, 5000, "a", "b", quota=1)[0] == 1
    assert hit(windows, 5001, "a", "c", quota=1) == [0, 1, 999, 0, 1000]
    assert hit(windows, 5002, "c", quota=1)[0] == 1


def test_the_in_memory_windows_stay_bounded() -> None:
    windows = LocalWindows(max_keys=100)
    for i in range(1000):
        hit(windows, i, f"client-{i}")
    assert len(windows._events) <= 100


def test_the_source_behind_a_trusted_proxy_is_the_last_untrusted_hop() -> None:
    trusted = parse_networks("10.0.0.0/8, 192.168.1.7")
    assert client_address("203.0.113.9", "1.2.3.4", trusted) == "203.0.113.9"  # not a proxy: ignored
    assert client_address("10.1.1.1", "1.2.3.4", trusted) == "1.2.3.4"
    # What the caller wrote itself (the first entries) cannot choose its address.
    assert client_address("10.1.1.1", "6.6.6.6, 1.2.3.4, 192.168.1.7", trusted) == "1.2.3.4"
    assert client_address("10.1.1.1", "", trusted) == "10.1.1.1"
