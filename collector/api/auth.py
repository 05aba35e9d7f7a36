"""API keys and roles, for HTTP and gRPC alike.

Keys are configured as SHA-256 digests (``spendgate api-key`` makes one), never
in the clear. Roles: ``ingest`` (OTLP export, the agents' budget flags, asking for overrides),
``read`` (the costs API, flags, alerts), ``admin`` (budget changes; includes
read). With no keys configured every request is let in.

A let-in request carries the name of its key in the ASGI scope (:data:`KEY_NAME`);
:func:`changed_by` turns it, and the CLI's ``User-Agent``, into the author of a
budget change.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Literal, Protocol

import grpc
from spendgate.collector.config import ApiKey
from spendgate.collector.ingest.otlp import SERVICE_NAME as TRACE_SERVICE

Role = str
# Why a request was refused for its key: none or an unknown one (401), one without the role (403).
AuthRefusal = Literal["unauthenticated", "forbidden"]
_EXPORT_PATH = "/v1/traces"
_GRPC_EXPORT = f"/{TRACE_SERVICE}/Export"
KEY_NAME = "spendgate.api_key_name"  # the ASGI scope's entry for the name of the request's key
CLI_AGENT = "spendgate-cli/"  # how the CLI's User-Agent starts
_OPEN_PATHS = ("/healthz", "/docs", "/openapi.json", "/docs/oauth2-redirect")
_OPEN_PREFIX = "/docs/assets/"  # Swagger UI's files (api/docs.py)
# The web console's page and files hold no data (its scripts call the API with the user's key).
CONSOLE_PAGE, CONSOLE_STATIC = "/costs", "/costs/static/"


class AuthMeter(Protocol):
    """Told of every refusal (collector/telemetry.py); ``export``: an OTLP export, else the API or flags."""

    def auth_refused(self, transport: Literal["grpc", "http"], reason: AuthRefusal, export: bool) -> None: ...


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class Authenticator:
    def __init__(self, keys: list[ApiKey]) -> None:
        self._keys = {key.sha256.lower(): key for key in keys}
        self.enabled = bool(keys)

    def key(self, authorization: str | None) -> ApiKey | None:
        """The configured key of a ``Bearer`` header, or None when it is missing or unknown."""
        if not authorization:
            return None
        scheme, _, token = authorization.strip().partition(" ")
        if scheme.lower() != "bearer" or not token:
            return None
        wanted = digest(token.strip())
        for known, key in self._keys.items():
            if hmac.compare_digest(known, wanted):  # constant time per candidate
                return key
        return None

    def roles(self, authorization: str | None) -> frozenset[Role] | None:
        """The roles of a ``Bearer`` key, or None when the key is missing or unknown."""
        key = self.key(authorization)
        return None if key is None else granted(key)


def granted(key: ApiKey) -> frozenset[Role]:
    roles = frozenset(key.roles)
    return roles | ({"read"} if "admin" in roles else frozenset())


def changed_by(scope: Mapping[str, Any]) -> str:
    """Who a request changes budgets as: its key's name (or ``api``); ``cli`` or ``NAME (cli)`` by the CLI."""
    name = scope.get(KEY_NAME)
    agent = next((v.decode("latin-1") for k, v in scope.get("headers", ()) if k == b"user-agent"), "")
    if not agent.startswith(CLI_AGENT):
        return name or "api"
    return f"{name} (cli)" if name else "cli"


def _override_request(method: str, path: str) -> bool:
    """Asking for an override (POST .../budgets/{id}/override-requests) or reading one request."""
    if method == "POST":
        return path.startswith("/api/v1/costs/budgets/") and path.endswith("/override-requests")
    return method == "GET" and path.startswith("/api/v1/costs/override-requests/")


def ingest_may(method: str, path: str) -> bool:
    """What an agent's ingest key may do besides export: poll flags, ask for and follow overrides."""
    return path == "/v1/flags" or _override_request(method, path)


def _console(path: str) -> bool:
    return path in ("/", CONSOLE_PAGE) or path.startswith(CONSOLE_STATIC)


