"""The tests' PostgreSQL: find the throwaway server (scripts/test-postgres.sh), make and drop one database per
cost-guardian process, and read or write rows in it with /usr/bin/psql (no Python driver needed).

The server's URL comes from CG_TEST_POSTGRES_URL (set it by hand to run a test file against any server you own), else
from the file CG_TEST_POSTGRES_URL_FILE names (ctest sets that for the files that need it; the postgres.start test
writes the file). It names the maintenance database; each Server gets a database of its own in it.

SQL given to query() is written for SQLite's sqlite3 module (`?` placeholders) and must otherwise be portable: quote
the column `user` ("user"), write TRUE rather than a bare 1. Rows come back as tuples of JSON-typed values (integers,
strings, None, booleans), as sqlite3 gives them for the same schema.
"""
import json
import os
import secrets
import subprocess
import urllib.parse

PSQL = "/usr/bin/psql"


class PostgresUnavailable(RuntimeError):
    """No test server to run a PostgreSQL test against: a failure of the run, never a reason to skip."""


def maintenance_url():
    """The URL of the test server's maintenance database, or PostgresUnavailable saying why there is none."""
    url = os.environ.get("CG_TEST_POSTGRES_URL")
    if url:
        return url
    path = os.environ.get("CG_TEST_POSTGRES_URL_FILE")
    if not path:
        raise PostgresUnavailable(
            "no PostgreSQL test server: neither CG_TEST_POSTGRES_URL nor CG_TEST_POSTGRES_URL_FILE is set. Run the "
            "tests through ctest (its postgres fixture starts one), or start one by hand: "
            "scripts/test-postgres.sh start /tmp/cg-pg-state && "
            "export CG_TEST_POSTGRES_URL=$(cat /tmp/cg-pg-state/url)")
    try:
        with open(path) as f:
            url = f.read().strip()
    except FileNotFoundError:
        url = ""
    if not url:
        raise PostgresUnavailable(
            f"no PostgreSQL test server: {path} is missing or empty (the ctest fixture postgres.start did not run or "
            "failed: see its output; scripts/setup.sh --test installs the server)")
    return url


def database_url(url, dbname):
    """`url` naming database `dbname` instead, with the same host, port, user and options."""
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit(parts._replace(path="/" + dbname))


def psql(url, sql, timeout=600):
    """Runs the SQL script (read from stdin, stopping at the first error); returns what psql printed (-At)."""
    res = subprocess.run([PSQL, "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-d", url, "-f", "-"], input=sql,
                         capture_output=True, text=True, timeout=timeout)
    if res.returncode != 0:
        shown = sql if len(sql) < 2000 else sql[:2000] + "…"
        raise RuntimeError(f"psql failed ({res.returncode}): {res.stderr.strip()}\nSQL: {shown}")
    return res.stdout


def create_database():
    """A new, empty database on the test server: (name, URL)."""
    base = maintenance_url()
    name = "cg_" + secrets.token_hex(6)
    psql(base, f'CREATE DATABASE "{name}"')
    return name, database_url(base, name)


def drop_database(name):
    # FORCE: a process that did not exit cleanly may still hold connections.
    psql(maintenance_url(), f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def literal(value):
    """A SQL literal for value. Everything but NULL is a quoted literal of unknown type, which PostgreSQL converts
    to the type the context needs (integer, bigint, boolean, text, jsonb): the helpers need not know the schema."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        value = "true" if value else "false"
    text = str(value)
    if "\x00" in text:
        raise ValueError("PostgreSQL text cannot hold NUL characters")
    return "'" + text.replace("'", "''") + "'"


def bind(sql, params=()):
    """sql with each `?` placeholder outside a quoted literal or identifier replaced by literal(param)."""
    out, quote, it = [], None, iter(params)
    for ch in sql:
        if quote:
            quote = None if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "?":
            try:
                out.append(literal(next(it)))
            except StopIteration:
                raise ValueError(f"fewer parameters than placeholders in: {sql}") from None
            continue
        out.append(ch)
    if next(it, StopIteration) is not StopIteration:
        raise ValueError(f"more parameters than placeholders in: {sql}")
    return "".join(out)


class _Pairs(list):
    """A JSON object as psql printed it, key order and repeated keys kept."""


def _plain(value):
    if isinstance(value, _Pairs):
        return {k: _plain(v) for k, v in value}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _rows(url, sql, params):
    # json, not jsonb: keeps the columns in order, and two columns of the same name both.
    wrapped = f"SELECT coalesce(json_agg(q), '[]') FROM (\n{bind(sql.rstrip().rstrip(';'), params)}\n) AS q"
    return json.loads(psql(url, wrapped), object_pairs_hook=_Pairs)


def query(url, sql, params=()):
    """Every row of a SELECT, as a list of tuples in column order."""
    return [tuple(_plain(v) for _, v in row) for row in _rows(url, sql, params)]


def query_dicts(url, sql, params=()):
    """Every row of a SELECT, as a list of {column: value}."""
    return [{k: _plain(v) for k, v in row} for row in _rows(url, sql, params)]
