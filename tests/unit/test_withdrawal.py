"""The refund (withdrawal) transaction of a v2 DCA cancel: what Jupiter issues, what the wallet signed.

Pure tests: transactions built with solders from the layout of Jupiter's published example, no
database, no server. `tests/unit/test_withdrawal_chain.py` runs the same shapes on a local Solana
runtime (LiteSVM) to show the amounts the check names are the ones that move.
"""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from solders.address_lookup_table_account import AddressLookupTableAccount
from solders.compute_budget import request_heap_frame, set_compute_unit_limit, set_compute_unit_price
from solders.hash import Hash
from solders.instruction import AccountMeta, CompiledInstruction, Instruction
from solders.keypair import Keypair
from solders.message import Message, to_bytes_versioned
from solders.pubkey import Pubkey
from solders.signature import Signature
from solders.system_program import TransferParams, transfer
from solders.token.associated import get_associated_token_address
from solders.transaction import VersionedTransaction

from dashboard import withdrawal as w
from dashboard.token_instructions import TOKEN_2022_PROGRAM, TOKEN_PROGRAM, WRAPPED_SOL, associated_token_address
from dashboard.transactions import COMPUTE_BUDGET
from dashboard.withdrawal import (
    CHANGED,
    FEE_TOO_HIGH,
    NOT_SIGNED,
    OTHER_SIGNATURES,
    UNVERIFIED,
    WRONG_SIGNATURE,
    CheckedRefund,
    RefundOrder,
    WithdrawalRefused,
    check_signed_withdrawal,
    check_withdrawal,
)
from tests.refunds import (
    AMOUNT,
    Case,
    build,
    compile_message,
    create_idempotent,
    new_case,
    refund_instructions,
    signer,
    sol_close_instructions,
    sol_unwrap_instructions,
    token_close,
    token_transfer,
    unsigned,
    writable,
)

FIXTURE = json.loads((Path(__file__).parent.parent / "fixtures" / "jupiter-dca-v2-cancel-transaction.json").read_text())
CEILING = 200_000  # lamports, the default DASHBOARD_MAX_PRIORITY_FEE_LAMPORTS
MEMO = Pubkey.from_string("MemoSq4gqABAXKb96qnH2TcNFzQpPmDrJFjwUX7P4ta")
JUPITER_LEND = Pubkey.from_string("jup3YeL8QhtSx1e253b2FDvsMNC87fDrgQZivbrndc9")
FIXTURE_RAW = base64.b64decode(FIXTURE["transaction_base64"])


def fixture_order(**changes) -> RefundOrder:
    refund = int(FIXTURE["response"]["refundAmount"])
    order = RefundOrder(
        wallet=FIXTURE["order"]["userPubkey"],
        vault=FIXTURE["order"]["vaultPubkey"],
        input_mint=FIXTURE["order"]["inputMint"],
        remaining=refund,
        initial=refund + 30_000_000,
        used=30_000_000,
        refund_amount=refund,
    )
    return replace(order, **changes)


def refused(raw: bytes, order: RefundOrder, ceiling: int = CEILING) -> WithdrawalRefused:
    with pytest.raises(WithdrawalRefused) as caught:
        check_withdrawal(raw, order, max_priority_fee_lamports=ceiling)
    assert caught.value.message == UNVERIFIED  # the trader always reads the same plain sentence
    assert str(caught.value) == UNVERIFIED
    assert caught.value.code in w.CODES
    return caught.value


def refusal(raw: bytes, order: RefundOrder, ceiling: int = CEILING) -> tuple[str, str]:
    """(code, reason) of a refused refund."""
    value = refused(raw, order, ceiling)
    return value.code, value.reason


def passes(raw: bytes, order: RefundOrder) -> CheckedRefund:
    checked = check_withdrawal(raw, order, max_priority_fee_lamports=CEILING)
    assert checked.message == to_bytes_versioned(VersionedTransaction.from_bytes(raw).message)
    return checked


# --- the published example -----------------------------------------------------------------------


@pytest.mark.parametrize("token_program", [None, str(TOKEN_PROGRAM)])
def test_the_published_example_passes_with_the_amount_it_moves(token_program):
    checked = passes(FIXTURE_RAW, fixture_order(input_token_program=token_program, input_decimals=6))
    assert (checked.shape, checked.amount, checked.received, checked.transfer_fee) == (
        w.TOKEN,
        20_000_000,
        20_000_000,
        0,
    )
    assert checked.amount_from == w.FROM_TRANSACTION
    assert checked.source == FIXTURE["instructions"][2]["accounts"][0]  # the per-order account, not the vault's ATA
    assert checked.mint == FIXTURE["order"]["inputMint"]
    assert not checked.creates_account
    assert not checked.native_sol
    assert w.received_words(checked, decimals=6, symbol="USDC") == "20 USDC"


def test_the_published_example_decoded_for_the_log():
    checked = passes(FIXTURE_RAW, fixture_order())
    user, vault, cosigner = FIXTURE["signers"]
    source, ata = FIXTURE["instructions"][2]["accounts"][:2]
    assert checked.instructions == (
        {"program": "ComputeBudget", "instruction": "SetComputeUnitLimit", "value": 592, "accounts": []},
        {"program": "ComputeBudget", "instruction": "SetComputeUnitPrice", "value": 250_000, "accounts": []},
        {
            "program": "Token",
            "instruction": "Transfer",
            "amount": 20_000_000,
            "accounts": [
                f"source={source} [w]",
                f"destination={ata} (wallet's token account) [w]",
                f"authority={vault} (vault) [sw]",
                f"extra={cosigner} (co-signer) [s]",
            ],
        },
        {
            "program": "Token",
            "instruction": "CloseAccount",
            "accounts": [f"account={source} [w]", f"destination={user} (wallet) [sw]", f"owner={vault} (vault) [sw]"],
        },
    )
    json.dumps(checked.instructions)  # fit for one log line


@pytest.mark.parametrize(
    ("changes", "code", "reason"),
    [
        ({"remaining": 20_000_001, "initial": None}, w.REFUND_AMOUNT, "refund of 20000000 instead of"),
        ({"remaining": 0, "initial": None}, w.ORDER, "nothing to refund"),
        ({"remaining": None, "initial": None}, w.ORDER, "the order does not say what is left"),
        ({"wallet": str(Keypair().pubkey())}, w.FEE_PAYER, "wallet is not the fee payer"),
        ({"vault": str(Keypair().pubkey())}, w.SIGNERS, "vault is not a signer"),
        ({"input_mint": str(Keypair().pubkey())}, w.REFUND_DESTINATION, "refund to another account"),
        ({"input_token_program": str(TOKEN_2022_PROGRAM)}, w.PROGRAM_MISMATCH, "token program mismatch"),
        ({"input_token_program": "not a key"}, w.ORDER, "order names an invalid address"),
        ({"vault": FIXTURE["order"]["userPubkey"]}, w.ORDER, "order's vault is the wallet"),
        ({"input_decimals": 9}, w.REFUND_MINT, None),  # a plain Transfer names no decimals: passes
    ],
)
def test_the_published_example_is_refused_for_another_order(changes, code, reason):
    if reason is None:
        passes(FIXTURE_RAW, fixture_order(**changes))
        return
    got_code, got_reason = refusal(FIXTURE_RAW, fixture_order(**changes))
    assert got_code == code
    assert got_reason.startswith(reason)


