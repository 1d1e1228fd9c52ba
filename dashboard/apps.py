from django.apps import AppConfig


class DashboardConfig(AppConfig):
    name = "dashboard"
    verbose_name = "Recurring orders dashboard"

    def ready(self) -> None:
        from dashboard import checks  # noqa: F401 - registers the deploy checks
