"""`manage.py sandbox_seed WALLET [--active N] [--history M] [--dca [--dca-past P]]`: give a wallet a known set
of orders (Recurring v1; with --dca also its Trigger v2 DCA orders, one in every state)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from dashboard.sandbox import control, seed


class Command(BaseCommand):
    help = "Replace a wallet's sandbox orders with N active and M closed ones (and its v2 DCA orders with --dca)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("wallet")
        parser.add_argument("--active", type=int, default=seed.DEFAULT_ACTIVE)
        parser.add_argument("--history", type=int, default=seed.DEFAULT_HISTORY)
        parser.add_argument("--dca", action="store_true", help="also reseed the Trigger v2 DCA orders")
        parser.add_argument("--dca-past", type=int, default=0, help="extra closed v2 DCA orders (with --dca)")

    def handle(self, *args: object, **options: object) -> None:
        wallet = str(options["wallet"])
        try:
            keys = control.seed_wallet(wallet, options["active"], options["history"])
            dca = control.seed_dca_wallet(wallet, extra_past=options["dca_past"]) if options["dca"] else []
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"Seeded {len(keys)} orders for {wallet}.")
        for order in dca:
            self.stdout.write(f"  v2 DCA {order['id']}  {order['state']:<15} {order['name']}")
