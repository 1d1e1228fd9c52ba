"""Forms that check what the browser sends before any domain function sees it.

Every error is a code of `dashboard.messages` (Django's own error codes — required, invalid,
max_length, invalid_choice — mapped per form by `codes`); `refusal()` names the first one with
the field at fault, and the JSON answers send both, so nothing decides on the words.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS

from dashboard import dca_auth, exports, messages, siws, trigger
from dashboard.encoding import Undecodable, decode_base64
from dashboard.transactions import MAX_TX_BYTES


@dataclass(frozen=True)
class Refusal:
    """A form's first error: its code, the field at fault ("" for the form as a whole) and its
    words (with the field named in them where the row says `{what}`)."""

    code: str
    field: str = ""

    @property
    def message(self) -> str:
        return messages.words(self.code, what=messages.FIELDS.get(self.field, "answer"))


def refuse(code: str) -> forms.ValidationError:
    """A form error carrying one of `dashboard.messages`' codes."""
    return forms.ValidationError(messages.words(code), code=code)


class CodedForm(forms.Form):
    codes: dict[str, str] = {}  # Django's error code -> ours
    fallback = "bad_request"  # ours when Django's is not in `codes`, or when there was no form at all

    def refusal(self) -> Refusal:
        for name, errors in self.errors.as_data().items():
            code = errors[0].code or ""
            code = self.codes.get(code) or (code if code in messages.WORDS else self.fallback)
            return Refusal(code, "" if name == NON_FIELD_ERRORS else name)
        return Refusal(self.fallback)

    def first_error(self) -> str:
        return self.refusal().message


class SignInChallengeForm(CodedForm):
    """Optional address: wallets without `solana:signIn` get the full text to sign; with
    `type: "transaction"` (wallets that cannot sign messages), also a memo transaction carrying it."""

    address = forms.CharField(required=False, max_length=44)
    type = forms.ChoiceField(required=False, choices=[("message", "message"), ("transaction", "transaction")])

    codes = {"max_length": "bad_address"}

    def clean_address(self) -> str:
        address = self.cleaned_data["address"]
        try:
            return siws.check_address(address) if address else ""
        except siws.SignInError as exc:
            raise refuse(exc.code) from None

    def clean(self) -> dict:
        data = super().clean()
        if data.get("type") == "transaction" and not data.get("address"):
            raise refuse("no_account")
        return data


class SignInVerifyForm(CodedForm):
    """What the wallet signed, base64-encoded (strictly) by the bridge."""

    address = forms.CharField(max_length=44)
    signedMessage = forms.CharField(max_length=4096, strip=False)
    signature = forms.CharField(max_length=128, strip=False)
    nonce = forms.RegexField(regex=r"^[A-Za-z0-9]{8,64}$", max_length=64)

    codes = {"required": "answer_incomplete", "invalid": "answer_garbled", "max_length": "answer_too_long"}

    def clean_address(self) -> str:
        try:
            return siws.check_address(self.cleaned_data["address"])
        except siws.SignInError as exc:
            raise refuse(exc.code) from None

    def _decode(self, name: str, max_bytes: int) -> bytes:
        try:
            return siws.decode_base64(self.cleaned_data[name], name, max_bytes)
        except siws.SignInError as exc:
            raise refuse(exc.code) from None

    def clean_signedMessage(self) -> bytes:
        return self._decode("signedMessage", siws.MAX_MESSAGE_BYTES)

    def clean_signature(self) -> bytes:
        return self._decode("signature", 64)


class SignInTransactionForm(SignInVerifyForm):
    """What a wallet that cannot sign messages signed: the sign-in memo transaction (never sent)."""

    signedMessage = None
    signature = None
    signedTransaction = forms.CharField(max_length=2 * MAX_TX_BYTES, strip=False)

    def clean_signedTransaction(self) -> bytes:
        return self._decode("signedTransaction", MAX_TX_BYTES)


class SignedTransactionForm(CodedForm):
    """The cancel transaction as the wallet signed it, base64-encoded by the bridge."""

    signed_transaction = forms.CharField(max_length=2 * MAX_TX_BYTES, strip=False)

    codes = {"required": "signed_transaction_missing", "max_length": "signed_transaction_too_large"}
    fallback = "signed_transaction_unreadable"


class DcaForm(CodedForm):
    """Connecting to Jupiter's DCA: what the bridge sends (JSON)."""

    type = forms.ChoiceField(choices=[(kind, kind) for kind in trigger.CHALLENGE_TYPES])

    codes = {
        "required": "connect_kind_unknown",
        "invalid_choice": "connect_kind_unknown",
        "max_length": "connect_answer_too_large",
    }
    fallback = "connect_bad_request"


class DcaVerifyForm(DcaForm):
    """The wallet's answer to Jupiter's challenge, strictly base64-encoded by the bridge: the
    signed text and its signature, or the signed (never sent) memo transaction."""

    signedMessage = forms.CharField(required=False, max_length=2 * dca_auth.MAX_SIGNED_MESSAGE_BYTES, strip=False)
    signature = forms.CharField(required=False, max_length=128, strip=False)
    signedTransaction = forms.CharField(required=False, max_length=2 * MAX_TX_BYTES, strip=False)

    def _decode(self, name: str, max_bytes: int) -> bytes:
        text = self.cleaned_data.get(name, "")
        if not text:
            return b""
        try:
            return decode_base64(text, max_bytes)
        except Undecodable as exc:
            raise refuse("connect_answer_too_large" if exc.too_large else "connect_answer_garbled") from None

    def clean_signedMessage(self) -> bytes:
        return self._decode("signedMessage", dca_auth.MAX_SIGNED_MESSAGE_BYTES)

    def clean_signature(self) -> bytes:
        return self._decode("signature", dca_auth.SIGNATURE_BYTES)

    def clean_signedTransaction(self) -> bytes:
        return self._decode("signedTransaction", MAX_TX_BYTES)

    def clean(self) -> dict:
        data = super().clean()
        if self.errors:
            return data
        if data.get("type") == trigger.MESSAGE and not (data.get("signedMessage") and data.get("signature")):
            raise refuse("connect_answer_incomplete")
        if data.get("type") == trigger.TRANSACTION and not data.get("signedTransaction"):
            raise refuse("connect_answer_incomplete")
        return data


FIRST_EXPORT_YEAR = 2023  # Jupiter's DCA orders began then: no row can be older


def export_years(today: date) -> list[int]:
    """The tax years the export offers, newest first."""
    return list(range(today.year, FIRST_EXPORT_YEAR - 1, -1))


class ExportForm(CodedForm):
    """The export's choices (a GET form): the format (plain CSV when not given) and one tax year
    (all years when not given)."""

    format = forms.ChoiceField(choices=list(exports.FORMATS.items()), required=False)
    year = forms.TypedChoiceField(choices=(), coerce=int, required=False, empty_value=None)

    def __init__(self, *args, today: date, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["year"].choices = [("", "All years"), *((y, str(y)) for y in export_years(today))]

    def clean_format(self) -> str:
        return self.cleaned_data["format"] or exports.PLAIN

    def refusal(self) -> Refusal:
        codes = {"format": "export_format_unknown", "year": "export_year_unknown"}
        for name in self.errors:
            return Refusal(codes.get(name, "export_not_made"), name)
        return Refusal("export_not_made")
