"""The production tier: the README's Production commands, run as written, then a trader in Chromium.

The block after `<!-- production-commands -->` in README.md is handed to bash exactly as it stands
(migrate, collectstatic --clear, check --deploy, gunicorn with `gunicorn.conf.py`), with DEBUG and
the sandbox off and a real secret key: on SQLite with the local cache, or on PostgreSQL + Redis
when DATABASE_URL/REDIS_URL say so (CI's second pass). Its Jupiter is the sandbox upstream served
by a separate gunicorn in sandbox mode, as Jupiter is a service of its own. The browser talks plain
http on loopback, so the environment sets DJANGO_ALLOW_PLAIN_HTTP=1, the setting the README
documents for a deliberate plain-http setup (check --deploy warns about it, and the test reads
the warning). Headless Chromium, with the test wallet injected (a production page has no sandbox
wallet), signs in and cancels an order; any static file missing, unhashed or uncompressed, or any
script loaded under two URLs, fails the tier.
"""

from __future__ import annotations

import json
import os
import re
import secrets
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import requests
from solders.keypair import Keypair

from tests.browser.conftest import REPORT_CSP, WALLET_CORE_JS, WALLET_JS, wallet_account
from tests.servers import Gunicorn, Server, clean_env, migrate

pytestmark = pytest.mark.production

BASE_DIR = Path(__file__).resolve().parent.parent
README = BASE_DIR / "README.md"
MARKER = "<!-- production-commands -->"
STATIC_ROOT = BASE_DIR / "staticfiles"
HASHED = re.compile(r"^(?P<stem>.+)\.[0-9a-f]{12}(?P<ext>\.[A-Za-z0-9]+)$")
START_TIMEOUT = 240.0  # migrate, collectstatic and check on a busy machine, then gunicorn's start
HTTP_TIMEOUT = (3.05, 30.0)
DATABASE_URL = os.environ.get("DATABASE_URL", "")
REDIS_URL = os.environ.get("REDIS_URL", "")


def readme_commands() -> str:
    """The production commands, verbatim from the README."""
    text = README.read_text()
    assert text.count(MARKER) == 1, f"README.md must hold exactly one {MARKER}"
    block = re.match(r"\s*```sh\n(.*?)\n```", text.split(MARKER, 1)[1], re.DOTALL)
    assert block, f"a ```sh block must follow {MARKER} in README.md"
    return block.group(1)


@pytest.fixture(scope="module")
def runtime_dir(tmp_path_factory) -> Path:
    """XDG_RUNTIME_DIR of both gunicorn masters: where their control sockets go."""
    return tmp_path_factory.mktemp("run")


@pytest.fixture(scope="module")
def upstream(tmp_path_factory, runtime_dir) -> Iterator[Server]:
    """The sandbox upstream (the simulated Jupiter) in its own gunicorn, on its own SQLite file."""
    folder = tmp_path_factory.mktemp("upstream")
    env = clean_env(
        DASHBOARD_SANDBOX="1",
        DJANGO_ALLOW_PLAIN_HTTP="1",
        DATABASE_URL=f"sqlite:///{folder / 'sandbox.sqlite3'}",
        XDG_RUNTIME_DIR=str(runtime_dir),
    )
    migrate(env)
    args = ["dashboard.wsgi", "--worker-class", "gthread", "--workers", "2", "--threads", "8"]
    with Gunicorn(args, env, log_dir=folder, start_timeout=START_TIMEOUT) as server:
        yield server


def unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def services(tmp_path_factory) -> Iterator[dict[str, str]]:
    """DATABASE_URL (and REDIS_URL) of the production instance: a fresh SQLite file, or, in the
    PostgreSQL pass, a fresh database named after the test database, with the pass's Redis."""
    if not DATABASE_URL.startswith("postgres"):
        yield {"DATABASE_URL": f"sqlite:///{tmp_path_factory.mktemp('production') / 'db.sqlite3'}"}
        return
    if not REDIS_URL:
        unavailable("The PostgreSQL pass needs Redis as well: set REDIS_URL=redis://….")
    import psycopg

    parts = urlsplit(DATABASE_URL)
    name = f"{parts.path.lstrip('/') or 'dashboard'}_production"
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True, connect_timeout=10) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield {"DATABASE_URL": urlunsplit(parts._replace(path=f"/{name}")), "REDIS_URL": REDIS_URL}
    finally:
        with psycopg.connect(admin, autocommit=True, connect_timeout=10) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def production(tmp_path_factory, upstream, services, runtime_dir) -> Iterator[Server]:
    """The README's production commands, run by bash as written, in a production environment."""
    env = clean_env(
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        DJANGO_ALLOWED_HOSTS="127.0.0.1",
        DJANGO_ALLOW_PLAIN_HTTP="1",
        JUPITER_API_URL=f"{upstream.url}/sandbox/recurring/v1",
        JUPITER_TOKENS_URL=f"{upstream.url}/sandbox/tokens/v2",
        JUPITER_TRIGGER_API_URL=f"{upstream.url}/sandbox/trigger/v2",  # jupiter_check asks for a challenge
        XDG_RUNTIME_DIR=str(runtime_dir),
        **services,
    )
    commands = ["bash", "-euo", "pipefail", "-c", readme_commands()]
    log_dir = tmp_path_factory.mktemp("production")
    # The README's commands bind to $PORT, which Server sets to a free port.
    with Server(commands, env, log_dir=log_dir, start_timeout=START_TIMEOUT, stop_timeout=20) as server:
        yield server


def logical_name(path: str) -> str:
    """`js/bridge.0123456789ab.js` → `js/bridge.js`; an unhashed name fails."""
    folder, _, name = path.rpartition("/")
    match = HASHED.match(name)
    assert match, f"not a hashed static file name: {path}"
    return f"{folder}/{match['stem']}{match['ext']}".lstrip("/")


def collected() -> dict[str, Path]:
    """Every file collectstatic left, by logical name (the manifest itself aside)."""
    files = {}
    for path in STATIC_ROOT.rglob("*"):
        relative = path.relative_to(STATIC_ROOT).as_posix()
        if path.is_dir() or relative == "staticfiles.json" or relative.endswith((".gz", ".br")):
            continue
        files[logical_name(relative)] = path
    return files


# --- the commands -------------------------------------------------------------------------------


def test_the_readme_commands_ran_as_written(production):
    log = production.log_path.read_text(errors="replace")
    assert "Operations to perform" in log  # migrate
    assert "static files copied" in log and "post-processed" in log  # collectstatic
    assert "dashboard.W001" in log  # check --deploy: plain http is flagged, though deliberate here
    assert "ERRORS:" not in log
    assert "OK: every field the dashboard relies on is there." in log  # jupiter_check, against the sandbox
    assert "Listening at: http://127.0.0.1:" in log
    # DEBUG and the sandbox are off.
    missing = requests.get(f"{production.url}/no-such-page", timeout=HTTP_TIMEOUT)
    assert missing.status_code == 404
    assert "URLconf" not in missing.text
    assert requests.get(f"{production.url}/sandbox/control/calls", timeout=HTTP_TIMEOUT).status_code == 404


def test_only_hashed_compressed_files_are_collected(production):
    files = collected()
    assert "js/bridge.js" in files and "js/orders.js" in files
    assert not [name for name in files if name.startswith("django_htmx/ext/")]
    for path in files.values():
        assert path.with_name(path.name + ".gz").exists(), f"no gzip copy of {path.name}"
        assert path.with_name(path.name + ".br").exists(), f"no Brotli copy of {path.name}"
    manifest = json.loads((STATIC_ROOT / "staticfiles.json").read_text())["paths"]
    for name, path in files.items():
        if name.endswith(".js"):
            folder = path.parent
            for imported in re.findall(r"""\bfrom\s*["'](\.{1,2}/[^"']+)["']""", path.read_text()):
                target = (folder / imported).resolve()
                assert target.exists(), f"{name} imports {imported}, which was not collected"
                assert logical_name(target.relative_to(STATIC_ROOT).as_posix()) in manifest, imported


JS_GOAL = 25 * 1024  # bytes of JavaScript a browser is sent for the page


@pytest.mark.parametrize("encoding", ["br", "gzip"])
def test_browsers_are_sent_compressed_files_and_the_javascript_stays_small(production, encoding):
    sent = 0
    for name, path in collected().items():
        url = f"{production.url}/static/{path.relative_to(STATIC_ROOT).as_posix()}"
        reply = requests.get(url, headers={"Accept-Encoding": encoding}, stream=True, timeout=HTTP_TIMEOUT)
        body = reply.raw.read(decode_content=False)  # the bytes on the wire, not decoded
        assert reply.status_code == 200, url
        assert reply.headers.get("content-encoding") == encoding, name
        assert len(body) == int(reply.headers["content-length"]) < path.stat().st_size, name
        sent += len(body) if name.endswith(".js") else 0
    assert sent > 0
    if encoding == "br":  # what every browser accepts over https, so what production sends
        assert sent <= JS_GOAL  # every collected script is one the pages load (see the trader's test)


