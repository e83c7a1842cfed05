"""A partner's webhook receiver on loopback: real HTTP, and every delivery verified with the
Standard Webhooks reference library (`standardwebhooks`), never with Plantbridge's code.

Each path (`/hooks/<name>`) is one endpoint with its own secrets; the receiver answers 401 to a
delivery that does not verify (as a partner would) and otherwise what the test programs.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import msgspec
from standardwebhooks import Webhook, WebhookVerificationError

from plantbridge.processes import free_port


@dataclass
class Delivery:
    endpoint: str
    webhook_id: str
    headers: dict[str, str]
    body: bytes
    verified: bool
    status: int  # what the receiver answered

    @property
    def payload(self) -> Any:
        return msgspec.json.decode(self.body)


# What an endpoint answers: status and headers, and optionally a body.
Answer = Callable[[Delivery], tuple[int, dict[str, str]] | tuple[int, dict[str, str], bytes]]


@dataclass
class Endpoint:
    secrets: list[str] = field(default_factory=list)
    answer: Answer = field(default=lambda d: (204, {}))


class Receiver:
    def __init__(self) -> None:
        self.port = free_port()
        self.endpoints: dict[str, Endpoint] = {}
        self.deliveries: list[Delivery] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._connections: set[socket.socket] = set()

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/{name}"

    def endpoint(self, name: str) -> Endpoint:
        return self.endpoints.setdefault(name, Endpoint())

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                with receiver._lock:
                    receiver._connections.add(self.connection)

            def finish(self) -> None:
                with receiver._lock:
                    receiver._connections.discard(self.connection)
                super().finish()

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                headers = {k.lower(): v for k, v in self.headers.items()}
                name = self.path.removeprefix("/hooks/")
                endpoint = receiver.endpoints.get(name, Endpoint())
                verified = any(_verifies(secret, body, headers) for secret in endpoint.secrets)
                delivery = Delivery(name, headers.get("webhook-id", ""), headers, body, verified, 0)
                status, extra, *rest = endpoint.answer(delivery) if verified else (401, {})
                answer = rest[0] if rest else b""
                delivery.status = status
                with receiver._lock:
                    receiver.deliveries.append(delivery)
                with contextlib.suppress(OSError):  # the sender may have hung up (a timeout)
                    self.send_response(status)
                    for key, value in extra.items():
                        self.send_header(key, value)
                    self.send_header("content-length", str(len(answer)))
                    self.end_headers()
                    self.wfile.write(answer)

            def log_message(self, *_args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        """Down like a crashed receiver: nothing listens on the port any more."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        with self._lock:  # and the keep-alive connections it was serving go down with it
            for connection in self._connections:
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)
            self._connections.clear()

    def of(self, name: str) -> list[Delivery]:
        with self._lock:
            return [d for d in self.deliveries if d.endpoint == name]

    def accepted(self, name: str) -> list[Delivery]:
        """Deliveries this endpoint verified and answered 2xx."""
        return [d for d in self.of(name) if d.verified and 200 <= d.status < 300]


def _verifies(secret: str, body: bytes, headers: dict[str, str]) -> bool:
    try:
        Webhook(secret).verify(body, headers)
    except WebhookVerificationError:
        return False
    return True
