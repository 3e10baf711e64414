"""`sam package` against the embedded emulator: the function bundle and the Glue script really get uploaded.

This is the packaging path `sam deploy` takes (local CodeUri and Command.ScriptLocation become S3 URIs), run
for real by the pinned SAM CLI with AWS_ENDPOINT_URL pointing at moto, so no account is needed.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

from samtranslator.yaml_helper import yaml_parse

from local.emulator.aws_emulator import Emulator
from ops.stack import ROOT

BUCKET = "sam-artifacts"


def _s3_uri(value: str) -> tuple[str, str]:
    assert value.startswith("s3://"), value
    bucket, _, key = value.removeprefix("s3://").partition("/")
    return bucket, key


def test_sam_package_uploads_the_function_bundle_and_the_glue_script(
    emulator: Emulator, aws: Any, tmp_path: Path
) -> None:
    s3 = aws.client("s3")
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "sa-east-1"})
    output = tmp_path / "packaged.yaml"
    # samconfig.toml asks for resolve_s3 (a managed bucket in the account); here the bucket is the emulator's.
    no_config = tmp_path / "samconfig.toml"
    no_config.write_text("version = 0.1\n")
    sam = Path(sys.executable).parent / "sam"
    env = {**os.environ, "SAM_CLI_TELEMETRY": "0", "SAM_CLI_CONTACT_TRACKING": "0", "HOME": str(tmp_path)}
    result = subprocess.run(
        [
            str(sam),
            "package",
            "--config-file",
            str(no_config),
            "--template-file",
            str(ROOT / "template.yaml"),
            "--s3-bucket",
            BUCKET,
            "--s3-prefix",
            "aurora-sor",
            "--output-template-file",
            str(output),
            "--region",
            "sa-east-1",
            "--no-progressbar",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]

    packaged = yaml_parse(output.read_text())
    code_uris = {
        props.get("CodeUri") or packaged["Globals"]["Function"]["CodeUri"]
        for props in (
            r["Properties"] for r in packaged["Resources"].values() if r["Type"] == "AWS::Serverless::Function"
        )
    }
    (code_uri,) = code_uris  # one CodeUri for every function (docs/contracts.md "Repository layout")
    bucket, key = _s3_uri(code_uri)
    assert bucket == BUCKET
    bundle = zipfile.ZipFile(io.BytesIO(s3.get_object(Bucket=bucket, Key=key)["Body"].read()))
    names = set(bundle.namelist())
    assert {"start_export.py", "on_export_event.py", "config.py"} <= names

    script_uri = packaged["Resources"]["SorJob"]["Properties"]["Command"]["ScriptLocation"]
    bucket, key = _s3_uri(script_uri)
    uploaded = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    assert uploaded == (ROOT / "glue" / "dist" / "sor_job.py").read_bytes()

    puts = [r for r in emulator.calls("s3") if r.operation in ("PutObject", "CompleteMultipartUpload")]
    assert {r.bucket_key[1] for r in puts} >= {_s3_uri(code_uri)[1], key}
