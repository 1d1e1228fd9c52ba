"""The sandbox upstream, mounted under /sandbox/ in sandbox mode only."""

from django.urls import path

from dashboard.sandbox import views

urlpatterns = [
    path("recurring/v1/getRecurringOrders", views.get_recurring_orders, name="sandbox-get-recurring-orders"),
    path("recurring/v1/cancelOrder", views.cancel_order, name="sandbox-cancel-order"),
    path("recurring/v1/execute", views.execute, name="sandbox-execute"),
    path("tokens/v2/search", views.tokens_search, name="sandbox-tokens-search"),
    path("control", views.control_view, name="sandbox-control"),
    path("control/calls", views.control_calls, name="sandbox-control-calls"),
]
