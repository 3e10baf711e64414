"""IAM enforcement for the embedded emulator: each request signed by a registered access key runs as its role.

Opt-in: `Emulator.enforcer = Enforcer(...)`. A request signed with a key registered for a role is turned into the
authorization requests AWS makes for it (the action on the resource, plus the KMS use the service makes for the
caller, plus iam:PassRole / kms:CreateGrant that StartExportTask implies), each is evaluated by ops/iam.py
with the deployment's identity, key, bucket and topic policies, and a denied one is answered exactly as the
service answers it. Requests signed by any other key (the tests' and the deployer's "testing") are not checked.

Two more rules make the emulator stricter than moto, as AWS is:
- S3 answers a GetObject/HeadObject of a missing key with 403 AccessDenied unless the caller has s3:ListBucket
  on the bucket for that same request, whose context has no s3:prefix (GetObject "Permissions",
  https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html#API_GetObject_Permissions);
- a request no declared call of its role covers (ops/access.py) is refused too, so the declaration the
  deployment verifier uses cannot fall behind the code.

Requests are treated as TLS (aws:SecureTransport=true): real SDKs call AWS over HTTPS.

Action names, resource ARNs and condition keys: Service Authorization Reference
(https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazons3.html, list_awsglue.html,
list_amazonrds.html, list_amazonsns.html, list_awskeymanagementservice.html, list_amazoncloudwatch.html); the KMS
use services make for their callers: S3 "Protecting data with SSE-KMS"
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingKMSEncryption.html: PutObject/CopyObject destination
need kms:GenerateDataKey, GetObject and a copy source kms:Decrypt; CreateMultipartUpload,
https://docs.aws.amazon.com/AmazonS3/latest/API/API_CreateMultipartUpload.html: kms:GenerateDataKey and
kms:Decrypt), SNS "Key management" (https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html), RDS
StartExportTask (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_StartExportTask.html).
"""

from __future__ import annotations

import io
import json
import threading
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote

from ops.access import Call, Names, kms_via
from ops.iam import AuthRequest, Decision, Evaluation, Policies

Environ = dict[str, Any]
_TLS = {"aws:SecureTransport": ("true",)}


@dataclass(frozen=True)
class Evaluated:
    """One authorization request the enforcement evaluated, and its outcome."""

    role: str
    action: str
    resource: str
    context: Mapping[str, tuple[str, ...]]
    decision: Decision
    declared: bool = True


@dataclass(frozen=True)
class Refusal:
    """How the service answers a refused request."""

    status: int
    code: str
    message: str
    protocol: str  # "rest-xml", "query" or "json"


class NotModelled(Exception):
    """A request of a registered principal that this layer cannot translate into IAM terms."""


