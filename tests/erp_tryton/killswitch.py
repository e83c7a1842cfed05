"""A pass-through HTTP proxy in front of Tryton that can kill the caller at a chosen moment:
once armed, it forwards the first call of a given JSON-RPC method, lets Tryton answer (and
commit), then runs `on_hit` (a SIGKILL of the ERP service) before the answer can arrive."""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit


class KillSwitch:
    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.method: str | None = None
        self.on_hit: Callable[[], None] = lambda: None
        self.hit = threading.Event()
        self.lock = threading.Lock()
        switch = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                upstream = http.client.HTTPConnection(switch.host, switch.port, timeout=30)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
                upstream.request("POST", self.path, body, headers)
                answer = upstream.getresponse()
                payload = answer.read()
                upstream.close()
                if switch.fire(json.loads(body or b"{}").get("method")):
                    self.close_connection = True
                    return  # the caller dies without hearing Tryton's answer
                self.send_response(answer.status)
                self.send_header("content-type", answer.getheader("content-type") or "application/json")
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def arm(self, method: str, on_hit: Callable[[], None]) -> None:
        with self.lock:
            self.method, self.on_hit = method, on_hit
            self.hit.clear()

    def fire(self, method: str | None) -> bool:
        with self.lock:
            if method is None or method != self.method:
                return False
            self.method = None
        self.on_hit()
        self.hit.set()
        return True

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
