"""Page weight of the dashboard, beside what a typical Solana dApp ships for its wallet stack."""

from __future__ import annotations

import gzip
import io
import json
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from bench.report import Table, kb, met
from bench.server import Server, Trader
from tests.servers import ROOT, clean_env

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


COLLECT = """
import sys
import django
django.setup()
from django.core.management import call_command
from django.test.utils import override_settings
with override_settings(STATIC_ROOT=sys.argv[1]):
    call_command("collectstatic", interactive=False, verbosity=0)
"""


@dataclass(frozen=True)
class Collected:
    """What production's `collectstatic` leaves: hashed files with their .gz (and, with the Brotli
    package installed, .br) copies, which whitenoise sends to browsers that accept them."""

    root: Path
    manifest: dict[str, str]  # logical name → hashed name

    def sizes(self, url: str) -> tuple[int, int | None, int | None]:
        """(raw, gzip as sent, Brotli as sent — None when there is no such copy) of a /static/ URL."""
        logical = url.split("/static/", 1)[1].split("?", 1)[0]
        path = self.root / self.manifest.get(logical, logical)

        def size(suffix: str) -> int | None:
            copy = path.with_name(path.name + suffix)
            return copy.stat().st_size if copy.exists() else None

        return path.stat().st_size, size(".gz"), size(".br")


def collect_static(tmp: Path) -> Collected:
    """Production's `collectstatic` (DEBUG and sandbox off: hashed names, compressed copies) into a
    temporary folder."""
    root = tmp / "static-production"
    env = clean_env(DJANGO_SECRET_KEY="bench-" + "x" * 50, DJANGO_ALLOW_PLAIN_HTTP="1")
    env["DATABASE_URL"] = f"sqlite:///{tmp / 'collect.sqlite3'}"
    done = subprocess.run(
        [sys.executable, "-c", COLLECT, str(root)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    if done.returncode:
        raise RuntimeError(f"collectstatic failed:\n{done.stdout}{done.stderr}")
    manifest = json.loads((root / "staticfiles.json").read_text())["paths"]
    return Collected(root, manifest)


def measure_weight(server: Server, static: Collected) -> tuple[Table, dict[str, int]]:
    """Every resource of the signed-in page: its size, and the bytes a browser is sent when it
    accepts gzip, and Brotli. Static files: the compressed copies production's collectstatic
    writes, which whitenoise sends (`.br` ones only with the Brotli package installed). HTML: as
    the dashboard sends it (it does not compress pages)."""
    trader = Trader(server)
    server.seed(trader.wallet, ORDERS)
    trader.sign_in()
    page = trader.get("/orders/").content
    html = page.decode()
    scripts = SCRIPT.findall(html)
    styles = [a or b for a, b in STYLESHEET.findall(html)]
    columns = ["resource", "raw", "sent, gzip", "sent, Brotli", "goal", "met"]
    table = Table(f"Page weight as sent: signed-in dashboard with {ORDERS} active orders", columns)
    fragment = trader.get("/orders/active", htmx=True).content
    for name, body in (("HTML /orders/ (page shell)", page), (f"HTML /orders/active ({ORDERS} orders)", fragment)):
        proxied = f"not compressed ({kb(gz(body))} if a proxy gzips)"
        table.add(name, kb(len(body)), proxied, "not compressed", "", met(None))

    def row(name: str, url: str, goal: str = "", limit: int | None = None) -> tuple[int, int, int]:
        raw, gzipped, brotlied = static.sizes(url)
        gzipped = raw if gzipped is None else gzipped  # whitenoise sends the file itself then
        brotli = gzipped if brotlied is None else brotlied  # without a .br copy: gzip
        ok = None if limit is None else gzipped <= limit
        table.add(name, kb(raw), kb(gzipped), kb(brotli) + ("" if brotlied else " (no .br: gzip)"), goal, met(ok))
        return raw, gzipped, brotli

    for href in styles:
        if "/sandbox/" not in href:
            row(f"CSS {href}", href)
    totals = {"js_raw": 0, "js_gz": 0, "js_br": 0}
    for src in scripts:
        if "/sandbox/" in src:
            continue  # the sandbox wallet: sandbox mode only, never collected for production
        bridge = src.rsplit("/", 1)[-1].startswith("bridge")
        if bridge:
            raw, gzipped, brotli = row(f"JS {src} (the wallet bridge)", src, f"≤ {kb(BRIDGE_GOAL)} gz", BRIDGE_GOAL)
        else:
            raw, gzipped, brotli = row(f"JS {src}", src)
        totals["js_raw"] += raw
        totals["js_gz"] += gzipped
        totals["js_br"] += brotli
    table.add(
        "All JS the page loads (one response per file)",
        kb(totals["js_raw"]),
        f"{kb(totals['js_gz'])} ({totals['js_gz']:,} bytes)",
        f"{kb(totals['js_br'])} ({totals['js_br']:,} bytes)",
        f"≤ {kb(JS_GOAL)} gz",
        met(totals["js_gz"] <= JS_GOAL),
    )
    table.notes += [
        "Static files: the bytes of the compressed copies production's `collectstatic` writes (whitenoise, "
        "DEBUG and sandbox off), which is what a browser accepting gzip (every browser), or Brotli (every "
        "current browser, over https), is sent. Brotli copies exist only when the Brotli package is installed; "
        "without one the browser gets the gzip copy.",
        "HTML: as the dashboard sends it, uncompressed (compressing pages that carry secrets invites BREACH); "
        "a proxy in front may compress it (gzip -9 size in brackets). Scripts and stylesheets are the ones the "
        "page's <script src> and <link rel=stylesheet> tags load (htmx is django-htmx's vendored copy); the "
        "sandbox wallet's (sandbox mode only) are left out.",
    ]
    return table, totals


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