def test_the_published_example_is_refused_under_a_lower_fee_ceiling():
    # 592 units × 250,000 micro-lamports = 148 lamports, rounded up.
    check_withdrawal(FIXTURE_RAW, fixture_order(), max_priority_fee_lamports=148)
    assert refusal(FIXTURE_RAW, fixture_order(), ceiling=147) == (
        w.PRIORITY_FEE,
        "priority fee 148 lamports over ceiling 147",
    )


# --- the refund is the order's --------------------------------------------------------------------


def test_a_short_refund_whose_numbers_agree_with_each_other_is_refused():
    # The cancel answer says 1 and the transfer moves 1: consistent, and still not the order's deposit.
    case = new_case()
    raw = build(case, refund_instructions(case, amount=1))
    code, reason = refusal(raw, case.order(refund_amount=1))
    assert (code, reason) == (w.REFUND_AMOUNT, f"refund of 1 instead of the order's remaining {AMOUNT}")


def test_jupiters_refund_amount_must_be_the_orders_remaining_deposit():
    case = new_case()
    raw = build(case)
    passes(raw, case.order())
    passes(raw, case.order(refund_amount=None))  # not in the answer: the order's figure decides
    assert refusal(raw, case.order(refund_amount=AMOUNT - 1)) == (
        w.REFUND_AMOUNT,
        f"refundAmount {AMOUNT - 1} is not the order's remaining {AMOUNT}",
    )


@pytest.mark.parametrize("amount", [AMOUNT - 1, AMOUNT + 1, 0])
def test_a_transfer_of_anything_but_the_remaining_deposit_is_refused(amount):
    case = new_case()
    raw = build(case, refund_instructions(case, amount=amount))
    assert refusal(raw, case.order(refund_amount=amount))[0] == w.REFUND_AMOUNT


def test_the_remaining_deposit_allows_only_for_what_the_order_says_was_used():
    case = new_case()
    raw = build(case)
    passes(raw, case.order(remaining=AMOUNT, initial=AMOUNT * 3, used=AMOUNT * 2))
    passes(raw, case.order(remaining=None, initial=AMOUNT * 3, used=AMOUNT * 2))  # inferred from them
    passes(raw, case.order(remaining=AMOUNT, initial=None, used=None))
    # A listing that contradicts itself is not a figure to check a refund against.
    code, reason = refusal(raw, case.order(remaining=AMOUNT, initial=AMOUNT * 3, used=AMOUNT))
    assert (code, reason) == (
        w.ORDER,
        f"the order lists {AMOUNT} remaining but {AMOUNT * 3} deposited less {AMOUNT} used",
    )


def test_the_source_must_be_controlled_by_the_orders_vault():
    case = new_case()
    stranger = Keypair()
    other = Case(case.wallet, stranger, case.cosigner, case.mint, case.vault_account)
    # Signed and authorised by another vault: not this order's deposit.
    code, reason = refusal(build(other), case.order())
    assert (code, reason) == (w.SIGNERS, "vault is not a signer")
    # The co-signer as the transfer's authority (the vault still signs, for the close).
    instructions = refund_instructions(case)
    instructions[2] = token_transfer(case, authority=case.cosigner.pubkey(), extra=[])
    assert refusal(build(case, instructions), case.order()) == (w.REFUND_SOURCE, "transfer authority is not the vault")
    # The vault's signature over a transfer from the vault key itself (not a token account).
    instructions = refund_instructions(case)
    instructions[2] = token_transfer(case, source=case.vault.pubkey())
    instructions[3] = token_close(case, account=case.vault.pubkey())
    assert refusal(build(case, instructions), case.order())[0] == w.REFUND_SOURCE


def test_the_vaults_associated_account_is_not_required():
    case = new_case()
    vault_ata = associated_token_address(case.vault.pubkey(), case.mint, TOKEN_PROGRAM)
    per_order = Case(case.wallet, case.vault, case.cosigner, case.mint, vault_ata)
    passes(build(per_order), case.order())
    passes(build(case), case.order())


# --- every benign shape passes ------------------------------------------------------------------


@pytest.mark.parametrize("token_program", [TOKEN_PROGRAM, TOKEN_2022_PROGRAM], ids=["token", "token-2022"])
@pytest.mark.parametrize("checked", [False, True], ids=["Transfer", "TransferChecked"])
@pytest.mark.parametrize("v0", [False, True], ids=["legacy", "v0"])
@pytest.mark.parametrize("known", [True, False], ids=["program-known", "program-inferred"])
def test_a_token_refund_passes(token_program, checked, v0, known):
    case = new_case(token_program)
    raw = build(case, refund_instructions(case, checked=checked), v0=v0)
    result = passes(raw, case.order(input_token_program=str(token_program) if known else None, input_decimals=6))
    assert (result.shape, result.amount, result.amount_from) == (w.TOKEN, AMOUNT, w.FROM_TRANSACTION)
    # A Token-2022 TransferChecked can have a fee withheld that the transaction does not name.
    unnamed_fee = token_program == TOKEN_2022_PROGRAM and checked
    assert result.transfer_fee == (None if unnamed_fee else 0)
    assert result.received == AMOUNT


def test_a_token_2022_transfer_fee_is_named_and_what_the_wallet_receives_is_after_it():
    case = new_case(TOKEN_2022_PROGRAM)
    fee = AMOUNT * 3 // 1000  # 0.3 %
    raw = build(case, refund_instructions(case, fee=fee))
    result = passes(raw, case.order(input_decimals=6))
    assert (result.amount, result.transfer_fee, result.received) == (AMOUNT, fee, AMOUNT - fee)
    assert w.received_words(result, decimals=6, symbol="PYUSD") == (
        "about 19.94 PYUSD after the token's own transfer fee"
    )


def test_a_token_2022_transfer_checked_names_no_fee_and_the_words_say_so():
    case = new_case(TOKEN_2022_PROGRAM)
    result = passes(build(case, refund_instructions(case, checked=True)), case.order())
    assert w.received_words(result, decimals=6, symbol="PYUSD") == (
        "20 PYUSD, less any transfer fee the token itself charges"
    )


def test_a_transfer_fee_over_the_ceiling_is_refused():
    case = new_case(TOKEN_2022_PROGRAM)
    ceiling = AMOUNT * w.MAX_TRANSFER_FEE_BPS // 10_000
    passes(build(case, refund_instructions(case, fee=ceiling)), case.order())
    code, reason = refusal(build(case, refund_instructions(case, fee=ceiling + 1)), case.order())
    assert (code, reason) == (w.TRANSFER_FEE, f"transfer fee {ceiling + 1} of {AMOUNT} is over 500 basis points")


