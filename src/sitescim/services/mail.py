"""Sending one e-mail through SMTP with the standard library, with timeouts.

Errors come back as short text fit to store and log: the exception's class and
the server's reply, never the URL or the password.
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage as MimeMessage
from email.utils import make_msgid

from sitescim.domain.emails import MAX_ERROR_LENGTH, SmtpTarget


class SendError(Exception):
    """A message that could not be handed to the SMTP server; its text is safe to store.

    ``unreachable``: the server could not be reached at all, so the messages
    after this one would fail alike.
    """

    def __init__(self, text: str, *, unreachable: bool) -> None:
        super().__init__(text)
        self.unreachable = unreachable


def compose(*, sender: str, recipient: str, subject: str, body: str) -> MimeMessage:
    """The message, or ``SendError`` for a header the e-mail library refuses (a line break)."""
    message = MimeMessage()
    try:
        message["From"] = sender
        message["To"] = recipient
        message["Subject"] = subject
        message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    except ValueError as error:
        raise SendError(f"ValueError: {error}"[:MAX_ERROR_LENGTH], unreachable=False) from None
    message.set_content(body)
    return message


def send(target: SmtpTarget, message: MimeMessage, *, timeout: float) -> None:
    """Hand ``message`` to the server, or raise ``SendError``."""
    try:
        client: smtplib.SMTP
        if target.security == "tls":
            client = smtplib.SMTP_SSL(
                target.host, target.port, timeout=timeout, context=ssl.create_default_context()
            )
        else:
            client = smtplib.SMTP(target.host, target.port, timeout=timeout)
        with client:
            if target.security == "starttls":
                client.starttls(context=ssl.create_default_context())
            if target.username is not None:
                client.login(target.username, target.password or "")
            client.send_message(message)
    except (smtplib.SMTPConnectError, smtplib.SMTPServerDisconnected) as error:
        raise SendError(describe(error, target), unreachable=True) from None
    except smtplib.SMTPException as error:
        raise SendError(describe(error, target), unreachable=False) from None
    except OSError as error:  # refused, unreachable, timed out, TLS failed
        raise SendError(describe(error, target), unreachable=True) from None


def describe(error: BaseException, target: SmtpTarget) -> str:
    """The error as one line; the password is cut out should a server echo it back."""
    text = f"{type(error).__name__}: {error}".replace("\n", " ")
    if target.password:
        text = text.replace(target.password, "[hidden]")
    return text[:MAX_ERROR_LENGTH]
