"""Email to people, by SMTP (aiosmtplib). SMTP has no idempotency of its own, so exactly-once is
the flow's: a step that sent its mail is never run again (a replayed event finds its flow, a
retried flow resumes after the finished step). The one window left is a crash between the
server's acceptance and the step's commit; the retry then sends the same message again with the
same Message-ID, which mail systems use to fold duplicates.

A server that is down, or answers with a 4xx (try later), fails the step transiently: the flow
retries with backoff, visibly (`waiting`, then `stalled`). A 5xx refusal (bad recipient, message
refused) will not change by asking again: the flow stalls at once with the server's answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate

import aiosmtplib

from contracts.kit.flows import StepFailed
from process_apis.quality.settings import QualitySettings


@dataclass(frozen=True)
class Mail:
    to: list[str]
    subject: str
    body: str
    message_id: str  # stable for one notification: `<flow id>.<step>@<domain>`


@dataclass(frozen=True)
class Mailer:
    """Sends through the SMTP server the service's `smtp_*` settings name."""

    settings: QualitySettings

    @property
    def enabled(self) -> bool:
        # An empty host turns email off: notification steps record that they sent nothing.
        return bool(self.settings.smtp_host)

    def message(self, mail: Mail) -> EmailMessage:
        sender = self.settings.smtp_sender
        message = EmailMessage()
        message["From"] = sender
        message["To"] = ", ".join(mail.to)
        message["Subject"] = mail.subject
        message["Date"] = formatdate(usegmt=True)
        message["Message-ID"] = f"<{mail.message_id}@{sender.rpartition('@')[2] or 'plantbridge'}>"
        message.set_content(mail.body)
        return message

    async def send(self, mail: Mail) -> str:
        """Hand the mail to the SMTP server; returns the Message-ID it went out with."""
        message = self.message(mail)
        try:
            await aiosmtplib.send(
                message,
                hostname=self.settings.smtp_host,
                port=self.settings.smtp_port,
                username=self.settings.smtp_username or None,
                password=self.settings.smtp_password or None,
                start_tls=self.settings.smtp_starttls,
                timeout=self.settings.smtp_timeout_seconds,
            )
        except aiosmtplib.SMTPResponseException as exc:
            if exc.code >= 500:
                raise StepFailed(f"the SMTP server refused the mail: {exc.code} {exc.message}") from exc
            raise  # 4xx: try again later
        except aiosmtplib.SMTPRecipientsRefused as exc:
            refused = "; ".join(f"{r.recipient}: {r.code} {r.message}" for r in exc.recipients)
            if all(r.code >= 500 for r in exc.recipients):
                raise StepFailed(f"the SMTP server refused every recipient: {refused}") from exc
            raise
        return str(message["Message-ID"])
