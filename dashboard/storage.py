"""Static files in production: hashed, compressed, and only the ones the pages load."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import zopfli.gzip
from django.contrib.staticfiles import finders, utils
from django.core.files.storage import Storage
from whitenoise.compress import Compressor
from whitenoise.storage import CompressedManifestStaticFilesStorage

# The files of other apps the pages load: `{% htmx_script %}` in templates/base.html (htmx 2,
# minified; django-htmx's debug script only with DEBUG on, served from the app then). django-htmx
# also ships htmx 4, unminified builds and extensions whose JSDoc `import("…")` types the manifest
# storage would take for module imports and fail on.
THIRD_PARTY_FILES = frozenset({"django_htmx/htmx-2.min.js"})
OWN_APPS = "dashboard"  # this project's apps (dashboard, dashboard.sandbox): every file


class ZopfliCompressor(Compressor):
    """whitenoise's compressor, its `.gz` files made by Zopfli: the same gzip format every browser
    reads, 3–5 % smaller than gzip -9 (what a browser without Brotli, or on plain http, is sent).
    Deterministic like whitenoise's own (no timestamp); slower, once, at collectstatic."""

    @staticmethod
    def compress_gzip(data: bytes) -> bytes:
        return zopfli.gzip.compress(data)


class StaticStorage(CompressedManifestStaticFilesStorage):
    """Hashed, compressed static files; ES module imports point at the hashed names too, so
    each module loads under one URL (one module state)."""

    support_js_module_import_aggregation = True

    def create_compressor(self, **kwargs: Any) -> Compressor:
        return ZopfliCompressor(**kwargs)


class AppDirectoriesFinder(finders.AppDirectoriesFinder):
    """Django's app finder, collecting from other apps only `THIRD_PARTY_FILES`."""

    def list(self, ignore_patterns: list[str] | None) -> Iterator[tuple[str, Storage]]:
        for app, storage in self.storages.items():
            if not storage.exists(""):
                continue
            own = app == OWN_APPS or app.startswith(OWN_APPS + ".")
            for path in utils.get_files(storage, ignore_patterns):
                if own or path in THIRD_PARTY_FILES:
                    yield path, storage
