"""Outgoing mail: the Mailer interface, an outbox (.eml files) backend and an SMTP backend."""

from __future__ import annotations

import asyncio
import os
import secrets
from abc import ABC, abstractmethod
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from pathlib import Path

import aiosmtplib

from server.config import ROOT, Config


class MailError(Exception):
    """A mail could not be handed over (SMTP refused or unreachable, outbox not writable)."""


class Mailer(ABC):
    """Sends one mail from the configured sender."""

    def __init__(self, sender: str):
        self.sender = sender
        self.sender_address = parseaddr(sender)[1]
        # make_msgid() without a domain calls socket.getfqdn(), which may block on DNS.
        self._msgid_domain = self.sender_address.rpartition("@")[2] or "chatter.local"

    def build(self, to: str, subject: str, text: str, html: str | None = None) -> EmailMessage:
        msg = EmailMessage(policy=policy.SMTP)  # CRLF line ends, as RFC 5322 wants on the wire and on disk
        msg["From"] = self.sender
        msg["To"] = to
        msg["Subject"] = subject
        msg["Date"] = format_datetime(datetime.now(UTC))
        msg["Message-ID"] = make_msgid(domain=self._msgid_domain)
        msg.set_content(text, cte=_cte(text))
        if html is not None:
            msg.add_alternative(html, subtype="html", cte=_cte(html))
        return msg

    @abstractmethod
    async def send(self, to: str, subject: str, text: str, html: str | None = None) -> None:
        """Hand the mail over; raises MailError when that fails."""


def _cte(body: str) -> str | None:
    # The email package quoted-printables any line over 78 characters, turning a reset link
    # into "token=3D..." split by soft breaks; plain ASCII is sent as written so the link stays
    # readable (and greppable) in the .eml. RFC 5322 allows lines of up to 998 characters.
    if body.isascii() and all(len(line) <= 998 for line in body.splitlines()):
        return "7bit"
    return None  # let the email package pick 8bit, quoted-printable or base64


class OutboxMailer(Mailer):
    """Writes every mail as one .eml file; names sort by time, so `ls` lists them in order."""

    def __init__(self, sender: str, outbox_dir: str | os.PathLike):
        super().__init__(sender)
        self.dir = Path(outbox_dir) if Path(outbox_dir).is_absolute() else ROOT / outbox_dir

    async def send(self, to: str, subject: str, text: str, html: str | None = None) -> None:
        data = self.build(to, subject, text, html).as_bytes()
        now = datetime.now(UTC)
        name = f"{now:%Y%m%dT%H%M%S}.{now.microsecond // 1000:03d}Z-{secrets.token_hex(8)}.eml"
        try:
            await asyncio.to_thread(self._write, name, data)
        except OSError as exc:
            raise MailError(f"cannot write to the outbox {self.dir}: {exc}") from exc

    def _write(self, name: str, data: bytes) -> None:
        self.dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        # Readers watching the directory must never see half a mail: write a dot file, then rename.
        tmp = self.dir / f".{name}.tmp"
        # 0600: mails carry password-reset tokens.
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.dir / name)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise


class SmtpMailer(Mailer):
    """Sends through an SMTP server, one connection per mail (mail is rare: resets only)."""

    def __init__(self, sender: str, host: str, port: int, *, username: str | None = None,
                 password: str | None = None, starttls: bool = False, timeout: float = 10):
        super().__init__(sender)
        self.host, self.port = host, port
        self.username, self.password = username, password
        self.starttls, self.timeout = starttls, timeout

    async def send(self, to: str, subject: str, text: str, html: str | None = None) -> None:
        msg = self.build(to, subject, text, html)
        # The config has no implicit-TLS switch; port 465 (SMTPS) never speaks plain text.
        implicit_tls = self.port == 465
        try:
            await aiosmtplib.send(
                msg, sender=self.sender_address, recipients=[to],
                hostname=self.host, port=self.port,
                username=self.username, password=self.password,
                use_tls=implicit_tls, start_tls=self.starttls and not implicit_tls,
                timeout=self.timeout,
            )
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise MailError(f"SMTP {self.host}:{self.port}: {exc}") from exc


def create_mailer(config: Config) -> Mailer:
    mail = config.mail
    if mail.backend == "smtp":
        smtp = mail.smtp
        return SmtpMailer(mail.sender, smtp.host, smtp.port, username=smtp.username,
                          password=smtp.password, starttls=smtp.starttls, timeout=smtp.timeout)
    return OutboxMailer(mail.sender, mail.outbox_dir)
