"""The replay's SMS gateway: the server under test is configured to send its text messages
here (`PALISADE_DELIVERY=external`, `PALISADE_SMS_WEBHOOK_URL=http://127.0.0.1:PORT/sms`), as
a real deployment sends them to a provider. The replay reads the codes it needs to sign its
people up from what arrives, as a person reads their phone: no access to the server's
database or outbox."""

from __future__ import annotations

import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self

CODE = re.compile(r"\b(\d{6})\b")


class SmsGateway:
    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._codes: dict[str, str] = {}
        self._arrived = threading.Condition()
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # the http.server API's name
                length = min(int(self.headers.get("content-length") or 0), 65536)
                try:
                    message = json.loads(self.rfile.read(length))
                    to, text = str(message["to"]), str(message["text"])
                except (ValueError, KeyError, TypeError):
                    self.send_response(400)
                    self.end_headers()
                    return
                if (match := CODE.search(text)) is not None:
                    with gateway._arrived:
                        gateway._codes[to] = match.group(1)
                        gateway._arrived.notify_all()
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:  # quiet
                pass

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/sms"

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def code_for(self, number: str, timeout: float = 10.0) -> str:
        """The latest code sent to `number` (E.164), waiting for it to arrive; taken once."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while number not in self._codes:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"no code reached the gateway for {number}: is the "
                                       f"server's PALISADE_SMS_WEBHOOK_URL {self.url}?")
                self._arrived.wait(left)
            return self._codes.pop(number)
