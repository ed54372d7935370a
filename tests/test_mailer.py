"""Mail: the outbox leaves one parseable .eml per mail; SMTP hands the same mail to a real server."""

from __future__ import annotations

import asyncio
import os
import re
from email import policy
from email.parser import BytesParser
from email.utils import parseaddr, parsedate_to_datetime

import pytest
from aiosmtpd.smtp import SMTP, AuthResult

from server.config import load_config
from server.mailer import MailError, OutboxMailer, SmtpMailer, create_mailer

SECRET = {"auth": {"secret": "m" * 32}}
RESET_LINK = "http://localhost:3000/reset-password?token=" + "A1b2_C3d4-" * 5
NAME = re.compile(r"^\d{8}T\d{6}\.\d{3}Z-[0-9a-f]{16}\.eml$")


def mail_config(**mail):
    # environ={}: a CHATTER_* variable of the developer's must not change what is tested.
    return load_config(overrides={**SECRET, "mail": mail}, environ={})


def parse(data: bytes):
    return BytesParser(policy=policy.default).parsebytes(data)


class Inbox:
    """An aiosmtpd handler that keeps what it receives."""

    def __init__(self):
        self.envelopes = []
        self.logins = []
        self.port = 0

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        return "250 OK"

    def authenticate(self, server, session, envelope, mechanism, auth_data):
        self.logins.append((auth_data.login, auth_data.password))
        ok = (auth_data.login, auth_data.password) == (b"chatter", b"s3cret")
        # handled=False: let aiosmtpd answer 535 itself on a failure.
        return AuthResult(success=ok, handled=False)


@pytest.fixture
async def inbox():
    inbox = Inbox()
    loop = asyncio.get_running_loop()
    # Port 0: the OS picks a free port, so parallel runs never collide.
    server = await loop.create_server(
        lambda: SMTP(inbox, hostname="mx.test", authenticator=inbox.authenticate, auth_require_tls=False),
        "127.0.0.1", 0,
    )
    inbox.port = server.sockets[0].getsockname()[1]
    yield inbox
    server.close()
    await server.wait_closed()


async def test_outbox_writes_a_reset_mail_as_one_eml_file(tmp_path):
    outbox = tmp_path / "outbox"
    mailer = create_mailer(mail_config(backend="outbox", outbox_dir=str(outbox)))
    assert isinstance(mailer, OutboxMailer)

    await mailer.send("alice@example.com", "Reset your Chatter password",
                      f"Hello alice,\n\nOpen {RESET_LINK} within 30 minutes.\n",
                      html=f'<p>Open <a href="{RESET_LINK}">this link</a>.</p>')

    files = os.listdir(outbox)
    assert len(files) == 1 and NAME.match(files[0]), files  # and no temp file left behind
    path = outbox / files[0]
    assert path.stat().st_mode & 0o777 == 0o600
    raw = path.read_bytes()
    assert RESET_LINK.encode() in raw  # the link is findable as written
    msg = parse(raw)
    assert msg["From"] == "Chatter <no-reply@chatter.local>"
    assert msg["To"] == "alice@example.com"
    assert msg["Subject"] == "Reset your Chatter password"
    assert parsedate_to_datetime(msg["Date"]).tzinfo is not None
    assert re.fullmatch(r"<[^@>]+@chatter\.local>", msg["Message-ID"])
    assert RESET_LINK in msg.get_body(("plain",)).get_content()
    assert f'href="{RESET_LINK}"' in msg.get_body(("html",)).get_content()


async def test_outbox_names_sort_in_sending_order_and_text_only_mail_has_no_html(tmp_path):
    mailer = OutboxMailer("Chatter <no-reply@chatter.local>", tmp_path)
    for n in range(3):
        await mailer.send("bob@example.com", f"mail {n}", f"number {n}")
        await asyncio.sleep(0.002)  # names carry milliseconds

    names = sorted(p.name for p in tmp_path.glob("*.eml"))
    subjects = [parse((tmp_path / name).read_bytes())["Subject"] for name in names]
    assert subjects == ["mail 0", "mail 1", "mail 2"]
    msg = parse((tmp_path / names[0]).read_bytes())
    assert msg.get_content_type() == "text/plain"
    assert msg.get_body(("html",)) is None


async def test_outbox_that_cannot_be_written_raises_mail_error(tmp_path):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    with pytest.raises(MailError):
        await OutboxMailer("no-reply@chatter.local", blocker / "outbox").send("a@example.com", "s", "t")


async def test_smtp_delivers_the_mail_to_a_real_server(inbox):
    mailer = create_mailer(mail_config(backend="smtp", smtp={
        "host": "127.0.0.1", "port": inbox.port, "username": "chatter", "password": "s3cret",
        "starttls": False, "timeout": 5,
    }))
    assert isinstance(mailer, SmtpMailer)

    await mailer.send("bob@example.com", "Réinitialisez votre mot de passe",
                      f"Bonjour Bob, ouvrez {RESET_LINK}\n", html="<p>Bonjour Bob, é</p>")

    assert inbox.logins == [(b"chatter", b"s3cret")]
    [envelope] = inbox.envelopes
    assert envelope.mail_from == "no-reply@chatter.local"
    assert envelope.rcpt_tos == ["bob@example.com"]
    msg = parse(envelope.original_content)
    assert parseaddr(msg["From"])[1] == "no-reply@chatter.local"
    assert msg["To"] == "bob@example.com"
    assert msg["Subject"] == "Réinitialisez votre mot de passe"
    assert msg["Message-ID"] and msg["Date"]
    assert RESET_LINK in msg.get_body(("plain",)).get_content()
    assert "é" in msg.get_body(("html",)).get_content()


async def test_smtp_server_refusing_the_login_raises_mail_error(inbox):
    mailer = SmtpMailer("no-reply@chatter.local", "127.0.0.1", inbox.port,
                        username="chatter", password="wrong", timeout=5)
    with pytest.raises(MailError):
        await mailer.send("bob@example.com", "hi", "text")
    assert inbox.envelopes == []


async def test_smtp_server_unreachable_raises_mail_error():
    mailer = SmtpMailer("no-reply@chatter.local", "127.0.0.1", 1, timeout=2)
    with pytest.raises(MailError):
        await mailer.send("bob@example.com", "hi", "text")
