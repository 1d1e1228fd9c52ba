"""The sandbox upstream, mounted under /sandbox/ in sandbox mode only."""

from django.urls import path, re_path

from dashboard.sandbox import solana_rpc, trigger_views, views

TRIGGER = "trigger/v2"

urlpatterns = [
    path("recurring/v1/getRecurringOrders", views.get_recurring_orders, name="sandbox-get-recurring-orders"),
    path("recurring/v1/cancelOrder", views.cancel_order, name="sandbox-cancel-order"),
    path("recurring/v1/execute", views.execute, name="sandbox-execute"),
    path("tokens/v2/search", views.tokens_search, name="sandbox-tokens-search"),
    path(f"{TRIGGER}/auth/challenge", trigger_views.auth_challenge, name="sandbox-dca-challenge"),
    path(f"{TRIGGER}/auth/verify", trigger_views.auth_verify, name="sandbox-dca-verify"),
    path(f"{TRIGGER}/orders/history/dca", trigger_views.list_orders, name="sandbox-dca-list"),
    path(f"{TRIGGER}/orders/history/dca/<str:order_id>", trigger_views.get_order, name="sandbox-dca-order"),
    path(f"{TRIGGER}/orders/dca/cancel/<str:order_id>", trigger_views.cancel_order, name="sandbox-dca-cancel"),
    path(
        f"{TRIGGER}/orders/dca/confirm-cancel/<str:order_id>",
        trigger_views.confirm_cancel,
        name="sandbox-dca-confirm",
    ),
    # No trailing slashes, like Jupiter's gateway: anything else under the prefix is a plain 404.
    re_path(rf"^{TRIGGER}(?:/(?P<path>.*))?$", trigger_views.not_found, name="sandbox-dca-notfound"),
    path("token-accounts", views.token_accounts, name="sandbox-token-accounts"),
    path("solana-rpc", solana_rpc.rpc, name="sandbox-solana-rpc"),
    path("control", views.control_view, name="sandbox-control"),
    path("control/calls", views.control_calls, name="sandbox-control-calls"),
]
