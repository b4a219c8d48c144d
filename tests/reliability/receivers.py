"""A customer's webhook receiver for the fault tests: a real HTTP server in the test process that verifies each
request's signature and deduplicates on ``webhook-id`` (as the receivers we document should), so a test reads
"notices" as the customer sees them and "attempts" as the wire saw them. It can be taken down and brought back on
the same port (connection refused meanwhile)."""

from __future__ import annotations

import json
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from mdr.escalations import webhook


class DedupReceiver:
    def __init__(self, secret: str | None = None):
        self.secret = secret or webhook.secret_generate()
        self.lock = threading.Lock()
        self.attempts: Counter[str] = Counter()  # path -> requests received
        self.notices: dict[str, tuple[str, dict]] = {}  # webhook-id -> (path, body), first seen
        self.repeats = 0  # requests whose webhook-id was already seen (dropped by the dedupe)
        self.rejected = 0
        self.port = 0
        self.server: ThreadingHTTPServer | None = None
        self.up()

    def url(self, path: str = "/mdr") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def _handler(self):
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                headers = {k.lower(): v for k, v in self.headers.items()}
                ok = webhook.verify(headers=headers, body=body, secret=receiver.secret)
                with receiver.lock:
                    receiver.attempts[self.path] += 1
                    if not ok:
                        receiver.rejected += 1
                    elif headers["webhook-id"] in receiver.notices:
                        receiver.repeats += 1
                    else:
                        receiver.notices[headers["webhook-id"]] = (self.path, json.loads(body))
                self.send_response(200 if ok else 401)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        return Handler

    def up(self) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler())
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def down(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def notices_to(self, path: str) -> list[dict]:
        with self.lock:
            return [body for p, body in self.notices.values() if p == path]
