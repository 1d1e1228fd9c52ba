"""Page weight of the dashboard, beside what a typical Solana dApp ships for its wallet stack."""

from __future__ import annotations

import gzip
import io
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from bench.report import Table, kb, met
from bench.server import Server, Trader
from tests.servers import ROOT

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


def collect_static(server: Server) -> None:
    """`manage.py collectstatic` with the server's settings, before it starts (as in production):
    whitenoise then serves each file's compressed copies."""
    done = subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"],
        cwd=ROOT,
        env=server.env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    if done.returncode:
        raise RuntimeError(f"collectstatic failed:\n{done.stdout}{done.stderr}")


def measure_weight(server: Server) -> tuple[Table, dict[str, int]]:
    """Every resource of the signed-in page: its size, and the bytes the server sends to a browser
    asking for gzip, and for Brotli (Content-Encoding as answered; static files are served by
    whitenoise from the compressed copies collectstatic writes — `.br` ones when the Brotli package
    is installed)."""
    trader = Trader(server)
    server.seed(trader.wallet, ORDERS)
    trader.sign_in()
    html = trader.get("/orders/").content.decode()
    scripts = SCRIPT.findall(html)
    styles = [a or b for a, b in STYLESHEET.findall(html)]
    columns = ["resource", "raw", "sent (gzip asked)", "sent (Brotli asked)", "goal", "met"]
    table = Table(f"Page weight as sent: signed-in dashboard with {ORDERS} active orders", columns)

    def row(name: str, path: str, htmx: bool = False, goal: str = "", limit: int | None = None) -> dict[str, int]:
        sent = {encoding: sent_bytes(trader, path, encoding, htmx) for encoding in ("identity", "gzip", "br")}
        ok = None if limit is None else sent["gzip"][0] <= limit
        table.add(name, kb(sent["identity"][0]), as_sent(*sent["gzip"]), as_sent(*sent["br"]), goal, met(ok))
        return {encoding: size for encoding, (size, _coding) in sent.items()}

    row("HTML /orders/ (page shell)", "/orders/")
    row(f"HTML /orders/active (fragment, {ORDERS} orders)", "/orders/active", htmx=True)
    for href in styles:
        row(f"CSS {href}", href)
    totals = {"js_gz": 0, "js_br": 0, "js_raw": 0}
    for src in scripts:
        if "/sandbox/" in src:
            row(f"JS {src} (sandbox mode only, not shipped)", src)
            continue
        if src.rsplit("/", 1)[-1].startswith("bridge"):
            sent = row(f"JS {src} (the wallet bridge)", src, goal=f"≤ {kb(BRIDGE_GOAL)} gz", limit=BRIDGE_GOAL)
        else:
            sent = row(f"JS {src}", src)
        totals["js_raw"] += sent["identity"]
        totals["js_gz"] += sent["gzip"]
        totals["js_br"] += sent["br"]
    table.add(
        "All JS the page loads (one response per file)",
        kb(totals["js_raw"]),
        f"{kb(totals['js_gz'])} ({totals['js_gz']:,} bytes)",
        f"{kb(totals['js_br'])} ({totals['js_br']:,} bytes)",
        f"≤ {kb(JS_GOAL)} gz",
        met(totals["js_gz"] <= JS_GOAL),
    )
    table.notes += [
        "Bytes as sent: the body of the server's answer (Content-Length) to a request with Accept-Encoding "
        "gzip, then br; `(not compressed)` when the server answered without a Content-Encoding. Static files "
        "come from `collectstatic` (run by the bench, as in production): whitenoise sends their .gz copy, "
        "or their .br copy when the Brotli package made one. HTML is sent as rendered: the dashboard does "
        "not compress pages itself (compressing pages that carry secrets invites BREACH); a proxy in front "
        "may.",
        "Scripts and stylesheets are the ones the page's <script src> and <link rel=stylesheet> tags load "
        "(htmx is django-htmx's vendored copy).",
    ]
    return table, totals


def sent_bytes(trader: Trader, path: str, encoding: str, htmx: bool = False) -> tuple[int, str]:
    """(bytes of the body as sent, its Content-Encoding) when the browser accepts `encoding`."""
    headers = {"Accept-Encoding": encoding, **({"HX-Request": "true"} if htmx else {})}
    reply = trader.http.get(f"{trader.server.url}{path}", headers=headers, timeout=10, stream=True)
    reply.raise_for_status()
    body = reply.raw.read(decode_content=False)
    return len(body), reply.headers.get("Content-Encoding", "")


def as_sent(size: int, coding: str) -> str:
    return f"{kb(size)}" + ("" if coding in ("gzip", "br") else " (not compressed)")


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
