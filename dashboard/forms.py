"""Forms that check what the browser sends before any domain function sees it."""

from __future__ import annotations

from datetime import date

from django import forms

from dashboard import dca_auth, exports, siws, trigger
from dashboard.encoding import Undecodable, decode_base64
from dashboard.transactions import MAX_TX_BYTES


def _sign_in_error(exc: siws.SignInError) -> forms.ValidationError:
    return forms.ValidationError(exc.message, code=str(exc.status))


class SignInForm(forms.Form):
    def first_error(self) -> str:
        for errors in self.errors.values():
            return errors[0]
        return "The sign-in request was too large or not understood. Please start again."


class SignInChallengeForm(SignInForm):
    """Optional address: wallets without `solana:signIn` get the full text to sign; with
    `type: "transaction"` (wallets that cannot sign messages), also a memo transaction carrying it."""

    address = forms.CharField(required=False, max_length=44)
    type = forms.ChoiceField(
        required=False,
        choices=[("message", "message"), ("transaction", "transaction")],
        error_messages={"invalid_choice": "The sign-in request was not understood. Please start again."},
    )

    def clean_address(self) -> str:
        address = self.cleaned_data["address"]
        try:
            return siws.check_address(address) if address else ""
        except siws.SignInError as exc:
            raise _sign_in_error(exc) from None

    def clean(self) -> dict:
        data = super().clean()
        if data.get("type") == "transaction" and not data.get("address"):
            raise forms.ValidationError("Your wallet did not share an account. Unlock it and try again.")
        return data


class SignInVerifyForm(SignInForm):
    """What the wallet signed, base64-encoded (strictly) by the bridge."""

    address = forms.CharField(max_length=44)
    signedMessage = forms.CharField(max_length=4096, strip=False)
    signature = forms.CharField(max_length=128, strip=False)
    nonce = forms.RegexField(regex=r"^[A-Za-z0-9]{8,64}$", max_length=64)

    error_messages = {"required": "The wallet's answer was incomplete. Please start the sign-in again."}

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.error_messages["required"] = self.error_messages["required"]
            field.error_messages["invalid"] = "The wallet's answer could not be read. Please start again."
            field.error_messages["max_length"] = "The wallet's answer is too long. Please start again."

    def clean_address(self) -> str:
        try:
            return siws.check_address(self.cleaned_data["address"])
        except siws.SignInError as exc:
            raise _sign_in_error(exc) from None

    def clean_signedMessage(self) -> bytes:
        try:
            text = self.cleaned_data["signedMessage"]
            return siws.decode_base64(text, "signed text", siws.MAX_MESSAGE_BYTES)
        except siws.SignInError as exc:
            raise _sign_in_error(exc) from None

    def clean_signature(self) -> bytes:
        try:
            return siws.decode_base64(self.cleaned_data["signature"], "signature", 64)
        except siws.SignInError as exc:
            raise _sign_in_error(exc) from None


class SignInTransactionForm(SignInVerifyForm):
    """What a wallet that cannot sign messages signed: the sign-in memo transaction (never sent)."""

    signedMessage = None
    signature = None
    signedTransaction = forms.CharField(max_length=2 * MAX_TX_BYTES, strip=False)

    def clean_signedTransaction(self) -> bytes:
        try:
            return siws.decode_base64(self.cleaned_data["signedTransaction"], "signed transaction", MAX_TX_BYTES)
        except siws.SignInError as exc:
            raise _sign_in_error(exc) from None


class SignedTransactionForm(forms.Form):
    """The cancel transaction as the wallet signed it, base64-encoded by the bridge."""

    signed_transaction = forms.CharField(
        max_length=2 * MAX_TX_BYTES,
        strip=False,
        error_messages={
            "required": "The wallet did not return a signed transaction. Nothing was sent.",
            "max_length": "The signed transaction is larger than Solana allows. Nothing was sent.",
        },
    )

    def first_error(self) -> str:
        for errors in self.errors.values():
            return errors[0]
        return "The signed transaction could not be read. Nothing was sent."


class DcaForm(forms.Form):
    """Connecting to Jupiter's DCA: what the bridge sends (JSON)."""

    type = forms.ChoiceField(
        choices=[(kind, kind) for kind in trigger.CHALLENGE_TYPES],
        error_messages={
            "required": "The request did not say what your wallet can sign. Please try again.",
            "invalid_choice": "The request did not say what your wallet can sign. Please try again.",
        },
    )

    def first_error(self) -> str:
        for errors in self.errors.values():
            return errors[0]
        return "The wallet's answer could not be read. Nothing was sent to Jupiter."


class DcaVerifyForm(DcaForm):
    """The wallet's answer to Jupiter's challenge, strictly base64-encoded by the bridge: the
    signed text and its signature, or the signed (never sent) memo transaction."""

    signedMessage = forms.CharField(required=False, max_length=2 * dca_auth.MAX_SIGNED_MESSAGE_BYTES, strip=False)
    signature = forms.CharField(required=False, max_length=128, strip=False)
    signedTransaction = forms.CharField(required=False, max_length=2 * MAX_TX_BYTES, strip=False)

    def _decode(self, name: str, max_bytes: int, what: str) -> bytes:
        text = self.cleaned_data.get(name, "")
        if not text:
            return b""
        try:
            return decode_base64(text, max_bytes)
        except Undecodable as exc:
            problem = "is missing or too large" if exc.too_large else "was garbled on the way"
            raise forms.ValidationError(f"The {what} {problem}. Nothing was sent to Jupiter.") from None

    def clean_signedMessage(self) -> bytes:
        return self._decode("signedMessage", dca_auth.MAX_SIGNED_MESSAGE_BYTES, "signed message")

    def clean_signature(self) -> bytes:
        return self._decode("signature", dca_auth.SIGNATURE_BYTES, "signature")

    def clean_signedTransaction(self) -> bytes:
        return self._decode("signedTransaction", MAX_TX_BYTES, "signed transaction")

    def clean(self) -> dict:
        data = super().clean()
        if self.errors:
            return data
        if data.get("type") == trigger.MESSAGE and not (data.get("signedMessage") and data.get("signature")):
            raise forms.ValidationError("The wallet did not return its signature. Nothing was sent to Jupiter.")
        if data.get("type") == trigger.TRANSACTION and not data.get("signedTransaction"):
            raise forms.ValidationError("The wallet did not return the signed message. Nothing was sent to Jupiter.")
        return data


FIRST_EXPORT_YEAR = 2023  # Jupiter's DCA orders began then: no row can be older


def export_years(today: date) -> list[int]:
    """The tax years the export offers, newest first."""
    return list(range(today.year, FIRST_EXPORT_YEAR - 1, -1))


class ExportForm(forms.Form):
    """The export's choices (a GET form): the format (plain CSV when not given) and one tax year
    (all years when not given)."""

    format = forms.ChoiceField(choices=list(exports.FORMATS.items()), required=False)
    year = forms.TypedChoiceField(choices=(), coerce=int, required=False, empty_value=None)

    def __init__(self, *args, today: date, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["year"].choices = [("", "All years"), *((y, str(y)) for y in export_years(today))]
        self.fields["format"].error_messages["invalid_choice"] = "We do not offer that export format."
        self.fields["year"].error_messages["invalid_choice"] = "Choose a year from the list, or all years."

    def clean_format(self) -> str:
        return self.cleaned_data["format"] or exports.PLAIN

    def first_error(self) -> str:
        for errors in self.errors.values():
            return errors[0]
        return "That export could not be made."
