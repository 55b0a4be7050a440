"""A WebSocket client on a bare TCP socket that can stop reading, as a stalled
browser does: the tests of the hub dropping slow readers (1013 "too slow")."""

from __future__ import annotations

import socket
import struct
import time


def stalled_socket(host: str, port: int, token: str) -> socket.socket:
    """A socket upgraded to ``/ws`` with ``token`` and a small receive buffer, whose
    frames nobody reads until :func:`read_frames` (close it when done)."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect((host, port))
    sock.sendall(
        (
            f"GET /ws HTTP/1.1\r\nHost: {host}:{port}\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
            f"Authorization: Bearer {token}\r\n\r\n"
        ).encode()
    )
    return sock


def read_frames(sock: socket.socket, within: float) -> list[tuple[int, bytes]]:
    """Skip the HTTP upgrade answer (a 101), then read server frames (opcode,
    payload) until a close frame, EOF or ``within`` seconds."""
    sock.settimeout(within)
    data = b""
    upgraded = False
    frames: list[tuple[int, bytes]] = []
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            break
        if not chunk:
            break
        data += chunk
        if not upgraded:
            head_end = data.find(b"\r\n\r\n")
            if head_end < 0:
                continue
            assert data.startswith(b"HTTP/1.1 101"), data[:100]
            data, upgraded = data[head_end + 4 :], True
        while len(data) >= 2:
            opcode, length, head = data[0] & 0x0F, data[1] & 0x7F, 2
            if length == 126:
                if len(data) < 4:
                    break
                length, head = struct.unpack("!H", data[2:4])[0], 4
            elif length == 127:
                if len(data) < 10:
                    break
                length, head = struct.unpack("!Q", data[2:10])[0], 10
            if len(data) < head + length:
                break
            frames.append((opcode, data[head : head + length]))
            data = data[head + length :]
            if opcode == 0x8:
                return frames
    return frames


def close_of(frames: list[tuple[int, bytes]]) -> tuple[int, bytes]:
    """(code, reason) of the first close frame among ``frames`` (there must be one)."""
    closes = [payload for opcode, payload in frames if opcode == 0x8]
    assert closes, f"no close frame among {len(frames)} frames"
    code: int = struct.unpack("!H", closes[0][:2])[0]
    return code, closes[0][2:]
