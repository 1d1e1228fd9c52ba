"""Page weight of the dashboard, beside what a typical Solana dApp ships for its wallet stack."""

from __future__ import annotations

import gzip
import io
import json
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

from bench.report import Table, kb, met
from bench.server import Server, Trader

try:
    import brotli
except ImportError:  # optional: only adds a column
    brotli = None

JS_GOAL = 25 * 1024
BRIDGE_GOAL = 4 * 1024
ORDERS = 50

# A typical dApp: web3.js 1.x (what the wallet adapters require) plus the wallet-adapter React stack
# (@solana/wallet-adapter-wallets is far larger; wallet-standard discovery replaces it today).
NPM_PACKAGES = (
    ("@solana/web3.js", "1.99.0", ("lib/index.iife.min.js",), "self-contained minified browser bundle"),
    ("@solana/web3.js", "1.99.0", ("lib/index.browser.esm.js",), "browser ESM, its dependencies excluded"),
    ("@solana/wallet-adapter-base", "0.9.28", ("lib/esm/",), "ESM build, all modules"),
    ("@solana/wallet-adapter-react", "0.15.40", ("lib/esm/",), "ESM build, all modules"),
    ("@solana/wallet-adapter-react-ui", "0.9.40", ("lib/esm/", "styles.css"), "ESM build + styles.css"),
    ("@solana/wallet-standard-wallet-adapter-react", "1.1.7", ("lib/esm/",), "ESM build, all modules"),
)

SCRIPT = re.compile(r'<script[^>]*\ssrc="([^"]+)"')
STYLESHEET = re.compile(r'<link[^>]*rel="stylesheet"[^>]*href="([^"]+)"|<link[^>]*href="([^"]+)"[^>]*rel="stylesheet"')


def gz(data: bytes) -> int:
    return len(gzip.compress(data, compresslevel=9, mtime=0))


def br(data: bytes) -> int | None:
    return len(brotli.compress(data, quality=11)) if brotli is not None else None


def sizes(data: bytes) -> tuple[int, int, int | None]:
    return len(data), gz(data), br(data)


def measure_weight(server: Server) -> tuple[Table, dict[str, int]]:
    trader = Trader(server)
    server.seed(trader.wallet, ORDERS)
    trader.sign_in()
    page = trader.get("/orders/").content
    fragment = trader.get("/orders/active", htmx=True).content
    html = page.decode()
    scripts = SCRIPT.findall(html)
    styles = [a or b for a, b in STYLESHEET.findall(html)]
    columns = ["resource", "raw", "gzip -9"] + (["brotli -11"] if brotli else []) + ["goal", "met"]
    table = Table(f"Page weight: signed-in dashboard with {ORDERS} active orders", columns)

    def row(name: str, data: bytes, goal: str = "", ok: bool | None = None) -> None:
        raw, gzipped, brotlied = sizes(data)
        cells = [name, kb(raw), kb(gzipped)] + ([kb(brotlied)] if brotli else []) + [goal, met(ok)]
        table.add(*cells)

    row("HTML /orders/ (page shell)", page)
    row(f"HTML /orders/active (fragment, {ORDERS} orders)", fragment)
    for href in styles:
        row(f"CSS {href}", fetch(trader, href))
    shipped = b""
    bridge_gz = 0
    totals: dict = {"js_gz": 0, "page_files": [*styles, *scripts]}
    for src in scripts:
        data = fetch(trader, src)
        if "/sandbox/" in src:
            row(f"JS {src} (sandbox mode only, not shipped)", data)
            continue
        shipped += data
        totals["js_gz"] += gz(data)
        if src.rsplit("/", 1)[-1].startswith("bridge"):
            bridge_gz = gz(data)
            row(f"JS {src} (the wallet bridge)", data, f"≤ {kb(BRIDGE_GOAL)} gz", bridge_gz <= BRIDGE_GOAL)
        else:
            row(f"JS {src}", data)
    table.add(
        "All JS the page loads (files compressed one by one)",
        kb(len(shipped)),
        kb(totals["js_gz"]),
        *([kb(sum(br(fetch(trader, s)) for s in scripts if "/sandbox/" not in s))] if brotli else []),
        f"≤ {kb(JS_GOAL)} gz",
        met(totals["js_gz"] <= JS_GOAL),
    )
    table.notes += [
        "Scripts and stylesheets are the ones the page's <script src> and <link rel=stylesheet> tags load "
        "(htmx is django-htmx's vendored copy); sizes are compressed here at maximum level, as whitenoise "
        "pre-compresses them in production.",
    ]
    if brotli is None:
        table.notes.append("brotli not installed: gzip only.")
    return table, totals


