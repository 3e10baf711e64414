"""An embedded AWS emulator: moto's server on a loopback port, with a WSGI layer that sees every request.

The layer is the project's single window on the wire, used by the tests, the demo and the benchmarks:
- it records each request (service, operation, status, bytes sent back) so tests can count S3 GETs,
  bytes read or Glue calls per table at the server, not by trusting the client;
- it injects faults by rule (an HTTP error with the service's own error body, a fixed number of times),
  so retries and crash recovery are exercised by a real mechanism instead of patching the code under test;
- it runs hooks before a request is served (block a request until a test has killed the caller, add
  latency for the benchmarks).

moto itself is not modified: the layer only wraps the WSGI application moto's ThreadedMotoServer uses.
"""

from __future__ import annotations

import io
import json
import os
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote
from xml.sax.saxutils import escape

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import BaseWSGIServer, make_server

from local.emulator import glue_versions

if TYPE_CHECKING:
    from local.emulator.enforcement import Enforcer, Refusal


class _QuietHandler(MotoRequestHandler):
    """moto's handler without werkzeug's line per request on stderr (the layer keeps its own log)."""

    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass


_SCOPE = re.compile(r"Credential=([^/]+)/[^/]+/[^/]+/([^/]+)/aws4_request")

Environ = dict[str, Any]
StartResponse = Callable[..., Any]


@dataclass
class Request:
    """What the layer knows about one request: enough to match fault rules and to count."""

    service: str
    operation: str
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    status: int = 0
    response_bytes: int = 0
    access_key: str = ""

    @property
    def bucket_key(self) -> tuple[str, str]:
        parts = unquote(self.path).lstrip("/").split("/", 1)
        return parts[0], parts[1] if len(parts) > 1 else ""


def s3_operation(method: str, path: str, query: dict[str, list[str]], headers: dict[str, str]) -> str:
    """Names an S3 REST request the way the API reference does (path-style addressing only)."""
    has_key = "/" in path.lstrip("/")
    copy = "x-amz-copy-source" in headers
    if method == "GET":
        if not has_key:
            if "uploads" in query:
                return "ListMultipartUploads"
            return "ListObjectsV2" if query.get("list-type") == ["2"] else "ListObjects" if not query else "GetBucket"
        return "GetObject"
    if method == "HEAD":
        return "HeadObject" if has_key else "HeadBucket"
    if method == "PUT":
        if not has_key:
            return "PutBucket"
        if "partNumber" in query:
            return "UploadPartCopy" if copy else "UploadPart"
        return "CopyObject" if copy else "PutObject"
    if method == "POST":
        if "uploads" in query:
            return "CreateMultipartUpload"
        if "uploadId" in query:
            return "CompleteMultipartUpload"
        if "delete" in query:
            return "DeleteObjects"
        return "PostObject"
    if method == "DELETE":
        return "AbortMultipartUpload" if "uploadId" in query else "DeleteObject" if has_key else "DeleteBucket"
    return method


@dataclass
class Fault:
    """Answers matching requests with an error instead of serving them, `times` times (None = always)."""

    match: Callable[[Request], bool]
    status: int = 503
    code: str = "SlowDown"
    message: str = "injected by aws_emulator"
    times: int | None = 1
    hits: int = 0

    def take(self, request: Request) -> bool:
        if self.times is not None and self.hits >= self.times:
            return False
        if not self.match(request):
            return False
        self.hits += 1
        return True


