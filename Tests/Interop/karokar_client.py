#!/usr/bin/env python3
"""A KaroKar RPC (protocol version 1) client and interop check, written from Protos/PROTOCOL.md.

Written only from the normative document Protos/PROTOCOL.md and the .proto files under Protos/,
without looking at the server's source. Section numbers in comments ("§6.5") refer to that
document.

Library use:

    msgs = Messages.load()                      # runs protoc-c, builds classes at run time
    with Connection("127.0.0.1", 7420, msgs) as conn:
        conn.wait_hello_ack()
        resp = conn.unary("/karokar.rpc.v1.HealthService/Check", msgs.CheckRequest())
        print(resp.status)                      # 1 = SERVING

Program use (runs the interop checks against a live server):

    python3 Tests/Interop/karokar_client.py --host 127.0.0.1 --port 7420
    python3 Tests/Interop/karokar_client.py --port 7420 --expect-drain [--ready-file F]

Only the standard library and the `protobuf` package are used. Message classes are built at run
time from a descriptor set produced by `protoc-c --descriptor_set_out`; nothing is generated
into the source tree.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import random
import re
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout

from google.protobuf import descriptor_pb2, descriptor_pool, json_format, message_factory

# ---------------------------------------------------------------------------------------------
# Wire constants (§3, §4, §15)
# ---------------------------------------------------------------------------------------------

HELLO = 0x01
HELLO_ACK = 0x02
CALL = 0x10
REPLY = 0x11
CANCEL = 0x12
STREAM_ITEM = 0x13  # reserved (§4.1 rule 3)
STREAM_END = 0x14  # reserved
PING = 0x20
PONG = 0x21
DRAIN = 0x30
EXTENSION_MIN = 0x80  # 0x80..0xff: extension frames, always skipped (§4.1 rule 1)

FRAME_NAMES = {
    HELLO: "HELLO", HELLO_ACK: "HELLO_ACK", CALL: "CALL", REPLY: "REPLY", CANCEL: "CANCEL",
    STREAM_ITEM: "STREAM_ITEM", STREAM_END: "STREAM_END", PING: "PING", PONG: "PONG",
    DRAIN: "DRAIN",
}

PROTOCOL_VERSION = 1
HEADER = struct.Struct(">IBBHI")  # length, type, flags, reserved, call_id (§3.1)
PREFIX_BYTES = HEADER.size  # 12
MIN_LENGTH = 8  # §3.2
ABSOLUTE_MAX_FRAME = 16 * 1024 * 1024  # a server never allows more; clients SHOULD accept this much
MAX_CALL_ID = 0xFFFFFFFF  # §6.2
MAX_METHOD_BYTES = 256  # §6.1, §10.1
MAX_METADATA_ENTRIES = 64  # §10.1
METADATA_KEY = re.compile(rb"[a-z0-9._-]{1,64}")  # §10.1
DEFAULT_DEADLINE_GRACE = 0.2  # seconds; §8.6

# HelloAck defaults (§5 table); assumed until HELLO_ACK arrives (§5.3).
DEFAULT_LIMITS = {
    "protocol_version": 1,
    "server_name": "karokar-server",
    "max_frame_bytes": 4194304,
    "max_calls_in_flight": 256,
    "max_metadata_bytes": 8192,
    "idle_timeout_millis": 300000,
    "max_request_bytes": 1048576,
}

# karokar.rpc.v1.Code (§7.2), same numbers as gRPC.
CODE_NAMES = [
    "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
    "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED",
    "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED",
]
Code = type("Code", (), {name: number for number, name in enumerate(CODE_NAMES)})


def code_name(code: int) -> str:
    """Name without the CODE_ prefix; unknown numbers are accepted (§7.2) and shown as such."""
    return CODE_NAMES[code] if 0 <= code < len(CODE_NAMES) else f"UNKNOWN({code})"


SERVING_STATUS_NAMES = {0: "UNSPECIFIED", 1: "SERVING", 2: "NOT_SERVING", 3: "SERVICE_UNKNOWN"}

# ---------------------------------------------------------------------------------------------
# Message classes, built at run time from the .proto files (§17.1)
# ---------------------------------------------------------------------------------------------

DEFAULT_PROTO_ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                   "..", "..", "Protos"))
RPC_PROTO_FILES = (
    "karokar/rpc/v1/frames.proto",  # imports status.proto, which imports common/v1/errors.proto
    "karokar/rpc/v1/health.proto",
    "karokar/rpc/v1/reflection.proto",
    "karokar/rpc/v1/diagnostics.proto",
)


class Messages:
    """Protobuf message classes for the frame bodies and the built-in services.

    Attributes are the classes (`msgs.Hello`, `msgs.Call`, `msgs.EchoRequest`, ...); `cls(name)`
    returns the class of any fully qualified message in the loaded files, and `method_types(path)`
    the request and response classes of a method path.
    """

    FRAME_BODIES = ("Hello", "HelloAck", "MetadataEntry", "Call", "Reply", "Cancel", "Ping",
                    "Drain", "Status")
    SERVICE_MESSAGES = ("CheckRequest", "CheckResponse", "ListServicesRequest",
                        "ListServicesResponse", "DescribeTypeRequest", "DescribeTypeResponse",
                        "EchoRequest", "EchoResponse")

    def __init__(self, pool: descriptor_pool.DescriptorPool):
        self.pool = pool
        for short in self.FRAME_BODIES + self.SERVICE_MESSAGES:
            setattr(self, short, self.cls("karokar.rpc.v1." + short))
        self.ErrorDetails = self.cls("karokar.common.v1.ErrorDetails")

    @classmethod
    def load(cls, proto_root: str = DEFAULT_PROTO_ROOT, files=RPC_PROTO_FILES,
             protoc: str = "protoc-c") -> "Messages":
        exe = shutil.which(protoc)
        if exe is None:
            raise RuntimeError(f"{protoc} not found on PATH")
        with tempfile.TemporaryDirectory(prefix="karokar-interop-") as tmp:
            out = os.path.join(tmp, "karokar.desc")
            proc = subprocess.run(
                [exe, f"--descriptor_set_out={out}", "--include_imports", "-I", proto_root,
                 *files], capture_output=True, text=True)
            if proc.returncode != 0:
                raise RuntimeError(f"{protoc} failed ({proc.returncode}): {proc.stderr.strip()}")
            with open(out, "rb") as f:
                fds = descriptor_pb2.FileDescriptorSet.FromString(f.read())
        pool = descriptor_pool.DescriptorPool()
        for file_proto in fds.file:  # --include_imports lists dependencies first
            pool.Add(file_proto)
        return cls(pool)

    def cls(self, full_name: str):
        return message_factory.GetMessageClass(self.pool.FindMessageTypeByName(full_name))

    def method_types(self, path: str):
        """(request class, response class) for `/package.Service/Method`, or None if unknown."""
        m = re.fullmatch(r"/([^/]+)/([^/]+)", path)
        if not m:
            return None
        try:
            method = self.pool.FindMethodByName(f"{m.group(1)}.{m.group(2)}")
        except KeyError:
            return None
        return (message_factory.GetMessageClass(method.input_type),
                message_factory.GetMessageClass(method.output_type))


def encode(message) -> bytes:
    """Canonical encoding (§17.2): field-number order, defaults omitted, maps sorted."""
    return message.SerializeToString(deterministic=True)


# ---------------------------------------------------------------------------------------------
# Framing (§3)
# ---------------------------------------------------------------------------------------------


class ProtocolError(Exception):
    """The peer violated the protocol; the connection is unusable (§1)."""


def frame_bytes(frame_type: int, call_id: int, body: bytes = b"", *, flags: int = 0,
                reserved: int = 0, length: int | None = None) -> bytes:
    """One frame: 4-byte length (8 + body), type, flags, reserved, call id, body.

    `flags`, `reserved` and `length` exist only so tests can write frames a conforming sender
    never writes; leave them alone otherwise.
    """
    if length is None:
        length = MIN_LENGTH + len(body)
    return HEADER.pack(length, frame_type, flags, reserved, call_id) + body


class FrameReader:
    """Reads frames from a socket, reassembling them from whatever segments arrive (§2)."""

    def __init__(self, sock: socket.socket, max_frame_bytes: int = ABSOLUTE_MAX_FRAME):
        self.sock = sock
        self.max_frame_bytes = max_frame_bytes
        self._buf = bytearray()

    def _fill(self, n: int, at_frame_start: bool) -> bool:
        """Buffer at least n bytes. False on a clean EOF at a frame boundary."""
        while len(self._buf) < n:
            chunk = self.sock.recv(max(65536, n - len(self._buf)))
            if not chunk:
                if at_frame_start and not self._buf:
                    return False
                raise ConnectionError(f"connection closed inside a frame "
                                      f"({len(self._buf)} of {n} bytes)")
            self._buf += chunk
        return True

    def read(self):
        """(type, flags, reserved, call_id, body), or None on a clean EOF between frames."""
        if not self._fill(4, at_frame_start=True):
            return None
        (length,) = struct.unpack_from(">I", self._buf)
        # Check the length before buffering the body (§3.2).
        if length < MIN_LENGTH:
            raise ProtocolError(f"frame length {length} < 8")
        if length > self.max_frame_bytes:
            raise ProtocolError(f"frame length {length} > {self.max_frame_bytes}")
        self._fill(4 + length, at_frame_start=False)
        _, frame_type, flags, reserved, call_id = HEADER.unpack_from(self._buf)
        body = bytes(self._buf[PREFIX_BYTES:4 + length])
        del self._buf[:4 + length]
        return frame_type, flags, reserved, call_id, body


# ---------------------------------------------------------------------------------------------
# Errors and calls
# ---------------------------------------------------------------------------------------------


class RpcError(Exception):
    """A call that did not succeed: a non-OK REPLY, or a local failure (`local=True`).

    `not_started` is True when the server provably never started the call (§14): a refusal with
    DRAINING or TOO_MANY_CALLS, a call id above a DRAIN's last_call_id, or a call never written.
    """

    def __init__(self, code: int, message: str = "", details=None, *, local: bool = False,
                 not_started: bool = False, reply=None):
        self.code = code
        self.message = message
        self.details = details  # karokar.common.v1.ErrorDetails or None
        self.local = local
        self.reply = reply
        domain = self.domain_code
        self.not_started = not_started or (code, domain) in (
            (Code.UNAVAILABLE, "DRAINING"), (Code.RESOURCE_EXHAUSTED, "TOO_MANY_CALLS"))
        origin = "local" if local else "server"
        text = f"{code_name(code)}"
        if domain:
            text += f"/{domain}"
        super().__init__(f"{text}: {message} ({origin})")

    @property
    def code_name(self) -> str:
        return code_name(self.code)

    @property
    def domain_code(self) -> str:
        return self.details.domain_code if self.details is not None else ""

    @property
    def field_violations(self):
        return list(self.details.field_violations) if self.details is not None else []

    @property
    def retry_delay_millis(self):
        if self.details is not None and self.details.HasField("retry_info"):
            return self.details.retry_info.retry_delay_millis
        return None


class PendingCall:
    """An outstanding call. `result()` returns the decoded response or raises RpcError."""

    def __init__(self, conn: "Connection", call_id: int, method: str, response_class):
        self.conn = conn
        self.call_id = call_id
        self.method = method
        self.response_class = response_class
        self.future: Future = Future()
        self.timer: threading.Timer | None = None
        self.reply = None  # the Reply message, once one arrived
        self.sent_at = None

    def result(self, timeout: float | None = 10.0):
        """Wait up to `timeout` seconds. Waiting in vain fails only the wait: the call stays
        outstanding (use `cancel()` to abandon it, or a call deadline for a local timer)."""
        try:
            return self.future.result(timeout)
        except FutureTimeout:
            raise RpcError(Code.DEADLINE_EXCEEDED,
                           f"no REPLY for call {self.call_id} within {timeout}s", local=True)

    def cancel(self, reason: str = "") -> None:
        self.conn.cancel(self.call_id, reason)

    def done(self) -> bool:
        return self.future.done()


# ---------------------------------------------------------------------------------------------
# Connection (§19)
# ---------------------------------------------------------------------------------------------


class Connection:
    """One multiplexed KaroKar connection: handshake, pipelined calls, PING, CANCEL, DRAIN.

    A reader thread dispatches frames; writes are serialized by a lock that also allocates call
    ids, so ids reach the socket in increasing order (§19 step 4). HELLO is sent at once and calls
    may be pipelined before HELLO_ACK (§5.3); until it arrives the default limits are assumed.
    """

    def __init__(self, host: str, port: int, msgs: Messages, *,
                 client_name: str = "karokar-interop-py/1", connect_timeout: float = 5.0,
                 handshake_timeout: float = 5.0, max_frame_bytes: int = ABSOLUTE_MAX_FRAME,
                 deadline_grace: float = DEFAULT_DEADLINE_GRACE):
        self.msgs = msgs
        self.deadline_grace = deadline_grace
        self.limits = dict(DEFAULT_LIMITS)
        self.hello_ack = None
        self.server_protocol_error: str | None = None  # why *we* closed, if the server misbehaved
        self.close_reason: str | None = None
        self.drains: list = []  # every Drain message received, in order
        self.drain_last_call_id: int | None = None  # smallest last_call_id seen (§13)
        self.reply_counts: collections.Counter = collections.Counter()  # REPLYs per call id
        self.unmatched_replies: list = []  # (call_id, Reply) for calls no longer pending
        self.pongs: list = []  # (call_id, body) of every PONG received
        self.last_sent_call_id = 0

        self._lock = threading.Lock()  # pending, pings, drain state
        self._wlock = threading.Lock()  # socket writes and call id allocation
        self._pending: dict[int, PendingCall] = {}
        self._pings: dict[tuple[int, bytes], list[Future]] = {}
        self._next_call_id = 1
        self._hello_ack_event = threading.Event()
        self.drain_event = threading.Event()
        self.closed_event = threading.Event()
        self._handshake_timeout = handshake_timeout

        self.sock = socket.create_connection((host, port), timeout=connect_timeout)
        self.sock.settimeout(None)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # §2
        self._reader = FrameReader(self.sock, max_frame_bytes)
        # HELLO (§5.1): version 1, our name, max_frame_bytes 0 (no preference).
        hello = msgs.Hello(protocol_version=PROTOCOL_VERSION, client_name=client_name)
        self._write(HELLO, 0, encode(hello))
        # §5.5 / §19 step 2: give up if no HELLO_ACK arrives within the handshake timeout.
        self._handshake_timer = threading.Timer(handshake_timeout, self._handshake_expired)
        self._handshake_timer.daemon = True
        self._thread = threading.Thread(target=self._read_loop, name="karokar-reader", daemon=True)
        self._handshake_timer.start()
        self._thread.start()

    def _handshake_expired(self) -> None:
        if self.hello_ack is None and not self.closed:
            self.close(f"no HELLO_ACK within {self._handshake_timeout}s", join=False)

    # -- context manager --------------------------------------------------------------------

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- state ------------------------------------------------------------------------------

    @property
    def draining(self) -> bool:
        return self.drain_event.is_set()

    @property
    def closed(self) -> bool:
        return self.closed_event.is_set()

    @property
    def outstanding(self) -> int:
        with self._lock:
            return len(self._pending)

    def wait_hello_ack(self, timeout: float | None = None):
        """Wait for HELLO_ACK; raise ConnectionError if the connection failed first (§5.5)."""
        timeout = self._handshake_timeout + 1.0 if timeout is None else timeout
        deadline = time.monotonic() + timeout
        while not self._hello_ack_event.is_set():
            if self.closed or self.drains or time.monotonic() >= deadline:
                break
            self._hello_ack_event.wait(0.02)
        if self.hello_ack is None:
            raise ConnectionError(self._failure_text("handshake failed"))
        return self.hello_ack

    def _failure_text(self, prefix: str) -> str:
        parts = [prefix]
        if self.drains:
            d = self.drains[-1]
            parts.append(f"DRAIN {code_name(d.status.code)} {d.status.message!r}")
        if self.server_protocol_error:
            parts.append(f"protocol error: {self.server_protocol_error}")
        if self.close_reason:
            parts.append(f"closed: {self.close_reason}")
        return "; ".join(parts)

    # -- writing ----------------------------------------------------------------------------

    def _write(self, frame_type: int, call_id: int, body: bytes = b"") -> None:
        with self._wlock:
            self.sock.sendall(frame_bytes(frame_type, call_id, body))

    def send_raw(self, data: bytes) -> None:
        """Write bytes as they are (for tests of the server's reaction to malformed input)."""
        with self._wlock:
            self.sock.sendall(data)

    # -- calls (§6, §8, §10) ----------------------------------------------------------------

    def start_call(self, method: str, request=b"", *, timeout: float | None = None,
                   timeout_micros: int | None = None, metadata=(), response_class=None,
                   check_limits: bool = True) -> PendingCall:
        """Write a CALL and return its PendingCall without waiting for the REPLY.

        `request` is a message or already-encoded bytes. `timeout` (seconds) is the deadline;
        `timeout_micros` puts an exact value on the wire instead. `metadata` is a mapping or a
        sequence of (key, value) pairs; str values are sent as UTF-8. With `check_limits` the
        announced limits are enforced locally first (§19 step 4); tests turn that off to probe
        the server.
        """
        payload = request if isinstance(request, (bytes, bytearray)) else encode(request)
        entries = list(metadata.items()) if hasattr(metadata, "items") else list(metadata)
        md = [self.msgs.MetadataEntry(key=k, value=v.encode() if isinstance(v, str) else bytes(v))
              for k, v in entries]
        if response_class is None:
            types = self.msgs.method_types(method)
            response_class = types[1] if types else None
        if check_limits:
            self._check_call_limits(method, payload, md)
        deadline = None if timeout is None else time.monotonic() + timeout

        with self._wlock:
            if self.closed or self.draining:
                raise RpcError(Code.UNAVAILABLE,
                               "connection is " + ("closed" if self.closed else "draining"),
                               local=True, not_started=True)
            call_id = self._next_call_id
            if call_id > MAX_CALL_ID:
                raise RpcError(Code.UNAVAILABLE, "call ids exhausted; open a new connection",
                               local=True, not_started=True)
            if timeout_micros is None and deadline is not None:
                # §8.7: send the time remaining, so time queued here is not granted twice.
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise RpcError(Code.DEADLINE_EXCEEDED, "deadline passed before sending",
                                   local=True, not_started=True)
                timeout_micros = max(1, int(remaining * 1_000_000))
            call = self.msgs.Call(method=method, timeout_micros=timeout_micros or 0,
                                  metadata=md, payload=bytes(payload))
            body = encode(call)
            if check_limits and MIN_LENGTH + len(body) > self.limits["max_frame_bytes"]:
                raise RpcError(Code.RESOURCE_EXHAUSTED, "CALL frame over max_frame_bytes",
                               local=True, not_started=True)
            pc = PendingCall(self, call_id, method, response_class)
            if timeout_micros:
                # §8.6: our own timer, deadline + grace, from when the CALL is written. Created
                # now so that a REPLY racing the write can cancel it; started after the write.
                pc.timer = threading.Timer(timeout_micros / 1_000_000 + self.deadline_grace,
                                           self._local_deadline, (call_id,))
                pc.timer.daemon = True
            with self._lock:
                self._pending[call_id] = pc
            try:
                self.sock.sendall(frame_bytes(CALL, call_id, body))
            except OSError as e:
                with self._lock:
                    self._pending.pop(call_id, None)
                # May have been partially written; only an unwritten call is surely not started.
                time.sleep(0.05)  # let the reader record a DRAIN or the close, for the message
                raise RpcError(Code.UNAVAILABLE, self._failure_text(f"write failed: {e}"),
                               local=True)
            pc.sent_at = time.monotonic()
            self._next_call_id = call_id + 1
            self.last_sent_call_id = call_id
        if pc.timer:
            pc.timer.start()  # a no-op if the REPLY already arrived and cancelled it
        return pc

    def unary(self, method: str, request=b"", *, wait: float = 10.0, **kwargs):
        """Call and wait: the decoded response (or bytes), or raise RpcError."""
        return self.start_call(method, request, **kwargs).result(wait)

    def _check_call_limits(self, method: str, payload: bytes, md) -> None:
        if len(method.encode()) > MAX_METHOD_BYTES:
            raise RpcError(Code.INVALID_ARGUMENT, "method path over 256 bytes", local=True,
                           not_started=True)
        if len(md) > MAX_METADATA_ENTRIES:
            raise RpcError(Code.RESOURCE_EXHAUSTED, "more than 64 metadata entries", local=True,
                           not_started=True)
        keys = set()
        for e in md:
            if not METADATA_KEY.fullmatch(e.key.encode()) or e.key in keys:
                raise RpcError(Code.INVALID_ARGUMENT, f"bad or repeated metadata key {e.key!r}",
                               local=True, not_started=True)
            keys.add(e.key)
        if sum(len(e.key.encode()) + len(e.value) for e in md) > self.limits["max_metadata_bytes"]:
            raise RpcError(Code.RESOURCE_EXHAUSTED, "metadata over max_metadata_bytes",
                           local=True, not_started=True)
        if len(payload) > self.limits["max_request_bytes"]:
            # Methods may have their own cap (ReflectionService MethodInfo.max_request_bytes);
            # the announced default is what a client knows without asking.
            raise RpcError(Code.RESOURCE_EXHAUSTED, "request over max_request_bytes",
                           local=True, not_started=True)
        if self.outstanding >= self.limits["max_calls_in_flight"]:
            raise RpcError(Code.RESOURCE_EXHAUSTED, "max_calls_in_flight calls outstanding",
                           local=True, not_started=True)

    def _local_deadline(self, call_id: int) -> None:
        with self._lock:
            pc = self._pending.pop(call_id, None)
        if pc is None:
            return
        pc.future.set_exception(RpcError(Code.DEADLINE_EXCEEDED, "local deadline (no REPLY)",
                                         local=True))
        self._send_cancel(call_id, "")

    def cancel(self, call_id: int, reason: str = "") -> None:
        """Abandon a call (§9): fail it locally with CANCELLED and write CANCEL.

        Also usable for any call id (the server ignores ids not in flight, §9.3)."""
        with self._lock:
            pc = self._pending.pop(call_id, None)
        if pc is not None:
            if pc.timer:
                pc.timer.cancel()
            pc.future.set_exception(RpcError(Code.CANCELLED, "cancelled by this client",
                                             local=True))
        self._send_cancel(call_id, reason)

    def _send_cancel(self, call_id: int, reason: str) -> None:
        if self.closed:
            return
        body = encode(self.msgs.Cancel(reason=reason)) if reason else b""
        try:
            self._write(CANCEL, call_id, body)
        except OSError:
            pass

    # -- ping (§11) -------------------------------------------------------------------------

    def ping(self, opaque: int | None = None, *, call_id: int = 0, timeout: float = 5.0):
        """Send PING and wait for the PONG with the same call id and body. Returns (rtt, body)."""
        if opaque is None:
            opaque = random.getrandbits(63)
        body = encode(self.msgs.Ping(opaque=opaque))
        fut: Future = Future()
        with self._lock:
            if self.closed:
                raise ConnectionError(self._failure_text("connection closed"))
            self._pings.setdefault((call_id, body), []).append(fut)
        start = time.monotonic()
        self._write(PING, call_id, body)
        try:
            fut.result(timeout)
        except FutureTimeout:
            raise TimeoutError(f"no PONG within {timeout}s")
        return time.monotonic() - start, body

    # -- reading ----------------------------------------------------------------------------

    def _read_loop(self) -> None:
        reason = "closed by the server (EOF)"
        try:
            while True:
                frame = self._reader.read()
                if frame is None:
                    break
                self._dispatch(*frame)
        except ProtocolError as e:
            self.server_protocol_error = str(e)
            reason = f"client-detected protocol error: {e}"
        except (OSError, ConnectionError) as e:
            reason = f"{type(e).__name__}: {e}"
        self._on_closed(reason)

    def _dispatch(self, frame_type: int, flags: int, reserved: int, call_id: int, body: bytes):
        # flags and reserved are ignored (§3.4).
        if frame_type >= EXTENSION_MIN:
            return  # §4.1 rule 1
        if self.hello_ack is None and frame_type not in (HELLO_ACK, DRAIN):
            raise ProtocolError(f"{FRAME_NAMES.get(frame_type, hex(frame_type))} before HELLO_ACK")
        if frame_type == HELLO_ACK:
            if self.hello_ack is not None:
                raise ProtocolError("second HELLO_ACK")
            ack = self._decode(self.msgs.HelloAck, body, "HELLO_ACK")
            if ack.protocol_version != PROTOCOL_VERSION:
                raise ProtocolError(f"server speaks protocol version {ack.protocol_version}")
            # A limit of 0 (field absent) is not meaningful; keep assuming the default then.
            for key in DEFAULT_LIMITS:
                value = getattr(ack, key)
                if value or key in ("protocol_version", "server_name"):
                    self.limits[key] = value
            self.hello_ack = ack
            self._hello_ack_event.set()
        elif frame_type == REPLY:
            self._on_reply(call_id, self._decode(self.msgs.Reply, body, "REPLY"))
        elif frame_type == DRAIN:
            self._on_drain(self._decode(self.msgs.Drain, body, "DRAIN"))
        elif frame_type == PING:
            self._write(PONG, call_id, body)  # byte for byte (§11.2)
        elif frame_type == PONG:
            self.pongs.append((call_id, body))
            with self._lock:
                waiters = self._pings.pop((call_id, body), [])
            for fut in waiters:
                fut.set_result(True)
        else:
            # HELLO, CALL, CANCEL, STREAM_ITEM/END (we call no streaming method), unassigned.
            raise ProtocolError(f"unexpected frame type {frame_type:#04x} from the server")

    def _decode(self, cls, body: bytes, what: str):
        try:
            return cls.FromString(body)
        except Exception as e:  # DecodeError
            raise ProtocolError(f"undecodable {what} body {body.hex()}: {e}")

    def _on_reply(self, call_id: int, reply) -> None:
        self.reply_counts[call_id] += 1
        with self._lock:
            pc = self._pending.pop(call_id, None)
        if pc is None:
            self.unmatched_replies.append((call_id, reply))  # §6.4 rule 3: ignore
            return
        if pc.timer:
            pc.timer.cancel()
        pc.reply = reply
        status = reply.status  # absent status means OK (§6.3)
        if status.code != Code.OK:
            details = status.details if status.HasField("details") else None
            pc.future.set_exception(RpcError(status.code, status.message, details, reply=reply))
            return
        if pc.response_class is None:
            pc.future.set_result(reply.payload)
            return
        try:
            pc.future.set_result(pc.response_class.FromString(reply.payload))
        except Exception as e:
            pc.future.set_exception(RpcError(Code.INTERNAL, f"undecodable response: {e}",
                                             local=True, reply=reply))

    def _on_drain(self, drain) -> None:
        """§13.3: no new calls; calls above last_call_id were not started."""
        self.drains.append(drain)
        with self._lock:
            if self.drain_last_call_id is None or drain.last_call_id < self.drain_last_call_id:
                self.drain_last_call_id = drain.last_call_id
            limit = self.drain_last_call_id
            not_started = [pc for cid, pc in self._pending.items() if cid > limit]
            for pc in not_started:
                del self._pending[pc.call_id]
        self.drain_event.set()
        for pc in not_started:
            if pc.timer:
                pc.timer.cancel()
            pc.future.set_exception(RpcError(Code.UNAVAILABLE,
                                             f"not started: above DRAIN last_call_id {limit}",
                                             local=True, not_started=True))

    def _on_closed(self, reason: str) -> None:
        if self.close_reason is None:
            self.close_reason = reason
        self._handshake_timer.cancel()
        try:
            # shutdown, not close: a writer blocked in sendall fails cleanly instead of writing
            # to a file descriptor that may have been reused. close() releases the descriptor.
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        with self._lock:
            pending = list(self._pending.values())
            self._pending.clear()
            pings = [f for futs in self._pings.values() for f in futs]
            self._pings.clear()
            self.closed_event.set()
        for pc in pending:
            if pc.timer:
                pc.timer.cancel()
            pc.future.set_exception(RpcError(
                Code.UNAVAILABLE, f"connection lost, outcome unknown ({self.close_reason})",
                local=True))
        for fut in pings:
            fut.set_exception(ConnectionError(self.close_reason))

    def close(self, reason: str = "closed by the client", join: bool = True) -> None:
        """Close the connection; pending calls fail with UNAVAILABLE (outcome unknown)."""
        if self.close_reason is None:
            self.close_reason = reason
        self._handshake_timer.cancel()
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        if join:
            self._thread.join(5)
            if not self._thread.is_alive():
                self.sock.close()


# ---------------------------------------------------------------------------------------------
# Raw access, for checks of the server's reaction to protocol violations
# ---------------------------------------------------------------------------------------------


class RawPeer:
    """A bare socket speaking frames, with no client logic: the checks use it to misbehave."""

    def __init__(self, host: str, port: int, timeout: float = 5.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.reader = FrameReader(self.sock)

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def send_frame(self, frame_type: int, call_id: int = 0, body: bytes = b"", **kw) -> None:
        self.sock.sendall(frame_bytes(frame_type, call_id, body, **kw))

    def read_frame(self, timeout: float = 5.0):
        """Next frame, None at EOF. Raises socket.timeout if nothing arrives."""
        self.sock.settimeout(timeout)
        return self.reader.read()

    def read_until_close(self, timeout: float = 5.0):
        """All frames until the server closes. Returns (frames, how) where how is 'eof',
        'reset' or 'timeout'."""
        frames = []
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return frames, "timeout"
            try:
                frame = self.read_frame(remaining)
            except socket.timeout:
                return frames, "timeout"
            except (ConnectionResetError, BrokenPipeError):
                return frames, "reset"
            if frame is None:
                return frames, "eof"
            frames.append(frame)

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


def describe_frames(frames, msgs: Messages) -> str:
    out = []
    for ftype, _flags, _res, cid, body in frames:
        name = FRAME_NAMES.get(ftype, f"{ftype:#04x}")
        text = f"{name}(call {cid}"
        if ftype == DRAIN:
            try:
                d = msgs.Drain.FromString(body)
                text += (f", last_call_id {d.last_call_id}, {code_name(d.status.code)} "
                         f"{d.status.message!r}")
            except Exception:
                pass
        out.append(text + f", body {body.hex() or '-'})")
    return "[" + ", ".join(out) + "]"


# ---------------------------------------------------------------------------------------------
# Checks
# ---------------------------------------------------------------------------------------------


class CheckFailed(Exception):
    pass


def expect(cond, why: str) -> None:
    if not cond:
        raise CheckFailed(why)


def expect_rpc_error(fn, code: int, domain: str | None = None) -> RpcError:
    """Run fn, which must raise a server RpcError with this code (and domain code)."""
    try:
        result = fn()
    except RpcError as e:
        got = f"{e.code_name}/{e.domain_code or '-'} {e.message!r}"
        expect(not e.local, f"expected a server REPLY, got a local failure: {e}")
        expect(e.code == code and (domain is None or e.domain_code == domain),
               f"expected {code_name(code)}/{domain or '*'}, got {got}")
        return e
    raise CheckFailed(f"expected {code_name(code)}/{domain or '*'}, got OK: {result!r:.80}")


class Runner:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, name: str, fn) -> bool:
        try:
            fn()
        except CheckFailed as e:
            return self._fail(name, str(e))
        except Exception as e:  # an unexpected exception fails the check, not the program
            return self._fail(name, f"{type(e).__name__}: {e}")
        self.passed += 1
        print(f"ok - {name}", flush=True)
        return True

    def _fail(self, name: str, why: str) -> bool:
        self.failed += 1
        why = " ".join(why.split())
        print(f"not ok - {name}: {why}", flush=True)
        return False

    def summary(self) -> int:
        print(f"{self.passed} passed, {self.failed} failed", flush=True)
        return 1 if self.failed else 0


HEALTH_CHECK = "/karokar.rpc.v1.HealthService/Check"
LIST_SERVICES = "/karokar.rpc.v1.ReflectionService/ListServices"
DESCRIBE_TYPE = "/karokar.rpc.v1.ReflectionService/DescribeType"
ECHO = "/karokar.rpc.v1.DiagnosticsService/Echo"


class InteropChecks:
    """The checks against a live server. Each method is one check."""

    def __init__(self, host: str, port: int, msgs: Messages, runner: Runner,
                 expect_default_limits: bool = True, slow: bool = True):
        self.host, self.port, self.msgs, self.r = host, port, msgs, runner
        self.expect_default_limits = expect_default_limits
        self.slow = slow
        self.conn: Connection | None = None
        self.services = None  # ListServicesResponse, once fetched

    def connect(self, **kw) -> Connection:
        return Connection(self.host, self.port, self.msgs, **kw)

    def main_conn(self) -> Connection:
        expect(self.conn is not None and not self.conn.closed,
               "the shared connection is not open (see the handshake check)")
        expect(not self.conn.draining, "the shared connection was drained")
        return self.conn

    def echo(self, conn: Connection, data: bytes, **kw) -> bytes:
        resp = conn.unary(ECHO, self.msgs.EchoRequest(payload=data), **kw)
        return resp.payload

    def method_cap(self, path: str) -> int:
        if self.services is not None:
            for s in self.services.services:
                for m in s.methods:
                    if m.path == path and m.max_request_bytes:
                        return m.max_request_bytes
        return self.conn.limits["max_request_bytes"]

    def run(self) -> None:
        c = self.r.check
        # The timeout checks wait for the server's clocks; start them first, judge them last.
        slow = self.start_slow_checks() if self.slow else None
        c("handshake: HELLO answered by HELLO_ACK with version 1 and sane limits",
          self.check_handshake)
        c("pipelining: CALL sent right after HELLO, before HELLO_ACK", self.check_pipelined_hello)
        c("HealthService/Check overall is SERVING", self.check_health_overall)
        c("HealthService/Check unknown service is SERVICE_UNKNOWN", self.check_health_unknown)
        c("HealthService/Check of a hosted service is SERVING", self.check_health_hosted)
        c("ReflectionService/ListServices lists HealthService/Check with its path and types",
          self.check_list_services)
        c("ReflectionService/DescribeType karokar.common.v1.Period", self.check_describe_period)
        c("ReflectionService/DescribeType unknown type is NOT_FOUND/TYPE_NOT_FOUND",
          self.check_describe_unknown)
        c("ReflectionService/DescribeType of an enum (ServingStatus)", self.check_describe_enum)
        c("DiagnosticsService/Echo returns the bytes", self.check_echo)
        c("HELLO_ACK and REPLY bytes match examples B and D", self.check_reply_bytes)
        c("50 pipelined Echo calls all answered with the right payloads",
          self.check_pipelined_echo)
        c("unknown method is UNIMPLEMENTED/UNKNOWN_METHOD", self.check_unknown_method)
        c("method path over 256 bytes is INVALID_ARGUMENT/UNKNOWN_METHOD", self.check_long_method)
        c("malformed CALL body is REPLY INVALID_ARGUMENT/MALFORMED_PAYLOAD, not a close",
          self.check_malformed_call_body)
        c("undecodable request payload is INVALID_ARGUMENT/MALFORMED_PAYLOAD",
          self.check_undecodable_payload)
        c("request string field with invalid UTF-8 is INVALID_ARGUMENT/MALFORMED_PAYLOAD",
          self.check_invalid_utf8)
        c("pathological request payload: OK or RESOURCE_EXHAUSTED/MALFORMED_PAYLOAD",
          self.check_payload_decode_budget)
        c("pathological CALL body: OK or MALFORMED_PAYLOAD REPLY, never a close",
          self.check_call_body_decode_budget)
        c("request over the method's cap is RESOURCE_EXHAUSTED/REQUEST_TOO_LARGE",
          self.check_request_too_large)
        c("metadata exactly at max_metadata_bytes is accepted", self.check_metadata_at_cap)
        c("metadata over the cap is RESOURCE_EXHAUSTED/METADATA_TOO_LARGE",
          self.check_metadata_over_cap)
        c("65 metadata entries is RESOURCE_EXHAUSTED/METADATA_TOO_LARGE",
          self.check_metadata_too_many)
        c("invalid or repeated metadata key is INVALID_ARGUMENT/MALFORMED_METADATA",
          self.check_metadata_bad_key)
        c("PING answered by PONG with the same call id and body; stray PONG ignored",
          self.check_ping)
        c("CANCEL for an unknown or answered call id is ignored", self.check_cancel_unknown)
        c("deadline of 1 microsecond on Echo: exactly one REPLY, OK or DEADLINE_EXCEEDED",
          self.check_tiny_deadline)
        c("extension frames (0x80-0xff) are skipped, also before HELLO", self.check_extensions)
        c("nonzero flags and reserved bits are ignored", self.check_flags_ignored)
        c("frame of exactly max_frame_bytes is accepted", self.check_max_frame_accepted)
        c("first frame not HELLO: DRAIN INVALID_ARGUMENT then close",
          self.check_first_frame_not_hello)
        c("undecodable HELLO body: DRAIN INVALID_ARGUMENT then close",
          self.check_undecodable_hello)
        c("unassigned, reserved and wrong-direction frame types: DRAIN INVALID_ARGUMENT",
          self.check_bad_frame_types)
        c("oversized length prefix: DRAIN RESOURCE_EXHAUSTED then close, no body sent",
          self.check_oversized_length)
        c("length < 8: DRAIN INVALID_ARGUMENT then close", self.check_short_length)
        c("call id 0 or non-increasing: DRAIN INVALID_ARGUMENT with last_call_id, then close",
          self.check_call_id_order)
        c("HELLO sent twice: DRAIN INVALID_ARGUMENT then close", self.check_hello_twice)
        c("protocol_version 2: DRAIN FAILED_PRECONDITION then close", self.check_bad_version)
        c("call id 0xffffffff accepted", self.check_max_call_id)
        if slow is not None:
            c("no HELLO within the handshake timeout: DRAIN DEADLINE_EXCEEDED then close",
              lambda: self.finish_handshake_timeout(slow))
            c("frame incomplete after the frame timeout: DRAIN DEADLINE_EXCEEDED then close",
              lambda: self.finish_frame_timeout(slow))
        c("shared connection still healthy after all checks", self.check_still_healthy)
        if self.conn is not None:
            self.conn.close()

    # -- handshake --------------------------------------------------------------------------

    def check_handshake(self) -> None:
        self.conn = self.connect()
        ack = self.conn.wait_hello_ack()
        expect(ack.protocol_version == 1, f"protocol_version {ack.protocol_version}")
        expect(ack.server_name, "empty server_name")
        for key in ("max_frame_bytes", "max_calls_in_flight", "max_metadata_bytes",
                    "idle_timeout_millis", "max_request_bytes"):
            expect(getattr(ack, key) > 0, f"{key} is 0")
        expect(MIN_LENGTH < ack.max_frame_bytes <= ABSOLUTE_MAX_FRAME,
               f"max_frame_bytes {ack.max_frame_bytes} outside (8, 16 MiB]")
        if self.expect_default_limits:
            got = {k: getattr(ack, k) for k in DEFAULT_LIMITS}
            diff = {k: (got[k], v) for k, v in DEFAULT_LIMITS.items() if got[k] != v}
            expect(not diff, f"differs from the documented defaults (got, documented): {diff}")

    def check_pipelined_hello(self) -> None:
        with self.connect() as conn:
            # The constructor wrote HELLO; this CALL goes out before any byte was read.
            pc = conn.start_call(ECHO, self.msgs.EchoRequest(payload=b"early"))
            resp = pc.result(5)
            expect(resp.payload == b"early", f"echo payload {resp.payload!r}")
            expect(conn.hello_ack is not None, "REPLY arrived without a HELLO_ACK before it")

    # -- built-in services ------------------------------------------------------------------

    def check_health_overall(self) -> None:
        resp = self.main_conn().unary(HEALTH_CHECK, self.msgs.CheckRequest())
        expect(resp.status == 1, f"status {SERVING_STATUS_NAMES.get(resp.status, resp.status)}")

    def check_health_unknown(self) -> None:
        req = self.msgs.CheckRequest(service="karokar.nosuch.v1.NoSuchService")
        resp = self.main_conn().unary(HEALTH_CHECK, req)
        expect(resp.status == 3, f"status {SERVING_STATUS_NAMES.get(resp.status, resp.status)}")

    def check_health_hosted(self) -> None:
        for service in ("karokar.rpc.v1.DiagnosticsService", "karokar.rpc.v1.HealthService"):
            resp = self.main_conn().unary(HEALTH_CHECK, self.msgs.CheckRequest(service=service))
            expect(resp.status == 1,
                   f"{service}: {SERVING_STATUS_NAMES.get(resp.status, resp.status)}")

    def check_list_services(self) -> None:
        resp = self.main_conn().unary(LIST_SERVICES, self.msgs.ListServicesRequest())
        self.services = resp
        names = [s.name for s in resp.services]
        expect(names == sorted(names), f"services not sorted by name: {names}")
        health = [s for s in resp.services if s.name == "karokar.rpc.v1.HealthService"]
        expect(len(health) == 1, f"HealthService not listed once; services: {names}")
        check = [m for m in health[0].methods if m.name == "Check"]
        expect(len(check) == 1, f"Check not listed once: {[m.name for m in health[0].methods]}")
        m = check[0]
        expect(m.path == HEALTH_CHECK, f"path {m.path!r}")
        expect(m.request_type == "karokar.rpc.v1.CheckRequest", f"request_type {m.request_type!r}")
        expect(m.response_type == "karokar.rpc.v1.CheckResponse",
               f"response_type {m.response_type!r}")
        expect(m.public, "HealthService/Check is not public (§16 says built-ins are public)")
        expect(m.max_request_bytes > 0, "max_request_bytes 0")
        for builtin in ("karokar.rpc.v1.ReflectionService", "karokar.rpc.v1.DiagnosticsService"):
            expect(builtin in names, f"{builtin} not listed")
        for s in resp.services:
            for meth in s.methods:
                expect(meth.path == f"/{s.name}/{meth.name}",
                       f"{s.name}.{meth.name} has path {meth.path!r}")

    def check_describe_period(self) -> None:
        req = self.msgs.DescribeTypeRequest(name="karokar.common.v1.Period")
        resp = self.main_conn().unary(DESCRIBE_TYPE, req)
        expect(resp.WhichOneof("type") == "message",
               f"oneof type is {resp.WhichOneof('type')!r}, want message")
        info = resp.message
        expect(info.name == "karokar.common.v1.Period", f"name {info.name!r}")
        fields = {f.name: f for f in info.fields}
        expect(sorted(fields) == ["end", "start"], f"fields {sorted(fields)}")
        for name, number in (("start", 1), ("end", 2)):
            f = fields[name]
            expect(f.number == number, f"{name}.number {f.number}")
            expect(f.json_name == name, f"{name}.json_name {f.json_name!r}")
            expect(f.type == "message", f"{name}.type {f.type!r}")
            expect(f.type_name == "karokar.common.v1.Timestamp",
                   f"{name}.type_name {f.type_name!r}")
            expect(not f.repeated and not f.map and not f.oneof,
                   f"{name}: repeated={f.repeated} map={f.map} oneof={f.oneof!r}")

    def check_describe_enum(self) -> None:
        req = self.msgs.DescribeTypeRequest(name="karokar.rpc.v1.ServingStatus")
        resp = self.main_conn().unary(DESCRIBE_TYPE, req)
        expect(resp.WhichOneof("type") == "enum", f"oneof type is {resp.WhichOneof('type')!r}")
        values = [(v.name, v.number) for v in resp.enum.values]
        want = [("SERVING_STATUS_UNSPECIFIED", 0), ("SERVING_STATUS_SERVING", 1),
                ("SERVING_STATUS_NOT_SERVING", 2), ("SERVING_STATUS_SERVICE_UNKNOWN", 3)]
        expect(resp.enum.name == "karokar.rpc.v1.ServingStatus", f"name {resp.enum.name!r}")
        expect(sorted(values, key=lambda v: v[1]) == want, f"values {values}")

    def check_describe_unknown(self) -> None:
        req = self.msgs.DescribeTypeRequest(name="karokar.nosuch.v1.Nothing")
        expect_rpc_error(lambda: self.main_conn().unary(DESCRIBE_TYPE, req),
                         Code.NOT_FOUND, "TYPE_NOT_FOUND")

    def check_echo(self) -> None:
        conn = self.main_conn()
        for data in (b"hi", bytes(range(256)), b"", os.urandom(65536)):
            got = self.echo(conn, data, timeout=5.0, metadata={"request-id": "interop-echo"})
            expect(got == data, f"sent {len(data)} bytes, got {len(got)} bytes back "
                                f"(first difference at {_first_diff(data, got)})")
        # Deadlines over one day are accepted (shortened); metadata values are arbitrary bytes.
        got = self.echo(conn, b"long", timeout_micros=(1 << 53) - 1,
                        metadata=[("bin", bytes(range(256))), ("empty", b"")])
        expect(got == b"long", f"echo with a 2^53-1 us deadline returned {got!r}")

    def check_pipelined_echo(self) -> None:
        conn = self.main_conn()
        payloads = {}
        calls = []
        for i in range(50):
            data = f"pipelined-{i}-".encode() + os.urandom(random.randrange(0, 200))
            pc = conn.start_call(ECHO, self.msgs.EchoRequest(payload=data))
            payloads[pc.call_id] = data
            calls.append(pc)
        ids = [pc.call_id for pc in calls]
        expect(ids == sorted(set(ids)), "call ids not strictly increasing")
        bad = []
        for pc in calls:
            try:
                got = pc.result(10).payload
                if got != payloads[pc.call_id]:
                    bad.append(f"call {pc.call_id}: wrong payload")
            except RpcError as e:
                bad.append(f"call {pc.call_id}: {e}")
        expect(not bad, "; ".join(bad[:5]) + (f" (+{len(bad) - 5} more)" if len(bad) > 5 else ""))
        dup = [cid for cid in ids if conn.reply_counts[cid] != 1]
        expect(not dup, f"calls without exactly one REPLY: {dup}")

    # -- refusals ---------------------------------------------------------------------------

    def check_unknown_method(self) -> None:
        conn = self.main_conn()
        expect_rpc_error(lambda: conn.unary("/karokar.nosuch.v1.NoSuchService/Nothing", b""),
                         Code.UNIMPLEMENTED, "UNKNOWN_METHOD")
        # Method paths are case-sensitive (§6.1).
        expect_rpc_error(lambda: conn.unary("/karokar.rpc.v1.HealthService/check", b""),
                         Code.UNIMPLEMENTED, "UNKNOWN_METHOD")

    def check_long_method(self) -> None:
        method = "/karokar.rpc.v1.HealthService/" + "X" * 240  # 270 bytes
        expect_rpc_error(lambda: self.main_conn().unary(method, b"", check_limits=False),
                         Code.INVALID_ARGUMENT, "UNKNOWN_METHOD")

    def check_malformed_call_body(self) -> None:
        peer = self._handshaken_peer("interop/malformed")
        try:
            call = encode(self.msgs.Call(method=ECHO))
            cases = [  # (what, body, expected code or None for OK)
                ("truncated field", b"\x0a\x05ab", Code.INVALID_ARGUMENT),
                ("field number 0", b"\x02\x00", Code.INVALID_ARGUMENT),
                ("group wire type", b"\x0b\x0c", Code.INVALID_ARGUMENT),
                ("method as varint", b"\x08\x01", Code.INVALID_ARGUMENT),
                ("method not UTF-8", b"\x0a\x02\xff\xfe", Code.INVALID_ARGUMENT),
                ("unknown field 15 (ignored)", call + b"\x78\x01", None),
            ]
            for call_id, (what, body, code) in enumerate(cases, start=1):
                peer.send_frame(CALL, call_id, body)
                f = peer.read_frame(5)
                expect(f is not None and f[0] == REPLY and f[3] == call_id,
                       f"{what}: want REPLY {call_id}, got "
                       f"{describe_frames([f] if f else [], self.msgs)}")
                st = self.msgs.Reply.FromString(f[4]).status
                if code is None:
                    expect(st.code == Code.OK, f"{what}: {code_name(st.code)} {st.message!r}")
                else:
                    expect(st.code == code and st.details.domain_code == "MALFORMED_PAYLOAD",
                           f"{what}: {code_name(st.code)}/{st.details.domain_code or '-'}")
        finally:
            peer.close()

    def check_undecodable_payload(self) -> None:
        # EchoRequest field 1 (bytes) claiming 5 bytes but carrying 2: truncated.
        expect_rpc_error(lambda: self.main_conn().unary(ECHO, b"\x0a\x05ab"),
                         Code.INVALID_ARGUMENT, "MALFORMED_PAYLOAD")

    def check_payload_decode_budget(self) -> None:
        # §17.9: pathological encodings may exceed the decode budget. Whether one does depends
        # on the server's decoder, so a client can only expect one of two answers: OK, or
        # RESOURCE_EXHAUSTED/MALFORMED_PAYLOAD. Here: 200000 empty sub-messages of an unknown
        # field 2 (400 KB; unknown fields are otherwise ignored, §17.5).
        conn = self.main_conn()
        try:
            conn.unary(ECHO, b"\x12\x00" * 200000)
            outcome = "OK"
        except RpcError as e:
            expect(not e.local and e.code == Code.RESOURCE_EXHAUSTED
                   and e.domain_code == "MALFORMED_PAYLOAD",
                   f"want OK or RESOURCE_EXHAUSTED/MALFORMED_PAYLOAD, got {e}")
            outcome = "RESOURCE_EXHAUSTED/MALFORMED_PAYLOAD"
        print(f"# request payload of 200000 unknown empty fields: {outcome}", file=sys.stderr,
              flush=True)
        expect(self.echo(conn, b"after") == b"after", "connection unusable afterwards")

    def check_call_body_decode_budget(self) -> None:
        # The same pathology in the CALL body itself (unknown field 15, 200000 times). The
        # answer may be OK (within the budget) or MALFORMED_PAYLOAD; PROTOCOL.md disagrees with
        # itself about the code: §15 ("Decode budget") says INVALID_ARGUMENT for a CALL body,
        # Appendix B says RESOURCE_EXHAUSTED. All three are accepted; stderr tells which.
        peer = self._handshaken_peer("interop/budget")
        try:
            body = encode(self.msgs.Call(method=ECHO)) + b"\x7a\x00" * 200000
            peer.send_frame(CALL, 1, body)
            f = peer.read_frame(10)
            expect(f is not None and f[0] == REPLY and f[3] == 1,
                   f"want REPLY 1, got {describe_frames([f] if f else [], self.msgs)}")
            st = self.msgs.Reply.FromString(f[4]).status
            outcome = f"{code_name(st.code)}/{st.details.domain_code or '-'}"
            expect(st.code == Code.OK or (
                st.code in (Code.INVALID_ARGUMENT, Code.RESOURCE_EXHAUSTED)
                and st.details.domain_code == "MALFORMED_PAYLOAD"), f"{outcome} {st.message!r}")
            print(f"# CALL body with 200000 unknown empty fields: {outcome}", file=sys.stderr,
                  flush=True)
            peer.send_frame(PING, 9, b"\x08\x09")
            f = peer.read_frame(5)
            expect(f is not None and f[0] == PONG, "connection unusable afterwards")
        finally:
            peer.close()

    def check_invalid_utf8(self) -> None:
        # CheckRequest.service (string) = ff fe, not UTF-8 (§17.4).
        expect_rpc_error(lambda: self.main_conn().unary(HEALTH_CHECK, b"\x0a\x02\xff\xfe"),
                         Code.INVALID_ARGUMENT, "MALFORMED_PAYLOAD")

    def check_request_too_large(self) -> None:
        conn = self.main_conn()
        cap = self.method_cap(ECHO)
        expect(cap + 64 <= conn.limits["max_frame_bytes"] - 64,
               f"Echo cap {cap} too close to max_frame_bytes to test")
        # Raw payload bytes of cap + 1: only the size matters (step 4d precedes decoding).
        expect_rpc_error(lambda: conn.unary(ECHO, b"\x00" * (cap + 1), check_limits=False),
                         Code.RESOURCE_EXHAUSTED, "REQUEST_TOO_LARGE")
        # An exactly-at-cap payload is allowed ("at most").
        request = self._echo_request_of_size(cap)
        resp = conn.unary(ECHO, request, check_limits=False)
        inner = request[len(_echo_header(len(resp.payload))):]
        expect(resp.payload == inner, f"payload of exactly the cap ({cap}) not echoed: "
                                      f"{len(resp.payload)} bytes back")

    @staticmethod
    def _echo_request_of_size(size: int) -> bytes:
        """An encoded EchoRequest of exactly `size` bytes."""
        n = size
        while n > 0 and len(_echo_header(n)) + n > size:
            n -= 1
        while len(_echo_header(n)) + n < size:  # pragma: no cover (varint boundary)
            n += 1
        out = _echo_header(n) + b"e" * n
        assert len(out) == size, (len(out), size)
        return out

    def check_metadata_at_cap(self) -> None:
        conn = self.main_conn()
        cap = conn.limits["max_metadata_bytes"]
        key = "x-at-cap"
        md = [(key, b"v" * (cap - len(key)))]
        got = self.echo(conn, b"md", metadata=md)
        expect(got == b"md", f"echo payload {got!r}")
        # The worst cases for the server's pre-decode bound (§10.1, Appendix B): many entries
        # whose encoding needs 2-byte lengths, summing to exactly the cap.
        for count in (64, 63):
            per = cap // count
            klen = min(64, max(3, per // 2))
            md = [(f"{i:03d}".ljust(klen, "k"), b"v" * (per - klen)) for i in range(count)]
            extra = cap - per * count
            md[0] = (md[0][0], md[0][1] + b"v" * extra)
            total = sum(len(k) + len(v) for k, v in md)
            expect(total == cap, f"test bug: {total} != {cap}")
            got = self.echo(conn, b"md64", metadata=md)
            expect(got == b"md64", f"{count} entries totalling {cap} bytes refused")

    def check_metadata_over_cap(self) -> None:
        conn = self.main_conn()
        cap = conn.limits["max_metadata_bytes"]
        key = "x-over-cap"
        md = [(key, b"v" * (cap - len(key) + 1))]  # one byte over
        expect_rpc_error(lambda: conn.unary(ECHO, self.msgs.EchoRequest(payload=b"x"),
                                            metadata=md, check_limits=False),
                         Code.RESOURCE_EXHAUSTED, "METADATA_TOO_LARGE")
        big = [("x-big", b"v" * (cap * 4))]
        expect_rpc_error(lambda: conn.unary(ECHO, b"", metadata=big, check_limits=False),
                         Code.RESOURCE_EXHAUSTED, "METADATA_TOO_LARGE")

    def check_metadata_too_many(self) -> None:
        conn = self.main_conn()
        md64 = [(f"k{i}", b"") for i in range(64)]
        expect(self.echo(conn, b"64", metadata=md64) == b"64", "64 entries refused")
        md65 = [(f"k{i}", b"") for i in range(65)]
        expect_rpc_error(lambda: conn.unary(ECHO, b"", metadata=md65, check_limits=False),
                         Code.RESOURCE_EXHAUSTED, "METADATA_TOO_LARGE")

    def check_metadata_bad_key(self) -> None:
        conn = self.main_conn()
        for md in ([("Upper", b"v")], [("", b"v")], [("k" * 65, b"v")],
                   [("dup", b"1"), ("dup", b"2")]):
            expect_rpc_error(lambda: conn.unary(ECHO, b"", metadata=md, check_limits=False),
                             Code.INVALID_ARGUMENT, "MALFORMED_METADATA")
        ok_key = "a-z.0_9" + "k" * 57  # 64 bytes, every allowed kind of byte
        expect(self.echo(conn, b"k", metadata=[(ok_key, b"")]) == b"k", "valid 64-byte key refused")

    # -- PING, CANCEL, deadlines ------------------------------------------------------------

    def check_ping(self) -> None:
        conn = self.main_conn()
        for call_id, opaque in ((0, 42), (0xDEADBEEF, random.getrandbits(64)), (7, 0)):
            before = len(conn.pongs)
            _rtt, body = conn.ping(opaque, call_id=call_id)
            match = [p for p in conn.pongs[before:] if p == (call_id, body)]
            expect(match, f"no PONG with call id {call_id} and body {body.hex()}")
        # A PONG the server did not ask for is ignored (§4.2), and PINGs are not decoded (§11.2).
        conn.send_raw(frame_bytes(PONG, 3, b"\x08\x07"))
        _rtt, _body = conn.ping(1)
        expect(not conn.closed and not conn.drains, "connection closed after a PONG")

    def check_cancel_unknown(self) -> None:
        conn = self.main_conn()
        answered = conn.start_call(ECHO, self.msgs.EchoRequest(payload=b"done"))
        answered.result(5)
        never_sent = conn.last_sent_call_id + 1000
        conn.cancel(never_sent)
        conn.cancel(answered.call_id, "already answered")
        conn.cancel(0)
        # Still working: an Echo and a PING round trip.
        expect(self.echo(conn, b"after-cancel") == b"after-cancel", "echo after CANCEL failed")
        conn.ping()
        expect(not conn.closed and not conn.draining, "connection closed or drained")
        expect(conn.reply_counts[never_sent] == 0, "a REPLY arrived for a never-sent call id")
        expect(conn.reply_counts[answered.call_id] == 1,
               f"{conn.reply_counts[answered.call_id]} REPLYs for the answered call")

    def check_tiny_deadline(self) -> None:
        conn = self.main_conn()
        # Generous local grace: this check is about the server's REPLY, not our timer.
        saved, conn.deadline_grace = conn.deadline_grace, 5.0
        try:
            pc = conn.start_call(ECHO, self.msgs.EchoRequest(payload=b"tiny"), timeout_micros=1)
        finally:
            conn.deadline_grace = saved
        try:
            resp = pc.result(6)
            outcome = "OK"
            expect(resp.payload == b"tiny", f"OK with payload {resp.payload!r}")
        except RpcError as e:
            expect(not e.local, f"no REPLY: {e}")
            expect(e.code == Code.DEADLINE_EXCEEDED,
                   f"got {e.code_name}/{e.domain_code or '-'} {e.message!r}")
            outcome = "DEADLINE_EXCEEDED"
        # Give a second REPLY time to show up, behind a round trip and a short pause.
        conn.ping()
        time.sleep(0.3)
        conn.ping()
        n = conn.reply_counts[pc.call_id]
        expect(n == 1, f"{n} REPLYs for call {pc.call_id} (first was {outcome})")

    # -- framing ----------------------------------------------------------------------------

    def check_extensions(self) -> None:
        peer = RawPeer(self.host, self.port)
        try:
            peer.send_frame(0x80, 0, b"\x01\x02\x03")  # before HELLO: not the "first frame"
            peer.send_frame(0xFF, 99, b"")
            peer.send_frame(HELLO, 0, encode(self.msgs.Hello(protocol_version=1,
                                                            client_name="interop/ext")))
            peer.send_frame(0xC3, 0, os.urandom(100))
            call = self.msgs.Call(method=ECHO, payload=encode(self.msgs.EchoRequest(payload=b"x")))
            peer.send_frame(CALL, 1, encode(call))
            peer.send_frame(0x80, 1, b"")
            types = []
            reply = None
            while reply is None:
                f = peer.read_frame(5)
                expect(f is not None, f"connection closed after frames {types}")
                types.append(FRAME_NAMES.get(f[0], hex(f[0])))
                expect(f[0] in (HELLO_ACK, REPLY) or f[0] >= 0x80, f"unexpected frames {types}: "
                       + describe_frames([f], self.msgs))
                if f[0] == REPLY:
                    reply = self.msgs.Reply.FromString(f[4])
            expect(types[0] == "HELLO_ACK", f"first frame {types[0]}")
            expect(reply.status.code == 0, f"REPLY {code_name(reply.status.code)}")
        finally:
            peer.close()

    def check_flags_ignored(self) -> None:
        peer = RawPeer(self.host, self.port)
        try:
            hello = encode(self.msgs.Hello(protocol_version=1, client_name="interop/flags"))
            peer.send_frame(HELLO, 0, hello, flags=0xFF, reserved=0xBEEF)
            call = self.msgs.Call(method=ECHO, payload=encode(self.msgs.EchoRequest(payload=b"f")))
            peer.send_frame(CALL, 1, encode(call), flags=0x81, reserved=0x0001)
            peer.send_frame(PING, 5, b"\x08\x01", flags=0x01, reserved=0xFFFF)
            got = []
            while len(got) < 3:
                f = peer.read_frame(5)
                expect(f is not None, f"closed after {describe_frames(got, self.msgs)}")
                got.append(f)
            types = [f[0] for f in got]
            expect(types[0] == HELLO_ACK and sorted(types[1:]) == sorted([REPLY, PONG]),
                   f"frames {describe_frames(got, self.msgs)}")
            reply = self.msgs.Reply.FromString([f for f in got if f[0] == REPLY][0][4])
            expect(reply.status.code == 0 and
                   self.msgs.EchoResponse.FromString(reply.payload).payload == b"f",
                   f"REPLY {code_name(reply.status.code)} {reply.status.message!r}")
        finally:
            peer.close()

    def check_max_frame_accepted(self) -> None:
        """A CALL whose length field equals max_frame_bytes must get a REPLY, not a DRAIN."""
        limit = self.main_conn().limits["max_frame_bytes"]
        body_size = limit - MIN_LENGTH
        cap = self.method_cap(ECHO)
        # Call body = method field + payload field holding an EchoRequest; solve for sizes.
        payload_size = body_size
        while True:
            request = self._echo_request_of_size(payload_size)
            body = encode(self.msgs.Call(method=ECHO, payload=request))
            if len(body) == body_size:
                break
            payload_size += body_size - len(body)
        with self.connect() as conn:
            conn.wait_hello_ack()
            pc = conn.start_call(ECHO, request, check_limits=False)
            expect(conn.last_sent_call_id == pc.call_id, "not sent")
            try:
                resp = pc.result(20)
                expect(payload_size <= cap, f"OK although the payload {payload_size} > cap {cap}")
                expect(len(resp.payload) > 0, "empty echo")
            except RpcError as e:
                expect(not e.local, f"{e}; {conn._failure_text('')}")
                expect(payload_size > cap and e.code == Code.RESOURCE_EXHAUSTED
                       and e.domain_code == "REQUEST_TOO_LARGE",
                       f"payload {payload_size} (cap {cap}): {e}")
            expect(not conn.drains, f"DRAIN received: {conn._failure_text('')}")

    def _expect_drain_and_close(self, peer: RawPeer, code: int, *, last_call_id: int = 0,
                                message_prefix: str | None = "protocol error:",
                                skip_hello_ack: bool = False, timeout: float = 5.0):
        start = time.monotonic()
        frames, how = peer.read_until_close(timeout)
        elapsed = time.monotonic() - start
        text = describe_frames(frames, self.msgs) + f", then {how} after {elapsed:.2f}s"
        if skip_hello_ack:
            expect(frames and frames[0][0] == HELLO_ACK, f"no HELLO_ACK first: {text}")
            frames = frames[1:]
        expect(len(frames) == 1 and frames[0][0] == DRAIN, f"want exactly one DRAIN: {text}")
        drain = self.msgs.Drain.FromString(frames[0][4])
        expect(drain.status.code == code,
               f"DRAIN status {code_name(drain.status.code)}, want {code_name(code)}: {text}")
        if message_prefix is not None:
            expect(drain.status.message.startswith(message_prefix),
                   f"message {drain.status.message!r} does not start with {message_prefix!r}")
        expect(drain.last_call_id == last_call_id,
               f"last_call_id {drain.last_call_id}, want {last_call_id}")
        expect(how == "eof", f"connection not closed cleanly after the DRAIN: {text}")
        return drain, elapsed

    def _handshaken_peer(self, name: str) -> RawPeer:
        peer = RawPeer(self.host, self.port)
        peer.send_frame(HELLO, 0, encode(self.msgs.Hello(protocol_version=1, client_name=name)))
        f = peer.read_frame(5)
        if f is None or f[0] != HELLO_ACK:
            peer.close()
            raise CheckFailed(f"no HELLO_ACK: {describe_frames([f] if f else [], self.msgs)}")
        return peer

    def check_reply_bytes(self) -> None:
        """Examples B and D on a live server, byte for byte."""
        peer = RawPeer(self.host, self.port)
        try:
            peer.send(bytes.fromhex("0000001201000000000000000801120664656d6f2f31"))  # example A
            f = peer.read_frame(5)
            expect(f is not None and f[0] == HELLO_ACK, "no HELLO_ACK")
            if self.expect_default_limits:
                want = bytes.fromhex("0000002d02000000000000000801120e6b61726f6b61722d7365727665"
                                     "72188080800220800228804030e0a71238808040")
                got = frame_bytes(f[0], f[3], f[4])
                expect(got == want, f"HELLO_ACK {got.hex()}, example B is {want.hex()}")
            peer.send_frame(CALL, 1, encode(self.msgs.Call(method=HEALTH_CHECK)))
            f = peer.read_frame(5)
            expect(f is not None and f[0] == REPLY and f[3] == 1,
                   f"want REPLY 1: {describe_frames([f] if f else [], self.msgs)}")
            expect(f[4] == bytes.fromhex("0a0012020801"), f"REPLY body {f[4].hex()}, "
                   "example D of PROTOCOL.md says 0a0012020801")
        finally:
            peer.close()

    def check_undecodable_hello(self) -> None:
        peer = RawPeer(self.host, self.port)
        try:
            peer.send_frame(HELLO, 0, b"\x08\xff")  # varint cut short
            self._expect_drain_and_close(peer, Code.INVALID_ARGUMENT)
        finally:
            peer.close()

    def check_bad_frame_types(self) -> None:
        # (frame type, sent before HELLO?) Each on its own connection.
        cases = [(PING, True), (PONG, True), (CANCEL, True),
                 (0x00, False), (0x05, False), (0x7F, False),
                 (STREAM_ITEM, False), (STREAM_END, False), (HELLO_ACK, False),
                 (REPLY, False), (DRAIN, False)]
        problems = []
        for ftype, before_hello in cases:
            peer = (RawPeer(self.host, self.port) if before_hello
                    else self._handshaken_peer(f"interop/type-{ftype:02x}"))
            try:
                peer.send_frame(ftype, 0, b"")
                self._expect_drain_and_close(peer, Code.INVALID_ARGUMENT)
            except CheckFailed as e:
                problems.append(f"type {ftype:#04x}{' before HELLO' if before_hello else ''}: {e}")
            finally:
                peer.close()
        expect(not problems, "; ".join(problems))

    def check_max_call_id(self) -> None:
        peer = self._handshaken_peer("interop/maxid")
        try:
            call = encode(self.msgs.Call(method=ECHO,
                                         payload=encode(self.msgs.EchoRequest(payload=b"m"))))
            peer.send_frame(CALL, MAX_CALL_ID, call)
            f = peer.read_frame(5)
            expect(f is not None and f[0] == REPLY and f[3] == MAX_CALL_ID,
                   f"want REPLY {MAX_CALL_ID}: {describe_frames([f] if f else [], self.msgs)}")
            reply = self.msgs.Reply.FromString(f[4])
            expect(reply.status.code == 0,
                   f"{code_name(reply.status.code)} {reply.status.message!r}")
        finally:
            peer.close()

    # -- timeouts (started early, judged at the end) -----------------------------------------

    def start_slow_checks(self) -> dict:
        state = {}
        try:
            state["handshake"] = (RawPeer(self.host, self.port), time.monotonic())
        except OSError as e:
            state["handshake_error"] = str(e)
        try:
            peer = self._handshaken_peer("interop/frame-timeout")
            peer.send(frame_bytes(PING, 0, b"\x08\x01")[:6])  # 6 of 14 bytes, then silence
            state["frame"] = (peer, time.monotonic())
        except (OSError, CheckFailed) as e:
            state["frame_error"] = str(e)
        return state

    def _finish_timeout(self, peer: RawPeer, started: float, nominal: float, prefix: str) -> None:
        try:
            remaining = started + nominal + 5.0 - time.monotonic()
            frames, how = peer.read_until_close(max(remaining, 0.1))
            elapsed = time.monotonic() - started
            text = describe_frames(frames, self.msgs) + f", then {how}"
            expect(len(frames) == 1 and frames[0][0] == DRAIN, f"want one DRAIN: {text}")
            drain = self.msgs.Drain.FromString(frames[0][4])
            expect(drain.status.code == Code.DEADLINE_EXCEEDED,
                   f"DRAIN {code_name(drain.status.code)} {drain.status.message!r}")
            expect(drain.status.message.startswith(prefix),
                   f"message {drain.status.message!r} does not start with {prefix!r}")
            expect(drain.last_call_id == 0, f"last_call_id {drain.last_call_id}")
            expect(how == "eof", f"not closed after the DRAIN: {text}")
            # §15: timeouts may fire up to about a quarter of the shortest timeout late.
            if self.expect_default_limits:
                expect(nominal - 0.2 <= elapsed <= nominal + 1.25 + 1.0,
                       f"DRAIN after {elapsed:.2f}s, nominal {nominal}s (+1.25s allowed)")
            print(f"# {prefix!r} DRAIN after {elapsed:.2f}s", file=sys.stderr, flush=True)
        finally:
            peer.close()

    def finish_handshake_timeout(self, state: dict) -> None:
        expect("handshake" in state, f"could not start: {state.get('handshake_error')}")
        self._finish_timeout(*state["handshake"], 5.0, "no HELLO")

    def finish_frame_timeout(self, state: dict) -> None:
        expect("frame" in state, f"could not start: {state.get('frame_error')}")
        self._finish_timeout(*state["frame"], 10.0, "a frame took longer")

    def check_first_frame_not_hello(self) -> None:
        peer = RawPeer(self.host, self.port)
        try:
            call = self.msgs.Call(method=HEALTH_CHECK)
            peer.send_frame(CALL, 1, encode(call))
            self._expect_drain_and_close(peer, Code.INVALID_ARGUMENT)
        finally:
            peer.close()

    def check_oversized_length(self) -> None:
        limit = self.main_conn().limits["max_frame_bytes"]
        peer = RawPeer(self.host, self.port)
        try:
            peer.send_frame(HELLO, 0, encode(self.msgs.Hello(protocol_version=1,
                                                            client_name="interop/oversize")))
            f = peer.read_frame(5)
            expect(f is not None and f[0] == HELLO_ACK, "no HELLO_ACK")
            # Only the 12-byte prefix announcing one byte more than allowed; no body follows.
            peer.send(HEADER.pack(limit + 1, CALL, 0, 0, 1))
            _drain, elapsed = self._expect_drain_and_close(
                peer, Code.RESOURCE_EXHAUSTED, message_prefix="protocol error: frame length")
            expect(elapsed < 3.0, f"took {elapsed:.2f}s: the server seems to wait for the body")
        finally:
            peer.close()

    def check_short_length(self) -> None:
        peer = RawPeer(self.host, self.port)
        try:
            peer.send_frame(HELLO, 0, encode(self.msgs.Hello(protocol_version=1,
                                                            client_name="interop/short")))
            peer.send(struct.pack(">I", 7) + bytes([PING, 0, 0, 0, 0, 0]))  # 4 + 7 bytes
            self._expect_drain_and_close(peer, Code.INVALID_ARGUMENT, skip_hello_ack=True)
        finally:
            peer.close()

    def check_call_id_order(self) -> None:
        peer = self._handshaken_peer("interop/id0")
        try:
            call = encode(self.msgs.Call(method=HEALTH_CHECK))
            peer.send_frame(CALL, 0, call)  # 0 is not greater than the initial 0
            self._expect_drain_and_close(peer, Code.INVALID_ARGUMENT)
        finally:
            peer.close()
        peer = RawPeer(self.host, self.port)
        try:
            peer.send_frame(HELLO, 0, encode(self.msgs.Hello(protocol_version=1,
                                                            client_name="interop/ids")))
            call = encode(self.msgs.Call(method=ECHO,
                                         payload=encode(self.msgs.EchoRequest(payload=b"i"))))
            peer.send_frame(CALL, 5, call)  # gaps are allowed
            got = [peer.read_frame(5), peer.read_frame(5)]
            expect([f[0] if f else None for f in got] == [HELLO_ACK, REPLY] and got[1][3] == 5,
                   f"want HELLO_ACK, REPLY 5: {describe_frames([f for f in got if f], self.msgs)}")
            peer.send_frame(CALL, 3, call)  # lower than 5: protocol error
            self._expect_drain_and_close(peer, Code.INVALID_ARGUMENT, last_call_id=5)
        finally:
            peer.close()

    def check_hello_twice(self) -> None:
        peer = RawPeer(self.host, self.port)
        try:
            hello = encode(self.msgs.Hello(protocol_version=1, client_name="interop/twice"))
            peer.send_frame(HELLO, 0, hello)
            peer.send_frame(HELLO, 0, hello)
            self._expect_drain_and_close(peer, Code.INVALID_ARGUMENT, skip_hello_ack=True)
        finally:
            peer.close()

    def check_bad_version(self) -> None:
        peer = RawPeer(self.host, self.port)
        try:
            peer.send_frame(HELLO, 0, encode(self.msgs.Hello(protocol_version=2,
                                                            client_name="interop/v2")))
            drain, _ = self._expect_drain_and_close(peer, Code.FAILED_PRECONDITION,
                                                    message_prefix=None)
            expect("1" in drain.status.message,
                   f"message {drain.status.message!r} does not name the supported version")
        finally:
            peer.close()

    def check_still_healthy(self) -> None:
        conn = self.main_conn()
        resp = conn.unary(HEALTH_CHECK, self.msgs.CheckRequest())
        expect(resp.status == 1, f"status {resp.status}")
        expect(not conn.unmatched_replies,
               f"REPLYs for unknown call ids: {[c for c, _ in conn.unmatched_replies]}")
        expect(conn.server_protocol_error is None, conn.server_protocol_error or "")



def _echo_header(n: int) -> bytes:
    """Tag and length of EchoRequest.payload (field 1, wire type 2) for n bytes."""
    out = bytearray([0x0A])
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _first_diff(a: bytes, b: bytes):
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return i
    return min(len(a), len(b)) if len(a) != len(b) else None


# ---------------------------------------------------------------------------------------------
# Test vectors (offline): decode, compare with the README's JSON, re-encode byte for byte
# ---------------------------------------------------------------------------------------------

DEFAULT_VECTORS = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                "..", "..", "Protos", "vectors"))
BODY_CLASS = {HELLO: "Hello", HELLO_ACK: "HelloAck", CALL: "Call", REPLY: "Reply",
              CANCEL: "Cancel", PING: "Ping", PONG: "Ping", DRAIN: "Drain"}


def check_vectors(directory: str, msgs: Messages, runner: Runner) -> None:
    with open(os.path.join(directory, "README.md"), encoding="utf-8") as f:
        readme = f.read()
    # "### `NN-name.hex`" ... "- Frame type: `0xNN`" ... "- Call id: N" ... ```json {...} ```
    sections = re.findall(r"^### `([^`]+\.hex)`\n(.*?)(?=^### |\Z)", readme, re.S | re.M)
    if not sections:
        runner.check("test vectors found", lambda: expect(False, f"no vectors in {directory}"))
        return
    for name, text in sections:
        def one(name=name, text=text):
            with open(os.path.join(directory, name), encoding="ascii") as f:
                lines = [ln for ln in f.read().splitlines() if not ln.startswith("#")]
            raw = bytes.fromhex("".join("".join(lines).split()))
            want_type = int(re.search(r"Frame type: `(0x[0-9a-f]+)`", text).group(1), 16)
            want_id = int(re.search(r"Call id: (\d+)", text).group(1))
            want_json = json.loads(re.search(r"```json\n(.*?)\n```", text, re.S).group(1))
            (length,) = struct.unpack_from(">I", raw)
            expect(length == len(raw) - 4, f"length field {length}, file has {len(raw) - 4}")
            _, ftype, flags, reserved, call_id = HEADER.unpack_from(raw)
            body = raw[PREFIX_BYTES:]
            expect((ftype, call_id, flags, reserved) == (want_type, want_id, 0, 0),
                   f"header type {ftype:#04x} call {call_id} flags {flags} reserved {reserved}")
            cls = getattr(msgs, BODY_CLASS[ftype])
            decoded = cls.FromString(body)
            got_json = json_format.MessageToDict(decoded)
            expect(got_json == want_json, f"JSON {got_json} != {want_json}")
            expect(encode(decoded) == body,
                   f"re-encoded {encode(decoded).hex()} != {body.hex()}")
            rebuilt = json_format.ParseDict(want_json, cls())
            expect(frame_bytes(ftype, call_id, encode(rebuilt)) == raw,
                   "frame rebuilt from the JSON differs from the file")
        runner.check(f"test vector {name}", one)


# ---------------------------------------------------------------------------------------------
# --expect-drain: a graceful drain (SIGTERM) seen from a connected client
# ---------------------------------------------------------------------------------------------


def run_expect_drain(host: str, port: int, msgs: Messages, runner: Runner, ready_file: str | None,
                     wait: float) -> None:
    state = {}

    def handshake():
        conn = Connection(host, port, msgs, client_name="karokar-interop-py/drain")
        state["conn"] = conn
        conn.wait_hello_ack()

    def calls():
        conn = state.get("conn")
        expect(conn is not None and conn.hello_ack is not None, "no connection")
        calls = [conn.start_call(ECHO, msgs.EchoRequest(payload=f"d{i}".encode()))
                 for i in range(3)]
        for i, pc in enumerate(calls):
            expect(pc.result(5).payload == f"d{i}".encode(), f"call {pc.call_id} wrong payload")
        state["last_sent"] = conn.last_sent_call_id
        expect(conn.last_sent_call_id == 3, f"last sent call id {conn.last_sent_call_id}")

    def drain_ok():
        conn = state.get("conn")
        expect(conn is not None and "last_sent" in state, "not ready")
        if ready_file:
            with open(ready_file, "w") as f:
                f.write(f"{os.getpid()}\n")
        print(f"# ready: waiting up to {wait:.0f}s for DRAIN", file=sys.stderr, flush=True)
        got = conn.drain_event.wait(wait)
        expect(got, f"no DRAIN within {wait:.0f}s ({conn._failure_text('')})")
        drain = conn.drains[0]
        state["drain_at"] = time.monotonic()
        expect(drain.status.code == Code.OK,
               f"status {code_name(drain.status.code)} {drain.status.message!r}")
        print(f"# DRAIN last_call_id={drain.last_call_id} message={drain.status.message!r}",
              file=sys.stderr, flush=True)

    def last_call_id():
        conn = state["conn"]
        expect(conn.drains, "no DRAIN")
        got = conn.drains[0].last_call_id
        expect(got == state["last_sent"],
               f"last_call_id {got}, last call id sent {state['last_sent']}")

    def closes():
        conn = state["conn"]
        expect(conn.drains, "no DRAIN")
        closed = conn.closed_event.wait(10)
        expect(closed, "connection still open 10s after DRAIN with nothing in flight")
        expect(conn.server_protocol_error is None, f"{conn.server_protocol_error}")
        expect(conn.close_reason and "EOF" in conn.close_reason, f"{conn.close_reason}")
        expect(len(conn.drains) == 1, f"{len(conn.drains)} DRAIN frames")

    runner.check("drain: handshake", handshake)
    runner.check("drain: 3 Echo calls answered before the drain", calls)
    runner.check("drain: DRAIN with status OK received", drain_ok)
    runner.check("drain: last_call_id equals the last call id sent", last_call_id)
    runner.check("drain: connection closed by the server after the DRAIN", closes)
    if "conn" in state:
        state["conn"].close()


# ---------------------------------------------------------------------------------------------
# main
# ---------------------------------------------------------------------------------------------


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=7420)
    ap.add_argument("--protos", default=DEFAULT_PROTO_ROOT, help="root of the .proto files")
    ap.add_argument("--vectors", default=DEFAULT_VECTORS,
                    help="test vector directory ('' to skip the offline vector checks)")
    ap.add_argument("--any-limits", action="store_true",
                    help="do not require HELLO_ACK to announce the documented default limits")
    ap.add_argument("--no-slow", action="store_true",
                    help="skip the handshake and frame timeout checks (they take ~10 s)")
    ap.add_argument("--expect-drain", action="store_true",
                    help="connect, make calls, then wait for a graceful DRAIN (send SIGTERM)")
    ap.add_argument("--drain-wait", type=float, default=30.0, help="seconds to wait for DRAIN")
    ap.add_argument("--ready-file", help="with --expect-drain: written once ready for SIGTERM")
    args = ap.parse_args(argv)

    runner = Runner()
    try:
        msgs = Messages.load(args.protos)
    except Exception as e:
        runner.check("load message classes with protoc-c", lambda: expect(False, str(e)))
        return runner.summary()

    if args.expect_drain:
        run_expect_drain(args.host, args.port, msgs, runner, args.ready_file, args.drain_wait)
    else:
        if args.vectors and os.path.isdir(args.vectors):
            check_vectors(args.vectors, msgs, runner)
        InteropChecks(args.host, args.port, msgs, runner,
                      expect_default_limits=not args.any_limits, slow=not args.no_slow).run()
    return runner.summary()


if __name__ == "__main__":
    sys.exit(main())
