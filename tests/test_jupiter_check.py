"""`manage.py jupiter_check`: the operators' live check, run here against the sandbox upstream
over real HTTP (the production tier runs it as the README's production commands do)."""

from __future__ import annotations

import io
import logging

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from solders.keypair import Keypair

from dashboard import recurring, tokens, trigger
from dashboard.sandbox import control

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("sandbox_upstream")]

API_KEY = "jup-test-key-never-printed-5f1c"


@pytest.fixture(autouse=True)
def keyed(settings, caplog):
    settings.JUPITER_API_KEY = API_KEY
    caplog.set_level(logging.DEBUG)
    return caplog


def check(*args: str) -> tuple[str, CommandError | None]:
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("jupiter_check", *args, stdout=out, stderr=err)
    except CommandError as exc:
        return out.getvalue() + err.getvalue(), exc
    return out.getvalue() + err.getvalue(), None


def test_passes_against_the_sandbox_reporting_every_field(keyed):
    control.set_rate_limit(100)  # the sandbox then sends Jupiter's rate-limit headers
    wallet = str(Keypair().pubkey())
    control.seed_wallet(wallet, active=2, history=2)
    out, failed = check("--wallet", wallet)
    assert failed is None, out
    assert "MISSING" not in out and "FAILED" not in out
    for field in tokens.TOKEN_FIELDS:
        assert f"present  [].{field}" in out
    for field in recurring.ORDER_FIELDS:
        assert f"present  time[].{field}" in out
    for field in recurring.FILL_FIELDS:
        assert f"present  time[].trades[].{field}" in out
    for kind in trigger.CHALLENGE_TYPES:
        for field in trigger.CHALLENGE_FIELDS[kind]:
            assert f"present  {field}" in out
        assert f"accepted the {kind} challenge" in out
    assert out.count("x-ratelimit-remaining=") == 5  # tokens, two v1 lists, two challenges
    assert "answered in" in out and " ms" in out
    assert control.count_calls("dca-verify") == 0  # never verified
    assert API_KEY not in out and API_KEY not in keyed.text


@pytest.mark.parametrize(
    ("drift", "missing"),
    [("v1_list", "active list: time missing"), ("tokens", "tokens: [].id missing")],
)
def test_fails_on_a_drifted_shape_naming_the_key(drift, missing, keyed):
    control.set_drift(drift)
    out, failed = check()
    assert failed is not None, out
    assert missing in str(failed)
    assert "MISSING" in out
    assert API_KEY not in out and API_KEY not in keyed.text


def test_fails_when_a_call_fails():
    control.inject_fault("dca-challenge", "403")
    out, failed = check()
    assert failed is not None
    assert "POST /auth/challenge (type message; never verified) failed" in str(failed)
    assert "FAILED" in out


def test_an_address_that_is_not_one_is_refused_before_any_call():
    _out, failed = check("--wallet", "not an address")
    assert failed is not None and "--wallet" in str(failed)
    assert control.count_calls() == 0
