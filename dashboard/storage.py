"""Static files in production: hashed, compressed, and only the ones the pages load."""

from __future__ import annotations

from collections.abc import Iterator

from django.contrib.staticfiles import finders, utils
from django.core.files.storage import Storage
from whitenoise.storage import CompressedManifestStaticFilesStorage

# The files of other apps the pages load: `{% htmx_script %}` in templates/base.html (htmx 2,
# minified; django-htmx's debug script only with DEBUG on, served from the app then). django-htmx
# also ships htmx 4, unminified builds and extensions whose JSDoc `import("…")` types the manifest
# storage would take for module imports and fail on.
THIRD_PARTY_FILES = frozenset({"django_htmx/htmx-2.min.js"})
OWN_APPS = "dashboard"  # this project's apps (dashboard, dashboard.sandbox): every file


class StaticStorage(CompressedManifestStaticFilesStorage):
    """Hashed, compressed static files; ES module imports point at the hashed names too, so
    each module loads under one URL (one module state)."""

    support_js_module_import_aggregation = True


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
