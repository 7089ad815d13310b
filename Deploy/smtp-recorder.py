#!/usr/bin/env python3
"""A real SMTP server for the Notification tests and benchmark (aiosmtpd), recording each message.

    python3 Deploy/smtp-recorder.py DIRECTORY [--port N] [--auth USER:PASSWORD] [--tls CERT KEY]

--auth requires AUTH (PLAIN or LOGIN) with these credentials before MAIL; --tls offers STARTTLS
with this certificate and requires it before AUTH and MAIL.

Listens on 127.0.0.1 (port 0: any free one), prints the port on its first line of stdout, and writes
each accepted message to DIRECTORY/messages/<n>.json: envelope, Message-ID, Subject, the decoded text
body. Behaviour is read from DIRECTORY/behaviour.json at every step (absent: accept everything):

    {"default": "ok", "recipients": {"someone@example.com": "hang"}}

with, per recipient or for all: "ok"; "refuse" (451 at RCPT, a temporary refusal); "reject" (550 at
RCPT, a permanent one); "hang" (no answer to the end of DATA, ever); "close" (closes the connection
after the message's data, before answering). Counts of connections and attempts per Message-ID go to
DIRECTORY/attempts.jsonl (one line per DATA received).
"""
import asyncio
import email
import email.policy
import json
import os
import signal
import sys

import ssl

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


class Recorder:
    def __init__(self, directory):
        self.directory = directory
        self.messages = os.path.join(directory, "messages")
        os.makedirs(self.messages, exist_ok=True)
        self.count = 0

    def behaviour(self, recipient):
        try:
            with open(os.path.join(self.directory, "behaviour.json")) as handle:
                rules = json.load(handle)
        except (OSError, ValueError):
            return "ok"
        return rules.get("recipients", {}).get(recipient, rules.get("default", "ok"))

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        mode = self.behaviour(address)
        if mode == "refuse":
            return "451 4.3.0 try again later"
        if mode == "reject":
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.original_content or envelope.content, policy=email.policy.default)
        message_id = str(message.get("Message-ID", ""))
        with open(os.path.join(self.directory, "attempts.jsonl"), "a") as handle:
            handle.write(json.dumps({"messageId": message_id, "to": envelope.rcpt_tos}) + "\n")
        mode = self.behaviour(envelope.rcpt_tos[0] if envelope.rcpt_tos else "")
        if mode == "hang":
            await asyncio.sleep(3600)
        if mode == "close":
            server.transport.close()
            return "421 closing"
        body = message.get_body(preferencelist=("plain",))
        record = {
            "from": envelope.mail_from,
            "to": envelope.rcpt_tos,
            "messageId": message_id,
            "subject": str(message.get("Subject", "")),
            "headers": {key: str(value) for key, value in message.items()},
            "body": body.get_content() if body is not None else "",
        }
        self.count += 1
        path = os.path.join(self.messages, "%08d.json" % self.count)
        with open(path + ".tmp", "w") as handle:
            json.dump(record, handle)
        os.rename(path + ".tmp", path)
        return "250 2.0.0 accepted"


async def main():
    # Ends on SIGTERM even when started with it blocked, and when its parent closes stdin.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGTERM])
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    directory = sys.argv[1]
    port = int(sys.argv[sys.argv.index("--port") + 1]) if "--port" in sys.argv else 0
    recorder = Recorder(directory)
    options = {}
    if "--auth" in sys.argv:
        user, _, password = sys.argv[sys.argv.index("--auth") + 1].partition(":")

        def authenticator(server, session, envelope, mechanism, data):
            ok = isinstance(data, LoginPassword) and data.login == user.encode() and data.password == password.encode()
            return AuthResult(success=ok, handled=False)

        options.update(authenticator=authenticator, auth_required=True, auth_require_tls="--tls" in sys.argv)
    if "--tls" in sys.argv:
        index = sys.argv.index("--tls")
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(sys.argv[index + 1], sys.argv[index + 2])
        options.update(tls_context=context, require_starttls=True)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(recorder, hostname="recorder.test", data_size_limit=1 << 20, **options), host="127.0.0.1", port=port
    )
    print(server.sockets[0].getsockname()[1], flush=True)
    # Ends when its parent closes stdin (or kills it).
    await loop.run_in_executor(None, sys.stdin.read)
    server.close()


if __name__ == "__main__":
    asyncio.run(main())