def http_role(method: str, path: str) -> Role | None:
    """The role an HTTP request needs; None for open paths."""
    if path in _OPEN_PATHS or path.startswith(_OPEN_PREFIX) or (method in ("GET", "HEAD") and _console(path)):
        return None
    if path == _EXPORT_PATH:
        return "ingest"
    if _override_request(method, path):
        return "read"
    if path.startswith("/api/v1/costs/override-requests/") and method == "POST":
        return "admin"  # approve, deny
    if path.startswith("/api/admin/"):
        return "admin"
    changes = method in ("POST", "PUT", "DELETE", "PATCH")
    # Limits are budgets under the seed's names; the alert config decides who is told what.
    if changes and path.startswith(
        (
            "/api/v1/costs/budgets",
            "/api/v1/scopes/",
            "/api/v1/limits",
            "/api/v1/alerts",
            "/api/v1/costs/insights",
        )
    ):
        return "admin"
    return "read"


class AuthMiddleware:
    """ASGI middleware: 401 without a known key, 403 without the role the path needs."""

    def __init__(self, app: Any, authenticator: Authenticator, meter: AuthMeter | None = None) -> None:
        self.app = app
        self.auth = authenticator
        self.meter = meter

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not self.auth.enabled:
            await self.app(scope, receive, send)
            return
        needed = http_role(scope["method"], scope["path"])
        if needed is None:
            await self.app(scope, receive, send)
            return
        header = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"authorization"), None)
        key = self.auth.key(header)
        roles = None if key is None else granted(key)
        # Agents hold ingest keys.
        allowed = roles is not None and (
            needed in roles or ("ingest" in roles and ingest_may(scope["method"], scope["path"]))
        )
        if allowed and key is not None:
            scope[KEY_NAME] = key.name
            await self.app(scope, receive, send)
            return
        if roles is None:
            status, message = 401, "an API key is required (Authorization: Bearer <key>)"
        else:
            status, message = 403, f"this key lacks the {needed} role"
        if self.meter is not None:
            reason: AuthRefusal = "unauthenticated" if status == 401 else "forbidden"
            self.meter.auth_refused("http", reason, scope["path"] == _EXPORT_PATH)
        body = json.dumps({"detail": message}).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        if status == 401:
            headers.append((b"www-authenticate", b'Bearer realm="spendgate"'))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


class GrpcAuthInterceptor(grpc.aio.ServerInterceptor):
    """Every gRPC method (OTLP export, budget flags) needs an ingest key."""

    def __init__(self, authenticator: Authenticator, meter: AuthMeter | None = None) -> None:
        self.auth = authenticator
        self.meter = meter

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        if not self.auth.enabled or handler is None:
            return handler
        metadata = dict(details.invocation_metadata or ())
        roles = self.auth.roles(metadata.get("authorization"))
        if roles is not None and "ingest" in roles:
            return handler
        if self.meter is not None:
            reason: AuthRefusal = "unauthenticated" if roles is None else "forbidden"
            self.meter.auth_refused("grpc", reason, details.method == _GRPC_EXPORT)
        if roles is None:
            return _refusal(handler, grpc.StatusCode.UNAUTHENTICATED, "an API key is required")
        return _refusal(handler, grpc.StatusCode.PERMISSION_DENIED, "this key lacks the ingest role")


def _refusal(handler: grpc.RpcMethodHandler, code: grpc.StatusCode, message: str) -> grpc.RpcMethodHandler:
    async def deny(request: Any, context: Any) -> Any:
        await context.abort(code, message)

    async def deny_stream(request: Any, context: Any) -> Any:
        await context.abort(code, message)
        yield  # pragma: no cover - abort raises

    if handler.unary_stream is not None:
        return grpc.unary_stream_rpc_method_handler(
            deny_stream,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )
    return grpc.unary_unary_rpc_method_handler(
        deny,
        request_deserializer=handler.request_deserializer,
        response_serializer=handler.response_serializer,
    )
