from django.conf import settings
from django.http import HttpRequest

from dashboard.encoding import short_address


def dashboard(request: HttpRequest) -> dict:
    """Values every page needs: sandbox mode and the signed-in wallet."""
    user = getattr(request, "user", None)
    wallet = user.username if user is not None and user.is_authenticated else ""
    return {
        "sandbox": settings.SANDBOX,
        "explorer": settings.EXPLORER_NAME,
        "wallet": wallet,
        "wallet_short": short_address(wallet),
    }