def test_token_2022_extension_accounts_that_do_not_touch_the_wallet_pass():
    case = new_case(TOKEN_2022_PROGRAM)
    hook_program, hook_metas = Keypair().pubkey(), Keypair().pubkey()
    extension = [AccountMeta(hook_metas, False, False), AccountMeta(hook_program, False, False)]
    for checked, fee in ((True, None), (False, AMOUNT // 1000)):
        instructions = refund_instructions(case, checked=checked, fee=fee)
        instructions[2] = token_transfer(
            case, checked=checked, fee=fee, extra=[signer(case.cosigner.pubkey()), *extension]
        )
        passes(build(case, instructions), case.order())


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("the wallet", w.WALLET_ROLE),
        ("the wallet's token account", w.WALLET_ROLE),
        ("another signer (the vault)", w.EXTRA_ACCOUNT),
        ("an extra account after a classic Token transfer", w.EXTRA_ACCOUNT),
        ("an extra account after a close", w.EXTRA_ACCOUNT),
        ("the co-signer twice", w.EXTRA_ACCOUNT),
    ],
)
def test_extension_accounts_that_touch_the_wallet_or_sign_are_refused(name, code):
    token_program = TOKEN_PROGRAM if "classic" in name else TOKEN_2022_PROGRAM
    case = new_case(token_program)
    cosigner = signer(case.cosigner.pubkey())
    extra = {
        "the wallet": [cosigner, AccountMeta(case.user, False, False)],
        "the wallet's token account": [cosigner, writable(case.ata)],
        "another signer (the vault)": [cosigner, signer(case.vault.pubkey())],
        "an extra account after a classic Token transfer": [cosigner, AccountMeta(Keypair().pubkey(), False, False)],
        "an extra account after a close": None,
        "the co-signer twice": [cosigner, cosigner],
    }[name]
    instructions = refund_instructions(case, checked=True)
    if extra is None:
        close = token_close(case)
        instructions[3] = Instruction(close.program_id, close.data, [*close.accounts, writable(Keypair().pubkey())])
    else:
        instructions[2] = token_transfer(case, checked=True, extra=extra)
    assert refusal(build(case, instructions), case.order())[0] == code


@pytest.mark.parametrize("funder", ["wallet", "vault"])
@pytest.mark.parametrize("token_program", [TOKEN_PROGRAM, TOKEN_2022_PROGRAM], ids=["token", "token-2022"])
def test_an_idempotent_creation_of_the_wallets_token_account_passes(funder, token_program):
    case = new_case(token_program)
    payer = case.user if funder == "wallet" else case.vault.pubkey()
    instructions = refund_instructions(case, checked=True)
    instructions.insert(2, create_idempotent(case, funder=payer))
    result = passes(build(case, instructions), case.order())
    assert result.creates_account
    assert result.received == AMOUNT
    # Our derivation of the wallet's account agrees with solders' own.
    assert case.ata == get_associated_token_address(case.user, case.mint, token_program)


def test_the_sol_refund_closed_straight_to_the_wallet_passes_with_jupiters_figure():
    case = new_case(mint=WRAPPED_SOL)
    raw = build(case, sol_close_instructions(case))
    result = passes(raw, case.order(input_decimals=9))
    assert (result.shape, result.amount_from, result.amount, result.received) == (
        w.SOL_CLOSE,
        w.FROM_JUPITER,
        AMOUNT,
        AMOUNT,
    )
    assert result.native_sol
    assert result.source == str(case.vault_account)
    assert w.received_words(result, decimals=9, symbol="wSOL") == "about 0.02 SOL, Jupiter's figure"


def test_the_sol_refund_balance_read_from_a_solana_rpc():
    case = new_case(mint=WRAPPED_SOL)
    result = passes(build(case, sol_close_instructions(case)), case.order())
    vault, mint, other_mint = str(case.vault.pubkey()), str(WRAPPED_SOL), Keypair().pubkey()
    read = w.confirm_balance(result, case.order(), mint=mint, owner=vault, amount=AMOUNT)
    assert read.amount_from == w.FROM_SOLANA_RPC
    assert w.received_words(read, decimals=9, symbol="SOL") == "0.02 SOL"
    for changes, reason in (
        ({"amount": AMOUNT - 1}, f"the closed account holds {AMOUNT - 1}, not the order's remaining {AMOUNT}"),
        ({"owner": str(case.cosigner.pubkey())}, f"the closed account is owned by {case.cosigner.pubkey()}"),
        ({"mint": str(other_mint)}, f"the closed account holds {other_mint}, not {WRAPPED_SOL}"),
    ):
        with pytest.raises(WithdrawalRefused) as caught:
            w.confirm_balance(result, case.order(), **{"mint": mint, "owner": vault, "amount": AMOUNT, **changes})
        assert (caught.value.code, caught.value.message) == (w.BALANCE, UNVERIFIED)
        assert caught.value.reason.startswith(reason)
        assert caught.value.instructions == result.instructions


def test_only_a_closed_wrapped_sol_account_has_a_balance_to_read():
    case = new_case()
    result = passes(build(case), case.order())
    with pytest.raises(ValueError, match="only a closed wrapped-SOL account"):
        w.confirm_balance(result, case.order(), mint=str(case.mint), owner=str(case.vault.pubkey()), amount=AMOUNT)


@pytest.mark.parametrize("create", [True, False], ids=["created", "existing"])
@pytest.mark.parametrize("close_source", [True, False], ids=["source-closed", "source-kept"])
def test_the_sol_refund_unwrapped_by_the_wallet_to_itself_passes(create, close_source):
    case = new_case(mint=WRAPPED_SOL)
    raw = build(case, sol_unwrap_instructions(case, create=create, close_source=close_source))
    result = passes(raw, case.order())
    assert (result.shape, result.amount, result.amount_from, result.creates_account) == (
        w.SOL_UNWRAP,
        AMOUNT,
        w.FROM_TRANSACTION,
        create,
    )
    assert result.native_sol
    assert w.received_words(result, decimals=9, symbol="wSOL") == "0.02 SOL"


def test_a_sol_refund_left_wrapped_in_the_wallets_account_passes_as_a_token_refund():
    case = new_case(mint=WRAPPED_SOL)
    result = passes(build(case), case.order())
    assert (result.shape, result.native_sol) == (w.TOKEN, False)


