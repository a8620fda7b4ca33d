"""Sign-in throttling, with the clock given."""

from __future__ import annotations

from signage.district.hub.throttle import SignInThrottle


def test_five_failures_in_a_window_hold_a_key_until_the_oldest_ages_out() -> None:
    throttle = SignInThrottle(max_failures=5, window_s=900)
    keys = ("name:an", "addr:10.0.0.7")
    for t in range(5):
        assert throttle.wait_s(keys, 100.0 + t) == 0
        throttle.failed(keys, 100.0 + t)
    assert throttle.wait_s(keys, 200.0) == 800.0
    assert throttle.wait_s(("name:binh", "addr:10.0.0.7"), 200.0) == 800.0  # the address is held for every name
    assert throttle.wait_s(("name:an", "addr:10.0.0.8"), 200.0) == 800.0  # and the name from every address
    assert throttle.wait_s(keys, 1001.0) == 0  # the first failure aged out


def test_a_success_clears_the_name_but_not_the_address() -> None:
    throttle = SignInThrottle(max_failures=2, window_s=900)
    throttle.failed(("name:an", "addr:a"), 0.0)
    throttle.succeeded("name:an")
    throttle.failed(("name:an", "addr:b"), 1.0)
    assert throttle.wait_s(("name:an", "addr:c"), 2.0) == 0
    throttle.failed(("name:x", "addr:a"), 3.0)
    assert throttle.wait_s(("name:y", "addr:a"), 4.0) == 896.0
