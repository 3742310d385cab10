"""A lower bound for a Python `radflag listen`, for docs/throughput.md ("The twentieth pass").

An asyncio Protocol listener that does only the listener's durable path, as radflag's
does it: MLLP frames, MSH-3/4/10 by splitting the first segment, the message base64 in
its journal entry, one EVALSHA of worker/intake_batch.lua in flight for all messages
waiting (up to 64) on its own Redis connection (RESP parsed by hiredis), each ACK written
after Redis answered. No screen, no checks of the message, no counters, no TLS, no
reconnects: NOT a listener to run, a measurement. Started by bench/listener_bound.py
(from the project's root):

    python -m bench.minimal_listener PORT REDIS_PORT SCRIPT_SHA QUEUE TASK_FILE
"""

from __future__ import annotations

import asyncio
import base64
import sys
import time
from datetime import UTC, datetime
from typing import Any

import hiredis

from worker.intake_connection import pack_command

MAX_BATCH = 64


class Intake(asyncio.Protocol):
    """The Redis connection: one group write in flight, ACKs when it is answered."""

    def __init__(self, sha: bytes, queue: bytes, task: bytes) -> None:
        self.sha, self.queue, self.task = sha, queue, task
        self.reader = hiredis.Reader()
        self.transport: Any = None
        self.pending: list[tuple[Any, bytes, bytes, bytes, bytes]] = []
        self.in_flight: list[tuple[Any, bytes, bytes, bytes, bytes]] | None = None
        self.count = 0

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.reader.feed(data)
        while (reply := self.reader.gets()) is not False:
            batch, self.in_flight = self.in_flight or [], None
            stamp = time.strftime("%Y%m%d%H%M%S").encode()
            for (conn, control, *_), _queued in zip(batch, reply, strict=False):
                self.count += 1
                conn.transport.write(
                    b"\x0bMSH|^~\\&|RADFLAG|GENHOSP|RIS|GENHOSP|%b||ACK^R01^ACK|RF%012d|P|2.5.1"
                    b"\rMSA|AA|%b\r\x1c\r" % (stamp, self.count, control)
                )
            self.send()

    def send(self) -> None:
        if self.in_flight is not None or not self.pending:
            return
        batch, self.pending = self.pending[:MAX_BATCH], self.pending[MAX_BATCH:]
        self.count += 1
        batch_id = b"%014d-p-%08d" % (int(time.time()), self.count)
        keys = [
            self.queue,
            b"radflag:journal",
            b"radflag:journal:since",
            b"radflag:intake:open",
            b"radflag:batch:" + batch_id,
        ]
        keys += [b"radflag:dedupe:" + dedupe for (_, _, dedupe, _, _) in batch]
        args = [b"86400", repr(time.time()).encode(), self.task, batch_id, b"64", b"86400"]
        args += [b"30", b"radflag:batch:"]
        for _, _, dedupe, at, entry in batch:
            args += [at, b"radflag.annotate|" + dedupe, entry]
        self.transport.write(pack_command([b"EVALSHA", self.sha, b"%d" % len(keys), *keys, *args]))
        self.in_flight = batch


class Connection(asyncio.Protocol):
    """One sender: frames in, each waits in the intake's group."""

    def __init__(self, intake: Intake) -> None:
        self.intake = intake
        self.buffer = b""
        self.transport: Any = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        buffer, start = self.buffer + data, 0
        while (begin := buffer.find(b"\x0b", start)) >= 0:
            end = buffer.find(b"\x1c\r", begin)
            if end < 0:
                start = begin
                break
            message, start = buffer[begin + 1 : end], end + 2
            fields = message[: message.find(b"\r")].split(b"|", 10)
            control = fields[9] if len(fields) > 9 else b""
            dedupe = b"%b|%b|%b" % (fields[2], fields[3], control)
            at = datetime.now(UTC).isoformat().encode()
            entry = (
                b'{"task":"radflag.annotate","kwargs":{"raw_b64":"%b","control_id":"%b",'
                b'"dedupe_key":"%b","received_at":"%b","ack_code":"AA"}}'
                % (base64.b64encode(message), control, dedupe, at)
            )
            self.intake.pending.append((self, control, dedupe, at, entry))
        else:
            start = len(buffer)
        self.buffer = buffer[start:]
        if self.intake.pending and self.intake.in_flight is None:
            asyncio.get_running_loop().call_soon(self.intake.send)


async def main(port: int, redis_port: int, sha: bytes, queue: bytes, task: bytes) -> None:
    loop = asyncio.get_running_loop()
    _, intake = await loop.create_connection(
        lambda: Intake(sha, queue, task), "127.0.0.1", redis_port
    )
    server = await loop.create_server(lambda: Connection(intake), "127.0.0.1", port)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    port, redis_port, sha, queue, task_file = sys.argv[1:6]
    with open(task_file, "rb") as f:
        task = f.read()
    asyncio.run(main(int(port), int(redis_port), sha.encode(), queue.encode(), task))