@pytest.mark.parametrize(
    ("name", "code", "reason"),
    [
        ("closed straight to the wallet for a token order", w.SHAPE, "1 account closes and no token transfer"),
        ("closed to someone else", w.CLOSE, "close rent to another account"),
        ("closed by someone other than the vault", w.SIGNERS, "vault is not a signer"),
        ("a short refundAmount", w.REFUND_AMOUNT, f"refundAmount 1 is not the order's remaining {AMOUNT}"),
        ("two closes and no transfer", w.SHAPE, "2 account closes and no token transfer, expected one close"),
        ("an account created and nothing moved into it", w.ACCOUNT_CREATION, "the wallet's account is created"),
        ("the vault key itself closed", w.REFUND_SOURCE, "the closed account is a signer"),
        ("under Token-2022", w.PROGRAM_MISMATCH, "token program mismatch"),
    ],
)
def test_harmful_sol_closes_are_refused(name, code, reason):
    case = new_case(mint=WRAPPED_SOL)
    attacker = Keypair().pubkey()
    order = case.order()
    instructions = sol_close_instructions(case)
    if name == "closed straight to the wallet for a token order":
        case = replace(case, mint=Keypair().pubkey())
        order = case.order()
        instructions = sol_close_instructions(case)
    elif name == "closed to someone else":
        instructions[2] = token_close(case, destination=attacker)
    elif name == "closed by someone other than the vault":
        instructions[2] = token_close(case, owner=case.cosigner.pubkey())
    elif name == "a short refundAmount":
        order = case.order(refund_amount=1)
    elif name == "two closes and no transfer":
        instructions.append(token_close(case, account=Keypair().pubkey()))
    elif name == "an account created and nothing moved into it":
        instructions.insert(2, create_idempotent(case))
    elif name == "the vault key itself closed":
        instructions[2] = token_close(case, account=case.vault.pubkey())
    else:
        case = replace(case, token_program=TOKEN_2022_PROGRAM)
        instructions = sol_close_instructions(case)
        order = case.order(input_token_program=None)  # the program read from the transaction
    got_code, got_reason = refusal(build(case, instructions), order)
    assert got_code == code
    assert got_reason.startswith(reason)


@pytest.mark.parametrize(
    ("name", "code", "reason"),
    [
        ("the wallet closes its wrapped-SOL account to someone else", w.WALLET_ROLE, "wallet's token account as Close"),
        ("the wallet closes its account before the refund reaches it", w.SHAPE, "the wallet's wrapped-SOL account"),
        ("the account is created after the transfer", w.SHAPE, "the wallet's account is created after"),
        ("the source is closed before the transfer", w.SHAPE, "the refunded account is closed before"),
        ("the wallet closes another token's account to itself", w.WALLET_ROLE, "wallet's token account as Close"),
    ],
)
def test_harmful_unwraps_are_refused(name, code, reason):
    case = new_case(mint=WRAPPED_SOL)
    attacker = Keypair().pubkey()
    order = case.order()
    instructions = sol_unwrap_instructions(case, create=True, close_source=True)
    # [limit, price, create, transfer, close own, close source]
    if name == "the wallet closes its wrapped-SOL account to someone else":
        instructions[4] = token_close(case, account=case.ata, destination=attacker, owner=case.user)
    elif name == "the wallet closes its account before the refund reaches it":
        instructions[3], instructions[4] = instructions[4], instructions[3]
    elif name == "the account is created after the transfer":
        instructions[2], instructions[3] = instructions[3], instructions[2]
    elif name == "the source is closed before the transfer":
        instructions.insert(3, instructions.pop(5))
    else:
        case = replace(case, mint=Keypair().pubkey())
        order = case.order()
        instructions = sol_unwrap_instructions(case, create=True, close_source=True)
    got_code, got_reason = refusal(build(case, instructions), order)
    assert got_code == code
    assert got_reason.startswith(reason)


# --- the wallet appears only where it can neither spend nor hand over ---------------------------


def positions(instructions: list[Instruction]) -> list[tuple[int, int]]:
    """(instruction, account position) of every token account slot of a refund."""
    return [
        (i, p)
        for i, ix in enumerate(instructions)
        if ix.program_id in (TOKEN_PROGRAM, TOKEN_2022_PROGRAM)
        for p in range(len(ix.accounts))
    ]


def with_account(instructions: list[Instruction], at: tuple[int, int], key: Pubkey, *, sign: bool) -> list:
    i, p = at
    ix = instructions[i]
    accounts = list(ix.accounts)
    accounts[p] = AccountMeta(key, sign, accounts[p].is_writable)
    return [*instructions[:i], Instruction(ix.program_id, ix.data, accounts), *instructions[i + 1 :]]


@pytest.mark.parametrize("checked", [False, True], ids=["Transfer", "TransferChecked"])
def test_the_wallet_or_its_token_account_in_any_other_role_is_refused(checked):
    # Every account slot of the published example's two token instructions, one at a time.
    case = new_case()
    base = refund_instructions(case, checked=checked)
    transfer_destination, close_destination = (2, 2 if checked else 1), (3, 1)
    tried = 0
    for at in positions(base):
        for key, allowed in ((case.user, close_destination), (case.ata, transfer_destination)):
            if at == allowed:
                continue
            instructions = with_account(base, at, key, sign=key == case.user)
            code, reason = refusal(build(case, instructions), case.order())
            assert code == w.WALLET_ROLE, (at, str(key), reason)
            tried += 1
    assert tried == 2 * len(positions(base)) - 2


