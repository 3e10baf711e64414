"""Reads a real PostgreSQL database into `SourceTable`s (local/export_emulator/source.py), as a snapshot export would
see it.

`make demo --source postgresql://...` uses this to export the user's own tables instead of the sample.
Schema comes from the catalog (pg_class, pg_attribute, pg_type), data from COPY, all inside one
REPEATABLE READ READ ONLY transaction, so the tables are one consistent picture like a snapshot.

Which tables (RDS documents none of this beyond the skip rules; our choices):
- Ordinary tables (relkind 'r') of every schema except pg_catalog, information_schema and pg_toast*
  (or of the `schemas` given). Leaf partitions are ordinary tables and are exported each on its own.
- Partitioned parents (relkind 'p') are exported as AWS documents and a field report saw (docs/aws-facts.md
  "Partitioned tables"): the parent's folder holds every leaf partition's rows, one batch per leaf
  (SourceTable.batch_rows), beside each leaf's own folder. The export holds those rows twice; the Glue job tells
  the relation from the footers and marks the partitions (glue/sor_job/partitioned.py). Views, materialized views
  and foreign tables are not tables with storage of their own and are left out.
- relpersistence 'u' / 't' -> SourceTable.persistence "unlogged" / "temporary": the export skips them
  (docs/aws-facts.md "The export in S3"). Their rows, like those of any table the export skips
  (`layout.skip_reason`), are not read at all. Temporary tables of other sessions show up in their
  pg_temp_N schema.

Column types (SourceColumn.source_type) are `format_type(atttypid, atttypmod)`, with their modifiers
("timestamp with time zone", "numeric(12,2)", "character varying(40)", "text[]"); the export emulator derives the
export's originalTypeMappings from them (information_schema words without modifiers), with:
- domains spelled "domain <name> over <base type>" (the base resolved recursively, with its modifier): AWS's
  table lists DOMAIN as exported as a STRING whatever its base, so a domain's values are read as text, and the
  conversion reports the base's information_schema word as originalType (as information_schema does);
- enums and composites -> "USER-DEFINED" (as information_schema.columns.data_type says), and ranges
  whose name the conversion does not know as a range -> "USER-DEFINED";
- types AWS's table does not list (extension types such as hstore or PostGIS geometry, the object identifier types
  it marks N/A, ...): `unsupported="error"` (default) raises one PgSourceError naming every such
  schema.table.column with its type, and the flag that exports them anyway (`--unsupported-as-text`);
  `unsupported="text"` exports the column as "text", the server's text form as a STRING, the way
  docs/aws-facts.md says the export writes every non-numeric type. The originalType recorded in the export then
  says "text", not the real type (a documented deviation). Every type AWS's table lists (bit, bit varying,
  text search, the geometric types, pg_lsn, ...) is exported as AWS says, no flag needed.

Values: COPY ... TO STDOUT in text format, typed by psycopg (`copy.set_types` + `copy.rows()`):
- columns the export writes as native Parquet types (smallint, integer, bigint, real, double precision,
  boolean, bytea, and domains over them) arrive as int / float / bool / bytes; the text form of a float
  is the shortest exact one (extra_float_digits = 1), so nothing is lost;
- every column the export writes as STRING arrives as PostgreSQL's own output text, which the conversion's
  converters keep as is. Chosen over binary COPY and Python objects because those lose what the
  export's string would say: psycopg turns interval '1 year 2 mons' into 425 days, cannot load
  'infinity' dates or timestamps, re-serialises json (its whitespace and key order), has no loader for
  money, and `::text` casts are no substitute (inet::text adds "/32", char(n)::text drops the padding,
  boolean::text says "true"). The session pins TimeZone=UTC (timestamptz as "...+00", what the conversion
  assumes), DateStyle ISO, IntervalStyle postgres, bytea_output hex; money follows the database's
  lc_monetary, as it would for RDS reading its own snapshot.

Rows are held in memory (the demo renders the export in memory too): on a big database pass `max_rows`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from local.export_emulator.conversion import exported_type
from local.export_emulator.layout import skip_reason
from local.export_emulator.source import POSTGRESQL, SourceColumn, SourceTable

UnsupportedPolicy = Literal["error", "text"]

USER_DEFINED = "USER-DEFINED"
_SYSTEM_SCHEMAS = ("pg_catalog", "information_schema")
_PERSISTENCE = {"p": "permanent", "u": "unlogged", "t": "temporary"}
# Base types the export writes as native Parquet types; loaded by psycopg into Python values.
_NATIVE_OIDS = {
    16: "bool",
    17: "bytea",
    20: "int8",
    21: "int2",
    23: "int4",
    700: "float4",
    701: "float8",
}
_SESSION = {
    "TimeZone": "UTC",
    "DateStyle": "ISO, MDY",
    "IntervalStyle": "postgres",
    "extra_float_digits": "1",
    "bytea_output": "hex",
    "client_encoding": "UTF8",
}


class PgSourceError(ValueError):
    """The source database cannot be read as asked (connection, unknown schema, unsupported type, ...)."""


class UnsupportedTypes(PgSourceError):
    """Columns of types the export does not document; raised once, naming all of them."""

    def __init__(self, columns: Sequence[str]) -> None:
        self.columns = list(columns)
        listed = "; ".join(self.columns)
        super().__init__(
            f"{len(self.columns)} column(s) of types not among the export's documented PostgreSQL conversions: "
            f"{listed}. Add --unsupported-as-text to export them as their text form "
            '(make demo ARGS="--source <connection string> --unsupported-as-text")'
        )


@dataclass(frozen=True)
class CatalogType:
    """A column's type as the catalog gives it: pg_type.typtype ('b' base, 'd' domain, 'e' enum,
    'c' composite, 'r' range, 'm' multirange, 'p' pseudo) and typcategory ('A' for arrays)."""

    oid: int
    text: str  # format_type(oid, typmod)
    typtype: str
    category: str


def describe_dsn(dsn: str) -> str:
    """The connection string without its password, for messages and logs."""
    try:
        params = conninfo_to_dict(dsn)
    except psycopg.ProgrammingError as error:
        raise PgSourceError(f"not a PostgreSQL connection string: {error}") from None
    params.pop("password", None)
    return make_conninfo(**{k: v for k, v in params.items() if v is not None})


@contextlib.contextmanager
def _connect(dsn: str, connect_timeout: int) -> Iterator[psycopg.Connection[Any]]:
    try:
        connection = psycopg.connect(dsn, connect_timeout=connect_timeout)
    except psycopg.Error as error:
        raise PgSourceError(f"cannot connect to PostgreSQL ({describe_dsn(dsn)}): {error}".strip()) from None
    try:
        # One snapshot for the catalog and every COPY: the tables agree with each other, like a snapshot.
        connection.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        connection.read_only = True
        for name, value in _SESSION.items():
            connection.execute("SELECT set_config(%s, %s, false)", (name, value))
        yield connection
    finally:
        with contextlib.suppress(psycopg.Error):  # a broken connection must not hide the error that broke it
            connection.rollback()
        connection.close()


def pg_dsn_database(dsn: str, *, connect_timeout: int = 10) -> str:
    """The database a connection string lands in (current_database(): libpq defaults apply)."""
    with _connect(dsn, connect_timeout) as connection:
        return _scalar(connection, "SELECT current_database()")


def _scalar(connection: psycopg.Connection[Any], query: str, params: Sequence[Any] = ()) -> Any:
    row = connection.execute(query, params).fetchone()
    assert row is not None  # these queries always return one row
    return row[0]


def source_type_of(
    column_type: CatalogType, domains: Mapping[int, CatalogType], *, where: str, unsupported: UnsupportedPolicy
) -> tuple[str, int | None]:
    """(source_type for the export emulator, oid of the native base type or None when the value is read as text).

    `domains` maps a domain's oid to its base type (with the domain's modifier). `where` names the column
    in errors ("schema.table.column").
    """
    seen: set[int] = set()
    resolved = column_type
    while resolved.typtype == "d":
        if resolved.oid in seen or resolved.oid not in domains:
            raise PgSourceError(f"{where}: cannot resolve the base type of domain {resolved.text!r}")
        seen.add(resolved.oid)
        resolved = domains[resolved.oid]
    if resolved is not column_type:
        base, _ = source_type_of(resolved, domains, where=where, unsupported=unsupported)
        return f"domain {column_type.text} over {base}", None  # AWS: DOMAIN is exported as a STRING
    if resolved.category == "A":
        return resolved.text, None  # format_type spells arrays "<element>[]"; exported as STRING
    if resolved.typtype in {"e", "c"}:
        return USER_DEFINED, None
    if _export_knows(resolved.text):
        return resolved.text, resolved.oid if resolved.oid in _NATIVE_OIDS else None
    if resolved.typtype in {"r", "m"}:
        return USER_DEFINED, None  # a user-defined range with a name that does not end in "range"
    if unsupported == "text":
        return "text", None
    raise UnsupportedTypes([f"{where} ({resolved.text})"])


def _export_knows(source_type: str) -> bool:
    try:
        exported_type(POSTGRESQL, source_type)
    except ValueError:
        return False
    return True


# The leaf partitions of a partitioned table, in the order of their names (pg_partition_tree, PostgreSQL 12+).
_LEAVES = """
SELECT t.relid::oid FROM pg_catalog.pg_partition_tree(%s::oid::regclass) t
JOIN pg_catalog.pg_class c ON c.oid = t.relid
WHERE t.isleaf ORDER BY c.relname
"""

_TABLES = """
SELECT c.oid, n.nspname, c.relname, c.relpersistence, c.relkind
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p')
  AND (%(schemas)s::text[] IS NULL OR n.nspname = ANY(%(schemas)s::text[]))
  AND NOT (%(exclude_system)s AND (n.nspname = ANY(%(system)s::text[]) OR n.nspname LIKE 'pg\\_toast%%'))
