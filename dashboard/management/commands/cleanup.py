"""`python manage.py cleanup`: delete expired sessions, sign-in challenges and Jupiter DCA
connections (run it daily)."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from dashboard import dca_auth, siws


class Command(BaseCommand):
    help = "Delete expired sessions, sign-in challenges and ended DCA connections. Safe at any time, on any instance."

    def handle(self, *args: object, **options: object) -> None:
        sessions, challenges = siws.clear_expired()
        connections = dca_auth.clear_expired()
        self.stdout.write(
            f"Deleted {sessions} expired sessions, {challenges} expired sign-in challenges "
            f"and {connections} ended Jupiter DCA connections."
        )