@pytest.mark.parametrize(
    ("name", "code", "reason"),
    [
        ("wallet as transfer authority", w.WALLET_ROLE, "wallet as Transfer authority"),
        ("wallet as transfer source", w.WALLET_ROLE, "wallet as Transfer source"),
        ("transfer from the wallet's token account", w.WALLET_ROLE, "wallet's token account as Transfer source"),
        ("wallet as close authority of a vault account", w.WALLET_ROLE, "wallet as CloseAccount owner"),
        ("wallet closes its own token account", w.WALLET_ROLE, "wallet's token account as CloseAccount account"),
        ("close rent to the wallet's token account", w.WALLET_ROLE, "wallet's token account as CloseAccount dest"),
        ("wallet as an extra signer of the transfer", w.WALLET_ROLE, "wallet as Transfer extra account"),
        ("refund to the wallet itself, not its token account", w.WALLET_ROLE, "wallet as Transfer destination"),
        ("wallet's account handed to someone (SetAuthority)", w.FORBIDDEN_INSTRUCTION, "token instruction SetAuth"),
        ("the vault account handed to someone (SetAuthority)", w.FORBIDDEN_INSTRUCTION, "token instruction SetAuth"),
        ("an Approve of the wallet's account", w.FORBIDDEN_INSTRUCTION, "token instruction Approve not allowed"),
        ("a Burn", w.FORBIDDEN_INSTRUCTION, "token instruction Burn not allowed"),
        ("an unknown token instruction", w.FORBIDDEN_INSTRUCTION, "token instruction ff not allowed"),
        ("TransferCheckedWithFee under classic Token", w.FORBIDDEN_INSTRUCTION, "TransferCheckedWithFee outside"),
        ("wallet funds someone else's account", w.ACCOUNT_CREATION, "creation of an account other than"),
        ("a non-idempotent creation", w.ACCOUNT_CREATION, "associated-token instruction Create not allowed"),
        ("a creation naming another token program", w.ACCOUNT_CREATION, "account creation naming other programs"),
        ("a creation funded by a stranger", w.SIGNERS, "4 signers"),
        ("a creation funded by the co-signer", w.SIGNERS, "co-signer is writable"),
        ("a creation of the wallet's account for another mint", w.ACCOUNT_CREATION, "creation of an account"),
        ("two creations", w.ACCOUNT_CREATION, "2 account creations"),
        ("a malformed creation", w.ACCOUNT_CREATION, "malformed associated-token instruction"),
        ("a creation with extra accounts", w.ACCOUNT_CREATION, "CreateIdempotent names extra accounts"),
    ],
)
def test_the_wallet_spending_or_handing_over_is_refused(name, code, reason):
    case = new_case()
    c, user, vault, cosigner = case, case.user, case.vault.pubkey(), case.cosigner.pubkey()
    attacker = Keypair().pubkey()
    limit, price = set_compute_unit_limit(592), set_compute_unit_price(250_000)
    good, close = token_transfer(c), token_close(c)
    program = c.token_program

    def set_authority(account: Pubkey, current: Pubkey) -> Instruction:
        data = bytes([6, 2, 1]) + bytes(attacker)  # AccountOwner -> Some(attacker)
        return Instruction(program, data, [writable(account), signer(current)])

    create = create_idempotent(c)
    body = {
        "wallet as transfer authority": [token_transfer(c, authority=user), close],
        "wallet as transfer source": [token_transfer(c, source=user), close],
        "transfer from the wallet's token account": [
            token_transfer(c, source=c.ata, destination=associated_token_address(attacker, c.mint, program)),
            close,
        ],
        "wallet as close authority of a vault account": [good, token_close(c, owner=user)],
        "wallet closes its own token account": [good, close, token_close(c, account=c.ata, owner=user)],
        "close rent to the wallet's token account": [good, token_close(c, destination=c.ata)],
        "wallet as an extra signer of the transfer": [
            token_transfer(c, extra=[signer(cosigner), AccountMeta(user, True, True)]),
            close,
        ],
        "refund to the wallet itself, not its token account": [token_transfer(c, destination=user), close],
        "wallet's account handed to someone (SetAuthority)": [good, close, set_authority(c.ata, user)],
        "the vault account handed to someone (SetAuthority)": [set_authority(c.vault_account, vault), good, close],
        "an Approve of the wallet's account": [
            good,
            close,
            Instruction(
                program, bytes([4]) + (2**64 - 1).to_bytes(8, "little"), [writable(c.ata), w_(attacker), signer(user)]
            ),
        ],
        "a Burn": [
            good,
            close,
            Instruction(program, bytes([8]) + (1).to_bytes(8, "little"), [writable(c.ata), w_(c.mint), signer(user)]),
        ],
        "an unknown token instruction": [good, close, Instruction(program, b"\xff", [writable(c.vault_account)])],
        "TransferCheckedWithFee under classic Token": [
            Instruction(program, token_transfer(c, fee=1).data, list(token_transfer(c, checked=True).accounts)),
            close,
        ],
        "wallet funds someone else's account": [create_idempotent(c, owner=attacker), good, close],
        "a non-idempotent creation": [Instruction(create.program_id, b"", list(create.accounts)), good, close],
        "a creation naming another token program": [
            create_idempotent(c, token_program=TOKEN_2022_PROGRAM),
            good,
            close,
        ],
        "a creation funded by a stranger": [create_idempotent(c, funder=attacker), good, close],
        "a creation funded by the co-signer": [create_idempotent(c, funder=cosigner), good, close],
        "a creation of the wallet's account for another mint": [
            create_idempotent(c, mint=Keypair().pubkey()),
            good,
            close,
        ],
        "two creations": [create, create, good, close],
        "a malformed creation": [Instruction(create.program_id, b"\x01\x00", list(create.accounts)), good, close],
        "a creation with extra accounts": [
            Instruction(create.program_id, b"\x01", [*create.accounts, w_(attacker)]),
            good,
            close,
        ],
    }[name]
    got = refused(build(case, [limit, price, *body]), case.order())
    assert got.code == code
    assert got.reason.startswith(reason)
    assert got.instructions  # decoded for the log
    assert any("(wallet" in account for ix in got.instructions for account in ix["accounts"])


def w_(key: Pubkey) -> AccountMeta:
    return AccountMeta(key, False, False)


# --- harmful or unverifiable withdrawals are refused --------------------------------------------


