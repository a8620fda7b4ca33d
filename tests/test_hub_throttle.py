"""Sign-in throttling's decision, pure: the failures and the clock given."""

from __future__ import annotations

from signage.district.hub.throttle import address_key, keys_held, name_key, wait_s


def test_five_failures_in_a_window_hold_a_key_until_enough_age_out() -> None:
    failures = {"name:an": [100.0, 101.0, 102.0, 103.0, 104.0], "addr:10.0.0.7": [100.0, 101.0, 102.0, 103.0, 104.0]}
    assert wait_s(failures, ["name:an", "addr:10.0.0.7"], 200.0, max_failures=5, window_s=900) == 800.0
    assert wait_s(failures, ["name:binh", "addr:10.0.0.7"], 200.0, max_failures=5, window_s=900) == 800.0  # the address, any name
    assert wait_s(failures, ["name:an", "addr:10.0.0.8"], 200.0, max_failures=5, window_s=900) == 800.0  # the name, any address
    assert wait_s(failures, ["name:an"], 1000.0, max_failures=5, window_s=900) == 0  # the first one aged out
    four = {"name:an": [100.0, 101.0, 102.0, 103.0]}
    assert wait_s(four, ["name:an"], 104.0, max_failures=5, window_s=900) == 0


def test_more_failures_than_the_limit_hold_until_fewer_than_the_limit_remain() -> None:
    # Seven (parallel guesses counted together): held until the third oldest ages out, leaving four.
    failures = {"addr:a": [10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0]}
    assert wait_s(failures, ["addr:a"], 100.0, max_failures=5, window_s=900) == 830.0
    assert wait_s(failures, ["addr:a"], 930.0, max_failures=5, window_s=900) == 0


def test_at_an_address_the_officer_signed_in_from_only_that_address_holds() -> None:
    name, mine, stranger = name_key("an"), address_key("192.0.2.10"), address_key("203.0.113.9")
    assert keys_held(name, mine, known=True) == (mine,)
    assert keys_held(name, stranger, known=False) == (name, stranger)
    locked_by_stranger = {name: [1.0, 2.0, 3.0, 4.0, 5.0], stranger: [1.0, 2.0, 3.0, 4.0, 5.0]}
    assert wait_s(locked_by_stranger, keys_held(name, mine, known=True), 6.0) == 0
    assert wait_s(locked_by_stranger, keys_held(name, address_key("198.51.100.1"), known=False), 6.0) > 0


def test_keys_hide_the_typed_name_and_group_an_ipv6_home() -> None:
    assert name_key("An ") == name_key("an") and "an" not in name_key("an").removeprefix("name:")
    assert len(name_key("x" * 10_000)) == len("name:") + 32
    assert address_key("2001:db8:1:2:aaaa::1") == address_key("2001:db8:1:2:bbbb::9") == "addr:2001:db8:1:2::/64"
    assert address_key("::ffff:192.0.2.1") == address_key("192.0.2.1") == "addr:192.0.2.1"
    assert address_key("not an address") == "addr:not an address"
