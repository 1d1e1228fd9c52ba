"""dashboard/solana_rpc.py against the sandbox's Solana RPC over real HTTP on loopback, and the
sandbox's simulated orders' deposit accounts as that RPC serves them."""

from __future__ import annotations

import logging
import subprocess
import sys

import pytest
import requests
from solders.keypair import Keypair

from dashboard import solana_rpc
from dashboard.sandbox import control, trigger_orders, trigger_seed
from dashboard.sandbox.models import DcaOrder
from dashboard.sandbox.tokens import PYUSD, SOL, SPL_2022_PROGRAM, SPL_PROGRAM
from tests.servers import ROOT, clean_env

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("sandbox_upstream")]

SECRET_URL_PART = "api-key=do-not-log-me"


@pytest.fixture
def rpc(sandbox_upstream, settings):
    settings.SOLANA_RPC_URL = f"{sandbox_upstream.url}/sandbox/solana-rpc?{SECRET_URL_PART}"
    return settings.SOLANA_RPC_URL


@pytest.fixture
def wallet() -> str:
    wallet = str(Keypair().pubkey())
    trigger_seed.seed_wallet(wallet)
    return wallet


def deposit_account(wallet: str, name: str) -> tuple[DcaOrder, trigger_orders.trigger_transactions.Refund]:
    order = DcaOrder.objects.get(order_id=trigger_seed.order_id(wallet, name))
    return order, trigger_orders.refund_of(order)


def test_a_sol_orders_deposit_is_read_as_the_vaults_wrapped_sol(rpc, wallet):
    order, refund = deposit_account(wallet, "sol-input")
    assert order.input_mint == SOL
    state = solana_rpc.get_token_account(str(refund.source))
    assert state == solana_rpc.TokenAccountState(
        address=str(refund.source),
        program=SPL_PROGRAM,
        mint=SOL,
        owner=order.vault,
        amount=order.input_amount_remaining,
        lamports=2_039_280 + order.input_amount_remaining,
        native=True,
    )
    assert control.count_calls("solana-rpc", status=200) == 1


def test_a_token_2022_deposit_and_the_short_refunds_dust_account(rpc, wallet):
    order, refund = deposit_account(wallet, "token-2022")
    state = solana_rpc.get_token_account(str(refund.source))
    assert (state.program, state.mint, state.owner, state.amount, state.native) == (
        SPL_2022_PROGRAM,
        PYUSD,
        order.vault,
        order.input_amount_remaining,
        False,
    )
    _order, sol = deposit_account(wallet, "sol-input")
    assert solana_rpc.get_token_account(str(sol.dust_account)).amount == 1
    assert solana_rpc.get_token_account(str(refund.dust_account)) is None  # only beside a SOL deposit


def test_a_closed_or_unknown_account_does_not_exist(rpc, wallet):
    _order, refund = deposit_account(wallet, "cancelled")
    assert solana_rpc.get_token_account(str(refund.source)) is None
    assert solana_rpc.get_token_account(str(Keypair().pubkey())) is None
    with pytest.raises(solana_rpc.RpcUnavailable):
        solana_rpc.get_token_account("not an address")


def test_get_balance_is_served_too(rpc, wallet):
    order, refund = deposit_account(wallet, "sol-input")
    answer = requests.post(
        rpc, json={"jsonrpc": "2.0", "id": 7, "method": "getBalance", "params": [str(refund.source)]}, timeout=5
    ).json()
    assert answer == {
        "jsonrpc": "2.0",
        "id": 7,
        "result": {
            "context": {"slot": 312_000_000, "apiVersion": "2.2.0"},
            "value": 2_039_280 + order.input_amount_remaining,
        },
    }


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"not json", -32700),
        (b'{"jsonrpc": "1.0", "method": "getAccountInfo"}', -32600),
        (b'{"jsonrpc": "2.0", "id": 1, "method": "sendTransaction", "params": []}', -32601),
        (b'{"jsonrpc": "2.0", "id": 1, "method": "getAccountInfo", "params": ["nope"]}', -32602),
        (
            b'{"jsonrpc": "2.0", "id": 1, "method": "getAccountInfo", '
            b'"params": ["11111111111111111111111111111111", {"encoding": "jsonParsed"}]}',
            -32602,
        ),
    ],
)
def test_the_sandbox_rpc_answers_json_rpc_errors(rpc, body, code):
    answer = requests.post(rpc, data=body, headers={"Content-Type": "application/json"}, timeout=5).json()
    assert answer["error"]["code"] == code


@pytest.mark.parametrize("kind", ["500", "timeout", "nonjson", "429"])
def test_a_failing_node_is_unavailable_and_its_url_never_logged(rpc, wallet, kind, caplog, monkeypatch):
    _order, refund = deposit_account(wallet, "sol-input")
    control.inject_fault("solana-rpc", kind, seconds=1 if kind == "timeout" else None)
    monkeypatch.setattr(solana_rpc, "READ_TIMEOUT", 0.3)
    caplog.set_level(logging.DEBUG)
    with pytest.raises(solana_rpc.RpcUnavailable):
        solana_rpc.get_token_account(str(refund.source))
    assert SECRET_URL_PART not in caplog.text
    assert "Solana RPC at localhost" in caplog.text


def test_an_account_that_is_not_a_token_account_is_refused(rpc, wallet):
    order, _refund = deposit_account(wallet, "sol-input")
    # The vault itself: a plain system account (a key Jupiter signs with), not a token account.
    with pytest.raises(solana_rpc.RpcUnavailable, match="not a token account"):
        solana_rpc.get_token_account(order.vault)


def test_configured_only_with_a_url(settings):
    settings.SOLANA_RPC_URL = ""
    assert not solana_rpc.configured()
    settings.SOLANA_RPC_URL = "https://rpc.example/"
    assert solana_rpc.configured()


@pytest.mark.parametrize(
    ("environment", "expected"),
    [
        ({"DASHBOARD_SANDBOX": "1", "PORT": "8123"}, "http://127.0.0.1:8123/sandbox/solana-rpc"),
        ({"DASHBOARD_SANDBOX": "1", "PORT": "8123", "SOLANA_RPC_URL": "https://rpc.example/"}, "https://rpc.example"),
        ({"DJANGO_SECRET_KEY": "x" * 64, "DJANGO_ALLOWED_HOSTS": "dash.example.com"}, ""),
    ],
    ids=["sandbox-default", "sandbox-set", "production-unset"],
)
def test_sandbox_mode_checks_refunds_against_its_own_rpc_by_default(environment, expected):
    """`make run` (sandbox mode) reads the sandbox's own Solana RPC on the same server, so a
    click-through shows the checked path; elsewhere nothing is read unless SOLANA_RPC_URL is set."""
    env = {k: v for k, v in clean_env().items() if k != "SOLANA_RPC_URL"} | environment
    script = "import django; from django.conf import settings; django.setup(); print(settings.SOLANA_RPC_URL)"
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == expected
