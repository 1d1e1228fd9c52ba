"""The only code that talks to Jupiter: the Recurring API v1 and token metadata.

JSON is turned into frozen dataclasses at this boundary (integers in base units,
`Decimal` for Jupiter's decimal strings, aware datetimes), tolerant of the drift
the real API shows. Every failure is a `JupiterError` carrying the HTTP status,
upstream message, gateway request id, whether a retry could help, and a sentence
a trader understands.
"""

from __future__ import annotations

import base64
import binascii
import logging
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Any

import requests
from django.conf import settings
from django.core.cache import cache
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

logger = logging.getLogger(__name__)

TIMEOUT = (3.05, 10.0)  # (connect, read) seconds for every call
MAX_RATE_LIMIT_WAIT = 2.0  # seconds we will wait on a 429 before giving up (GETs only)
PAGE_WORKERS = 20  # concurrent page fetches after page 1 (the rate limiter paces them)
TOKEN_CACHE_SECONDS = 6 * 3600
MAX_TOKENS_PER_CALL = 100


# --- errors -------------------------------------------------------------------------------------


class JupiterError(Exception):
    """Any failure talking to Jupiter, with a message a trader understands."""

    default_user_message = "Jupiter could not complete this request. Please try again shortly."

    def __init__(
        self,
        user_message: str = "",
        *,
        status: int | None = None,
        upstream_message: str = "",
        gateway_request_id: str = "",
        retryable: bool = False,
    ) -> None:
        self.user_message = user_message or self.default_user_message
        self.status = status
        self.upstream_message = upstream_message
        self.gateway_request_id = gateway_request_id
        self.retryable = retryable
        super().__init__(self.user_message)

    def __str__(self) -> str:
        parts = [self.user_message]
        if self.status is not None:
            parts.append(f"HTTP {self.status}")
        if self.upstream_message:
            parts.append(f"upstream: {self.upstream_message}")
        if self.gateway_request_id:
            parts.append(f"request id {self.gateway_request_id}")
        return " | ".join(parts)


class JupiterUnavailable(JupiterError):
    """Timeouts, lost connections and 5xx answers: Jupiter is not answering properly."""

    default_user_message = "Jupiter is not answering right now. Please try again in a minute."


class JupiterRateLimited(JupiterError):
    default_user_message = "Jupiter is busy right now (too many requests). Please try again in a moment."


class JupiterBadResponse(JupiterError):
    """A 2xx answer we cannot read (not JSON, or not the documented shape)."""

    default_user_message = "Jupiter sent an answer we could not read. Please try again shortly."


class OrderNotFound(JupiterError):
    default_user_message = "This order is already closed or could not be found."


class JupiterRejected(JupiterError):
    """A 4xx refusal other than the ones above."""

    default_user_message = "Jupiter refused this request."


# --- data ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Token:
    mint: str
    symbol: str
    name: str
    decimals: int | None
    icon: str = ""  # only ever an https: URL, else empty


@dataclass(frozen=True)
class Fill:
    tx_id: str
    confirmed_at: datetime
    action: str
    raw_in: int | None
    raw_out: int | None
    raw_fee: int | None
    in_amount: Decimal | None
    out_amount: Decimal | None
    fee_amount: Decimal | None
    fee_mint: str
    keeper: str


@dataclass(frozen=True)
class Order:
    order_key: str
    user: str
    input_mint: str
    output_mint: str
    status: str  # "active" or "history" (the list it came from)
    recurring_type: str
    cycle_frequency: int  # seconds
    raw_in_deposited: int | None
    raw_in_used: int | None
    raw_in_withdrawn: int | None
    raw_in_per_cycle: int | None
    raw_out_received: int | None
    raw_out_withdrawn: int | None
    raw_min_out: int | None
    raw_max_out: int | None
    in_deposited: Decimal | None
    in_used: Decimal | None
    in_withdrawn: Decimal | None
    in_per_cycle: Decimal | None
    out_received: Decimal | None
    out_withdrawn: Decimal | None
    open_tx: str
    close_tx: str  # "" while open
    user_closed: bool
    created_at: datetime
    updated_at: datetime
    fills: tuple[Fill, ...]
    # The upstream JSON this was read from, kept to store as the last-known snapshot.
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True)
class OrdersPage:
    orders: tuple[Order, ...]
    page: int
    total_pages: int
    fetched_at: float = 0.0  # Unix time the answer arrived


@dataclass(frozen=True)
class CancelTransaction:
    request_id: str
    transaction: bytes  # the unsigned wire transaction


