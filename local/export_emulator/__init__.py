"""The export emulator: writes RDS/Aurora snapshot exports to S3 as AWS writes them.

Used by the Glue job's tests (fixtures), the bench and `make demo`. moto records StartExportTask but writes nothing to
S3 (docs/aws-facts.md "moto quirks"); this package fills the gap. Every layout and type rule comes from
docs/aws-facts.md, sections "The export in S3" and "Type conversion done by the export", which cite the AWS pages:
- https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora-export-snapshot.html
  (Considerations: FileNames, skipped tables, path character replacement)
- https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_ExportSnapshot.data-types.html

One module per reason to change (import from the module; this package re-exports nothing):
- `source`: SourceTable / SourceColumn, the source database's tables as the export sees them, and the engines.
- `conversion`: source type -> exported Parquet type, value converters, originalType words (`exported_type`,
  `exported_table`).
- `layout`: S3 path names, table folders, skipped tables, part files, their Parquet encoding and row groups.
- `metadata`: the export_info and export_tables_info JSON documents.
- `render`: `render_export` composes all of the above into {S3 key: bytes} (pure); `write_export` puts them.
- `task`: `complete_export`, what RDS does after StartExportTask for a task moto knows about.
Reading a real PostgreSQL into SourceTables is local/postgres/pg_source.py, not part of the emulator.

What AWS does not document, and what the emulator therefore chose, is marked UNVERIFIED next to the code (text
formats of PostgreSQL values converted to STRING, the JSON metadata beyond the keys quoted in docs/aws-facts.md,
`_SUCCESS` placement, what an empty table writes). Readers of exports must not depend on those. The fidelity limits
of each part are listed in its module; those of the whole export: nothing of an export in progress (no partial
objects while "IN_PROGRESS"), no export-wide failure, no LOB >= 500 MB / row >= 2 GB behaviour, no `ExportOnly`
filtering (the caller passes the tables).
"""
