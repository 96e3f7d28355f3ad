"""A minimal sitescim webhook receiver: verifies each request's Standard Webhooks
signature, skips ids it has seen (delivery is at least once), prints each event.

    pip install standardwebhooks
    WEBHOOK_SECRET=whsec_... PORT=8001 python webhook_receiver.py

Register it with ``sitescim webhook add https://your-app.example/hooks``; the
secret printed there is WEBHOOK_SECRET. Answer 2xx only once the event is
safely handled: anything else (or no answer within 10 s) is retried.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

webhook = Webhook(os.environ["WEBHOOK_SECRET"])
seen: set[str] = set()  # a real application keeps this in its database
handling = threading.Lock()  # requests come on threads of their own, several sites at once


class Receiver(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        try:
            payload = webhook.verify(body, dict(self.headers.items()))
        except WebhookVerificationError:
            self.send_response(400)
            self.end_headers()
            return
        webhook_id = self.headers["webhook-id"]
        with handling:
            if webhook_id not in seen:  # a redelivery repeats the id: handle it once
                seen.add(webhook_id)
                event = payload["data"]
                line = {"id": event["id"], "type": payload["type"], "site": event["site"]["slug"]}
                sys.stdout.write(json.dumps(line) + "\n")
                sys.stdout.flush()
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass  # keep stdout for the events


if __name__ == "__main__":
    ThreadingHTTPServer(
        ("127.0.0.1", int(os.environ.get("PORT", "8001"))), Receiver
    ).serve_forever()