@dataclass(frozen=True)
class ExecuteResult:
    signature: str
    status: str
    order: str | None
    error: str | None

    @property
    def succeeded(self) -> bool:
        return self.status == "Success"


# Well-known mints, so pages read well when the tokens API is unavailable.
KNOWN_TOKENS: dict[str, Token] = {
    t.mint: t
    for t in (
        Token("So11111111111111111111111111111111111111112", "SOL", "Wrapped SOL", 9),
        Token("EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v", "USDC", "USD Coin", 6),
        Token("Es9vMFrzaCERmJfrF4H2FYD4KCoNkY11McCe8BenwNYB", "USDT", "USDT", 6),
        Token("JUPyiwrYJFskUPiHa7hkeR8VUtAeFoSYbKedZNsDvCN", "JUP", "Jupiter", 6),
        Token("DezXAZ8z7PnrnRJjz3wXBoRgixCa6xjnB7YaB1pPB263", "BONK", "Bonk", 5),
        Token("EKpQGSJtjMFqKZ9KQanSqYXRcF8fBopzLHYxdM65zcjm", "WIF", "dogwifhat", 6),
        Token("mSoLzYCxHdYgdzU16g5QSh3i5K3z3KZK7ytfqcJm7So", "mSOL", "Marinade staked SOL", 9),
        Token("J1toso1uCk3RLmjorhTtrVwY9HJ7X8V9yYac6Y7kGCPn", "JitoSOL", "Jito Staked SOL", 9),
        Token("jupSoLaHXQiZZTSfEWMTRRgpnyFm8f6sZdosWBjx93v", "JupSOL", "Jupiter Staked SOL", 9),
        Token("4k3Dyjzvzp8eMZWUXbBCjEvwSkkk59S5iCNLY3QrkX6R", "RAY", "Raydium", 6),
        Token("7vfCXTUXx5WJV5JADk17DUJ4ksgau7utNKj4b963voxs", "ETH", "Ether (Portal)", 8),
        Token("3NZ9JMVBmGAqocybic2c7LQCJScmgsAZ6vQqTDzcqmJh", "WBTC", "Wrapped BTC (Portal)", 8),
        Token("cbbtcf3aa214zXHbiAZQwf4122FBYbraNdFqgw4iMij", "cbBTC", "Coinbase Wrapped BTC", 8),
        Token("HZ1JovNiVvGrGNiiYvEozEVgZ58xaU3RKwX8eACQBCt3", "PYTH", "Pyth Network", 6),
    )
}


# --- parsing ------------------------------------------------------------------------------------


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _dec(value: Any) -> Decimal | None:
    if value is None or isinstance(value, (bool, float)):
        # Floats lose precision: Jupiter documents strings; ignore anything else.
        return None
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def _when(value: Any) -> datetime:
    if not isinstance(value, str) or not value:
        raise ValueError(f"not a timestamp: {value!r}")
    parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def parse_fill(data: dict[str, Any]) -> Fill:
    return Fill(
        tx_id=_text(data.get("txId")),
        confirmed_at=_when(data.get("confirmedAt")),
        action=_text(data.get("action")) or "Fill",
        raw_in=_int(data.get("rawInputAmount")),
        raw_out=_int(data.get("rawOutputAmount")),
        raw_fee=_int(data.get("rawFeeAmount")),
        in_amount=_dec(data.get("inputAmount")),
        out_amount=_dec(data.get("outputAmount")),
        fee_amount=_dec(data.get("feeAmount")),
        fee_mint=_text(data.get("feeMint")),
        keeper=_text(data.get("keeper")),
    )


