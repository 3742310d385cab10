"""bench.listener_bound's two bounds do the listener's durable path, or their figures mean nothing.

Each must ACK a message only after worker/intake_batch.lua wrote it: its journal entry (the
message, base64), its dedupe mark and its batch's task in the queue.
"""

from __future__ import annotations

import base64
import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import redis

from bench.listener_bound import ROOT, build_bound
from hl7.mllp import FrameDecoder, encode_frame
from tests.servers import accepts, free_port, start_redis, wait_until

TASK = '{"body": "batch task, as kombu stores it"}'


def _message(control_id: str) -> bytes:
    return (
        "MSH|^~\\&|RIS|GENHOSP|RADFLAG|GENHOSP|20260101120000||ORU^R01^ORU_R01|"
        f"{control_id}|P|2.5.1\rPID|1||MRN1\rOBX|1|TX|REPORT||Bone marrow edema.||||||F\r"
    ).encode()


def _send_all(port: int, control_ids: list[str]) -> list[bytes]:
    """One connection, each message after the last one's ACK (as MLLP senders do)."""
    answers = []
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        decoder = FrameDecoder(1 << 20)
        for control_id in control_ids:
            sock.sendall(encode_frame(_message(control_id)))
            frames: list[bytes] = []
            for _ in range(100):  # bounded: a reply is a few reads at most
                if frames:
                    break
                data = sock.recv(65536)
                assert data, "the listener closed the connection"
                frames = decoder.feed(data)
            answers.append(frames[0])
    return answers


@pytest.mark.parametrize("bound", ["minimal", "compiled"])
def test_a_bound_acks_only_what_the_intake_script_wrote(tmp_path: Path, bound: str) -> None:
    server = start_redis(tmp_path / "redis")
    client = redis.Redis.from_url(server.url)
    process = None
    try:
        redis_port = str(client.connection_pool.connection_kwargs["port"])
        sha = client.script_load((ROOT / "worker" / "intake_batch.lua").read_text())
        (tmp_path / "task").write_text(TASK)
        if bound == "compiled":
            command = [str(build_bound(tmp_path))]
        else:
            command = [sys.executable, "-m", "bench.minimal_listener"]
        port = free_port()
        process = subprocess.Popen(
            [*command, str(port), redis_port, sha, "celery", str(tmp_path / "task")], cwd=ROOT
        )
        wait_until(lambda: accepts(port), timeout=20, what=bound)
        control_ids = [f"C{i:04d}" for i in range(12)]
        answers = _send_all(port, control_ids)
        for control_id, answer in zip(control_ids, answers, strict=True):
            assert answer.split(b"\r")[1] == f"MSA|AA|{control_id}".encode()
        journal = client.hgetall("radflag:journal")
        assert len(journal) == len(control_ids)
        for control_id in control_ids:
            entry = json.loads(journal[f"radflag.annotate|RIS|GENHOSP|{control_id}".encode()])
            assert base64.b64decode(entry["kwargs"]["raw_b64"]) == _message(control_id)
            assert client.exists(f"radflag:dedupe:RIS|GENHOSP|{control_id}")
        assert client.llen("celery") >= 1
        assert client.lrange("celery", 0, 0)[0].decode() == TASK
    finally:
        if process is not None:
            process.terminate()
            process.wait(10)
        client.close()
        server.stop()
