"""`make bench` (`python -m bench`): the dashboard measured against its sandbox upstream.

Starts gunicorn on a fresh SQLite database in a temporary directory, drives it over real HTTP
on loopback (sign-in with a solders keypair, the orders panel, cancels), times the cancel path
in-process, weighs the page, prints one table per measurement and writes `bench/RESULTS.md`.
Uses Redis only when REDIS_URL is set.
"""
