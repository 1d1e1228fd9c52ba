"""Production hardening: deploy checks, headers and cookies, CSP, rate limits, health, secrets, sessions.

Production settings are read in a subprocess started with a production-like environment
(no sandbox, no DEBUG, a real secret key); the response tests apply those very values to
the test settings and look at real responses.
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
import secrets
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.models import Session
from django.core.cache import cache
from django.test import Client
from django.utils import timezone
from solders.keypair import Keypair

from dashboard import messages, siws, tracking, views
from dashboard.middleware import SIGNED_IN_AT
from dashboard.sandbox import control
from tests.wallet import sign_in, sign_in_body, sign_in_text

BASE_DIR = Path(__file__).resolve().parent.parent
CHALLENGE = "/sign-in/challenge"
VERIFY = "/sign-in/verify"
SLOW_DOWN = {"state": "refused", "code": "slow_down", "message": messages.words("slow_down"), "next": "wait"}
# Settings the response tests take over from the production process.
PRODUCTION_NAMES = (
    "DEBUG",
    "SECURE_SSL_REDIRECT",
    "SECURE_REDIRECT_EXEMPT",
    "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE",
    "SECURE_HSTS_SECONDS",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS",
    "CSRF_COOKIE_HTTPONLY",
    "SESSION_COOKIE_AGE",
    "SESSION_ABSOLUTE_SECONDS",
    "SESSION_SAVE_EVERY_REQUEST",
)
REPORTED_NAMES = (
    *PRODUCTION_NAMES,
    "SESSION_ENGINE",
    "SESSION_COOKIE_HTTPONLY",
    "ALLOW_PLAIN_HTTP",
    "SESSION_COOKIE_SAMESITE",
    "CSRF_COOKIE_SAMESITE",
    "X_FRAME_OPTIONS",
    "SECURE_CONTENT_TYPE_NOSNIFF",
    "SECURE_REFERRER_POLICY",
    "SECURE_CROSS_ORIGIN_OPENER_POLICY",
    "SECURE_PROXY_SSL_HEADER",
    "USE_X_FORWARDED_HOST",
    "CSRF_TRUSTED_ORIGINS",
    "RATELIMIT_USE_CACHE",
    "JUPITER_RATE_LIMIT_ENABLED",
    "JUPITER_BREAKER_ENABLED",
    "JUPITER_RATE_LIMIT_RPS",
    "MAX_PRIORITY_FEE_LAMPORTS",
    "CONTENT_SECURITY_POLICY",
)


def production_env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "DASHBOARD_", "JUPITER_")) and k != "REDIS_URL"
    }
    env.update(
        DJANGO_SETTINGS_MODULE="dashboard.settings",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(64),
        DJANGO_ALLOWED_HOSTS="dash.example.com",
        **extra,
    )
    return env


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args], cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=60, check=False
    )


def read_settings(**extra: str) -> dict:
    script = (
        "import json, django; from django.conf import settings; django.setup(); "
        f"print(json.dumps({{n: getattr(settings, n, None) for n in {list(REPORTED_NAMES)!r}}}))"
    )
    done = run(["-c", script], production_env(**extra))
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def production() -> dict:
    return read_settings()


@pytest.fixture
def production_settings(settings, production):
    for name in PRODUCTION_NAMES:
        setattr(settings, name, production[name])
    return settings


def unique_address() -> str:
    return "10.{}.{}.{}".format(*(secrets.randbelow(254) + 1 for _ in range(3)))


# --- production settings ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "extra",
    [
        {},
        {"REDIS_URL": "redis://127.0.0.1:6379/0"},
        {"DJANGO_TRUST_PROXY": "1", "DJANGO_CSRF_TRUSTED_ORIGINS": "https://dash.example.com"},
    ],
    ids=["local-cache", "redis", "behind-proxy"],
)
def test_check_deploy_is_clean(extra):
    done = run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], production_env(**extra))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "System check identified no issues" in done.stdout


def test_production_refuses_to_start_without_a_secret_key():
    env = production_env()
    del env["DJANGO_SECRET_KEY"]
    done = run(["manage.py", "check"], env)
    assert done.returncode != 0
    assert "DJANGO_SECRET_KEY must be set" in done.stderr


def test_production_settings(production):
    assert production["DEBUG"] is False
    assert production["SECURE_SSL_REDIRECT"] is True
    assert production["SECURE_HSTS_SECONDS"] == 365 * 24 * 3600
    assert production["SECURE_HSTS_INCLUDE_SUBDOMAINS"] is True
    assert production["SESSION_COOKIE_SECURE"] is True
    assert production["SESSION_COOKIE_HTTPONLY"] is True
    assert production["CSRF_COOKIE_SECURE"] is True
    assert production["CSRF_COOKIE_HTTPONLY"] is True  # the pages give scripts the token in data-csrf
    assert production["ALLOW_PLAIN_HTTP"] is False
    assert production["SESSION_COOKIE_SAMESITE"] == production["CSRF_COOKIE_SAMESITE"] == "Lax"
    assert production["X_FRAME_OPTIONS"] == "DENY"
    assert production["SECURE_CONTENT_TYPE_NOSNIFF"] is True
    assert production["SECURE_REFERRER_POLICY"] == "same-origin"
    assert production["SECURE_CROSS_ORIGIN_OPENER_POLICY"] == "same-origin"
    assert production["SESSION_ENGINE"] == "django.contrib.sessions.backends.db"
    assert production["SESSION_COOKIE_AGE"] == 30 * 60
    assert production["SESSION_SAVE_EVERY_REQUEST"] is True
    assert production["SESSION_ABSOLUTE_SECONDS"] == 12 * 3600
    assert production["SECURE_REDIRECT_EXEMPT"] == [r"^healthz$"]
    assert production["RATELIMIT_USE_CACHE"] == "default"
    # Proxy headers are trusted only when configured.
    assert production["SECURE_PROXY_SSL_HEADER"] is None
    assert production["USE_X_FORWARDED_HOST"] is False
    assert production["CSRF_TRUSTED_ORIGINS"] == []
    # The outbound guards are on in production, at 0.5 call/s without an API key.
    assert production["JUPITER_RATE_LIMIT_ENABLED"] is True
    assert production["JUPITER_BREAKER_ENABLED"] is True
    assert production["JUPITER_RATE_LIMIT_RPS"] == 0.5
    assert production["MAX_PRIORITY_FEE_LAMPORTS"] == 200_000
    assert read_settings(DASHBOARD_MAX_PRIORITY_FEE_LAMPORTS="50000")["MAX_PRIORITY_FEE_LAMPORTS"] == 50_000


def test_proxy_headers_trusted_only_when_configured():
    behind = read_settings(DJANGO_TRUST_PROXY="1", DJANGO_CSRF_TRUSTED_ORIGINS="https://a.example, https://b.example")
    assert behind["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    assert behind["USE_X_FORWARDED_HOST"] is True
    assert behind["CSRF_TRUSTED_ORIGINS"] == ["https://a.example", "https://b.example"]


def test_cookies_stay_secure_when_a_proxy_does_the_redirect():
    behind = read_settings(DJANGO_SECURE_SSL_REDIRECT="0", DJANGO_TRUST_PROXY="1")
    assert behind["SECURE_SSL_REDIRECT"] is False
    assert behind["SESSION_COOKIE_SECURE"] is True
    assert behind["CSRF_COOKIE_SECURE"] is True


def test_plain_http_only_when_asked_for_and_check_deploy_warns():
    plain = read_settings(DJANGO_ALLOW_PLAIN_HTTP="1")
    assert plain["ALLOW_PLAIN_HTTP"] is True
    assert plain["SECURE_SSL_REDIRECT"] is False
    assert plain["SESSION_COOKIE_SECURE"] is False
    assert plain["CSRF_COOKIE_SECURE"] is False
    done = run(["manage.py", "check", "--deploy"], production_env(DJANGO_ALLOW_PLAIN_HTTP="1"))
    assert done.returncode == 0, done.stderr  # a warning: the operator chose it
    assert "dashboard.W001" in done.stdout + done.stderr
    assert "DJANGO_ALLOW_PLAIN_HTTP is on" in done.stdout + done.stderr
    contradiction = run(
        ["manage.py", "check"], production_env(DJANGO_ALLOW_PLAIN_HTTP="1", DJANGO_SECURE_SSL_REDIRECT="1")
    )
    assert contradiction.returncode != 0
    assert "contradict each other" in contradiction.stderr


def test_guards_follow_an_explicit_rate_in_sandbox_mode():
    guarded = read_settings(DASHBOARD_SANDBOX="1", JUPITER_RATE_LIMIT_RPS="2")
    assert guarded["JUPITER_RATE_LIMIT_ENABLED"] is True
    assert guarded["JUPITER_RATE_LIMIT_RPS"] == 2.0
    assert guarded["JUPITER_BREAKER_ENABLED"] is False


# --- headers and cookies on real responses -------------------------------------------------------


@pytest.mark.django_db
def test_plain_http_is_redirected_except_healthz(client, production_settings):
    response = client.get("/")
    assert response.status_code == 301
    assert response["Location"] == "https://testserver/"
    assert client.get("/healthz").status_code == 200


@pytest.mark.django_db
def test_security_headers(client, production_settings):
    response = client.get("/", secure=True)
    assert response.status_code == 200
    assert response["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"
    csrf = response.cookies["csrftoken"]
    assert csrf["secure"] is True
    assert csrf["httponly"] is True
    assert csrf["samesite"] == "Lax"


@pytest.mark.django_db
def test_session_cookie_after_sign_in(client, production_settings):
    sign_in(client, Keypair(), secure=True)
    cookie = client.cookies["sessionid"]
    assert cookie["secure"] is True
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Lax"
    assert cookie["max-age"] == 30 * 60


@pytest.mark.django_db(transaction=True)
def test_signed_in_pages_are_never_stored(client, sandbox_upstream, production_settings):
    sign_in(client, Keypair(), secure=True)
    active = client.get("/orders/active", secure=True)
    order_key = active.context["orders"][0].order_key
    pages = [
        "/orders/",
        "/orders/active",
        "/orders/history",
        "/orders/cancels",
        "/orders/export.csv",
        f"/orders/{order_key}/cancel",
    ]
    for url in pages:
        response = client.get(url, secure=True)
        assert response.status_code == 200, url
        assert "no-store" in response["Cache-Control"], url
        assert "private" in response["Cache-Control"], url
    refused = client.post("/cancels/999999/submit", {"signed_transaction": "x"}, secure=True)
    assert "no-store" in refused["Cache-Control"]


@pytest.mark.django_db
def test_signed_in_home_page_is_never_stored(client, production_settings):
    assert "no-store" not in Client().get("/", secure=True).get("Cache-Control", "")  # nobody's page
    sign_in(client, Keypair(), secure=True)
    home = client.get("/", secure=True)
    assert "You are signed in with wallet" in home.text
    assert "no-store" in home["Cache-Control"]
    assert "private" in home["Cache-Control"]


# --- Content-Security-Policy --------------------------------------------------------------------


def directives(header: str) -> dict[str, list[str]]:
    parsed = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            parsed[words[0]] = words[1:]
    return parsed


@pytest.mark.django_db
def test_csp_header(client):
    sign_in(client, Keypair())
    for url in ("/", "/orders/"):
        header = client.get(url)["Content-Security-Policy"]
        assert "unsafe-inline" not in header and "unsafe-eval" not in header
        csp = directives(header)
        assert csp["default-src"] == ["'self'"]
        assert csp["script-src"] == ["'self'"]
        assert csp["style-src"] == ["'self'"]
        assert csp["connect-src"] == ["'self'"]
        assert csp["object-src"] == ["'none'"]
        assert csp["base-uri"] == ["'none'"]
        assert csp["frame-ancestors"] == ["'none'"]


@pytest.mark.django_db
def test_pages_have_no_inline_code_and_htmx_cannot_eval(client):
    sign_in(client, Keypair())
    for url in ("/", "/orders/"):
        html = client.get(url).content.decode()
        for tag in re.findall(r"<script\b[^>]*>", html):
            assert "src=" in tag or "application/json" in tag, tag
        assert not re.search(r"\son[a-z]+\s*=", html), "inline event handler"
        assert not re.search(r"\shx-on", html), "hx-on handler"
        assert not re.search(r"\sstyle\s*=", html), "inline style"
        meta = re.search(r"<meta name=\"htmx-config\" content='([^']*)'>", html)
        assert meta, "htmx is configured by a meta tag"
        config = json.loads(meta.group(1))
        assert config["allowEval"] is False
        assert config["includeIndicatorStyles"] is False
        assert config["historyCacheSize"] == 0


# --- inbound rate limits ------------------------------------------------------------------------


@pytest.mark.django_db
def test_sign_in_is_rate_limited_per_address(client, settings):
    settings.RATELIMIT_SIGN_IN = "3/d"  # a long period: no window boundary during the test
    address = unique_address()
    for _ in range(3):
        response = client.post(CHALLENGE, "{}", content_type="application/json", REMOTE_ADDR=address)
        assert response.status_code == 200
    limited = client.post(CHALLENGE, "{}", content_type="application/json", REMOTE_ADDR=address)
    assert limited.status_code == 429
    assert limited.json() == SLOW_DOWN  # the one shape the bridge reads: it shows "message"
    assert limited["Retry-After"] == "60"
    verify = client.post(VERIFY, "{}", content_type="application/json", REMOTE_ADDR=address)
    assert verify.status_code == 429
    other = client.post(CHALLENGE, "{}", content_type="application/json", REMOTE_ADDR=unique_address())
    assert other.status_code == 200


@pytest.mark.django_db
def test_junk_naming_a_wallet_never_locks_it_out(client, settings):
    settings.RATELIMIT_SIGN_IN = "3/d"
    victim = Keypair()
    junk = json.dumps(
        {"address": str(victim.pubkey()), "signedMessage": "AA==", "signature": "AA==", "nonce": "abcdefgh"}
    )
    for _ in range(60):  # refused (no such challenge), from ever-new addresses
        response = client.post(VERIFY, junk, content_type="application/json", REMOTE_ADDR=unique_address())
        assert response.status_code == 400
    sign_in(Client(), victim, REMOTE_ADDR=unique_address())
    # A signature that verifies but replays the victim's message elsewhere is refused, and not counted either.
    thief = Client()
    challenge = thief.post(CHALLENGE, "{}", content_type="application/json", REMOTE_ADDR=unique_address()).json()
    stolen = sign_in_body(victim, sign_in_text(challenge, str(victim.pubkey())), "f" * 32)
    for _ in range(5):
        replay = thief.post(VERIFY, json.dumps(stolen), content_type="application/json", REMOTE_ADDR=unique_address())
        assert replay.status_code == 400
    sign_in(Client(), victim, REMOTE_ADDR=unique_address())


@pytest.mark.django_db
def test_verified_sign_ins_are_limited_per_wallet(settings):
    settings.RATELIMIT_SIGN_IN = "3/d"
    kp = Keypair()
    for _ in range(3):  # each from its own client address
        sign_in(Client(), kp, REMOTE_ADDR=unique_address())
    client, address = Client(), unique_address()
    challenge = client.post(CHALLENGE, "{}", content_type="application/json", REMOTE_ADDR=address).json()
    body = sign_in_body(kp, sign_in_text(challenge, str(kp.pubkey())), challenge["nonce"])
    limited = client.post(VERIFY, json.dumps(body), content_type="application/json", REMOTE_ADDR=address)
    assert limited.status_code == 429
    assert limited.json() == SLOW_DOWN
    assert limited["Retry-After"] == "60"
    assert SESSION_KEY not in client.session
    sign_in(Client(), Keypair(), REMOTE_ADDR=unique_address())  # another wallet is not affected


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("url", "body"),
    [
        (CHALLENGE, "[" * 5000),
        (VERIFY, "[" * 3000),
        (VERIFY, '{"address": ' + "[" * 3000 + "]" * 3000 + "}"),
        (CHALLENGE, '{"address": {"a": {"b": {"c": {"d": {}}}}}}'),
    ],
    ids=["challenge-5000", "verify-3000", "verify-inside-an-object", "challenge-five-levels"],
)
def test_deeply_nested_json_is_refused_plainly(client, caplog, url, body):
    response = client.post(url, body, content_type="application/json", REMOTE_ADDR=unique_address())
    assert response.status_code == 400
    assert (response.json()["state"], response.json()["code"]) == ("refused", "bad_request")
    assert not [r for r in caplog.records if r.exc_info]


def cancel_start(client: Client, address: str):
    return client.post(f"/orders/{Keypair().pubkey()}/cancel/start", REMOTE_ADDR=address)  # no such order


@pytest.mark.django_db
def test_cancel_is_rate_limited_per_wallet(client, settings):
    settings.RATELIMIT_CANCEL = "3/d"
    client.force_login(siws.get_wallet_user(str(Keypair().pubkey())))
    for _ in range(3):  # refused (not an active order) but counted, from ever-new addresses
        assert cancel_start(client, unique_address()).status_code == 404
    limited = cancel_start(client, unique_address())
    assert limited.status_code == 429
    assert limited.json() == SLOW_DOWN
    assert limited["Retry-After"] == "60"
    assert "no-store" in limited["Cache-Control"]
    submit = client.post("/cancels/1/submit", {"signed_transaction": "x"}, REMOTE_ADDR=unique_address())
    assert submit.status_code == 429


@pytest.mark.django_db
def test_cancel_is_rate_limited_per_address(client, settings):
    settings.RATELIMIT_CANCEL = "3/d"
    address = unique_address()
    for _ in range(3):  # three wallets, one address
        client.force_login(siws.get_wallet_user(str(Keypair().pubkey())))
        assert cancel_start(client, address).status_code == 404
    assert cancel_start(client, address).status_code == 429
    assert cancel_start(client, unique_address()).status_code == 404


@pytest.mark.django_db
def test_cancel_decline_is_rate_limited(client, settings):
    settings.RATELIMIT_CANCEL_STATUS = "2/d"
    client.force_login(siws.get_wallet_user(str(Keypair().pubkey())))
    for _ in range(2):  # no such attempt, but counted, from ever-new addresses (per wallet)
        assert client.post("/cancels/1/decline", REMOTE_ADDR=unique_address()).status_code == 404
    limited = client.post("/cancels/1/decline", REMOTE_ADDR=unique_address())
    assert limited.status_code == 429
    assert limited.json() == SLOW_DOWN


@pytest.mark.django_db(transaction=True)
def test_cancel_status_past_its_limit_answers_what_is_recorded_without_asking_jupiter(
    client, settings, sandbox_upstream
):
    from dashboard.models import CancelAttempt

    settings.RATELIMIT_CANCEL_STATUS = "2/d"
    wallet = str(Keypair().pubkey())
    key = control.seed_wallet(wallet, active=1, history=0)[0]
    now = timezone.now()
    attempt = CancelAttempt.objects.create(
        wallet=wallet, order_key=key, request_id="lost", message=b"", issued_at=now, claimed_at=now, state="pending"
    )
    client.force_login(siws.get_wallet_user(wallet))
    address = unique_address()
    for _ in range(2):  # each settles by re-reading the wallet's orders (10 s apart at most)
        cache.delete(f"settle:{wallet}")
        assert client.post(f"/cancels/{attempt.pk}/status", REMOTE_ADDR=address).json()["state"] == "pending"
    asked = control.count_calls("getRecurringOrders", user=wallet)
    assert asked >= 2
    cache.delete(f"settle:{wallet}")
    limited = client.post(f"/cancels/{attempt.pk}/status", REMOTE_ADDR=address)
    assert limited.status_code == 200 and limited.json()["state"] == "pending"  # as recorded
    assert control.count_calls("getRecurringOrders", user=wallet) == asked


def test_client_address_behind_a_proxy(rf, settings):
    from dashboard.limits import client_address

    settings.TRUST_PROXY = True
    request = rf.get("/", HTTP_X_FORWARDED_FOR="6.6.6.6, 198.51.100.7", REMOTE_ADDR="10.0.0.2")
    assert client_address(request) == "198.51.100.7"
    assert client_address(rf.get("/", REMOTE_ADDR="10.0.0.2")) == "10.0.0.2"


# --- health -------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_healthz(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert "no-cache" in response["Cache-Control"]
    assert client.post("/healthz").status_code == 405


@pytest.mark.django_db
def test_healthz_names_an_unreachable_cache(client, settings):
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:1/0"}
    }
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "failed": ["cache"]}


class BrokenConnection:
    def cursor(self):
        raise OSError("database is down")


@pytest.mark.django_db
def test_healthz_names_an_unreachable_database(client, monkeypatch):
    monkeypatch.setattr(views, "connection", BrokenConnection())
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "failed": ["database"]}


# --- the API key never leaves the server --------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_api_key_never_in_responses_or_logs(client, sandbox_upstream, settings, caplog):
    key = "jup-key-" + secrets.token_hex(16)
    settings.JUPITER_API_KEY = key
    caplog.set_level(logging.DEBUG)
    responses = []
    kp = Keypair()
    sign_in(client, kp)
    for url in ("/", "/orders/", "/orders/active", "/orders/history", "/orders/export.csv", "/orders/cancels"):
        responses.append(client.get(url))
    order_key = responses[2].context["orders"][0].order_key
    responses.append(client.get(f"/orders/{order_key}/cancel"))
    responses.append(client.post(f"/orders/{order_key}/cancel/start"))
    # Failures are logged with the upstream's details: still no key.
    tracking.invalidate(str(kp.pubkey()))
    control.inject_fault("getRecurringOrders", "500", times=3)
    responses.append(client.get("/orders/history", HTTP_HX_REQUEST="true"))
    control.inject_fault("cancelOrder", "429", times=1)
    responses.append(client.post(f"/orders/{order_key}/cancel/start"))
    assert control.count_calls() >= 6  # the upstream was really called
    for response in responses:
        body = b"".join(response.streaming_content) if response.streaming else response.content
        assert key not in body.decode("utf-8-sig"), response.request["PATH_INFO"]
        assert key not in str(response.headers)
    logged = [r.getMessage() + str(r.args) + (r.exc_text or "") for r in caplog.records]
    assert logged
    assert not [line for line in logged if key in line]


# --- session lifetime ---------------------------------------------------------------------------


def expired_leftovers() -> tuple[str, str]:
    """An expired session and an expired sign-in challenge; their keys."""
    gone = Session.objects.create(
        session_key="expired" + secrets.token_hex(8), session_data="", expire_date=timezone.now() - timedelta(hours=1)
    )
    old = timezone.now() - timedelta(days=1)
    challenge = siws.issue_challenge("gone" + secrets.token_hex(8), "testserver", "http://testserver/", now=old)
    return gone.session_key, challenge.nonce


@pytest.mark.django_db
def test_cleanup_command_deletes_expired_sessions_and_challenges(client):
    from django.core.management import call_command

    sign_in(client, Keypair())
    live = siws.issue_challenge("live" + secrets.token_hex(8), "testserver", "http://testserver/")
    session, nonce = expired_leftovers()
    out = io.StringIO()
    call_command("cleanup", stdout=out)
    assert (
        "Deleted 1 expired sessions, 1 expired sign-in challenges and 0 ended Jupiter DCA connections."
        in out.getvalue()
    )
    assert not Session.objects.filter(session_key=session).exists()
    assert not siws.SignInChallenge.objects.filter(nonce=nonce).exists()
    assert Session.objects.filter(session_key=client.session.session_key).exists()
    assert siws.SignInChallenge.objects.filter(nonce=live.nonce).exists()
    assert client.get("/orders/").status_code == 200  # still signed in


@pytest.mark.django_db
def test_sign_ins_clean_up_now_and_then(client):
    from django.core.cache import cache

    cache.delete("cleanup")
    session, nonce = expired_leftovers()
    sign_in(client, Keypair())
    assert not Session.objects.filter(session_key=session).exists()
    assert not siws.SignInChallenge.objects.filter(nonce=nonce).exists()
    again, _ = expired_leftovers()
    sign_in(Client(), Keypair())
    assert Session.objects.filter(session_key=again).exists()  # within the hour: left for later


@pytest.mark.django_db
def test_sign_in_records_the_time(client):
    before = int(time.time())
    sign_in(client, Keypair())
    assert before <= client.session[SIGNED_IN_AT] <= int(time.time())
    assert client.session.get_expiry_age() == 30 * 60


@pytest.mark.django_db
def test_idle_timeout_is_renewed_by_each_request(client):
    sign_in(client, Keypair())
    key = client.session.session_key
    Session.objects.filter(pk=key).update(expire_date=timezone.now() + timedelta(seconds=5))
    assert client.get("/orders/").status_code == 200
    renewed = Session.objects.get(pk=key).expire_date - timezone.now()
    assert renewed > timedelta(minutes=29)


@pytest.mark.django_db
def test_idle_session_ends(client):
    sign_in(client, Keypair())
    Session.objects.filter(pk=client.session.session_key).update(expire_date=timezone.now() - timedelta(seconds=1))
    response = client.get("/orders/")
    assert response.status_code == 302
    assert response["Location"] == "/"


@pytest.mark.django_db
@pytest.mark.parametrize(("age", "signed_in"), [(12 * 3600 - 60, True), (12 * 3600 + 1, False)])
def test_absolute_lifetime(client, age, signed_in):
    sign_in(client, Keypair())
    session = client.session
    session[SIGNED_IN_AT] = int(time.time()) - age
    session.save()
    response = client.get("/orders/")
    assert (response.status_code == 200) is signed_in
    assert (SESSION_KEY in client.session) is signed_in


@pytest.mark.django_db
def test_absolute_lifetime_sends_htmx_home(client):
    sign_in(client, Keypair())
    session = client.session
    session[SIGNED_IN_AT] = int(time.time()) - 13 * 3600
    session.save()
    response = client.get("/orders/active", HTTP_HX_REQUEST="true")
    assert response["HX-Redirect"] == "/"


@pytest.mark.django_db
def test_session_without_a_sign_in_time_starts_counting(client):
    client.force_login(siws.get_wallet_user(str(Keypair().pubkey())))
    assert client.get("/orders/").status_code == 200
    assert abs(client.session[SIGNED_IN_AT] - time.time()) < 60


def test_deploy_check_refuses_sandbox_mode():
    from django.core.checks import run_checks

    errors = run_checks(include_deployment_checks=True)
    assert "dashboard.E001" in {e.id for e in errors}  # the tests run in sandbox mode


@pytest.mark.django_db
def test_a_stale_csrf_token_is_said_plainly_to_the_bridge():
    """The bridge's requests (X-CSRFToken) get the one JSON shape saying the page is out of date,
    not an HTML page the bridge would read as "signed out"; a plain form still gets Django's page."""
    browser = Client(enforce_csrf_checks=True)
    browser.get("/")  # a CSRF cookie, as a page load gives
    stale = browser.post("/sign-in/challenge", "{}", content_type="application/json", headers={"X-CSRFToken": "x" * 64})
    assert stale.status_code == 403
    assert stale.json() == {
        "state": "refused",
        "code": "stale_page",
        "message": messages.words("stale_page"),
        "next": "reload",
    }
    form = browser.post("/sign-out")
    assert form.status_code == 403
    assert form["Content-Type"].startswith("text/html")


