"""A real SMTP server in the test process (aiosmtpd) that Django's SMTP backend sends to, for tests that read the
mail a feature sends (escalation notices, contact verification, expiry reminders, report links). It can be
stopped and started again on the same port (a mail server outage)."""

from __future__ import annotations

from aiosmtpd.controller import Controller

from tests.live import free_port


class Inbox:
    """aiosmtpd handler: keeps (recipients, raw message) of every mail received."""

    def __init__(self):
        self.messages: list[tuple[list[str], bytes]] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.rcpt_tos, envelope.content))
        return "250 OK"


class MailServer(Inbox):
    def __init__(self):
        super().__init__()
        self.port = free_port()
        self._controller: Controller | None = None

    def start(self) -> None:
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None
