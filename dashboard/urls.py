from django.conf import settings
from django.urls import include, path, register_converter
from solders.pubkey import Pubkey

from dashboard import account_views, cancel_views, export_views, views


class OrderKeyConverter:
    """An order key in one of the two shapes Jupiter uses: a v1 order's account address (base58 of
    32 bytes) or a v2 order's id (a UUID). Anything else matches no URL, so it
    is answered 404 before any view or database query sees it (a NUL byte, say, would make
    PostgreSQL fail)."""

    regex = r"[1-9A-HJ-NP-Za-km-z]{32,44}|[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}"

    def to_python(self, value: str) -> str:
        # A UUID is whole once the pattern matched; an address must decode to exactly 32 bytes
        # (ValueError otherwise, which Django takes as "no match"; base58 has one spelling per value).
        if "-" not in value:
            Pubkey.from_string(value)
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(OrderKeyConverter, "order_key")

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("sign-in/challenge", account_views.sign_in_challenge, name="sign_in_challenge"),
    path("sign-in/verify", account_views.sign_in_verify, name="sign_in_verify"),
    path("sign-out", account_views.sign_out, name="sign_out"),
    path("orders/", views.orders, name="orders"),
    path("orders/active", views.orders_active, name="orders_active"),
    path("orders/history", views.orders_history, name="orders_history"),
    path("orders/export.csv", export_views.orders_export, name="orders_export"),
    path("orders/cancels", cancel_views.cancel_attempts, name="cancel_attempts"),
    path("orders/cancels/settle", cancel_views.settle_cancels, name="settle_cancels"),
    path("orders/dca/challenge", account_views.dca_challenge, name="dca_challenge"),
    path("orders/dca/verify", account_views.dca_verify, name="dca_verify"),
    path("orders/dca/disconnect", account_views.dca_disconnect, name="dca_disconnect"),
    path("orders/<order_key:order_key>/fills", views.order_fills, name="order_fills"),
    path("orders/<order_key:order_key>/cancel", cancel_views.cancel_confirm, name="cancel_confirm"),
    path("orders/<order_key:order_key>/cancel/start", cancel_views.cancel_start, name="cancel_start"),
    path("cancels/<int:attempt_id>/submit", cancel_views.cancel_submit, name="cancel_submit"),
    path("cancels/<int:attempt_id>/decline", cancel_views.cancel_decline, name="cancel_decline"),
    path("cancels/<int:attempt_id>/status", cancel_views.cancel_status, name="cancel_status"),
]

if settings.SANDBOX:
    urlpatterns.append(path("sandbox/", include("dashboard.sandbox.urls")))