ORDER BY n.nspname, c.relname
"""

_COLUMNS = """
SELECT a.attrelid, a.attname, a.attnotnull, t.oid, pg_catalog.format_type(a.atttypid, a.atttypmod),
       t.typtype, t.typcategory
FROM pg_catalog.pg_attribute a
JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
WHERE a.attrelid = ANY(%s) AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attrelid, a.attnum
"""

_DOMAINS = """
SELECT d.oid, b.oid, pg_catalog.format_type(d.typbasetype, d.typtypmod), b.typtype, b.typcategory
FROM pg_catalog.pg_type d
JOIN pg_catalog.pg_type b ON b.oid = d.typbasetype
WHERE d.typtype = 'd'
"""


@dataclass
class _Column:
    name: str
    source_type: str
    not_null: bool
    native_oid: int | None


def read_postgres_tables(
    dsn: str,
    *,
    schemas: Sequence[str] | None = None,
    exclude_system: bool = True,
    max_rows: int | None = None,
    batches: int = 1,
    files_per_batch: int = 1,
    unsupported: UnsupportedPolicy = "error",
    connect_timeout: int = 10,
) -> list[SourceTable]:
    """Every table of the database `dsn` connects to, with its rows, ready for `render.render_export`.

    `schemas` limits the read to those schemas (each must exist); `exclude_system` leaves out pg_catalog,
    information_schema and pg_toast*; `max_rows` reads at most that many rows per table (in the order the
    server returns them, no ORDER BY: a sample, not a key range); `batches` and `files_per_batch` are
    copied into every SourceTable. Tables come sorted by schema then name, columns in attnum order.
    """
    if max_rows is not None and max_rows < 0:
        raise PgSourceError("max_rows must be >= 0")
    if unsupported not in {"error", "text"}:
        raise PgSourceError(f"unsupported must be 'error' or 'text', not {unsupported!r}")
    if batches < 1 or files_per_batch < 1:
        raise PgSourceError("batches and files_per_batch must be >= 1")
    with _connect(dsn, connect_timeout) as connection:
        database = _scalar(connection, "SELECT current_database()")
        wanted = list(schemas) if schemas is not None else None
        if wanted is not None:
            present = {r[0] for r in connection.execute("SELECT nspname FROM pg_catalog.pg_namespace").fetchall()}
            missing = [s for s in wanted if s not in present]
            if missing:
                raise PgSourceError(f"database {database!r} has no schema {missing}; it has {sorted(present)}")
        found = connection.execute(
            _TABLES, {"schemas": wanted, "exclude_system": exclude_system, "system": list(_SYSTEM_SCHEMAS)}
        ).fetchall()
        domains = {
            oid: CatalogType(base, text, typtype, category)
            for oid, base, text, typtype, category in connection.execute(_DOMAINS).fetchall()
        }
        columns_of: dict[int, list[tuple[Any, ...]]] = {}
        for row in connection.execute(_COLUMNS, ([r[0] for r in found],)).fetchall():
            columns_of.setdefault(row[0], []).append(row[1:])
        tables, refused = [], []
        parents: list[tuple[SourceTable, list[int]]] = []
        by_oid: dict[int, SourceTable] = {}
        for oid, schema, name, persistence, relkind in found:
            table = SourceTable(
                database=database,
                schema=schema,
                name=name,
                columns=[],
                batches=batches,
                files_per_batch=files_per_batch,
                persistence=_PERSISTENCE.get(persistence, persistence),
            )
            catalog_columns = columns_of.get(oid, [])
            # skip_reason looks at names and persistence only: decide before mapping types and reading rows.
            table.columns = [SourceColumn(row[0], "text") for row in catalog_columns]
            skipped = skip_reason(POSTGRESQL, table) is not None
            try:
                columns = _columns(catalog_columns, domains, f"{schema}.{name}", unsupported, skipped)
            except UnsupportedTypes as error:
                refused += error.columns  # every offending column is named at once, not the first one
                continue
            table.columns = [SourceColumn(c.name, c.source_type, c.not_null) for c in columns]
            if not columns:
                raise PgSourceError(
                    f"table {schema}.{name} has no columns (what RDS exports for it is unknown); "
                    "drop it or pass the other schemas"
                )
            if relkind == "p":  # rows come from its leaves, once they are read
                parents.append((table, [row[0] for row in connection.execute(_LEAVES, (oid,)).fetchall()]))
            elif not skipped:
                table.rows = _copy_rows(connection, schema, name, columns, max_rows)
            by_oid[oid] = table
            tables.append(table)
        for parent, leaves in parents:
            exported = [by_oid[leaf] for leaf in leaves if leaf in by_oid]  # leaves of other schemas stay out
            names = [c.name for c in parent.columns]
            # a partition attached with its columns in another order: its rows are taken in the parent's order
            order = [[[c.name for c in leaf.columns].index(n) for n in names] for leaf in exported]
            parent.rows = [
                tuple(row[i] for i in o) for leaf, o in zip(exported, order, strict=True) for row in leaf.rows
            ]
            parent.batch_rows = tuple(len(leaf.rows) for leaf in exported)
            parent.batches = max(1, len(exported))
            if not exported:
                parent.batch_rows = None
        if refused:
            raise UnsupportedTypes(refused)
        return tables


def _columns(
    rows: list[tuple[Any, ...]],
    domains: Mapping[int, CatalogType],
    where: str,
    unsupported: UnsupportedPolicy,
    skipped: bool,
) -> list[_Column]:
    out, refused = [], []
    for name, not_null, type_oid, text, typtype, category in rows:
        # A table the export skips writes no data: its odd types must not stop the rest of the export.
        policy: UnsupportedPolicy = "text" if skipped else unsupported
        try:
            source_type, native = source_type_of(
                CatalogType(type_oid, text, typtype, category), domains, where=f"{where}.{name}", unsupported=policy
            )
        except UnsupportedTypes as error:
            refused += error.columns
            continue
        out.append(_Column(name, source_type, bool(not_null), native))
    if refused:
        raise UnsupportedTypes(refused)
    return out


def _copy_rows(
    connection: psycopg.Connection[Any], schema: str, name: str, columns: list[_Column], max_rows: int | None
) -> list[tuple[Any, ...]]:
    query = sql.SQL("COPY (SELECT {columns} FROM {table}{limit}) TO STDOUT").format(
        columns=sql.SQL(", ").join(sql.Identifier(c.name) for c in columns),
        table=sql.Identifier(schema, name),
        limit=sql.SQL(" LIMIT {}").format(sql.Literal(max_rows)) if max_rows is not None else sql.SQL(""),
    )
    types = [_NATIVE_OIDS[c.native_oid] if c.native_oid is not None else "text" for c in columns]
    try:
        with connection.cursor() as cursor, cursor.copy(query) as copy:
            copy.set_types(types)
            rows = list(copy.rows())
    except psycopg.Error as error:
        raise PgSourceError(f"cannot read {schema}.{name}: {error}".strip()) from None
    return rows