def parse_order(data: dict[str, Any], status: str) -> Order:
    frequency = _int(data.get("cycleFrequency"))
    if frequency is None and isinstance(data.get("cycleFrequency"), float):
        frequency = int(data["cycleFrequency"])
    if not _text(data.get("orderKey")) or frequency is None:
        raise ValueError("order without orderKey or cycleFrequency")
    trades = data.get("trades") or []
    if not isinstance(trades, list):
        raise ValueError("trades is not a list")
    return Order(
        order_key=data["orderKey"],
        user=_text(data.get("userPubkey")),
        input_mint=_text(data.get("inputMint")),
        output_mint=_text(data.get("outputMint")),
        status=status,
        recurring_type=_text(data.get("recurringType")) or "time",
        cycle_frequency=frequency,
        raw_in_deposited=_int(data.get("rawInDeposited")),
        raw_in_used=_int(data.get("rawInUsed")),
        raw_in_withdrawn=_int(data.get("rawInWithdrawn")),
        raw_in_per_cycle=_int(data.get("rawInAmountPerCycle")),
        raw_out_received=_int(data.get("rawOutReceived")),
        raw_out_withdrawn=_int(data.get("rawOutWithdrawn")),
        raw_min_out=_int(data.get("rawMinOutAmount")),
        raw_max_out=_int(data.get("rawMaxOutAmount")),
        in_deposited=_dec(data.get("inDeposited")),
        in_used=_dec(data.get("inUsed")),
        in_withdrawn=_dec(data.get("inWithdrawn")),
        in_per_cycle=_dec(data.get("inAmountPerCycle")),
        out_received=_dec(data.get("outReceived")),
        out_withdrawn=_dec(data.get("outWithdrawn")),
        open_tx=_text(data.get("openTx")),
        close_tx=_text(data.get("closeTx")),
        user_closed=data.get("userClosed") is True,
        created_at=_when(data.get("createdAt")),
        updated_at=_when(data.get("updatedAt") or data.get("createdAt")),
        fills=tuple(parse_fill(t) for t in trades if isinstance(t, dict)),
        raw=data,
    )


def parse_orders_page(data: Any, status: str, recurring_type: str) -> OrdersPage:
    """Read `{..., totalPages, page, <type>: [...]}`, or the old nested `<type>: {orders, ...}`."""
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    listing = data.get(recurring_type, data.get("orders"))
    meta = data
    if isinstance(listing, dict):  # very old shape: the list nested with its own paging
        meta = listing
        listing = listing.get("orders")
    if listing is None:
        listing = []
    if not isinstance(listing, list):
        raise ValueError("order list is not a list")
    page = _int(meta.get("page")) or 1
    total_pages = _int(meta.get("totalPages"))
    if total_pages is None:
        total_pages = page
    orders = tuple(parse_order(item, status) for item in listing if isinstance(item, dict))
    return OrdersPage(orders=orders, page=page, total_pages=max(total_pages, 1), fetched_at=time.time())


def parse_cancel(data: Any) -> CancelTransaction:
    """`{requestId, transaction}`; the early draft's `{id, tx}` only as a fallback."""
    if not isinstance(data, dict):
        raise JupiterBadResponse(upstream_message="cancelOrder answer is not an object")
    request_id = data.get("requestId") or data.get("id")
    transaction = data.get("transaction") or data.get("tx")
    if not isinstance(request_id, str) or not request_id or not isinstance(transaction, str):
        raise JupiterBadResponse(upstream_message="cancelOrder answer lacks requestId/transaction")
    try:
        raw = base64.b64decode(transaction, validate=True)
    except (binascii.Error, ValueError):
        raise JupiterBadResponse(upstream_message="cancelOrder transaction is not base64") from None
    return CancelTransaction(request_id=request_id, transaction=raw)


def fetch_pages(get_page: Callable[[int], OrdersPage]) -> list[OrdersPage]:
    """Page 1 first, then the remaining pages concurrently (bounded), returned in order."""
    first = get_page(1)
    rest = range(2, first.total_pages + 1)
    if not rest:
        return [first]
    with ThreadPoolExecutor(max_workers=min(PAGE_WORKERS, len(rest))) as pool:
        return [first, *pool.map(get_page, rest)]


# --- HTTP ---------------------------------------------------------------------------------------

KNOWN_MESSAGES: tuple[tuple[str, type[JupiterError], str], ...] = (
    ("failed to fill whole buffer", OrderNotFound, ""),
    (
        "insufficient funds",
        JupiterRejected,
        "Your wallet does not have enough SOL to pay the network fee. Add a little SOL and try again.",
    ),
)


