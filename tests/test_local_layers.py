"""The local layers the tests and the demo stand on: the emulator's wire view and Athena-on-DuckDB."""

from __future__ import annotations

import io

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from local.emulator.athena_duckdb import CatalogMismatch, connect, readable_as
from local.emulator.aws_emulator import Fault, s3_operation


@pytest.mark.parametrize(
    ("method", "path", "query", "headers", "expected"),
    [
        ("GET", "/b", {"list-type": ["2"]}, {}, "ListObjectsV2"),
        ("GET", "/b/k/x.parquet", {}, {}, "GetObject"),
        ("HEAD", "/b/k", {}, {}, "HeadObject"),
        ("PUT", "/b/k", {}, {}, "PutObject"),
        ("PUT", "/b/k", {}, {"x-amz-copy-source": "a/b"}, "CopyObject"),
        ("PUT", "/b/k", {"partNumber": ["1"], "uploadId": ["u"]}, {"x-amz-copy-source": "a/b"}, "UploadPartCopy"),
        ("POST", "/b/k", {"uploads": [""]}, {}, "CreateMultipartUpload"),
        ("POST", "/b/k", {"uploadId": ["u"]}, {}, "CompleteMultipartUpload"),
        ("POST", "/b", {"delete": [""]}, {}, "DeleteObjects"),
        ("DELETE", "/b/k", {}, {}, "DeleteObject"),
    ],
)
def test_s3_requests_are_named_as_the_api_reference_names_them(method, path, query, headers, expected):
    assert s3_operation(method, path, query, headers) == expected


def test_the_emulator_counts_bytes_and_injects_faults_with_the_service_error(aws, emulator):
    s3 = aws.client("s3", config=Config(retries={"total_max_attempts": 1}))
    s3.create_bucket(Bucket="bkt", CreateBucketConfiguration={"LocationConstraint": "sa-east-1"})
    s3.put_object(Bucket="bkt", Key="k", Body=b"x" * 1000)
    s3.get_object(Bucket="bkt", Key="k", Range="bytes=0-99")["Body"].read()
    assert [r.response_bytes for r in emulator.calls("s3", "GetObject")] == [100]

    fault = emulator.add_fault(Fault(lambda r: r.operation == "GetObject", status=503, code="SlowDown", times=1))
    with pytest.raises(ClientError) as error:
        s3.get_object(Bucket="bkt", Key="k")
    assert error.value.response["Error"]["Code"] == "SlowDown"
    assert fault.hits == 1
    assert s3.get_object(Bucket="bkt", Key="k")["Body"].read() == b"x" * 1000  # only once

    glue = aws.client("glue", config=Config(retries={"total_max_attempts": 1}))
    emulator.add_fault(Fault(lambda r: r.service == "glue", status=400, code="ThrottlingException", times=1))
    with pytest.raises(ClientError) as glue_error:
        glue.get_databases()
    assert glue_error.value.response["Error"]["Code"] == "ThrottlingException"


def _parquet(table: pa.Table) -> bytes:
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    return buffer.getvalue()


def _catalog(aws, columns, files):
    s3, glue = aws.client("s3"), aws.client("glue")
    s3.create_bucket(Bucket="sor", CreateBucketConfiguration={"LocationConstraint": "sa-east-1"})
    glue.create_database(DatabaseInput={"Name": "db"})
    storage = {"Columns": columns, "Location": "s3://sor/db/t/"}
    glue.create_table(
        DatabaseName="db",
        TableInput={"Name": "t", "StorageDescriptor": storage,
                    "PartitionKeys": [{"Name": "ingestion_date", "Type": "date"}]},
    )  # fmt: skip
    for day, body in files.items():
        s3.put_object(Bucket="sor", Key=f"db/t/ingestion_date={day}/part-0.parquet", Body=body)
        s3.put_object(Bucket="sor", Key=f"db/t/ingestion_date={day}/_SUCCESS", Body=b"")  # hidden, never read
        glue.create_partition(
            DatabaseName="db", TableName="t",
            PartitionInput={"Values": [day], "StorageDescriptor": {**storage, "Location": f"s3://sor/db/t/ingestion_date={day}/"}},
        )  # fmt: skip
    return glue, s3


def test_tables_are_found_through_the_catalog_and_read_by_name_case_insensitively(aws):
    day1 = _parquet(pa.table({"ID": pa.array([1, 2], pa.int64())}))
    day2 = _parquet(pa.table({"ID": pa.array([3], pa.int64()), "Note": ["n"]}))
    glue, s3 = _catalog(
        aws,
        [{"Name": "id", "Type": "bigint"}, {"Name": "note", "Type": "string"}],
        {"2026-11-25": day1, "2026-11-26": day2},
    )
    con, tables = connect(glue, s3, "db")
    assert tables[0].partitions == {"2026-11-25": 2, "2026-11-26": 1}
    rows = con.execute("SELECT id, note, ingestion_date::VARCHAR FROM db.t ORDER BY id").fetchall()
    assert rows == [(1, None, "2026-11-25"), (2, None, "2026-11-25"), (3, "n", "2026-11-26")]


def test_a_catalog_type_the_file_does_not_have_is_hive_bad_data(aws):
    body = _parquet(pa.table({"total": ["1.50"]}))  # PostgreSQL numeric arrives as a string
    glue, s3 = _catalog(aws, [{"Name": "total", "Type": "decimal(12,2)"}], {"2026-11-26": body})
    with pytest.raises(CatalogMismatch, match="HIVE_BAD_DATA"):
        connect(glue, s3, "db")


@pytest.mark.parametrize(
    ("athena_type", "arrow_type", "readable"),
    [
        ("decimal(12,2)", pa.decimal128(12, 2), True),
        ("decimal(12,2)", pa.decimal128(12, 3), False),
        ("timestamp", pa.timestamp("us", tz="UTC"), True),
        ("timestamp", pa.timestamp("ns"), False),
        ("int", pa.int64(), False),
        ("smallint", pa.int16(), True),
        ("date", pa.string(), False),
    ],
)
def test_type_agreement_is_strict(athena_type, arrow_type, readable):
    assert readable_as(athena_type, arrow_type) is readable
