"""`make bench` (`python -m bench`): the dashboard measured against its sandbox upstream.

Starts gunicorn on a fresh SQLite database in a temporary directory — and, when DATABASE_URL names
a PostgreSQL server, on a scratch database `<name>_bench` there too (created and dropped by the
bench; REDIS_URL, when set, is its shared cache) — drives it over real HTTP on loopback (sign-in
with a solders keypair, the orders panel cold and warm, cancels), profiles a cold panel in-process
(pyinstrument), times the cancel path in-process, weighs the page as sent, works out the traders
each Jupiter plan serves from the measured calls, prints one table per measurement and writes
`bench/RESULTS.md`.
"""
