"""Forms that check what the browser sends before any domain function sees it."""

from __future__ import annotations

from django import forms

from dashboard import siws
from dashboard.transactions import MAX_TX_BYTES


def _sign_in_error(exc: siws.SignInError) -> forms.ValidationError:
    return forms.ValidationError(exc.message, code=str(exc.status))


class SignInForm(forms.Form):
    def first_error(self) -> str:
        for errors in self.errors.values():
            return errors[0]
        return "The sign-in request was too large or not understood. Please start again."


class SignInChallengeForm(SignInForm):
    """Optional address: wallets without `solana:signIn` get the full text to sign."""

    address = forms.CharField(required=False, max_length=44)

    def clean_address(self) -> str:
        address = self.cleaned_data["address"]
        try:
            return siws.check_address(address) if address else ""
        except siws.SignInError as exc:
            raise _sign_in_error(exc) from None


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
