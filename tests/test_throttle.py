"""The failed sign-in limits (app/auth/throttle.py) on their own, in memory."""

from __future__ import annotations

from rowboat.auth.throttle import LoginThrottle


def test_a_try_is_counted_before_its_password_and_a_right_one_clears_the_count() -> None:
    throttle = LoginThrottle("memory://", "3 per 15 minutes", "100 per 15 minutes")
    for _ in range(2):
        assert throttle.begin("Ada", "10.0.0.1") == 0
        throttle.failed("Ada", "10.0.0.1")
    assert throttle.begin("ada", "10.0.0.2") == 0  # the third try: names are casefolded
    throttle.succeeded("ada")  # the right password: the failures are forgotten
    for _ in range(3):
        assert throttle.begin("ada", "10.0.0.1") == 0
        throttle.failed("ada", "10.0.0.1")
    assert 0 < throttle.begin("ada", "10.0.0.3") <= 15 * 60  # a fourth try waits
    assert throttle.begin("grace", "10.0.0.1") == 0  # another name does not


def test_the_address_limit_counts_failures_only() -> None:
    throttle = LoginThrottle("memory://", "100 per 15 minutes", "2 per 15 minutes")
    for name in ("a", "b", "c", "d"):  # right passwords from one address (an office's NAT)
        assert throttle.begin(name, "10.0.0.1") == 0
        throttle.succeeded(name)
    for name in ("e", "f"):
        assert throttle.begin(name, "10.0.0.1") == 0
        throttle.failed(name, "10.0.0.1")
    assert throttle.begin("g", "10.0.0.1") > 0
    assert throttle.begin("g", "10.0.0.2") == 0
