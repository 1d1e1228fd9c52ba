"""`manage.py sandbox_seed WALLET [--active N] [--history M]`: give a wallet a known set of orders."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from dashboard.sandbox import control, seed


class Command(BaseCommand):
    help = "Replace a wallet's sandbox orders with N active and M closed ones."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("wallet")
        parser.add_argument("--active", type=int, default=seed.DEFAULT_ACTIVE)
        parser.add_argument("--history", type=int, default=seed.DEFAULT_HISTORY)

    def handle(self, *args: object, **options: object) -> None:
        try:
            keys = control.seed_wallet(str(options["wallet"]), options["active"], options["history"])
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"Seeded {len(keys)} orders for {options['wallet']}.")