IMPORT = re.compile(r"""\b(?:from|import)\s*["'](\.{1,2}/[^"']+)["']""")
ENCODINGS = ("identity", "gzip", "br")


def measure_sent(page_files: list[str]) -> Table:
    """The bytes a browser is sent for the page's scripts and stylesheets in production: the
    static files collected with the production storage (hashed, gzip and — with the Brotli
    package — br copies written by whitenoise) into a temporary folder, served by whitenoise and
    asked for with each Accept-Encoding; modules the scripts import are followed and counted."""
    from django.conf import settings
    from django.core.management import call_command
    from django.test import override_settings
    from whitenoise import WhiteNoise

    production = {**settings.STORAGES, "staticfiles": {"BACKEND": "dashboard.storage.StaticStorage"}}
    table = Table(
        "Bytes a browser is sent for the page's static files in production (whitenoise)",
        ["file", "identity", "gzip", "br", "goal", "met"],
    )
    with (
        tempfile.TemporaryDirectory(prefix="bench-static-") as tmp,
        override_settings(STATIC_ROOT=tmp, STORAGES=production),
    ):
        call_command("collectstatic", interactive=False, verbosity=0)
        hashed = json.loads((Path(tmp) / "staticfiles.json").read_text())["paths"]
        logical = {path: name for name, path in hashed.items()}
        served = WhiteNoise(None, root=tmp, prefix="static/")
        wanted = [f.removeprefix(settings.STATIC_URL) for f in page_files if "/sandbox/" not in f]
        seen: list[str] = []
        while wanted:
            name = wanted.pop(0)
            if name in seen or name not in hashed:
                continue
            seen.append(name)
            if name.endswith(".js"):  # modules import each other by their hashed names
                text = (Path(tmp) / hashed[name]).read_text()
                folder = Path(hashed[name]).parent.as_posix()
                imports = [os.path.normpath(f"{folder}/{imported}") for imported in IMPORT.findall(text)]
                wanted += [logical[path] for path in imports if path in logical]
        sizes = {name: [sent(served, f"/static/{hashed[name]}", e) for e in ENCODINGS] for name in seen}
    for name, (raw, gzipped, brotlied) in sizes.items():
        table.add(name, kb(raw), f"{gzipped:,} B", f"{brotlied:,} B", "", met(None))
    js = [size for name, size in sizes.items() if name.endswith(".js")]
    totals = [sum(column) for column in zip(*js, strict=True)] if js else [0, 0, 0]
    table.add(
        "All JavaScript the page loads",
        kb(totals[0]),
        f"{totals[1]:,} B ({kb(totals[1])})",
        f"{totals[2]:,} B ({kb(totals[2])})",
        f"≤ {kb(JS_GOAL)} as sent over https (br)",
        met(totals[2] <= JS_GOAL),
    )
    table.notes += [
        "Measured on the wire of whitenoise's own WSGI app, as production serves them: collectstatic with "
        "the production storage writes each file's .gz and .br copies (Brotli quality 11); a browser that "
        "accepts br (Chromium, Firefox and Safari over https, so every browser in production) gets the .br, "
        "others the .gz (e.g. over plain http). HTML is sent uncompressed by the dashboard (a TLS proxy may "
        "compress it).",
        f"gzip, for browsers that do not accept br: {totals[1]:,} bytes, "
        + (f"within {kb(JS_GOAL)}." if totals[1] <= JS_GOAL else f"{totals[1] - JS_GOAL:,} bytes over {kb(JS_GOAL)}."),
    ]
    return table


