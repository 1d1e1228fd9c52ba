"""The words a trader reads about what Jupiter answered and what a cancel did, keyed by code.

Every known answer of Jupiter (`upstream.KNOWN_MESSAGES`, the error classes) and every refusal
or outcome of ours has a stable machine code — `order_executing`, `withdrawal_not_in_cache`,
`already_closed`, `not_found`, `challenge_not_found`, `rate_limited`, … — carried by the typed
errors (`JupiterError.code`, `CancelRefused.code`), recorded with a cancel attempt
(`CancelAttempt.code`) and sent in every JSON answer (`"code"`). Code, views and
`static/js/orders.js` decide on those codes and on the answer's `next`, never on these words:
the copy below can be edited without touching a test of behaviour. `tests/unit/test_messages.py`
pins the wording a trader reads.

A row's text may name parameters (`{wait}`, `{detail}`, …), filled in by `words`.
"""

from __future__ import annotations

WORDS: dict[str, str] = {
    # --- Jupiter, any API (dashboard/upstream.py) ---
    "jupiter_failed": "Jupiter could not complete this request. Please try again shortly.",
    "unavailable": "Jupiter is not answering right now. Please try again in a minute.",
    "rate_limited": "Jupiter is busy right now (too many requests). Please try again in a moment.",
    # the same code when Jupiter said how long to wait (`rate_limited_words`)
    "rate_limited_wait": "Jupiter is busy right now, so nothing was sent. Try again in {wait}.",
    "share_spent": (
        "Your orders were loaded very often in the last minute. We paused to leave room for others; "
        "fresh data will be back in a moment."
    ),
    "bad_response": "Jupiter sent an answer we could not read. Please try again shortly.",
    # an answer without a key we rely on (Jupiter changed its shape): said like any unreadable answer
    "unexpected_shape": "Jupiter sent an answer we could not read. Please try again shortly.",
    "not_found": "This order is already closed or could not be found. The list will refresh.",
    "rejected": "Jupiter refused this request: {detail}.",
    "credentials_refused": "Jupiter refused the dashboard's credentials. Please tell the site operator.",
    "token_refused": "Your connection to Jupiter's DCA has ended. Connect again to see those orders.",
    "insufficient_funds": "Your wallet does not have enough SOL for the network fee. Add a little SOL and try again.",
    "transaction_expired": "That took too long and the transaction expired — try again.",
    "already_closed": "This order was already closed.",
    "challenge_not_found": (
        "Jupiter did not accept the signature (its sign-in message was no longer valid), so nothing was "
        "connected. Press “Sign again” to sign a fresh message from Jupiter."
    ),
    # Jupiter's DCA (Trigger API v2) cancel answers
    "order_executing": "A buy is running right now; try again in a minute. Nothing was stopped or signed.",
    "cannot_cancel_now": (
        "Jupiter cannot cancel this order in its current state (it is still starting, or has already ended). "
        "Nothing was stopped or signed; the list will refresh."
    ),
    "withdrawal_not_in_cache": (
        "Jupiter no longer has that refund transaction (it expired). Nothing was sent; "
        "press “Finish the refund” for a fresh one."
    ),
    "not_cancelling": "Jupiter says this order is not waiting for its refund any more; we are re-reading it.",
    "nothing_left": "Nothing is left in this order to refund, so there is nothing to cancel.",
    "refund_signature_refused": (
        "Jupiter did not accept your wallet's signature of the refund. Nothing was sent; "
        "press “Finish the refund” to try with a fresh transaction."
    ),
    # --- a cancel, either system (dashboard/attempts.py) ---
    "not_active": "This order is not one of your active orders. Refresh the list and try again.",
    "attempt_not_found": "We could not find that cancel request for your wallet. Nothing was sent.",
    "attempt_used": "This cancel request was already used. Start again if the order is still active.",
    "already_sent": "This cancel request was already sent. We are not sending it twice.",
    "already_cancelled": "This order is already cancelled (by another cancel request), so this one was not sent.",
    "not_needed": "Not sent: the order was already cancelled by another cancel request.",
    "still_confirming": "Still confirming — don't send it again. We are checking the order's status.",
    "cancelled": "Order cancelled.",
    "ended_on_its_own": (
        "This order ended on its own (its buys were done, or it was closed elsewhere) before the cancel "
        "went through, so there was nothing left to cancel. See it under History."
    ),
    "not_listed": (
        "The cancel can no longer land, and Jupiter lists this order neither as active nor in your history. "
        "Nothing more will be sent; refresh the list to see where it stands."
    ),
    "invalid_transaction": "{detail}",
    # --- a Recurring v1 cancel (dashboard/recurring_cancel.py, dashboard/recurring_check.py) ---
    "in_flight": (
        "Another cancel request for this order is still being confirmed, so this one was not sent. "
        "See how it ends under Recent cancel requests."
    ),
    "cancel_failed": (
        "Jupiter could not cancel the order, so nothing changed: your order is still active. Try again in a minute."
    ),
    "never_landed": (
        "The cancel did not go through and can no longer land. Your order is still active — you can try again."
    ),
    "declined": "You declined in your wallet, so nothing was sent. Your order keeps running.",
    # the same first sentence as `refund_refused`: both checks hold Jupiter's transactions to one rule
    "issued_unverifiable": (
        "We could not verify the cancel transaction Jupiter offered, so we did not ask your wallet to sign it. "
        "Nothing was sent: your order is still active."
    ),
    "issued_fee_too_high": (
        "Jupiter offered a cancel transaction with a network fee above this site's limit of {ceiling} SOL, "
        "so we did not send it. Nothing was sent."
    ),
    "not_signed_alone": "This transaction is not signed by your wallet alone. Nothing was sent.",
    "signature_mismatch": (
        "Your wallet's signature does not match this transaction (was another account selected?). Nothing was sent."
    ),
    "signed_changed": (
        "The transaction your wallet signed is not the one we prepared, so we did not send it. "
        "Nothing was sent — please try again."
    ),
    "signed_fee_too_high": (
        "Your wallet changed the transaction with a network fee above this site's limit of {ceiling} SOL, "
        "so we did not send it. Nothing was sent."
    ),
    "approve_cancel": "Approve the cancel in your wallet.",
    # --- a Jupiter DCA (v2) cancel (dashboard/dca_cancel.py) ---
    "disconnected": (
        "Your connection to Jupiter's DCA has ended. Connect again with the button above your orders "
        "(your list stays), then try again. Nothing was sent."
    ),
    "dca_not_found": "This is not one of your Jupiter DCA orders, or it is already gone. The list will refresh.",
    "refund_in_flight": (
        "A refund for this order is still being confirmed — don't send it again. See Recent cancel requests."
    ),
    # the refund check's own words (dashboard/withdrawal.py), then what is left to do
    # a refund the check refused after Jupiter stopped the order: stopped, nothing lost, recoverable
    "refund_refused": (
        "We could not verify the refund transaction Jupiter offered, so we did not ask your wallet to sign it. "
        "Jupiter has stopped this order (no more buys), but nothing left your wallet: the deposit is still in "
        "Jupiter's vault. Try again — Jupiter builds a fresh refund each time — or finish the cancel on jup.ag."
    ),
    # the card of a stopped order whose latest refund was refused (a link to jup.ag follows)
    "refund_refused_card": (
        "Stopped, and its refund could not be verified: nothing left your wallet, and the deposit is still in "
        "Jupiter's vault. Try again — Jupiter builds a fresh refund each time — or finish the cancel on jup.ag."
    ),
    # an "Earn While You Wait" order: its refund cannot be verified, so it is never stopped here
    "earn_not_here": (
        "Its deposit earns Jupiter Lend yield while it waits, and we cannot yet check the refund transaction "
        "of such an order, so we do not cancel it here (Jupiter would stop it at once, and the refund would "
        "then wait for you on jup.ag)."
    ),
    "earn_refused": "{earn} Nothing was stopped or signed: cancel it on jup.ag.",
    "signed_refund_refused": "{detail}",
    "refund_declined": (
        "You declined in your wallet. Jupiter has already stopped this order, so no more buys happen, "
        "but the refund still needs your approval: press “Finish the refund” when you are ready."
    ),
    "refund_never_landed": (
        "The refund did not go through and can no longer land. Jupiter has stopped this order: "
        "press “Finish the refund” for a fresh refund transaction."
    ),
    "refund_expired_unsigned": (
        "The refund expired before the wallet approved it. Jupiter has stopped the order; finish the refund "
        "from its card."
    ),
    "approve_refund": "Jupiter has stopped this order. Approve the refund in your wallet.",
    # with what the checked refund gives back (`withdrawal.received_words`)
    "approve_refund_amount": (
        "Jupiter has stopped this order. Approve the refund in your wallet: you receive {received}."
    ),
    "refund_cancelled": "Order cancelled. {amount} not yet spent and {rent} are back in your wallet.",
    "refund_cancelled_sold": "Order cancelled. {amount} not yet sold and {rent} are back in your wallet.",
    "refund_cancelled_about": "Order cancelled: you received {received}, and {rent}.",
    # --- signing in (dashboard/siws.py, the sign-in forms and views) ---
    "approve_sign_in": "Approve the sign-in in your wallet.",
    "signed_in": "Signed in.",
    "bad_request": "The sign-in request was too large or not understood. Please start again.",
    "no_account": "Your wallet did not share an account. Unlock it and try again.",
    "bad_address": "That is not a valid Solana wallet address. Please start the sign-in again.",
    "answer_incomplete": "The wallet's answer was incomplete. Please start the sign-in again.",
    "answer_garbled": "The wallet's answer could not be read. Please start again.",
    "answer_too_long": "The wallet's answer is too long. Please start again.",
    # `{what}` is the field of the wallet's answer, in words (`FIELDS`)
    "unreadable_from_wallet": "The {what} from your wallet could not be read. Please start the sign-in again.",
    "wrong_size_from_wallet": "The {what} from your wallet has the wrong size. Please start the sign-in again.",
    "not_sign_in_text": "The signed text is not a standard sign-in message. Please start the sign-in again.",
    "nonce_unknown": (
        "This sign-in request has already been used or belongs to another browser tab. Please start the sign-in again."
    ),
    "nonce_used": "This sign-in request has already been used. Please start the sign-in again.",
    "other_account": "Your wallet signed in with a different account than it said. Please start the sign-in again.",
    "sign_in_transaction_unreadable": (
        "The transaction from your wallet could not be read. Please start the sign-in again."
    ),
    "sign_in_transaction_does_more": (
        "The transaction your wallet signed does more than carry this site's sign-in text. "
        "Please start the sign-in again."
    ),
    "sign_in_transaction_changed": (
        "Your wallet changed this site's sign-in transaction before signing it. Please start the sign-in again."
    ),
    "signature_invalid": "The signature does not match the wallet address. Please start the sign-in again.",
    "sign_in_text_changed": (
        "Your wallet signed a different text from the one this site sent. Please start the sign-in again."
    ),
    "domain_mismatch": "The message your wallet signed was for another website ({domain}).",
    "fields_mismatch": "The signed message does not match this site's sign-in request. Please start the sign-in again.",
    "host_mismatch": "This sign-in was started on another address than {host}. Please start the sign-in again.",
    "challenge_expired": "The sign-in request expired (they last 5 minutes). Please start the sign-in again.",
    "clock_skew": "The sign-in request has a time too far from now. Check your device's clock.",
    # --- connecting to Jupiter's DCA (dashboard/dca_auth.py, its forms and views) ---
    "approve_connect": "Approve the message from Jupiter in your wallet. It is free and sends nothing.",
    "connected": "Connected to Jupiter's DCA for the next {hours} hours. Loading your DCA orders…",
    "connected_briefly": "Connected to Jupiter's DCA for less than two hours. Loading your DCA orders…",
    "connect_bad_request": "The wallet's answer could not be read. Nothing was sent to Jupiter.",
    "connect_kind_unknown": "The request did not say what your wallet can sign. Please press “Connect” again.",
    "connect_answer_incomplete": "The wallet did not return its signature. Nothing was sent to Jupiter.",
    "connect_answer_garbled": "The {what} was garbled on the way. Nothing was sent to Jupiter.",
    "connect_answer_too_large": "The {what} is missing or too large. Nothing was sent to Jupiter.",
    "unexpected_challenge": (
        "Jupiter sent a sign-in message we did not expect, so we did not show it to your wallet. "
        "Please try again later."
    ),
    "challenge_does_more": (
        "Jupiter sent a sign-in transaction that does more than carry a note, so we did not show it "
        "to your wallet. Nothing was signed."
    ),
    "no_connect_request": "No connect request is waiting for your signature. Please press “Connect” again.",
    "connect_other_wallet": "That connect request was for another wallet. Please press “Connect” again.",
    "connect_wrong_kind": (
        "Your wallet answered a different kind of request than we asked for. Please press “Connect” again."
    ),
    "connect_expired": "Jupiter's message expired (it lasts 5 minutes). Please press “Connect” again.",
    "connect_text_changed": (
        "Your wallet signed a different message than Jupiter's. Nothing was sent to Jupiter. "
        "Please press “Connect” again."
    ),
    "connect_signature_unreadable": (
        "Your wallet's signature is not readable. Nothing was sent to Jupiter. Please press “Connect” again."
    ),
    "connect_signature_invalid": (
        "That signature is not your signed-in wallet's signature of Jupiter's message. Nothing was sent to "
        "Jupiter. Please press “Connect” again."
    ),
    "connect_transaction_unreadable": "{detail} Please press “Connect” again.",
    "connect_transaction_changed": (
        "Your wallet changed Jupiter's sign-in transaction before signing it. Nothing was sent to Jupiter. "
        "Please press “Connect” again."
    ),
    "connect_not_signed": (
        "That transaction is not signed by your signed-in wallet. Nothing was sent to Jupiter. "
        "Please press “Connect” again."
    ),
    "signature_used": "This signature was already used. Please press “Connect” again.",
    "disconnected_meanwhile": "You disconnected meanwhile. Please press “Connect” again.",
    # --- the signed cancel transaction the bridge posts (dashboard/forms.py) ---
    "signed_transaction_missing": "The wallet did not return a signed transaction. Nothing was sent.",
    "signed_transaction_too_large": "The signed transaction is larger than Solana allows. Nothing was sent.",
    "signed_transaction_unreadable": "The signed transaction could not be read. Nothing was sent.",
    # --- the exports' choices (dashboard/forms.py; shown on a page, not in JSON) ---
    "export_format_unknown": "We do not offer that export format.",
    "export_year_unknown": "Choose a year from the list, or all years.",
    "export_not_made": "That export could not be made.",
    # --- the dashboard's own answers (dashboard/answers.py and the views) ---
    "expired_unsigned": "Expired before the wallet approved it. Nothing was sent.",
    "slow_down": "Too many attempts — please wait a minute and try again.",
    "signed_out": "You were signed out — sign in again.",
    "too_large": "That request was far larger than anything this page sends. Nothing was done.",
    "stale_page": (
        "This page is out of date (you may have signed in again in another tab). "
        "Reload the page and try again. Nothing was sent."
    ),
}


# How a field of the wallet's answer is named in the words (`{what}`).
FIELDS: dict[str, str] = {
    "signedMessage": "signed message",
    "signature": "signature",
    "signedTransaction": "signed transaction",
}


def words(code: str, **params: object) -> str:
    """The plain words for `code`, its parameters filled in."""
    text = WORDS[code]
    return text.format(**params) if params else text


def in_seconds(seconds: int) -> str:
    return "1 second" if seconds == 1 else f"{seconds} seconds"


def rate_limited_words(retry_after: int | None) -> str:
    """The words of `rate_limited`: with how long to wait when Jupiter said so."""
    if retry_after is None:
        return words("rate_limited")
    return words("rate_limited_wait", wait=in_seconds(retry_after))