def harmful(case: Case) -> dict:
    """name -> (instructions, build options, expected code, reason prefix)."""
    c = case
    user, vault, cosigner = c.user, c.vault.pubkey(), c.cosigner.pubkey()
    attacker = Keypair().pubkey()
    attacker_ata = associated_token_address(attacker, c.mint, c.token_program)
    limit, price = set_compute_unit_limit(592), set_compute_unit_price(250_000)
    close = token_close(c)
    good = token_transfer(c)
    lend_withdraw = Instruction(
        JUPITER_LEND,
        bytes.fromhex("b712469c946da122") + AMOUNT.to_bytes(8, "little"),
        [signer(vault, True), writable(c.vault_account), writable(Keypair().pubkey()), w_(c.mint)],
    )
    return {
        "refund to another account": (
            [limit, price, token_transfer(c, destination=attacker_ata), close],
            {},
            w.REFUND_DESTINATION,
            "refund to another account",
        ),
        "refund to the wallet's account of the other token program": (
            [
                limit,
                price,
                token_transfer(c, destination=associated_token_address(user, c.mint, TOKEN_2022_PROGRAM)),
                close,
            ],
            {},
            w.REFUND_DESTINATION,
            "refund to another account",
        ),
        "refund of a different amount": (
            [limit, price, token_transfer(c, amount=AMOUNT - 1), close],
            {},
            w.REFUND_AMOUNT,
            f"refund of {AMOUNT - 1} instead of the order's remaining {AMOUNT}",
        ),
        "vault transfer authority replaced by the co-signer": (
            [limit, price, token_transfer(c, authority=cosigner, extra=[]), token_close(c)],
            {},
            w.REFUND_SOURCE,
            "transfer authority is not the vault",
        ),
        "an extra account after the authority": (
            [limit, price, token_transfer(c, extra=[signer(cosigner), writable(attacker)]), close],
            {},
            w.EXTRA_ACCOUNT,
            "Transfer names an extra account other than the co-signer",
        ),
        "TransferChecked of another mint": (
            [limit, price, token_transfer(c, checked=True, mint=Keypair().pubkey()), close],
            {},
            w.REFUND_MINT,
            "TransferChecked of another mint",
        ),
        "system transfer from the wallet": (
            [limit, price, good, close, transfer(TransferParams(from_pubkey=user, to_pubkey=attacker, lamports=10**9))],
            {},
            w.UNKNOWN_PROGRAM,
            "unknown program 11111111111111111111111111111111",
        ),
        "a memo": (
            [limit, price, good, close, Instruction(MEMO, b"gm", [])],
            {},
            w.UNKNOWN_PROGRAM,
            f"unknown program {MEMO}",
        ),
        "an unknown program": (
            [limit, price, good, close, Instruction(attacker, b"\x00", [writable(user)])],
            {},
            w.UNKNOWN_PROGRAM,
            f"unknown program {attacker}",
        ),
        "Earn While You Wait: a Lend withdrawal first": (
            [limit, price, lend_withdraw, good, close],
            {},
            w.UNKNOWN_PROGRAM,
            f"unknown program {JUPITER_LEND} (Jupiter Lend lending: an Earn While You Wait withdrawal)",
        ),
        "a second transfer to someone else": (
            [limit, price, good, token_transfer(c, destination=attacker_ata), close],
            {},
            w.SHAPE,
            "2 token transfers, expected one",
        ),
        "a second transfer to the wallet": (
            [limit, price, good, token_transfer(c, amount=1), close],
            {},
            w.SHAPE,
            "2 token transfers, expected one",
        ),
        "no transfer": ([limit, price, close], {}, w.SHAPE, "1 account closes and no token transfer"),
        "no close": (
            [limit, price, good],
            {},
            w.CLOSE,
            "the refunded account is not closed (its rent would not come back)",
        ),
        "two closes of the refunded account": ([limit, price, good, close, close], {}, w.CLOSE, "2 closes"),
        "a close of another account": (
            [limit, price, good, close, token_close(c, account=Keypair().pubkey())],
            {},
            w.CLOSE,
            "close of a different account than the refunded one",
        ),
        "an Approve of the vault account to someone else": (
            [
                limit,
                price,
                good,
                close,
                Instruction(
                    c.token_program,
                    bytes([4]) + (1).to_bytes(8, "little"),
                    [writable(c.vault_account), writable(attacker), signer(vault)],
                ),
            ],
            {},
            w.FORBIDDEN_INSTRUCTION,
            "token instruction Approve not allowed",
        ),
        "a malformed Transfer": (
            [
                limit,
                price,
                Instruction(c.token_program, bytes([3]) + AMOUNT.to_bytes(8, "little") + b"\x00", good.accounts),
                close,
            ],
            {},
            w.FORBIDDEN_INSTRUCTION,
            "malformed Transfer",
        ),
        "a Transfer naming too few accounts": (
            [limit, price, Instruction(c.token_program, good.data, good.accounts[:2]), close],
            {},
            w.FORBIDDEN_INSTRUCTION,
            "Transfer with too few accounts",
        ),
        "an empty token instruction": (
            [limit, price, good, close, Instruction(c.token_program, b"", [])],
            {},
            w.FORBIDDEN_INSTRUCTION,
            "token instruction empty not allowed",
        ),
        "huge priority fee": (
            [set_compute_unit_limit(1_400_000), set_compute_unit_price(10**12), good, close],
            {},
            w.PRIORITY_FEE,
            f"priority fee {1_400_000 * 10**6} lamports over ceiling {CEILING}",
        ),
        "huge priority fee on the default compute-unit limit": (
            [set_compute_unit_price(10**9), good, close],
            {},
            w.PRIORITY_FEE,
            f"priority fee {400_000 * 10**3} lamports over ceiling {CEILING}",
        ),
        "two compute-unit price instructions": (
            [limit, price, set_compute_unit_price(1), good, close],
            {},
            w.COMPUTE_BUDGET_CODE,
            "two compute-unit price instructions",
        ),
        "two compute-unit limit instructions": (
            [limit, set_compute_unit_limit(600), price, good, close],
            {},
            w.COMPUTE_BUDGET_CODE,
            "two compute-unit limit instructions",
        ),
        "an empty compute-budget instruction": (
            [limit, price, Instruction(COMPUTE_BUDGET, b"", []), good, close],
            {},
            w.COMPUTE_BUDGET_CODE,
            "compute-budget instruction empty not allowed",
        ),
        "another compute-budget instruction": (
            [limit, price, request_heap_frame(64 * 1024), good, close],
            {},
            w.COMPUTE_BUDGET_CODE,
            "compute-budget instruction 01 not allowed",
        ),
        "a compute-budget instruction naming the wallet": (
            [
                Instruction(COMPUTE_BUDGET, bytes(set_compute_unit_limit(592).data), [writable(user)]),
                price,
                good,
                close,
            ],
            {},
            w.COMPUTE_BUDGET_CODE,
            "malformed compute-budget instruction",
        ),
        "co-signer writable": (
            [limit, price, token_transfer(c, extra=[signer(cosigner, writable=True)]), close],
            {},
            w.SIGNERS,
            "co-signer is writable",
        ),
        "a fourth signer": (
            [limit, price, token_transfer(c, extra=[signer(cosigner), signer(attacker)]), close],
            {},
            w.SIGNERS,
            "4 signers, expected the wallet, the vault and at most one co-signer",
        ),
        "wallet not fee payer": (
            [limit, price, good, close],
            {"payer": cosigner},
            w.FEE_PAYER,
            "wallet is not the fee payer",
        ),
        "close rent to another account": (
            [limit, price, good, token_close(c, destination=attacker)],
            {},
            w.CLOSE,
            "close rent to another account",
        ),
        "close owned by someone else": (
            [limit, price, good, token_close(c, owner=cosigner)],
            {},
            w.CLOSE,
            "close owner is not the vault",
        ),
        "the refunded account closed before the transfer": (
            [limit, price, close, good],
            {},
            w.SHAPE,
            "the refunded account is closed before the transfer",
        ),
        "both token programs": (
            [limit, price, good, token_close(c, program=TOKEN_2022_PROGRAM)],
            {},
            w.PROGRAM_MISMATCH,
            "both token programs",
        ),
    }


HARMFUL = sorted(harmful(new_case()))


@pytest.mark.parametrize("name", HARMFUL)
def test_a_harmful_withdrawal_is_refused(name):
    case = new_case()
    instructions, options, code, reason = harmful(case)[name]
    for order in (case.order(), case.order(input_token_program=None)):  # also with the program inferred
        got = refused(build(case, instructions, **options), order)
        assert got.code == code
        assert got.reason.startswith(reason)
        assert len(got.instructions) == len(instructions)  # every instruction decoded for the log


def test_the_decimals_of_a_transfer_checked_must_be_the_mints():
    case = new_case()
    raw = build(case, refund_instructions(case, checked=True))  # 6 decimals
    passes(raw, case.order(input_decimals=6))
    assert refusal(raw, case.order(input_decimals=9)) == (
        w.REFUND_MINT,
        "TransferChecked with 6 decimals for a mint of 9",
    )


