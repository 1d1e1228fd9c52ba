"""The words a trader reads: every code has them, they are the only place they live, and a few
are pinned word for word (the tests of behaviour assert codes and states, never these words)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from dashboard import messages

ROOT = Path(__file__).resolve().parents[2]
CANCEL_PATH = ("attempts.py", "recurring_check.py", "recurring_cancel.py", "dca_cancel.py", "relay.py")
SIGN_IN_AND_CONNECT = ("siws.py", "dca_auth.py", "forms.py")


def codes_in(source: Path) -> set[str]:
    """The codes a module names: `code=` keywords, the first argument of `CancelRefused`,
    `SignInError`, `ConnectRefused`, `Refusal`, `refuse` and of the `Jupiter…` errors, `finish`'s
    third and `decline`'s second, `messages.words(...)`, the table of Jupiter's messages
    (`KNOWN_MESSAGES`), error classes' `code = ...`, and forms' `codes = {...}` and `fallback = ...`."""
    found = set()
    for node in ast.walk(ast.parse(source.read_text())):
        if isinstance(node, ast.Call):
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            positions = {
                "CancelRefused": 0,
                "SignInError": 0,
                "ConnectRefused": 0,
                "Refusal": 0,
                "refuse": 0,
                "words": 0,
                "finish": 2,
                "decline": 1,
                "refused": 0,
            }
            at = 0 if name.startswith("Jupiter") else positions.get(name)
            if at is not None and len(node.args) > at and isinstance(node.args[at], ast.Constant):
                found.add(node.args[at].value)
            for keyword in node.keywords:
                if keyword.arg == "code" and isinstance(keyword.value, ast.Constant):
                    found.add(keyword.value.value)
        elif isinstance(node, ast.Assign) and any(getattr(t, "id", "") in ("code", "fallback") for t in node.targets):
            if isinstance(node.value, ast.Constant):
                found.add(node.value.value)
            elif isinstance(node.value, ast.IfExp):  # code = "a" if … else "b"
                found |= {b.value for b in (node.value.body, node.value.orelse) if isinstance(b, ast.Constant)}
        elif isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "codes" for t in node.targets):
            found |= {v.value for v in getattr(node.value, "values", []) if isinstance(v, ast.Constant)}
        elif isinstance(node, ast.AnnAssign) and getattr(node.target, "id", "") == "KNOWN_MESSAGES":
            found |= {row.elts[2].value for row in node.value.elts}  # (needle, class, code)
    return {code for code in found if isinstance(code, str) and code}


@pytest.mark.parametrize(
    "module",
    [
        "upstream.py",
        "answers.py",
        "views.py",
        "account_views.py",
        "cancel_views.py",
        "export_views.py",
        "models.py",
        *SIGN_IN_AND_CONNECT,
        *CANCEL_PATH,
    ],
    ids=lambda m: m,
)
def test_every_code_a_module_names_has_words(module):
    missing = codes_in(ROOT / "dashboard" / module) - set(messages.WORDS)
    assert not missing, f"{module} names codes without words in dashboard/messages.py: {sorted(missing)}"


def test_the_cancel_sign_in_and_connect_keep_no_sentences_of_their_own():
    """Their words are in dashboard/messages.py: no string constant of the cancel, sign-in and
    connect modules (and the forms) reads like a sentence to a trader (log lines and docstrings aside)."""
    sentences = []
    for module in (*CANCEL_PATH, *SIGN_IN_AND_CONNECT):
        tree = ast.parse((ROOT / "dashboard" / module).read_text())
        logged = {
            id(arg)
            for node in ast.walk(tree)
            if isinstance(node, ast.Call) and getattr(node.func, "attr", "") in ("info", "warning", "error")
            for arg in node.args
        }
        # The text a wallet signs (`siws.STATEMENT`) is part of the sign-in protocol, not a message.
        signed = {
            id(node.value)
            for node in ast.walk(tree)
            if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "STATEMENT" for t in node.targets)
        }
        docstrings = {
            id(node.body[0].value)
            for node in ast.walk(tree)
            if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef))
            and node.body
            and isinstance(node.body[0], ast.Expr)
        }
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and id(node) not in logged | docstrings | signed
                and re.search(r"[A-Z][a-z]+ [a-z]+ .*[.!?]$", node.value)
            ):
                sentences.append(f"{module}: {node.value!r}")
    assert not sentences, sentences


def test_no_behaviour_compares_a_trader_facing_message():
    """What the trader reads is never what code or the page decides on."""
    comparisons = re.compile(r"(user_message|\.message|\.outcome)\s*(==|!=|\bin\b)|\.test\(\w+\.message\)")
    offenders = []
    for path in [*(ROOT / "dashboard").glob("*.py"), *(ROOT / "static" / "js").glob("*.js")]:
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if comparisons.search(line):
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not offenders, offenders


def test_words_fill_in_their_parameters():
    assert messages.words("rejected", detail="Bad order") == "Jupiter refused this request: Bad order."
    assert (
        messages.words("earn_refused", earn="It earns.")
        == "It earns. Nothing was stopped or signed: cancel it on jup.ag."
    )
    assert messages.words("approve_refund_amount", received="20 USDC").endswith("you receive 20 USDC.")


def test_both_cancel_checks_say_the_same_thing_in_the_same_words():
    # v1's cancel check and v2's refund check hold Jupiter's transactions to one rule, and say so alike.
    same = "We could not verify the {} transaction Jupiter offered, so we did not ask your wallet to sign it. "
    assert messages.words("issued_unverifiable").startswith(same.format("cancel"))
    assert messages.words("refund_refused").startswith(same.format("refund"))
    assert messages.words("issued_unverifiable").endswith("Nothing was sent: your order is still active.")


def test_a_refused_refund_says_the_order_is_stopped_nothing_left_the_wallet_and_how_to_recover():
    text = messages.words("refund_refused")
    for part in (
        "Jupiter has stopped this order",
        "nothing left your wallet",
        "the deposit is still in Jupiter's vault",
        "Try again",
        "Jupiter builds a fresh refund each time",
        "finish the cancel on jup.ag",
    ):
        assert part in text


# --- the wording a trader reads, word for word ----------------------------------------------------


@pytest.mark.parametrize(
    ("code", "words"),
    [
        ("not_found", "This order is already closed or could not be found. The list will refresh."),
        ("unavailable", "Jupiter is not answering right now. Please try again in a minute."),
        ("rate_limited", "Jupiter is busy right now (too many requests). Please try again in a moment."),
        ("still_confirming", "Still confirming — don't send it again. We are checking the order's status."),
        ("declined", "You declined in your wallet, so nothing was sent. Your order keeps running."),
        ("order_executing", "A buy is running right now; try again in a minute. Nothing was stopped or signed."),
        ("signed_out", "You were signed out — sign in again."),
        ("cancelled", "Order cancelled."),
        ("signed_in", "Signed in."),
        ("signature_invalid", "The signature does not match the wallet address. Please start the sign-in again."),
        ("challenge_expired", "The sign-in request expired (they last 5 minutes). Please start the sign-in again."),
        ("no_connect_request", "No connect request is waiting for your signature. Please press “Connect” again."),
    ],
)
def test_pinned_words(code, words):
    assert messages.words(code) == words


def test_jupiter_busy_says_nothing_was_sent_and_how_long_to_wait():
    assert messages.rate_limited_words(12) == "Jupiter is busy right now, so nothing was sent. Try again in 12 seconds."
    assert messages.rate_limited_words(1).endswith("Try again in 1 second.")
    assert messages.rate_limited_words(None) == messages.words("rate_limited")


def test_a_field_of_the_wallets_answer_is_named_in_words():
    assert messages.words("wrong_size_from_wallet", what=messages.FIELDS["signature"]) == (
        "The signature from your wallet has the wrong size. Please start the sign-in again."
    )
    assert messages.words("domain_mismatch", domain="evil.example").endswith("(evil.example).")


def test_challenge_not_found_asks_to_sign_again():
    assert "Sign again" in messages.words("challenge_not_found")


def test_every_row_is_a_sentence():
    for code, text in messages.WORDS.items():
        assert re.fullmatch(r"[a-z_]+", code), code
        assert text == "{detail}" or ((text[0].isupper() or text[0] == "{") and text.endswith((".", "…"))), code