# --- bodies larger than an endpoint takes (dashboard.middleware.BodyLimit) ---

FIVE_MB = 5 * 1024 * 1024


def assert_too_large(response) -> None:
    assert response.status_code == 413
    assert (response.json()["state"], response.json()["code"]) == ("refused", "too_large")


def assert_one_warning_line(caplog) -> None:
    """Anyone may send such a body: one WARNING line each, never an ERROR or a traceback."""
    said = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert [r.levelname for r in said] == ["WARNING"], [r.getMessage() for r in said]
    assert not said[0].exc_info


@pytest.mark.django_db
def test_an_oversized_form_body_answers_the_bridge_shape(client, caplog):
    client.force_login(siws.get_wallet_user(str(Keypair().pubkey())))
    body = "signed_transaction=" + "A" * FIVE_MB
    with caplog.at_level(logging.INFO):
        response = client.post(
            "/cancels/1/submit", body, content_type="application/x-www-form-urlencoded", REMOTE_ADDR=unique_address()
        )
    assert_too_large(response)
    assert_one_warning_line(caplog)


@pytest.mark.django_db
def test_an_oversized_sign_in_body_is_too_large_and_signs_nobody_in(client, caplog):
    body = json.dumps({"address": "", "padding": "x" * 100_000})
    with caplog.at_level(logging.INFO):
        response = client.post("/sign-in/challenge", body, content_type="application/json")
    assert_too_large(response)
    assert_one_warning_line(caplog)
    assert SESSION_KEY not in client.session
    # Just under the endpoint's limit the body is read as usual (here: refused for its content).
    small = client.post("/sign-in/challenge", json.dumps({"address": "x" * 100}), content_type="application/json")
    assert (small.status_code, small.json()["code"]) == (400, "bad_address")


