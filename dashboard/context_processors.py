from django.conf import settings
from django.http import HttpRequest


def dashboard(request: HttpRequest) -> dict:
    """Values every page needs: sandbox mode and the signed-in wallet."""
    user = getattr(request, "user", None)
    wallet = user.username if user is not None and user.is_authenticated else ""
    return {
        "sandbox": settings.SANDBOX,
        "explorer": settings.EXPLORER_NAME,
        "wallet": wallet,
        "wallet_short": f"{wallet[:4]}…{wallet[-4:]}" if wallet else "",
    }