@dataclass
class Emulator:
    """A moto server in a background thread; use as a context manager or call start()/stop()."""

    host: str = "127.0.0.1"
    port: int = 0
    requests: list[Request] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    hooks: list[Callable[[Request], None]] = field(default_factory=list)
    # Opt-in IAM enforcement (local/emulator/enforcement.py): requests signed by a registered role's key run as that
    # role.
    enforcer: Enforcer | None = None

    def __post_init__(self) -> None:
        glue_versions.install()  # where moto differs from AWS in what the tests look at (that module says how)
        self._lock = threading.Lock()
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._app = DomainDispatcherApplication(create_backend_app)

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self) -> Emulator:
        self._server = make_server(self.host, self.port, self._wsgi, threaded=True, request_handler=_QuietHandler)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def endpoint_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def reset(self) -> None:
        """Forget every resource moto holds, and the request log, faults and hooks."""
        self.clear()
        import requests  # moto[server] depends on it

        requests.post(f"{self.endpoint_url}/moto-api/reset", timeout=30).raise_for_status()

    def clear(self) -> None:
        with self._lock:
            self.requests.clear()
            self.faults.clear()
            self.hooks.clear()
            self.enforcer = None

    # -- querying the log -----------------------------------------------------------------------
    def calls(self, service: str | None = None, operation: str | None = None) -> list[Request]:
        with self._lock:
            return [
                r
                for r in self.requests
                if (service is None or r.service == service) and (operation is None or r.operation == operation)
            ]

    def add_fault(self, fault: Fault) -> Fault:
        with self._lock:
            self.faults.append(fault)
        return fault

    # -- the WSGI layer ---------------------------------------------------------------------------
    def _describe(self, environ: Environ) -> Request:
        headers = {k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")}
        if "CONTENT_TYPE" in environ:
            headers["content-type"] = environ["CONTENT_TYPE"]
        scope = _SCOPE.search(headers.get("authorization", ""))
        service = scope.group(2) if scope else "moto-api"
        method = environ["REQUEST_METHOD"]
        path = environ.get("PATH_INFO", "/")
        query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        if service == "s3":
            operation = s3_operation(method, path, query, headers)
        elif "x-amz-target" in headers:
            operation = headers["x-amz-target"].rsplit(".", 1)[-1]
        elif path.startswith("/service/"):  # smithy rpc-v2-cbor: /service/<Service>/operation/<Op>
            operation = path.rsplit("/", 1)[-1]
        else:
            operation = self._form_action(environ, query)
        return Request(service, operation, method, path, query, headers, access_key=scope.group(1) if scope else "")

    @staticmethod
    def _form_action(environ: Environ, query: dict[str, list[str]]) -> str:
        if "Action" in query:
            return query["Action"][0]
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)  # put it back for moto
        action = parse_qs(body.decode("utf-8", "replace")).get("Action", ["?"])
        return action[0]

    def _wsgi(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        request = self._describe(environ)
        with self._lock:
            self.requests.append(request)
            hooks = list(self.hooks)
            fault = next((f for f in self.faults if f.take(request)), None)
        for hook in hooks:
            hook(request)
        enforcer = self.enforcer
        if enforcer is not None and request.access_key in enforcer.keys:
            refusal = enforcer.check(request.access_key, request.service, request.operation, environ, request)
            if refusal is not None:
                request.status = refusal.status
                return _refuse(refusal, start_response)
        if fault is not None:
            request.status = fault.status
            return self._error(request, fault, start_response)

        def recording_start_response(status: str, headers: list[tuple[str, str]], *args: Any) -> Any:
            request.status = int(status.split()[0])
            return start_response(status, headers, *args)

        return _Counted(self._app(environ, recording_start_response), request)

    @staticmethod
    def _error(request: Request, fault: Fault, start_response: StartResponse) -> list[bytes]:
        if request.service == "s3" or request.headers.get("content-type", "").startswith("application/x-www-form"):
            body = (
                f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{fault.code}</Code>'
                f"<Message>{fault.message}</Message><RequestId>emulator</RequestId></Error>"
            ).encode()
            if request.service != "s3":  # query protocol wraps the error
                body = (
                    f"<ErrorResponse><Error><Type>Sender</Type><Code>{fault.code}</Code>"
                    f"<Message>{fault.message}</Message></Error><RequestId>emulator</RequestId></ErrorResponse>"
                ).encode()
            content_type = "application/xml"
        else:
            body = f'{{"__type": "{fault.code}", "message": "{fault.message}"}}'.encode()
            content_type = "application/x-amz-json-1.1"
        reason = {500: "Internal Server Error", 503: "Service Unavailable", 400: "Bad Request"}.get(
            fault.status, "Error"
        )
        start_response(
            f"{fault.status} {reason}",
            [("Content-Type", content_type), ("Content-Length", str(len(body))), ("x-amzn-ErrorType", fault.code)],
        )
        return [body]


def _refuse(refusal: Refusal, start_response: StartResponse) -> list[bytes]:
    """The service's own access-denied shape: S3's XML error, the query protocol's ErrorResponse, or JSON."""
    message = escape(refusal.message)
    if refusal.protocol == "rest-xml":
        body = (
            f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{refusal.code}</Code><Message>{message}</Message>'
            "<RequestId>emulator</RequestId></Error>"
        ).encode()
        content_type = "application/xml"
    elif refusal.protocol == "query":
        body = (
            f"<ErrorResponse><Error><Type>Sender</Type><Code>{refusal.code}</Code><Message>{message}</Message>"
            "</Error><RequestId>emulator</RequestId></ErrorResponse>"
        ).encode()
        content_type = "text/xml"
    else:
        body = json.dumps({"__type": refusal.code, "message": refusal.message}).encode()
        content_type = "application/x-amz-json-1.1"
    reason = {400: "Bad Request", 403: "Forbidden"}.get(refusal.status, "Error")
    start_response(
        f"{refusal.status} {reason}",
        [("Content-Type", content_type), ("Content-Length", str(len(body))), ("x-amzn-ErrorType", refusal.code)],
    )
    return [body]


class _Counted:
    """Wraps a WSGI response iterable to count the bytes actually sent to the client."""

    def __init__(self, inner: Iterable[bytes], request: Request) -> None:
        self._inner = inner
        self._request = request

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._inner:
            self._request.response_bytes += len(chunk)
            yield chunk

    def close(self) -> None:
        close = getattr(self._inner, "close", None)
        if close is not None:
            close()


def fake_aws_environment(
    endpoint_url: str | None = None, base: Mapping[str, str] | None = None, region: str = "sa-east-1"
) -> dict[str, str]:
    """`base` (default: this process's environment) without any AWS_* variable, plus fake credentials, a fixed
    Region, no shared config files and, when given, AWS_ENDPOINT_URL: whatever uses it reaches the emulator
    and never a real account."""
    env = {k: v for k, v in (os.environ if base is None else base).items() if not k.startswith("AWS_")}
    env.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",  # noqa: S106 - the emulator's fake credentials
        AWS_SESSION_TOKEN="testing",  # noqa: S106
        AWS_DEFAULT_REGION=region,
        AWS_REGION=region,
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
    )
    if endpoint_url is not None:
        env["AWS_ENDPOINT_URL"] = endpoint_url
    return env


def wait_for(predicate: Callable[[], bool], timeout: float = 30.0, interval: float = 0.02) -> bool:
    """Polls until predicate() is true or the timeout passes; returns the last result."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()