def test_token_2022_instructions_for_a_token_mint_are_refused():
    case = new_case(TOKEN_2022_PROGRAM)
    raw = build(case)
    passes(raw, case.order())
    assert refusal(raw, case.order(input_token_program=str(TOKEN_PROGRAM))) == (
        w.PROGRAM_MISMATCH,
        f"token program mismatch: {TOKEN_2022_PROGRAM} for a mint of {TOKEN_PROGRAM}",
    )


def test_an_order_naming_something_other_than_a_token_program_is_refused():
    case = new_case()
    code, reason = refusal(build(case), case.order(input_token_program=str(MEMO)))
    assert code == w.ORDER
    assert reason.endswith("is not a token program")


def test_a_transaction_without_token_instructions_is_refused():
    # Signed by wallet, vault and co-signer, but it only sets the compute budget.
    case = new_case()
    keys = [case.user, case.vault.pubkey(), case.cosigner.pubkey(), COMPUTE_BUDGET]
    limit = CompiledInstruction(3, bytes(set_compute_unit_limit(592).data), b"")
    message = Message.new_with_compiled_instructions(3, 1, 1, keys, Hash.new_unique(), [limit])
    assert refusal(unsigned(message), case.order()) == (w.SHAPE, "no token instruction")


def test_v0_with_address_lookups_is_refused():
    case = new_case()
    table = AddressLookupTableAccount(Keypair().pubkey(), [case.ata, case.vault_account])
    message = compile_message(case, refund_instructions(case), v0=True, tables=[table])
    assert message.address_table_lookups  # the accounts really were moved into the table
    got = refused(unsigned(message), case.order())
    assert (got.code, got.reason) == (w.LOOKUP_TABLE, "address table lookups")
    # The log still shows what the transaction does, the hidden accounts by their table position.
    assert any(account.startswith("destination=lookup:") for account in got.instructions[2]["accounts"])


def test_trailing_bytes_are_refused():
    case = new_case()
    raw = build(case)
    passes(raw, case.order())
    code, reason = refusal(raw + b"\x00", case.order())
    assert code == w.MALFORMED
    assert reason.startswith("not exactly one transaction")


def test_an_oversize_transaction_is_refused():
    case = new_case()
    raw = build(case, [*refund_instructions(case), Instruction(MEMO, b"x" * 900, [])])
    assert len(raw) > 1232
    assert VersionedTransaction.from_bytes(raw)  # well formed, just too large
    assert refusal(raw, case.order()) == (w.MALFORMED, f"{len(raw)} bytes, over the 1232-byte limit")


@pytest.mark.parametrize("slot", [0, 1, 2])
def test_a_signature_already_in_any_slot_is_refused(slot):
    case = new_case()
    message = compile_message(case, refund_instructions(case))
    keypair = (case.wallet, case.vault, case.cosigner)[slot]
    signatures = [Signature.default()] * 3
    signatures[slot] = keypair.sign_message(to_bytes_versioned(message))
    raw = bytes(VersionedTransaction.populate(message, signatures))
    assert refusal(raw, case.order()) == (w.ALREADY_SIGNED, "signature slots not empty")


@pytest.mark.parametrize(
    "raw",
    [b"", b"\x00", b"\x03" + bytes(200), bytes(1232), FIXTURE_RAW[:-1]],
    ids=["empty", "zero", "zeros", "1232-zeros", "truncated"],
)
def test_garbage_is_refused(raw):
    got = refused(raw, fixture_order())
    assert got.code == w.MALFORMED
    assert got.instructions == ()


def test_inconsistent_header_is_refused():
    # Two signature slots for a message that requires three: solders parses it, sanitize does not.
    message = to_bytes_versioned(VersionedTransaction.from_bytes(FIXTURE_RAW).message)
    raw = bytes([2]) + bytes(128) + message
    assert bytes(VersionedTransaction.from_bytes(raw)) == raw
    code, reason = refusal(raw, fixture_order())
    assert code == w.MALFORMED
    assert reason.startswith("malformed transaction")


def test_a_listed_twice_account_is_refused():
    # Hand-edit the fixture so the co-signer key repeats the vault (the runtime would refuse it too).
    message = bytearray(to_bytes_versioned(VersionedTransaction.from_bytes(FIXTURE_RAW).message))
    vault, cosigner = bytes(Pubkey.from_string(FIXTURE["signers"][1])), bytes(Pubkey.from_string(FIXTURE["signers"][2]))
    at = bytes(message).index(cosigner)
    message[at : at + 32] = vault
    raw = bytes([3]) + bytes(192) + bytes(message)
    assert refusal(raw, fixture_order()) == (w.MALFORMED, "an account is listed twice")


def test_the_refusal_message_is_the_one_traders_read():
    assert UNVERIFIED == (
        "We could not verify the refund transaction Jupiter offered, so we did not ask your wallet to sign it."
    )


# --- what the wallet signed ----------------------------------------------------------------------


def issue(case: Case, instructions=None) -> tuple[bytes, bytes]:
    """(issued wire bytes, message bytes the check returns)."""
    raw = build(case, instructions)
    return raw, check_withdrawal(raw, case.order(), max_priority_fee_lamports=CEILING).message


def wallet_signed(raw: bytes, keypair: Keypair, slot: int = 0) -> bytes:
    tx = VersionedTransaction.from_bytes(raw)
    signatures = list(tx.signatures)
    signatures[slot] = keypair.sign_message(to_bytes_versioned(tx.message))
    return bytes(VersionedTransaction.populate(tx.message, signatures))


def signed_refusal(issued: bytes, raw: bytes, wallet: Pubkey, ceiling: int = CEILING) -> WithdrawalRefused:
    with pytest.raises(WithdrawalRefused) as caught:
        check_signed_withdrawal(issued, raw, str(wallet), max_priority_fee_lamports=ceiling)
    return caught.value


def test_the_wallets_signature_over_the_issued_message_passes():
    case = new_case()
    raw, issued = issue(case)
    signed = wallet_signed(raw, case.wallet)
    assert check_signed_withdrawal(issued, signed, str(case.user), max_priority_fee_lamports=CEILING) == signed
    tx = VersionedTransaction.from_bytes(signed)
    assert tx.signatures[0].verify(case.user, issued)
    assert tx.signatures[1:] == [Signature.default(), Signature.default()]  # Jupiter adds those


def test_a_v0_signature_passes():
    case = new_case()
    raw = build(case, v0=True)
    issued = check_withdrawal(raw, case.order(), max_priority_fee_lamports=CEILING).message
    assert issued[:1] == b"\x80"
    signed = wallet_signed(raw, case.wallet)
    assert check_signed_withdrawal(issued, signed, str(case.user), max_priority_fee_lamports=CEILING) == signed


