"""ASGI middleware that stands between the network and the app: which Host names are served, and how
large, how slow and how many request bodies may be in flight at once.

Both answer with a JSON ``{"detail": ...}`` like the app's own errors, before the app sees the request.
"""

from __future__ import annotations

import asyncio
import json
import time

from starlette.datastructures import Headers
from starlette.middleware.trustedhost import parse_host_header

LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")
ANY_ADDRESS = ("0.0.0.0", "::", "")
# A JSON number with its separator takes 2 bytes ("0,") to ~12 ("-0.1234567, "): a JSON body may hold
# this many bytes per value a record may hold, so a body of zeros cannot declare far more values than
# allowed and make the server scan it before refusing.
JSON_BYTES_PER_VALUE = 12


def default_allowed_hosts(bound_host: str) -> list[str]:
    """Loopback names plus the address the server listens on; a wildcard address ('0.0.0.0') is not
    a name a browser sends, so serving the network needs ``--allowed-hosts``."""
    hosts = list(LOOPBACK_HOSTS)
    if bound_host not in ANY_ADDRESS and bound_host.lower() not in hosts:
        hosts.append(bound_host.lower())
    return hosts


async def send_json(send, status: int, detail: str, headers: tuple = ()) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close"), *headers]})
    await send({"type": "http.response.body", "body": body})


class HostAllowList:
    """400 for a Host header not in ``allowed`` ('*' allows any): a web page on another site that
    rebinds its DNS name to 127.0.0.1 still sends its own name, so it cannot reach a local server."""

    def __init__(self, app, allowed: list[str]):
        self.app = app
        self.allowed = {h.lower().strip("[]") for h in allowed}

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or "*" in self.allowed:
            return await self.app(scope, receive, send)
        parsed = parse_host_header(Headers(scope=scope).get("host"))
        host = parsed.host.lower().strip("[]") if parsed is not None else None
        if host not in self.allowed:
            return await send_json(send, 400, f"Host header {host!r} is not served here; expected one of "
                                              f"{sorted(self.allowed)} (server option --allowed-hosts).")
        return await self.app(scope, receive, send)


class PendingBudget:
    """Bytes of request bodies held by the server at once. Only the event loop touches it, so it
    needs no lock."""

    def __init__(self, max_bytes: int):
        self.max_bytes, self.used = max_bytes, 0

    def take(self, n: int) -> bool:
        if self.used + n > self.max_bytes:
            return False
        self.used += n
        return True

    def give(self, n: int) -> None:
        self.used -= n


class BodyLimit:
    """A request body is read here, whole, before the app sees it, and answered early when it is:

    - larger than ``max_bytes`` (``max_json_bytes`` for JSON) → 413 (counted, so a missing or lying
      Content-Length does not help);
    - not complete within ``read_timeout_s`` of the request → 408, so a client trickling its body
      holds neither memory nor a worker for longer;
    - more than the ``budget`` of bodies in flight allows → 503 with Retry-After.

    The bytes stay counted against the budget until the response is sent, since the app holds
    them (or what was decoded from them) until then.
    """

    def __init__(self, app, max_bytes: int, max_json_bytes: int, read_timeout_s: float, budget: PendingBudget):
        self.app, self.read_timeout_s, self.budget = app, read_timeout_s, budget
        upload = (max_bytes, "(server option --max-upload-mb)")
        json_limit = (max_json_bytes, f"for JSON ({JSON_BYTES_PER_VALUE} bytes for each value of --max-values; "
                                      "send larger records as files)")
        self.limits = {"upload": upload, "json": min(upload, json_limit)}

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH"):
            return await self.app(scope, receive, send)
        headers = Headers(scope=scope)
        is_json = headers.get("content-type", "").split(";")[0].strip().lower() == "application/json"
        max_bytes, why = self.limits["json" if is_json else "upload"]
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > max_bytes:
            return await _too_large(send, max_bytes, why)
        held = 0
        try:
            chunks, deadline = [], time.monotonic() + self.read_timeout_s
            while True:
                try:
                    message = await asyncio.wait_for(receive(), max(0.0, deadline - time.monotonic()))
                except TimeoutError:
                    return await send_json(send, 408, f"the request body did not arrive within {self.read_timeout_s:g} s "
                                                      "(server option --read-timeout).")
                if message["type"] == "http.disconnect":
                    return None
                chunk = message.get("body", b"")
                if held + len(chunk) > max_bytes:
                    return await _too_large(send, max_bytes, why)
                if not self.budget.take(len(chunk)):
                    return await send_json(send, 503, "the server is busy with other uploads; try again in a few "
                                                      "seconds.", headers=((b"retry-after", b"2"),))
                held += len(chunk)
                chunks.append(chunk)
                if not message.get("more_body"):
                    break
            replay = _replay(b"".join(chunks), receive)
            chunks.clear()  # one copy of the body, not two, while the app runs
            return await self.app(scope, replay, send)
        finally:
            self.budget.give(held)


async def _too_large(send, max_bytes: int, why: str) -> None:
    await send_json(send, 413, f"the request body is larger than the limit of {max_bytes / 1e6:g} MB {why}.")


def _replay(body: bytes, receive):
    """A receive callable that hands the app the whole body once, then the connection's own events."""
    pending = [body]

    async def replay():
        if pending:  # popped, so this closure does not keep the body alive after the app took it
            return {"type": "http.request", "body": pending.pop(), "more_body": False}
        return await receive()

    return replay
