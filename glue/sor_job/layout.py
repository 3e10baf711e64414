"""The SOR layer's fixed names: the partition key, the manifests' root, the Parquet SerDe, the object metadata keys."""

from __future__ import annotations

PARTITION_KEY = "ingestion_date"
MANIFEST_ROOT = "_manifests"
MANAGED_BY = "aurora-sor"
MAX_TABLE_NAME = 128  # well under Glue's 255, short enough to type in Athena
PARQUET_SERDE = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
PARQUET_INPUT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
PARQUET_OUTPUT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"
SOURCE_ETAG_META = "sor-source-etag"  # on every copied object: lets a re-run skip what is already there
