"""The HTTP side of the MCP server: which addresses may be bound, and the bearer-token
check in front of the streamable HTTP app.

Without a token only a loopback address may be bound; with one (`ALMA_MCP_TOKEN`),
every request on any address must carry `Authorization: Bearer <token>` or gets 401.
On any loopback address, however spelled, requests must also name that address (or
`localhost`) in `Host` and `Origin`: a web page whose DNS name resolves to loopback
(DNS rebinding) is refused.
"""

from __future__ import annotations

import hmac
import ipaddress
import json

from mcp.server.transport_security import TransportSecuritySettings
from pydantic import SecretStr
from starlette.types import ASGIApp, Receive, Scope, Send

from langgraph_alma.errors import ConfigError


def is_loopback(host: str) -> bool:
    """Is `host` a loopback address? Names other than "localhost" are not trusted to be."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def bind_address(host: str) -> str:
    """The address to give the socket: `[::1]` is written for URLs, bound as `::1`."""
    return host.strip()[1:-1] if host.strip().startswith("[") else host.strip()


def loopback_names(host: str) -> list[str]:
    """How a `Host` header may name a server bound to loopback `host`: the address (IPv6
    in brackets) and, where it resolves there, `localhost`.

    >>> loopback_names("LOCALHOST")
    ['localhost', '127.0.0.1', '[::1]']
    >>> loopback_names("127.0.0.2")
    ['127.0.0.2']
    """
    name = bind_address(host).lower()
    if name == "localhost":
        return ["localhost", "127.0.0.1", "[::1]"]
    address = ipaddress.ip_address(name)
    spelled = f"[{address.compressed}]" if address.version == 6 else address.compressed
    if address in (ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1")):
        return [spelled, "localhost"]
    return [spelled]


def transport_security(host: str) -> TransportSecuritySettings | None:
    """The SDK's DNS-rebinding protection for a loopback `host` (None for any other
    address, which needs a token instead): `Host` and `Origin` must name the bound
    address. The SDK switches it on only for three exact spellings.

    >>> transport_security("127.0.0.2").allowed_hosts
    ['127.0.0.2', '127.0.0.2:*']
    """
    if not is_loopback(host):
        return None
    names = loopback_names(host)
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=[h for n in names for h in (n, f"{n}:*")],
        allowed_origins=[o for n in names for o in (f"http://{n}", f"http://{n}:*")],
    )


def check_bind(host: str, token: SecretStr | None) -> None:
    """Raise `ConfigError` when binding `host` would serve without a token off loopback.

    >>> check_bind("127.0.0.1", None)          # loopback: no token needed
    >>> check_bind("0.0.0.0", SecretStr("s3cret"))
    """
    if not host:
        raise ConfigError("host must not be empty")
    if token is not None and not token.get_secret_value():
        raise ConfigError("ALMA_MCP_TOKEN is set but empty; set a real token or unset it")
    if token is None and not is_loopback(host):
        raise ConfigError(
            f"refusing to serve MCP over HTTP on {host} without a token: "
            "set ALMA_MCP_TOKEN, or bind a loopback address such as 127.0.0.1"
        )


class BearerAuth:
    """ASGI middleware: 401 for any HTTP request without the bearer token (compared in
    constant time); lifespan events pass through.

    >>> app = BearerAuth(server.streamable_http_app(), SecretStr("s3cret"))  # doctest: +SKIP
    """

    def __init__(self, app: ASGIApp, token: SecretStr) -> None:
        self.app = app
        self.expected = f"Bearer {token.get_secret_value()}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":  # MCP does not use websockets: refuse them all
            await send({"type": "websocket.close", "code": 1008})
            return
        if scope["type"] == "http":
            given = dict(scope.get("headers") or []).get(b"authorization", b"")
            if not hmac.compare_digest(given, self.expected):
                await _unauthorized(send)
                return
        await self.app(scope, receive, send)


async def _unauthorized(send: Send) -> None:
    body = json.dumps(
        {"error": "unauthorized", "error_description": "missing or wrong bearer token"}
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 401,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"www-authenticate", b'Bearer realm="alma"'),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
