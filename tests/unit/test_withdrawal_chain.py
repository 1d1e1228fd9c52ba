"""The refund check against the real token programs: every shape `withdrawal.check_withdrawal`
passes is run, signed by the wallet, the vault and the co-signer, on LiteSVM (a local Solana
runtime bundled with solders, loaded with SPL Token, Token-2022 and Associated Token), and what
the wallet gained and paid is compared with what the check said.

In-process and offline: no validator, no network, no database.
"""

from __future__ import annotations

import pytest
from solders.account import Account
from solders.compute_budget import set_compute_unit_limit, set_compute_unit_price
from solders.instruction import Instruction
from solders.keypair import Keypair
from solders.litesvm import LiteSVM
from solders.message import Message
from solders.pubkey import Pubkey
from solders.token.state import Mint, TokenAccount, TokenAccountState
from solders.transaction import VersionedTransaction
from solders.transaction_metadata import FailedTransactionMetadata

from dashboard import withdrawal as w
from dashboard.token_instructions import TOKEN_2022_PROGRAM, TOKEN_PROGRAM, WRAPPED_SOL
from tests.refunds import (
    AMOUNT,
    DECIMALS,
    Case,
    create_idempotent,
    new_case,
    refund_instructions,
    sol_close_instructions,
    sol_unwrap_instructions,
    token_close,
    token_transfer,
    unsigned,
)

CEILING = 200_000
UNITS = 100_000  # room for an associated-account creation (592, as in Jupiter's example, is not)
PRICE = 250_000  # micro-lamports per unit
SIGNATURE_FEE = 5_000
TRANSFER_FEE_BPS = 30  # 0.3 %: the Token-2022 mint's own fee, in the mint's account data
EXTENSION_MINT, EXTENSION_ACCOUNT = 1, 2  # Token-2022 AccountType after the 165-byte base
TRANSFER_FEE_CONFIG, TRANSFER_FEE_AMOUNT = 1, 2  # Token-2022 extension types


