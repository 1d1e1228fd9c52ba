from django.conf import settings
from django.urls import include, path

from dashboard import views

urlpatterns = [
    path("", views.home, name="home"),
]

if settings.SANDBOX:
    urlpatterns.append(path("sandbox/", include("dashboard.sandbox.urls")))