def upstream_message(response: requests.Response) -> str:
    """`error`, else `message`, else the body itself cut short."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        for key in ("error", "message"):
            if isinstance(body.get(key), str) and body[key]:
                return body[key][:500]
    text = " ".join(response.text.split())
    return text[:200]


def error_for(response: requests.Response) -> JupiterError:
    status = response.status_code
    message = upstream_message(response)
    details = {
        "status": status,
        "upstream_message": message,
        "gateway_request_id": response.headers.get("x-api-gateway-request-id", ""),
    }
    lowered = message.lower()
    for needle, kind, user_message in KNOWN_MESSAGES:
        if needle in lowered:
            return kind(user_message, **details)
    if status == 429:
        return JupiterRateLimited(retryable=True, **details)
    if status >= 500:
        return JupiterUnavailable(retryable=True, **details)
    if status in (401, 403):
        return JupiterRejected("Jupiter refused the dashboard's credentials. Please tell the site operator.", **details)
    return JupiterRejected(f"Jupiter refused this request: {message or 'no reason given'}.", **details)


class JupiterClient:
    """One pooled `requests.Session` for Jupiter's Recurring and Tokens APIs."""

    def __init__(
        self,
        api_url: str,
        tokens_url: str,
        api_key: str = "",
        *,
        timeout: tuple[float, float] = TIMEOUT,
        before_call: Callable[[str], None] | None = None,
        after_call: Callable[[str, bool], None] | None = None,
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self.tokens_url = tokens_url.rstrip("/")
        self.timeout = timeout
        self.before_call = before_call
        self.after_call = after_call  # (endpoint, ok): ok is False for 5xx, timeouts, lost connections
        self.session = requests.Session()
        self.session.headers["Accept"] = "application/json"
        if api_key:
            self.session.headers["x-api-key"] = api_key
        retry = Retry(
            total=3,
            connect=2,
            read=0,
            status=2,
            backoff_factor=0.25,
            status_forcelist=(500, 502, 503, 504),
            allowed_methods=frozenset({"GET"}),  # never repeat a POST
            respect_retry_after_header=False,
            raise_on_status=False,
        )
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=PAGE_WORKERS + 4, max_retries=retry)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)

    # One call, with logging and errors mapped. Never logs headers (the API key is one).
    def _call(self, method: str, url: str, endpoint: str, **kwargs: Any) -> Any:
        waited = 0.0
        while True:
            if self.before_call is not None:
                self.before_call(endpoint)
            started = time.monotonic()
            try:
                # Never follow redirects: the API key and signed transactions go to Jupiter only.
                response = self.session.request(method, url, timeout=self.timeout, allow_redirects=False, **kwargs)
            except (requests.Timeout, requests.ConnectionError) as exc:
                if self.after_call is not None:
                    self.after_call(endpoint, False)
                logger.warning(
                    "jupiter %s failed after %.0f ms: %s",
                    endpoint,
                    (time.monotonic() - started) * 1000,
                    type(exc).__name__,
                )
                raise JupiterUnavailable(upstream_message=type(exc).__name__, retryable=method == "GET") from None
            except requests.RequestException as exc:
                raise JupiterUnavailable(upstream_message=type(exc).__name__) from None
            if self.after_call is not None:
                self.after_call(endpoint, response.status_code < 500)
            gateway_id = response.headers.get("x-api-gateway-request-id", "")
            logger.info(
                "jupiter %s status=%s latency_ms=%.0f gateway_request_id=%s",
                endpoint,
                response.status_code,
                (time.monotonic() - started) * 1000,
                gateway_id,
            )
            if response.status_code == 429 and method == "GET":
                delay = self._rate_limit_delay(response)
                if delay is not None and waited + delay <= MAX_RATE_LIMIT_WAIT:
                    waited += delay
                    time.sleep(delay)
                    continue
            if 300 <= response.status_code < 400:
                raise JupiterBadResponse(
                    status=response.status_code,
                    upstream_message="unexpected redirect (not followed)",
                    gateway_request_id=gateway_id,
                )
            if response.status_code >= 400:
                error = error_for(response)
                logger.warning("jupiter %s error: %s", endpoint, error)
                raise error
            try:
                return response.json()
            except ValueError:
                raise JupiterBadResponse(
                    status=response.status_code,
                    upstream_message=" ".join(response.text.split())[:200],
                    gateway_request_id=gateway_id,
                    retryable=True,
                ) from None

    @staticmethod
    def _rate_limit_delay(response: requests.Response) -> float | None:
        reset = response.headers.get("x-ratelimit-reset", "")
        try:
            delay = float(reset) - time.time()
        except ValueError:
            return None
        return max(delay, 0.05)

    # --- Recurring API ---

    def get_orders(self, wallet: str, status: str, page: int = 1) -> OrdersPage:
        """One page (10 orders) of a wallet's time-based orders."""
        data = self._call(
            "GET",
            f"{self.api_url}/getRecurringOrders",
            "getRecurringOrders",
            params={
                "user": wallet,
                "orderStatus": status,
                "recurringType": "time",
                "includeFailedTx": "false",
                "page": page,
            },
        )
        try:
            return parse_orders_page(data, status, "time")
        except (ValueError, TypeError, KeyError) as exc:
            raise JupiterBadResponse(upstream_message=str(exc)[:200], retryable=True) from None

    def get_all_orders(self, wallet: str, status: str) -> list[Order]:
        """Every page: page 1 first, then the rest concurrently (bounded), in order."""
        pages = fetch_pages(lambda n: self.get_orders(wallet, status, n))
        return [order for page in pages for order in page.orders]

    def cancel_order(self, wallet: str, order_key: str) -> CancelTransaction:
        data = self._call(
            "POST",
            f"{self.api_url}/cancelOrder",
            "cancelOrder",
            json={"order": order_key, "user": wallet, "recurringType": "time"},
        )
        return parse_cancel(data)

    def execute(self, request_id: str, signed_transaction: bytes) -> ExecuteResult:
        """Relay a signed transaction. Never retried: a timeout raises JupiterUnavailable."""
        data = self._call(
            "POST",
            f"{self.api_url}/execute",
            "execute",
            json={
                "requestId": request_id,
                "signedTransaction": base64.b64encode(signed_transaction).decode(),
            },
        )
        if not isinstance(data, dict) or not isinstance(data.get("status"), str):
            raise JupiterBadResponse(upstream_message="execute answer lacks a status")
        error = data.get("error")
        return ExecuteResult(
            signature=_text(data.get("signature")),
            status=data["status"],
            order=data.get("order") if isinstance(data.get("order"), str) else None,
            error=error if isinstance(error, str) and error else None,
        )

    # --- Tokens API ---

    def get_tokens(self, mints: Iterable[str]) -> dict[str, Token]:
        wanted = sorted(set(mints))
        found: dict[str, Token] = {}
        for start in range(0, len(wanted), MAX_TOKENS_PER_CALL):
            chunk = wanted[start : start + MAX_TOKENS_PER_CALL]
            data = self._call("GET", f"{self.tokens_url}/search", "tokens", params={"query": ",".join(chunk)})
            if not isinstance(data, list):
                raise JupiterBadResponse(upstream_message="tokens answer is not a list")
            for item in data:
                token = parse_token(item)
                if token is not None and token.mint in chunk:
                    found[token.mint] = token
        return found


