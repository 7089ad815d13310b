#!/usr/bin/env python3
"""A real SMTP server for the Notification tests and benchmark (aiosmtpd), recording each message.

    python3 Deploy/smtp-recorder.py DIRECTORY [--port N] [--auth USER:PASSWORD] [--tls CERT KEY]
                                    [--implicit-tls CERT KEY] [--processes N]

--auth requires AUTH (PLAIN or LOGIN) with these credentials before MAIL; --tls offers STARTTLS
with this certificate and requires it before AUTH and MAIL; --implicit-tls serves TLS from the first
byte (SMTPS, as on port 465) with this certificate.

Listens on 127.0.0.1 (port 0: any free one), prints the port on its first line of stdout, and appends
each accepted message to DIRECTORY/messages-<process>.jsonl, one JSON line each: envelope, Message-ID,
Subject, headers, the decoded text body. Behaviour is read from DIRECTORY/behaviour.json (again whenever
the file changes; absent: accept everything):

    {"default": "ok", "recipients": {"someone@example.com": "hang"}}

with, per recipient or for all: "ok"; "refuse" (451 at RCPT, a temporary refusal); "reject" (550 at
RCPT, a permanent one); "hang" (no answer to the end of DATA, ever); "close" (closes the connection
after the message's data, before answering); "close-idle" (accepts the message, then closes the
connection, as a server does with an idle one); "drop-reused" (as the default: answers 421 to MAIL and
closes, on a connection that already carried a message, as a server closing an idle connection just as
the client reuses it). Each DATA received (accepted or not) is a line of
DIRECTORY/attempts-<process>.jsonl: its Message-ID, recipients and the connection's number; each
connection opened is a line of DIRECTORY/connections-<process>.jsonl.

--processes N runs N server processes on the one port (SO_REUSEPORT; the kernel spreads the
connections), for a benchmark's throughput; each writes its own files. Nothing is fsynced: the files
are a recording for tests and benchmarks, not a mail store.
"""
import asyncio
import email
import email.errors
import email.header
import json
import os
import signal
import sys

import socket
import ssl

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


def _text(value):
    """A header's value, RFC 2047 encoded words decoded."""
    try:
        return str(email.header.make_header(email.header.decode_header(value)))
    except (ValueError, LookupError, email.errors.HeaderParseError):
        return str(value)


class Recorder:
    def __init__(self, directory, tag):
        self.directory = directory
        self.rules = {}
        self.rules_stamp = None
        self.messages = open(os.path.join(directory, "messages-%s.jsonl" % tag), "a", buffering=1)
        self.attempts = open(os.path.join(directory, "attempts-%s.jsonl" % tag), "a", buffering=1)
        self.connections = open(os.path.join(directory, "connections-%s.jsonl" % tag), "a", buffering=1)
        self.connection_count = 0

    def behaviour(self, recipient):
        path = os.path.join(self.directory, "behaviour.json")
        try:
            stat = os.stat(path)
            stamp = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
        except OSError:
            stamp = None
        if stamp != self.rules_stamp:
            try:
                with open(path) as handle:
                    self.rules = json.load(handle)
            except (OSError, ValueError):
                self.rules = {}
            self.rules_stamp = stamp
        return self.rules.get("recipients", {}).get(recipient, self.rules.get("default", "ok"))

    def connected(self, server):
        self.connection_count += 1
        server.recorder_connection = "%s-%d" % (os.getpid(), self.connection_count)
        self.connections.write(json.dumps({"connection": server.recorder_connection}) + "\n")

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if self.behaviour("") == "drop-reused" and getattr(server, "recorder_messages", 0) > 0:
            server.transport.close()
            return "421 4.4.2 closing an idle connection"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        mode = self.behaviour(address)
        if mode == "refuse":
            return "451 4.3.0 try again later"
        if mode == "reject":
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        # compat32 parsing: the default policy costs milliseconds per message.
        message = email.message_from_bytes(envelope.original_content or envelope.content)
        message_id = message.get("Message-ID", "").strip()
        connection = getattr(server, "recorder_connection", "")
        server.recorder_messages = getattr(server, "recorder_messages", 0) + 1
        self.attempts.write(json.dumps({"messageId": message_id, "to": envelope.rcpt_tos, "connection": connection}) + "\n")
        mode = self.behaviour(envelope.rcpt_tos[0] if envelope.rcpt_tos else "")
        if mode == "hang":
            await asyncio.sleep(3600)
        if mode == "close":
            server.transport.close()
            return "421 closing"
        payload = message.get_payload(decode=True) if not message.is_multipart() else b""
        record = {
            "from": envelope.mail_from,
            "to": envelope.rcpt_tos,
            "messageId": message_id,
            "subject": _text(message.get("Subject", "")),
            "headers": {key: _text(value) for key, value in message.items()},
            "body": (payload or b"").decode(message.get_content_charset() or "utf-8", errors="replace"),
            "connection": connection,
        }
        self.messages.write(json.dumps(record) + "\n")
        if mode == "close-idle":
            asyncio.get_running_loop().call_later(0.05, server.transport.close)
        return "250 2.0.0 accepted"


class RecordingSMTP(SMTP):
    def connection_made(self, transport):
        super().connection_made(transport)
        self.event_handler.connected(self)


def arguments():
    port = int(sys.argv[sys.argv.index("--port") + 1]) if "--port" in sys.argv else 0
    processes = int(sys.argv[sys.argv.index("--processes") + 1]) if "--processes" in sys.argv else 1
    return port, max(1, min(processes, 64))


def options():
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
    return options


def implicit_tls():
    if "--implicit-tls" not in sys.argv:
        return None
    index = sys.argv.index("--implicit-tls")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(sys.argv[index + 1], sys.argv[index + 2])
    return context


async def serve(listener, tag):
    recorder = Recorder(sys.argv[1], tag)
    settings = options()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: RecordingSMTP(recorder, hostname="recorder.test", data_size_limit=1 << 20, **settings),
        sock=listener, ssl=implicit_tls(),
    )
    return server


def child(listener, tag):
    # A worker of --processes: serves until its parent ends.
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG: dies with its parent
    except OSError:
        pass
    if os.getppid() == 1:
        os._exit(0)

    async def run():
        await serve(listener, tag)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
        os._exit(0)

    asyncio.run(run())
    os._exit(0)


async def main(listener, children):
    server = await serve(listener, "0")
    print(listener.getsockname()[1], flush=True)
    # Ends when its parent closes stdin (or kills it); the workers die with it.
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    for pid in children:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    server.close()


def start():
    # Ends on SIGTERM even when started with it blocked, and when its parent closes stdin.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGTERM])
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    port, processes = arguments()
    listeners = []
    for _ in range(processes):
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if processes > 1:
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        listener.bind(("127.0.0.1", port))
        port = listener.getsockname()[1]
        listener.listen(1024)
        listeners.append(listener)
    children = []
    for index in range(1, processes):
        pid = os.fork()
        if pid == 0:
            child(listeners[index], "%d" % index)
        children.append(pid)
    asyncio.run(main(listeners[0], children))


if __name__ == "__main__":
    start()
