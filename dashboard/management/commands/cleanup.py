"""`python manage.py cleanup`: delete expired sessions and sign-in challenges (run it daily)."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from dashboard import siws


class Command(BaseCommand):
    help = "Delete expired sessions and sign-in challenges. Safe to run at any time, on any instance."

    def handle(self, *args: object, **options: object) -> None:
        sessions, challenges = siws.clear_expired()
        self.stdout.write(f"Deleted {sessions} expired sessions and {challenges} expired sign-in challenges.")
