"""gunicorn's settings for the dashboard: `gunicorn dashboard.wsgi --config gunicorn.conf.py …`.

The README's production command and `make run` use it; flags on the command line (workers,
threads, bind) are given there. Two things gunicorn's own defaults get wrong for this site:

* gunicorn believes `X-Forwarded-Proto: https` from 127.0.0.1 whatever the site is told, so a
  request from this host could pass for https. Here it believes such headers only when the
  operator says a proxy sets them (`DJANGO_TRUST_PROXY=1`, the switch Django reads too), from the
  addresses in `FORWARDED_ALLOW_IPS` (gunicorn's own variable; default 127.0.0.1 and ::1), and
  then only `X-Forwarded-Proto` — the one header the README tells the proxy to set (and to strip
  from clients). gunicorn's default would also believe `X-Forwarded-Ssl: on` and
  `X-Forwarded-Protocol: ssl`, which a proxy that only manages `X-Forwarded-Proto` passes through.
* Every master on a host opens its control socket (for `gunicornc`) at one default path, so a
  second instance takes over the first one's. Here each master names its socket after the first
  address it listens on, e.g. `$XDG_RUNTIME_DIR/dca-dashboard-127.0.0.1-8000.ctl` (or under
  `~/.gunicorn/` without XDG_RUNTIME_DIR); `--control-socket PATH` still wins.
"""

from __future__ import annotations

import os
import re

from gunicorn.config import ControlSocket

TRUST_PROXY = os.environ.get("DJANGO_TRUST_PROXY", "").strip().lower() in {"1", "true", "yes", "on"}

if TRUST_PROXY:
    forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
    secure_scheme_headers: dict[str, str] = {"X-FORWARDED-PROTO": "https"}
else:
    forwarded_allow_ips = ""  # no peer is a trusted proxy …
    secure_scheme_headers = {}  # … and no header makes a request https (unix sockets too)


def control_socket_path(default: str, bind: str) -> str:
    """The default control socket's folder, with a file named after the bind address."""
    name = re.sub(r"[^A-Za-z0-9.-]+", "-", bind).strip("-") or str(os.getpid())
    return os.path.join(os.path.dirname(default), f"dca-dashboard-{name}.ctl")


def on_starting(server) -> None:
    if server.cfg.control_socket == ControlSocket.default:  # not chosen with --control-socket
        server.cfg.set("control_socket", control_socket_path(ControlSocket.default, server.cfg.bind[0]))