def test_forwarded_proto_from_this_host_is_not_believed(production):
    """Without DJANGO_TRUST_PROXY, `X-Forwarded-Proto: https` from 127.0.0.1 must not make a
    request https (gunicorn's own default believes it; HSTS is sent on https requests only)."""
    response = requests.get(f"{production.url}/healthz", headers={"X-Forwarded-Proto": "https"}, timeout=HTTP_TIMEOUT)
    assert response.status_code == 200
    assert "Strict-Transport-Security" not in response.headers


def test_each_gunicorn_master_has_its_own_control_socket(production, upstream, runtime_dir):
    sockets = sorted(path.name for path in runtime_dir.iterdir())
    assert sockets == sorted(f"dca-dashboard-127.0.0.1-{s.port}.ctl" for s in (production, upstream))


# --- a trader in Chromium -----------------------------------------------------------------------


def control(upstream: Server, action: str, **fields: object) -> dict:
    reply = requests.post(f"{upstream.url}/sandbox/control", json={"action": action, **fields}, timeout=HTTP_TIMEOUT)
    assert reply.status_code == 200, reply.text
    return reply.json()


def test_a_trader_signs_in_and_cancels_an_order(production, upstream, browser):
    from playwright.sync_api import expect

    keypair = Keypair()
    wallet = str(keypair.pubkey())
    keys = control(upstream, "seed", wallet=wallet, active=2, history=1)["orders"]

    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(20_000)
    errors: list[str] = []
    responses: list = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(f"Uncaught: {exc}"))
    page.on("response", lambda response: responses.append(response))
    page.add_init_script(REPORT_CSP)
    options = {"name": "Test Wallet", "signIn": True, "decline": False, "tamper": ""}
    options["accounts"] = [wallet_account(keypair), wallet_account(Keypair())]
    page.add_init_script(f"window.__testWallet = {json.dumps(options)};")
    page.add_init_script(path=str(WALLET_CORE_JS))
    page.add_init_script(path=str(WALLET_JS))
    try:
        page.goto(f"{production.url}/")
        page.get_by_role("button", name="Connect wallet").click()
        page.get_by_role("button", name="Test Wallet").click()
        page.wait_for_url(f"{production.url}/orders/")
        expect(page.locator("#active-panel [data-order]")).to_have_count(2)
        expect(page.locator("#active-panel")).to_contain_text("Up to date")
        card = page.locator(f'#active-panel [data-order="{keys[0]}"]')
        card.get_by_role("button", name="Cancel this order").click()
        card.locator(".confirm").get_by_role("button", name="Confirm cancel").click()
        expect(page.locator("#cancel-outcome")).to_contain_text("Order cancelled.")
        expect(page.locator(f'#active-panel [data-order="{keys[0]}"]')).to_have_count(0)
        expect(page.locator("#attempts-panel")).to_contain_text("Order cancelled")
    finally:
        context.close()

    assert not errors, errors
    calls = requests.get(
        f"{upstream.url}/sandbox/control/calls", params={"endpoint": "execute", "user": wallet}, timeout=HTTP_TIMEOUT
    ).json()
    assert calls["count"] == 1
    assert control(upstream, "order", order=keys[0])["order"]["status"] == "history"

    failed = [f"{r.status} {r.url}" for r in responses if r.status >= 400]
    assert not failed, failed
    static = [r for r in responses if urlsplit(r.url).path.startswith("/static/")]
    urls: dict[str, set[str]] = defaultdict(set)
    for response in static:
        path = urlsplit(response.url).path.removeprefix("/static/")
        urls[logical_name(path)].add(path)
        # Chromium asks for Brotli only over https; here (plain http on loopback) it gets gzip.
        assert response.headers.get("content-encoding") in ("gzip", "br"), response.url
        assert "immutable" in response.headers.get("cache-control", ""), response.url
    scripts = {r.request.url for r in responses if r.request.resource_type == "script"}
    assert scripts, "no script loaded"
    assert all(urlsplit(url).path.startswith("/static/") for url in scripts), scripts
    twice = {name: paths for name, paths in urls.items() if len(paths) > 1}
    assert not twice, f"loaded under two URLs: {twice}"
    # The pages load everything that was collected, and nothing else.
    assert set(urls) == set(collected())