def sent(served: object, path: str, encoding: str) -> int:
    """Body bytes whitenoise answers for `path` when the browser accepts `encoding`."""
    headers: list[tuple[str, str]] = []

    def start_response(status: str, response_headers: list[tuple[str, str]], *_: object) -> None:
        assert status.startswith("200"), (path, status)
        headers.extend(response_headers)

    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": path, "HTTP_ACCEPT_ENCODING": encoding}
    body = served(environ, start_response)  # type: ignore[operator]
    try:
        size = sum(len(chunk) for chunk in body)
    finally:
        getattr(body, "close", lambda: None)()
    used = dict((k.lower(), v) for k, v in headers).get("content-encoding", "identity")
    assert used == encoding, (path, encoding, used)
    return size


def fetch(trader: Trader, path: str) -> bytes:
    reply = trader.http.get(f"{trader.server.url}{path}", headers={"Accept-Encoding": "identity"}, timeout=10)
    reply.raise_for_status()
    return reply.content


def measure_npm(dashboard_js_gz: int) -> tuple[Table | None, str]:
    """gzip sizes of web3.js and the wallet adapters, fetched with `npm pack`; (table, why skipped)."""
    npm = shutil.which("npm")
    if npm is None:
        return None, "npm comparison skipped: npm is not installed (apt-get install npm)."
    table = Table(
        "For comparison: what a typical Solana dApp ships for its wallet stack (from the npm registry)",
        ["package", "file(s)", "what it is", "raw", "gzip -9"],
    )
    stack_gz = 0
    with tempfile.TemporaryDirectory(prefix="bench-npm-") as tmp:
        wanted = sorted({f"{name}@{version}" for name, version, _files, _what in NPM_PACKAGES})
        try:
            subprocess.run(
                [npm, "pack", *wanted, "--pack-destination", tmp, "--silent"],
                cwd=tmp,
                check=True,
                timeout=180,
                capture_output=True,
            )
        except (subprocess.SubprocessError, OSError) as exc:
            detail = getattr(exc, "stderr", b"") or b""
            return None, f"npm comparison skipped: `npm pack` failed ({type(exc).__name__}: {detail[-200:]!r})."
        for name, version, files, what in NPM_PACKAGES:
            tarball = Path(tmp) / f"{name.lstrip('@').replace('/', '-')}-{version}.tgz"
            data = read_from_tarball(tarball, files)
            if not data:
                return None, f"npm comparison skipped: {files} not found in {tarball.name}."
            raw, gzipped = len(data), gz(data)
            if files != ("lib/index.browser.esm.js",):  # count web3.js once, as its full bundle
                stack_gz += gzipped
            table.add(f"{name}@{version}", ", ".join(files), what, kb(raw), kb(gzipped))
    table.add(
        "Wallet stack total (web3.js bundle + 4 adapter packages)",
        "",
        "",
        "",
        kb(stack_gz),
    )
    table.add("This dashboard: all JS", "", "htmx + bridge + orders", "", kb(dashboard_js_gz))
    table.notes += [
        f"The dashboard ships {dashboard_js_gz / stack_gz:.0%} of that stack's compressed JavaScript, "
        "before counting React and @wallet-standard packages the adapters also need.",
        "Adapter ESM builds are unminified (a bundler would shrink them ~30-50 %); web3.js's IIFE bundle "
        "is minified and includes its dependencies.",
    ]
    return table, ""


def read_from_tarball(tarball: Path, files: tuple[str, ...]) -> bytes:
    """The named files (a trailing '/' means every .js/.mjs/.css file in it), concatenated."""
    out = io.BytesIO()
    with tarfile.open(tarball, "r:gz") as archive:
        for member in sorted(archive.getmembers(), key=lambda m: m.name):
            if not member.isfile():
                continue
            path = member.name.removeprefix("package/")
            for wanted in files:
                whole_dir = wanted.endswith("/") and path.startswith(wanted)
                if (whole_dir and path.endswith((".js", ".mjs", ".css"))) or path == wanted:
                    handle = archive.extractfile(member)
                    if handle is not None:
                        out.write(handle.read())
    return out.getvalue()