@dataclass
class Enforcer:
    policies: Policies
    names: Names
    calls: list[Call]
    keys: dict[str, str] = field(default_factory=dict)  # access key id -> role logical id
    evaluated: list[Evaluated] = field(default_factory=list)
    refusals: list[str] = field(default_factory=list)  # every refusal message, for tests to show
    check_declared: bool = True

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._declared_cache: dict[tuple[str, str, str], bool] = {}

    def register(self, role: str) -> str:
        """An access key id whose requests run as `role` (its secret key can be anything: the emulator does not
        check signatures)."""
        if role not in self.policies.principals:
            raise KeyError(f"no role {role!r} in the deployment")
        key = f"AKIAEMU{role.upper()}"[:40]
        self.keys[key] = role
        return key

    def credentials(self, role: str) -> dict[str, str]:
        """Environment variables that make boto3 (in-process or in a subprocess) sign as `role`."""
        key = next((k for k, r in self.keys.items() if r == role), None) or self.register(role)
        return {"AWS_ACCESS_KEY_ID": key, "AWS_SECRET_ACCESS_KEY": "emulated", "AWS_SESSION_TOKEN": "emulated"}

    # -- the decision for one HTTP request -------------------------------------------------------------------
    def check(self, access_key: str, service: str, operation: str, environ: Environ, request: Any) -> Refusal | None:
        role = self.keys.get(access_key)
        if role is None:
            return None
        protocol = "rest-xml" if service == "s3" else "query" if service in ("rds", "sns", "sts") else "json"
        try:
            requests, missing_key_check = self._authorizations(service, operation, environ, request)
        except NotModelled as error:
            status = 403 if protocol != "json" else 400
            return self._refuse(protocol, status, service, f"{role}: {error} (extend local/emulator/enforcement.py)")
        for auth in requests:
            verdict = self.policies.evaluate(role, auth)
            declared = self._declared(role, auth) if self.check_declared else True
            with self._lock:
                self.evaluated.append(
                    Evaluated(role, auth.action, auth.resource, auth.context, verdict.decision, declared)
                )
            if not verdict.allowed:
                return self._denied(protocol, service, operation, auth, verdict)
            if not declared:
                message = (
                    f"{role} made a call no declared call covers: {auth.action} on {auth.resource} "
                    f"({service} {operation}). Declare it in ops/access.py (declared_calls), so the deployment "
                    "verifier checks it too."
                )
                return self._refuse(protocol, 403 if protocol != "json" else 400, service, message)
        if missing_key_check is not None:
            # S3: a missing key is 404 only for a caller allowed s3:ListBucket for this very request.
            verdict = self.policies.evaluate(role, missing_key_check)
            with self._lock:
                self.evaluated.append(
                    Evaluated(role, missing_key_check.action, missing_key_check.resource, missing_key_check.context,
                              verdict.decision)
                )  # fmt: skip
            if not verdict.allowed:
                return self._denied(protocol, service, operation, missing_key_check, verdict, missing=True)
        return None

    def _declared(self, role: str, auth: AuthRequest) -> bool:
        key = (role, auth.action, auth.resource)
        found = self._declared_cache.get(key)
        if found is None:
            found = any(c.covers(role, auth.action, auth.resource) for c in self.calls)
            self._declared_cache[key] = found
        return found

    def _denied(
        self, protocol: str, service: str, operation: str, auth: AuthRequest, verdict: Evaluation, missing: bool = False
    ) -> Refusal:
        why = (
            "the key does not exist and the caller may not s3:ListBucket for this request, so S3 answers 403, not 404\n"
            if missing
            else ""
        )
        message = f"{service} {operation} refused by IAM (emulator enforcement): {why}{verdict.explain()}"
        status, code = 403, "AccessDenied"
        if protocol == "json":
            status, code = 400, "AccessDeniedException"
        elif service == "sns":
            # SNS: AuthorizationError; a refused KMS use on an encrypted topic is KMSAccessDenied
            # (https://docs.aws.amazon.com/sns/latest/api/API_Publish.html#API_Publish_Errors).
            status, code = (400, "KMSAccessDenied") if auth.action.startswith("kms:") else (403, "AuthorizationError")
        return self._refusal(status, code, message, protocol)

    def _refuse(self, protocol: str, status: int, service: str, message: str) -> Refusal:
        code = (
            "AccessDeniedException"
            if protocol == "json"
            else "AuthorizationError"
            if service == "sns"
            else "AccessDenied"
        )
        return self._refusal(status, code, message, protocol)

    def _refusal(self, status: int, code: str, message: str, protocol: str) -> Refusal:
        with self._lock:
            self.refusals.append(message)
        return Refusal(status, code, message, protocol)

    def denied(self) -> list[Evaluated]:
        with self._lock:
            return [e for e in self.evaluated if e.decision is not Decision.ALLOW or not e.declared]

    # -- request -> authorization requests ------------------------------------------------------------------
    def _authorizations(
        self, service: str, operation: str, environ: Environ, request: Any
    ) -> tuple[list[AuthRequest], AuthRequest | None]:
        if service == "s3":
            return self._s3(operation, environ, request)
        if service == "sts" and operation == "GetCallerIdentity":
            return [], None  # needs no permission
        body = _body(environ)
        handler: Callable[[str, Any], list[AuthRequest]] | None = {
            "glue": self._glue,
            "rds": self._rds,
            "sns": self._sns,
            "monitoring": self._cloudwatch,
            "kms": self._kms_direct,
            "dynamodb": self._dynamodb,
        }.get(service)
        if handler is None:
            raise NotModelled(f"no IAM model for {service} {operation}")
        # CloudWatch speaks awsQuery (form) to older botocore (Glue 5.0's 1.34) and JSON to newer ones
        # (botocore data/cloudwatch/2010-08-01/service-2.json "protocols": ["query", "json"] since 2023)
        form = service in ("rds", "sns") or "x-www-form-urlencoded" in environ.get("CONTENT_TYPE", "")
        params = _form(body) if form else json.loads(body or b"{}")
        return handler(operation, params), None

    def _arn(self, service: str, resource: str) -> str:
        n = self.names
        return f"arn:{n.partition}:{service}:{n.region}:{n.account}:{resource}"

    def _key_arn(self, key_id: str) -> str:
        if key_id.startswith("arn:") and ":key/" in key_id:
            return key_id
        if key_id.startswith("alias/") or ":alias/" in key_id:
            from moto.kms.models import kms_backends

            alias = key_id.split(":", 5)[-1]
            target = kms_backends[self.names.account][self.names.region].get_key_id_from_alias(alias)
            return self._arn("kms", f"key/{target}")
        return self._arn("kms", f"key/{key_id}")

    # S3 ------------------------------------------------------------------------------------------------
    def _s3(self, operation: str, environ: Environ, request: Any) -> tuple[list[AuthRequest], AuthRequest | None]:
        bucket, key = _bucket_key(environ)
        bucket_arn = f"arn:{self.names.partition}:s3:::{bucket}"
        obj = f"{bucket_arn}/{key}"
        headers = request.headers
        query = request.query
        if operation in ("GetObject", "HeadObject") and "uploadId" in query:
            return [AuthRequest("s3:ListMultipartUploadParts", obj, _TLS)], None
        if operation in ("GetObject", "HeadObject"):
            found = _s3_object(self.names.account, bucket, key)
            requests = [AuthRequest("s3:GetObject", obj, _TLS)]
            if found is None:
                return requests, AuthRequest("s3:ListBucket", bucket_arn, _TLS)
            if operation == "GetObject" and getattr(found, "encryption", None) == "aws:kms":
                requests.append(self._s3_kms("kms:Decrypt", found.kms_key_id, bucket))
            return requests, None
        if operation in ("ListObjectsV2", "ListObjects"):
            context = dict(_TLS)
            if "prefix" in query:
                context["s3:prefix"] = (query["prefix"][0],)
            return [AuthRequest("s3:ListBucket", bucket_arn, context)], None
        if operation == "HeadBucket":
            return [AuthRequest("s3:ListBucket", bucket_arn, _TLS)], None
        if operation == "ListMultipartUploads":
            # https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListMultipartUploads.html, "Permissions"
            return [AuthRequest("s3:ListBucketMultipartUploads", bucket_arn, _TLS)], None
        if operation in ("PutObject", "CopyObject", "CreateMultipartUpload", "UploadPart", "UploadPartCopy",
                         "CompleteMultipartUpload"):  # fmt: skip
            requests = [AuthRequest("s3:PutObject", obj, _TLS)]
            if operation in ("CopyObject", "UploadPartCopy"):
                requests += self._copy_source(headers["x-amz-copy-source"])
            key_id = self._s3_write_key(bucket, headers)
            if key_id is not None and operation in ("PutObject", "CopyObject", "CreateMultipartUpload"):
                requests.append(self._s3_kms("kms:GenerateDataKey", key_id, bucket))
            if key_id is not None and operation == "CompleteMultipartUpload":
                requests.append(self._s3_kms("kms:Decrypt", key_id, bucket))
            return requests, None
        if operation == "AbortMultipartUpload":
            return [AuthRequest("s3:AbortMultipartUpload", obj, _TLS)], None
        if operation == "DeleteObject":
            return [AuthRequest("s3:DeleteObject", obj, _TLS)], None
        if operation == "DeleteObjects":
            # One s3:DeleteObject per key of the request body
            # (https://docs.aws.amazon.com/AmazonS3/latest/API/API_DeleteObjects.html).
            root = ET.fromstring(_body(environ))  # noqa: S314 - the body comes from our own SDK calls
            keys = [e.text or "" for e in root.iter() if e.tag.rsplit("}", 1)[-1] == "Key"]
            return [AuthRequest("s3:DeleteObject", f"{bucket_arn}/{k}", _TLS) for k in keys], None
        raise NotModelled(f"no IAM model for s3 {operation}")

    def _copy_source(self, header: str) -> list[AuthRequest]:
        source = unquote(header.split("?", 1)[0]).lstrip("/")
        bucket, key = source.split("/", 1)
        requests = [AuthRequest("s3:GetObject", f"arn:{self.names.partition}:s3:::{bucket}/{key}", _TLS)]
        found = _s3_object(self.names.account, bucket, key)
        if found is not None and getattr(found, "encryption", None) == "aws:kms":
            requests.append(self._s3_kms("kms:Decrypt", found.kms_key_id, bucket))
        return requests

    def _s3_write_key(self, bucket: str, headers: Mapping[str, str]) -> str | None:
        """The KMS key a write is encrypted with: the request's SSE-KMS key, else the bucket's default."""
        if headers.get("x-amz-server-side-encryption") == "aws:kms":
            return headers.get("x-amz-server-side-encryption-aws-kms-key-id") or "alias/aws/s3"
        default = _bucket_default_key(self.names.account, bucket)
        return default

    def _s3_kms(self, action: str, key_id: str | None, bucket: str) -> AuthRequest:
        arn = self._key_arn(key_id or "alias/aws/s3")
        context = kms_via(self.names, "s3", {"aws:s3:arn": f"arn:{self.names.partition}:s3:::{bucket}"})
        return AuthRequest(action, arn, context)

    # JSON and query services ---------------------------------------------------------------------------------
    def _glue(self, operation: str, params: dict[str, Any]) -> list[AuthRequest]:
        catalog = self._arn("glue", "catalog")
        if operation in ("StartJobRun", "GetJobRuns", "GetJobRun", "GetJob", "BatchStopJobRun"):
            return [AuthRequest(f"glue:{operation}", self._arn("glue", f"job/{params['JobName']}"), _TLS)]
        if operation == "GetDatabase":
            return [
                AuthRequest("glue:GetDatabase", r, _TLS)
                for r in (catalog, self._arn("glue", f"database/{params['Name']}"))
            ]
        database = params.get("DatabaseName")
        if database is None:
            raise NotModelled(f"no IAM model for glue {operation}")
        db_arn = self._arn("glue", f"database/{database}")
        if operation == "GetTables":
            table = "*"
        elif operation in ("CreateTable", "UpdateTable"):
            table = params["TableInput"]["Name"]
        elif operation in ("GetTable", "DeleteTable"):
            table = params["Name"]
        elif "TableName" in params:
            table = params["TableName"]
        else:
            raise NotModelled(f"no IAM model for glue {operation}")
        table_arn = self._arn("glue", f"table/{database}/{table}")
        return [AuthRequest(f"glue:{operation}", r, _TLS) for r in (catalog, db_arn, table_arn)]

    def _rds(self, operation: str, params: dict[str, str]) -> list[AuthRequest]:
        if operation == "DescribeExportTasks":
            return [AuthRequest("rds:DescribeExportTasks", "*", _TLS)]
        if operation == "DescribeDBClusters":
            cluster = params.get("DBClusterIdentifier", "*")
            return [AuthRequest("rds:DescribeDBClusters", self._arn("rds", f"cluster:{cluster}"), _TLS)]
        if operation == "DescribeDBClusterSnapshots":
            resources = []
            if "DBClusterIdentifier" in params:
                resources.append(self._arn("rds", f"cluster:{params['DBClusterIdentifier']}"))
            snapshot = params.get("DBClusterSnapshotIdentifier", "*")
            resources.append(self._arn("rds", f"cluster-snapshot:{snapshot}"))
            return [AuthRequest("rds:DescribeDBClusterSnapshots", r, _TLS) for r in resources]
        if operation == "StartExportTask":
            key = self._key_arn(params["KmsKeyId"])
            via = {
                "kms:ViaService": (f"rds.{self.names.region}.amazonaws.com",),
                "kms:CallerAccount": (self.names.account,),
            }
            return [
                AuthRequest("rds:StartExportTask", params["SourceArn"], _TLS),
                AuthRequest("iam:PassRole", params["IamRoleArn"], _TLS),
                AuthRequest("kms:CreateGrant", key, {**via, "kms:GrantIsForAWSResource": ("true",)}),
                AuthRequest("kms:DescribeKey", key, via),
            ]
        raise NotModelled(f"no IAM model for rds {operation}")

    def _sns(self, operation: str, params: dict[str, str]) -> list[AuthRequest]:
        if operation != "Publish":
            raise NotModelled(f"no IAM model for sns {operation}")
        topic = params["TopicArn"]
        requests = [AuthRequest("sns:Publish", topic, _TLS)]
        key_id = _topic_key(self.names.account, self.names.region, topic)
        if key_id:
            context = kms_via(self.names, "sns", {"aws:sns:topicArn": topic})
            arn = self._key_arn(key_id)
            requests += [AuthRequest("kms:GenerateDataKey", arn, context), AuthRequest("kms:Decrypt", arn, context)]
        return requests

    def _cloudwatch(self, operation: str, params: dict[str, Any]) -> list[AuthRequest]:
        if operation != "PutMetricData":
            raise NotModelled(f"no IAM model for cloudwatch {operation}")
        # PutMetricData has no resource type; cloudwatch:namespace is its condition key.
        return [AuthRequest("cloudwatch:PutMetricData", "*", {"cloudwatch:namespace": (params["Namespace"],), **_TLS})]

    def _dynamodb(self, operation: str, params: dict[str, Any]) -> list[AuthRequest]:
        # Item and table reads and writes are authorized on the table (Service Authorization Reference, DynamoDB).
        # The stack's table uses the AWS managed key aws/dynamodb: no KMS request of the caller's to evaluate.
        if operation not in ("GetItem", "PutItem", "UpdateItem", "DeleteItem", "Scan", "Query"):
            raise NotModelled(f"no IAM model for dynamodb {operation}")
        return [AuthRequest(f"dynamodb:{operation}", self._arn("dynamodb", f"table/{params['TableName']}"), _TLS)]

    def _kms_direct(self, operation: str, params: dict[str, Any]) -> list[AuthRequest]:
        if "KeyId" not in params:
            raise NotModelled(f"no IAM model for kms {operation}")
        return [
            AuthRequest(
                f"kms:{operation}", self._key_arn(params["KeyId"]), {"kms:CallerAccount": (self.names.account,), **_TLS}
            )
        ]