@pytest.mark.django_db(transaction=True)
def test_oversized_bodies_leave_the_connection_usable(live_server):
    """Over real HTTP, one keep-alive connection: the refused bodies are read to their end, so the
    next request on the same connection is answered."""
    import http.client
    from urllib.parse import urlsplit

    url = urlsplit(live_server.url)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    try:
        connection.request(
            "POST",
            "/sign-in/challenge",
            b'{"padding": "' + b"x" * 100_000 + b'"}',
            {"Content-Type": "application/json"},
        )
        first = connection.getresponse()
        assert (first.status, json.loads(first.read())["code"]) == (413, "too_large")
        sock = connection.sock
        assert sock is not None  # the server kept the connection open
        connection.request(
            "POST",
            "/cancels/1/submit",
            b"signed_transaction=" + b"A" * FIVE_MB,
            {"Content-Type": "application/x-www-form-urlencoded"},
        )
        second = connection.getresponse()
        assert (second.status, json.loads(second.read())["code"]) == (413, "too_large")
        connection.request("GET", "/healthz")
        third = connection.getresponse()
        assert (third.status, json.loads(third.read())) == (200, {"status": "ok"})
        assert connection.sock is sock  # the same connection all along
    finally:
        connection.close()


@pytest.mark.django_db
@pytest.mark.parametrize("signed_in", [True, False], ids=["signed-in", "signed-out"])
def test_a_stale_form_gets_a_plain_page_not_djangos(signed_in):
    """views.csrf_failure: a form posted with a token that is no longer the browser's (another tab
    signed in since) gets our page: 403, nothing done, a Sign out that works (or Sign in)."""
    client = Client(enforce_csrf_checks=True)
    if signed_in:
        client.force_login(siws.get_wallet_user(str(Keypair().pubkey())))
    client.get("/")  # the CSRF cookie
    response = client.post("/sign-out", {"csrfmiddlewaretoken": "x" * 64})
    assert response.status_code == 403
    assert response.templates[0].name == "stale_page.html"
    assert (SESSION_KEY in client.session) is signed_in  # nothing was done
    if not signed_in:
        assert 'href="/#sign-in"' in response.text
        return
    token = re.search(r'<main.*name="csrfmiddlewaretoken" value="([^"]+)"', response.text, re.S).group(1)
    assert client.post("/sign-out", {"csrfmiddlewaretoken": token}).status_code == 302
    assert SESSION_KEY not in client.session