def test_a_signature_by_another_key_is_refused():
    case = new_case()
    raw, issued = issue(case)
    got = signed_refusal(issued, wallet_signed(raw, Keypair()), case.user)
    assert (got.message, got.code, got.reason) == (
        WRONG_SIGNATURE,
        w.WRONG_SIGNATURE_CODE,
        "wallet signature does not verify",
    )


def test_an_unsigned_transaction_is_refused():
    case = new_case()
    raw, issued = issue(case)
    assert signed_refusal(issued, raw, case.user).message == WRONG_SIGNATURE


def test_another_wallet_is_refused():
    case = new_case()
    raw, issued = issue(case)
    got = signed_refusal(issued, wallet_signed(raw, case.wallet), Keypair().pubkey())
    assert (got.message, got.reason) == (WRONG_SIGNATURE, "wallet is not a signer of the issued message")
    assert signed_refusal(issued, wallet_signed(raw, case.wallet), "not a key").code == w.NOT_SIGNED_CODE


@pytest.mark.parametrize("change", ["blockhash", "amount", "extra compute budget"])
def test_a_changed_message_signed_by_the_wallet_is_refused(change):
    case = new_case()
    raw, issued = issue(case)
    tx = VersionedTransaction.from_bytes(raw)
    if change == "blockhash":
        other = Message.new_with_blockhash(refund_instructions(case), case.user, Hash.new_unique())
    elif change == "amount":
        instructions = refund_instructions(case)
        instructions[2] = token_transfer(case, amount=AMOUNT + 1)
        other = Message.new_with_blockhash(instructions, case.user, tx.message.recent_blockhash)
    else:  # what a wallet might add to a single-signer transaction
        other = Message.new_with_blockhash(
            [set_compute_unit_limit(800), *refund_instructions(case)[1:]], case.user, tx.message.recent_blockhash
        )
    got = signed_refusal(issued, wallet_signed(unsigned(other), case.wallet), case.user)
    assert (got.message, got.code, got.reason) == (
        CHANGED,
        w.CHANGED_CODE,
        "signed message differs from the issued one",
    )


@pytest.mark.parametrize("slot", [1, 2])
def test_a_filled_vault_or_co_signer_slot_is_refused(slot):
    case = new_case()
    raw, issued = issue(case)
    signed = wallet_signed(wallet_signed(raw, case.wallet), (case.wallet, case.vault, case.cosigner)[slot], slot)
    got = signed_refusal(issued, signed, case.user)
    assert (got.message, got.code, got.reason) == (
        OTHER_SIGNATURES,
        w.OTHER_SIGNATURES_CODE,
        "a slot other than the wallet's is filled",
    )
    # Junk in the slot is no better than a real signature.
    tx = VersionedTransaction.from_bytes(wallet_signed(raw, case.wallet))
    signatures = list(tx.signatures)
    signatures[slot] = Signature(bytes([7]) * 64)
    junk = bytes(VersionedTransaction.populate(tx.message, signatures))
    assert signed_refusal(issued, junk, case.user).message == OTHER_SIGNATURES


@pytest.mark.parametrize(
    "raw",
    [b"", b"\x01", b"garbage" * 10, bytes(1233)],
    ids=["empty", "one byte", "text", "oversize"],
)
def test_garbage_instead_of_a_signed_transaction_is_refused(raw):
    case = new_case()
    _raw, issued = issue(case)
    got = signed_refusal(issued, raw, case.user)
    assert (got.message, got.code) == (NOT_SIGNED, w.NOT_SIGNED_CODE)


def test_trailing_bytes_after_the_signed_transaction_are_refused():
    case = new_case()
    raw, issued = issue(case)
    got = signed_refusal(issued, wallet_signed(raw, case.wallet) + b"\x00", case.user)
    assert got.message == NOT_SIGNED
    assert got.reason.startswith("not exactly one transaction")


def test_the_fee_ceiling_is_checked_again_when_signed():
    # The ceiling may have been lowered between issuing and signing (a restart with a new setting).
    case = new_case()
    instructions = refund_instructions(case, units=100_000, price=1_500_000)  # 150,000 lamports
    raw, issued = issue(case, instructions)
    signed = wallet_signed(raw, case.wallet)
    check_signed_withdrawal(issued, signed, str(case.user), max_priority_fee_lamports=150_000)
    got = signed_refusal(issued, signed, case.user, ceiling=149_999)
    assert (got.message, got.code, got.reason) == (
        FEE_TOO_HIGH,
        w.PRIORITY_FEE,
        "priority fee 150000 lamports over ceiling 149999",
    )


SIGNING_CASE = new_case()
SIGNING_RAW, SIGNING_ISSUED = issue(SIGNING_CASE)
SIGNING_SIGNATURE = SIGNING_CASE.wallet.sign_message(SIGNING_ISSUED)


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_no_single_byte_change_of_the_message_passes_with_the_original_signature(data):
    position = data.draw(st.integers(0, len(SIGNING_ISSUED) - 1), label="position")
    value = data.draw(st.integers(0, 255).filter(lambda v: v != SIGNING_ISSUED[position]), label="value")
    mutated = bytearray(SIGNING_ISSUED)
    mutated[position] = value
    wire = bytes([3]) + bytes(SIGNING_SIGNATURE) + bytes(128) + bytes(mutated)
    with pytest.raises(WithdrawalRefused):
        check_signed_withdrawal(SIGNING_ISSUED, wire, str(SIGNING_CASE.user), max_priority_fee_lamports=CEILING)


def test_the_unmutated_wire_of_the_property_passes():
    # The property above builds its wire by hand: the same construction, unmutated, must pass.
    wire = bytes([3]) + bytes(SIGNING_SIGNATURE) + bytes(128) + SIGNING_ISSUED
    assert (
        check_signed_withdrawal(SIGNING_ISSUED, wire, str(SIGNING_CASE.user), max_priority_fee_lamports=CEILING) == wire
    )


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_no_single_byte_change_of_an_issued_refund_moves_anything_more_to_anyone_else(data):
    # Any byte of the unsigned published example changed: refused, or still the same refund to the wallet.
    position = data.draw(st.integers(1 + 3 * 64, len(FIXTURE_RAW) - 1), label="position")
    value = data.draw(st.integers(0, 255).filter(lambda v: v != FIXTURE_RAW[position]), label="value")
    mutated = bytearray(FIXTURE_RAW)
    mutated[position] = value
    outcome: CheckedRefund | WithdrawalRefused
    try:
        outcome = check_withdrawal(bytes(mutated), fixture_order(), max_priority_fee_lamports=CEILING)
    except WithdrawalRefused as exc:
        outcome = exc
    if isinstance(outcome, WithdrawalRefused):
        assert outcome.code in w.CODES
        return
    checked = outcome
    reading = VersionedTransaction.from_bytes(bytes(mutated)).message
    assert reading.account_keys[0] == Pubkey.from_string(FIXTURE["order"]["userPubkey"])
    assert (checked.amount, checked.received) == (20_000_000, 20_000_000)