def network_fee(message: Message) -> int:
    return SIGNATURE_FEE * message.header.num_required_signatures + -(-UNITS * PRICE // 1_000_000)


def tlv(kind: int, value: bytes) -> bytes:
    return kind.to_bytes(2, "little") + len(value).to_bytes(2, "little") + value


def mint_data(token_program: Pubkey, fee_bps: int | None) -> bytes:
    base = bytes(Mint(None, 10**15, DECIMALS, True, None))
    if token_program == TOKEN_PROGRAM or fee_bps is None:
        return base
    # TransferFeeConfig: two authorities, withheld amount, older and newer fee (epoch, maximum, bps).
    fee = (0).to_bytes(8, "little") + (10**15).to_bytes(8, "little") + fee_bps.to_bytes(2, "little")
    config = bytes(32) + bytes(32) + (0).to_bytes(8, "little") + fee + fee
    return base + bytes(165 - len(base)) + bytes([EXTENSION_MINT]) + tlv(TRANSFER_FEE_CONFIG, config)


def account_data(case: Case, owner: Pubkey, amount: int, native: int | None, fee_mint: bool) -> bytes:
    base = bytes(TokenAccount(case.mint, owner, amount, None, TokenAccountState.Initialized, native, 0, None))
    if not fee_mint:
        return base
    return base + bytes([EXTENSION_ACCOUNT]) + tlv(TRANSFER_FEE_AMOUNT, bytes(8))


class Chain:
    """A local Solana with one order's accounts: the mint, the vault's deposit, the wallet's SOL."""

    def __init__(self, case: Case, *, fee_bps: int | None = None, wallet_account: int | None = None) -> None:
        self.case = case
        self.svm = LiteSVM()
        self.fee_mint = fee_bps is not None
        self.svm.airdrop(case.user, 10**9)
        native = case.mint == WRAPPED_SOL
        self.put(case.mint, mint_data(case.token_program, fee_bps))  # wrapped SOL: SPL Token's native mint
        reserve = self.svm.minimum_balance_for_rent_exemption(165)
        deposit = account_data(case, case.vault.pubkey(), AMOUNT, reserve if native else None, self.fee_mint)
        self.put(case.vault_account, deposit, extra=AMOUNT if native else 0)
        if wallet_account is not None:
            own = account_data(case, case.user, wallet_account, reserve if native else None, self.fee_mint)
            self.put(case.ata, own, extra=wallet_account if native else 0)

    def put(self, key: Pubkey, data: bytes, extra: int = 0) -> None:
        lamports = self.svm.minimum_balance_for_rent_exemption(len(data)) + extra
        self.svm.set_account(key, Account(lamports, data, self.case.token_program, False, 0))

    def lamports(self, key: Pubkey) -> int:
        account = self.svm.get_account(key)
        return account.lamports if account is not None else 0

    def tokens(self, key: Pubkey) -> int:
        account = self.svm.get_account(key)
        return TokenAccount.from_bytes(bytes(account.data)[:165]).amount if account is not None else 0

    def message(self, instructions: list[Instruction]) -> Message:
        return Message.new_with_blockhash(instructions, self.case.user, self.svm.latest_blockhash())

    def land(self, message: Message) -> None:
        """Sign with the wallet, the vault and the co-signer (as Jupiter would after confirm-cancel)."""
        keypairs = {k.pubkey(): k for k in (self.case.wallet, self.case.vault, self.case.cosigner)}
        signers = [keypairs[key] for key in message.account_keys[: message.header.num_required_signatures]]
        result = self.svm.send_transaction(VersionedTransaction(message, signers))
        assert not isinstance(result, FailedTransactionMetadata), result


def budgeted(instructions: list[Instruction]) -> list[Instruction]:
    """The same instructions with room for an account creation."""
    return [set_compute_unit_limit(UNITS), set_compute_unit_price(PRICE), *instructions[2:]]


def check_and_land(chain: Chain, instructions: list[Instruction], **order) -> tuple[w.CheckedRefund, int, int]:
    """Check the refund and land it: (what the check said, the wallet's token gain, the wallet's
    lamport change besides the network fee)."""
    case = chain.case
    message = chain.message(budgeted(instructions))
    checked = w.check_withdrawal(unsigned(message), case.order(**order), max_priority_fee_lamports=CEILING)
    tokens_before, lamports_before = chain.tokens(case.ata), chain.lamports(case.user)
    chain.land(message)
    gained = chain.tokens(case.ata) - tokens_before
    return checked, gained, chain.lamports(case.user) - lamports_before + network_fee(message)


# --- every shape the check passes does what the check says ---------------------------------------


@pytest.mark.parametrize("token_program", [TOKEN_PROGRAM, TOKEN_2022_PROGRAM], ids=["token", "token-2022"])
@pytest.mark.parametrize("checked", [False, True], ids=["Transfer", "TransferChecked"])
def test_the_published_shape_moves_the_checked_amount_and_costs_only_the_fee(token_program, checked):
    case = new_case(token_program)
    chain = Chain(case, wallet_account=0)
    rent = chain.lamports(case.vault_account)
    refund, gained, change = check_and_land(chain, refund_instructions(case, checked=checked))
    assert gained == refund.received == refund.amount == AMOUNT
    assert change == rent  # beyond the network fee, the wallet only gains: the closed account's rent
    assert chain.svm.get_account(case.vault_account) is None


@pytest.mark.parametrize("token_program", [TOKEN_PROGRAM, TOKEN_2022_PROGRAM], ids=["token", "token-2022"])
def test_creating_the_wallets_account_costs_only_its_rent_which_the_wallet_keeps(token_program):
    case = new_case(token_program)
    chain = Chain(case)
    rent = chain.lamports(case.vault_account)
    instructions = refund_instructions(case, checked=True)
    instructions.insert(2, create_idempotent(case))
    refund, gained, change = check_and_land(chain, instructions)
    assert refund.creates_account
    assert gained == refund.received == AMOUNT
    assert change == rent - chain.lamports(case.ata)  # that rent now sits in the wallet's own account


def test_a_transfer_fee_named_in_the_transaction_is_what_the_wallet_does_not_receive():
    case = new_case(TOKEN_2022_PROGRAM)
    chain = Chain(case, fee_bps=TRANSFER_FEE_BPS, wallet_account=0)
    fee = AMOUNT * TRANSFER_FEE_BPS // 10_000
    rent = chain.lamports(case.vault_account)
    refund, gained, change = check_and_land(chain, refund_instructions(case, fee=fee))
    assert (refund.amount, refund.transfer_fee, refund.received) == (AMOUNT, fee, AMOUNT - fee)
    assert gained == refund.received
    assert change == rent


def test_a_transfer_fee_named_wrong_does_not_land():
    # The token program holds the named fee to the mint's own: the figure the check reads is the real one.
    case = new_case(TOKEN_2022_PROGRAM)
    chain = Chain(case, fee_bps=TRANSFER_FEE_BPS, wallet_account=0)
    message = chain.message(budgeted(refund_instructions(case, fee=1)))
    w.check_withdrawal(unsigned(message), case.order(), max_priority_fee_lamports=CEILING)
    with pytest.raises(AssertionError, match="FailedTransactionMetadata"):
        chain.land(message)


def test_a_token_2022_transfer_checked_may_withhold_a_fee_the_transaction_does_not_name():
    # Why the words for a Token-2022 TransferChecked say "less any transfer fee the token itself charges".
    case = new_case(TOKEN_2022_PROGRAM)
    chain = Chain(case, fee_bps=TRANSFER_FEE_BPS, wallet_account=0)
    refund, gained, _change = check_and_land(chain, refund_instructions(case, checked=True))
    assert refund.transfer_fee is None
    assert gained == AMOUNT - AMOUNT * TRANSFER_FEE_BPS // 10_000 < refund.amount


def test_the_sol_refund_closed_to_the_wallet_pays_the_deposit_and_rent_as_sol():
    case = new_case(mint=WRAPPED_SOL)
    chain = Chain(case)
    source = chain.lamports(case.vault_account)
    message = chain.message(budgeted(sol_close_instructions(case)))
    refund = w.check_withdrawal(unsigned(message), case.order(), max_priority_fee_lamports=CEILING)
    assert (refund.shape, refund.amount, refund.amount_from) == (w.SOL_CLOSE, AMOUNT, w.FROM_JUPITER)
    # What a Solana RPC would read before signing: the order's vault, wrapped SOL, the deposit.
    state = TokenAccount.from_bytes(bytes(chain.svm.get_account(case.vault_account).data))
    read = w.confirm_balance(refund, case.order(), mint=str(state.mint), owner=str(state.owner), amount=state.amount)
    assert read.amount_from == w.FROM_SOLANA_RPC
    before = chain.lamports(case.user)
    chain.land(message)
    assert chain.lamports(case.user) - before == source - network_fee(message)
    assert source - chain.svm.minimum_balance_for_rent_exemption(165) == refund.received == AMOUNT


@pytest.mark.parametrize("create", [True, False], ids=["created", "existing"])
@pytest.mark.parametrize("close_source", [True, False], ids=["source-closed", "source-kept"])
def test_the_unwrapped_sol_refund_reaches_the_wallet_as_sol(create, close_source):
    case = new_case(mint=WRAPPED_SOL)
    chain = Chain(case, wallet_account=None if create else 0)
    source = chain.lamports(case.vault_account)
    own = chain.lamports(case.ata)
    message = chain.message(budgeted(sol_unwrap_instructions(case, create=create, close_source=close_source)))
    refund = w.check_withdrawal(unsigned(message), case.order(), max_priority_fee_lamports=CEILING)
    assert (refund.shape, refund.received) == (w.SOL_UNWRAP, AMOUNT)
    before = chain.lamports(case.user)
    chain.land(message)
    rent_back = (source - AMOUNT if close_source else 0) + own  # the closed accounts' rent
    assert chain.lamports(case.user) - before == refund.received + rent_back - network_fee(message)
    assert chain.svm.get_account(case.ata) is None  # closed: nothing left wrapped


# --- what the check refuses would have hurt ------------------------------------------------------


def test_a_short_refund_whose_numbers_agree_lands_and_leaves_the_deposit_behind():
    case = new_case()
    chain = Chain(case, wallet_account=0)
    empty = Keypair().pubkey()  # another account of the vault, closed so the transaction looks complete
    chain.put(empty, account_data(case, case.vault.pubkey(), 0, None, False))
    instructions = refund_instructions(case, amount=1)
    instructions[3] = token_close(case, account=empty)
    message = chain.message(budgeted(instructions))
    with pytest.raises(w.WithdrawalRefused) as refused:
        w.check_withdrawal(unsigned(message), case.order(refund_amount=1), max_priority_fee_lamports=CEILING)
    assert refused.value.code == w.CLOSE
    instructions[3] = token_close(case)  # closing the deposit itself cannot land while it holds tokens
    with pytest.raises(w.WithdrawalRefused) as refused:
        w.check_withdrawal(
            unsigned(chain.message(budgeted(instructions))),
            case.order(refund_amount=1),
            max_priority_fee_lamports=CEILING,
        )
    assert refused.value.code == w.REFUND_AMOUNT
    chain.land(message)
    assert chain.tokens(case.ata) == 1
    assert chain.tokens(case.vault_account) == AMOUNT - 1  # the order's deposit, still in the vault


def test_the_wallet_as_an_authority_would_lose_its_own_tokens():
    case = new_case()
    chain = Chain(case, wallet_account=5 * AMOUNT)
    attacker_account = Keypair().pubkey()
    chain.put(attacker_account, account_data(case, Keypair().pubkey(), 0, None, False))
    drain = token_transfer(
        case, source=case.ata, destination=attacker_account, authority=case.user, amount=5 * AMOUNT, extra=[]
    )
    message = chain.message(budgeted([*refund_instructions(case), drain]))
    with pytest.raises(w.WithdrawalRefused) as refused:
        w.check_withdrawal(unsigned(message), case.order(), max_priority_fee_lamports=CEILING)
    assert (refused.value.code, refused.value.reason) == (w.WALLET_ROLE, "wallet's token account as Transfer source")
    chain.land(message)
    assert chain.tokens(case.ata) == AMOUNT  # it held 5, got the 1 refunded and lost the 5
    assert chain.tokens(attacker_account) == 5 * AMOUNT