# -- reading the request and moto's state -----------------------------------------------------------------------
def _body(environ: Environ) -> bytes:
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    environ["wsgi.input"] = io.BytesIO(body)  # put it back for moto
    return body


def _bucket_key(environ: Environ) -> tuple[str, str]:
    """Bucket and key of a path-style S3 request, from the raw URI: PATH_INFO is already percent-decoded into
    latin-1, which would garble UTF-8 keys and decode a literal '%' twice."""
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    path = unquote(raw.split("?", 1)[0]) if raw else environ.get("PATH_INFO", "/").encode("latin-1").decode("utf-8")
    parts = path.lstrip("/").split("/", 1)
    return parts[0], parts[1] if len(parts) > 1 else ""


def _form(body: bytes) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}


def _s3_object(account: str, bucket: str, key: str) -> Any:
    from moto.s3.models import s3_backends

    backend = s3_backends[account]["aws"]
    try:
        return backend.get_object(bucket, key)
    except Exception:  # noqa: BLE001 - a missing bucket is moto's to answer
        return None


def _bucket_default_key(account: str, bucket: str) -> str | None:
    from moto.s3.models import s3_backends

    try:
        encryption = s3_backends[account]["aws"].get_bucket(bucket).encryption
    except Exception:  # noqa: BLE001
        return None
    rule = (encryption or {}).get("Rule", {}).get("ApplyServerSideEncryptionByDefault", {})
    if rule.get("SSEAlgorithm") == "aws:kms":
        return str(rule.get("KMSMasterKeyID") or "alias/aws/s3")
    return None


def _topic_key(account: str, region: str, topic: str) -> str | None:
    from moto.sns.models import sns_backends

    found = sns_backends[account][region].topics.get(topic)
    return getattr(found, "kms_master_key_id", None) or None if found is not None else None