def parse_token(item: Any) -> Token | None:
    if not isinstance(item, dict) or not isinstance(item.get("id"), str):
        return None
    decimals = item.get("decimals")
    icon = _text(item.get("icon"))
    return Token(
        mint=item["id"],
        symbol=_text(item.get("symbol"))[:16],
        name=_text(item.get("name"))[:64],
        decimals=decimals if isinstance(decimals, int) and 0 <= decimals <= 18 else None,
        icon=icon if icon.startswith("https://") else "",
    )


# --- the configured client and cached wrappers ---------------------------------------------------

_clients: dict[tuple[str, str, str], JupiterClient] = {}
_clients_lock = threading.Lock()


def client() -> JupiterClient:
    """The client for the current settings (one pooled session per configuration), with the
    shared call budget and circuit breaker of `dashboard.limits` as its hooks."""
    from dashboard import limits  # limits raises this module's errors

    key = (settings.JUPITER_API_URL, settings.JUPITER_TOKENS_URL, settings.JUPITER_API_KEY)
    with _clients_lock:
        if key not in _clients:
            _clients[key] = JupiterClient(*key, before_call=limits.before_call, after_call=limits.after_call)
        return _clients[key]


def get_orders(wallet: str, status: str, page: int = 1) -> OrdersPage:
    return client().get_orders(wallet, status, page)


def cancel_order(wallet: str, order_key: str) -> CancelTransaction:
    return client().cancel_order(wallet, order_key)


def execute(request_id: str, signed_transaction: bytes) -> ExecuteResult:
    return client().execute(request_id, signed_transaction)


def get_tokens(mints: Iterable[str]) -> dict[str, Token]:
    """Token metadata for these mints: cached for hours, built-in table as the fallback."""
    wanted = set(mints)
    cached = cache.get_many([f"token:{m}" for m in wanted])
    tokens = {key.removeprefix("token:"): value for key, value in cached.items()}
    missing = wanted - tokens.keys()
    if missing:
        try:
            fetched = client().get_tokens(missing)
        except JupiterError as exc:
            logger.warning("token metadata unavailable: %s", exc)
            fetched = {}
        cache.set_many({f"token:{m}": t for m, t in fetched.items()}, TOKEN_CACHE_SECONDS)
        tokens.update(fetched)
    for mint in wanted - tokens.keys():
        tokens[mint] = KNOWN_TOKENS.get(mint) or Token(mint, short_mint(mint), "", None)
    return tokens


def short_mint(mint: str) -> str:
    return f"{mint[:4]}…{mint[-4:]}" if len(mint) > 10 else mint
