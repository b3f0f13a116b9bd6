"""NFQUEUE over a netlink socket, in pure Python: the kernel hands queued packets to userspace,
which gives each a verdict (accept or drop).

The same protocol libnetfilter_queue speaks (linux/netfilter/nfnetlink_queue.h), without that
library: bind a queue number, copy whole packets, receive NFQNL_MSG_PACKET, answer
NFQNL_MSG_VERDICT. Packets are IPv4 (the censor's bridged traffic).
"""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass

NETLINK_NETFILTER = 12
NFNL_SUBSYS_QUEUE = 3
NFQNL_MSG_PACKET = 0
NFQNL_MSG_VERDICT = 1
NFQNL_MSG_CONFIG = 2
NFQA_CFG_CMD = 1
NFQA_CFG_PARAMS = 2
NFQNL_CFG_CMD_BIND = 1
NFQNL_CFG_CMD_UNBIND = 2
NFQNL_COPY_PACKET = 2
NFQA_PACKET_HDR = 1
NFQA_VERDICT_HDR = 2
NFQA_IFINDEX_PHYSINDEV = 7
NFQA_IFINDEX_PHYSOUTDEV = 8
NFQA_HWADDR = 9
NFQA_PAYLOAD = 10
NLM_F_REQUEST = 1
NLM_F_ACK = 4
NLMSG_ERROR = 2
NF_DROP = 0
NF_ACCEPT = 1
_NLMSG_HDR = struct.Struct("=IHHII")
_NFGEN = struct.Struct("=BBH")   # family, version, res_id (network order, packed by hand)


@dataclass(frozen=True)
class QueuedPacket:
    packet_id: int
    payload: bytes    # the IPv4 packet, from its IP header
    physindev: int | None = None    # bridge port it came in on (ifindex)
    physoutdev: int | None = None   # bridge port it would leave by
    hwaddr: str | None = None       # its source MAC


def _attr(kind: int, data: bytes) -> bytes:
    length = 4 + len(data)
    return struct.pack("=HH", length, kind) + data + b"\0" * (-length % 4)


def _attrs(data: bytes) -> dict[int, bytes]:
    found = {}
    offset = 0
    while offset + 4 <= len(data):
        length, kind = struct.unpack_from("=HH", data, offset)
        if length < 4:
            break
        found[kind & 0x7FFF] = data[offset + 4:offset + length]
        offset += length + (-length % 4)
    return found


class Queue:
    """One bound queue number. `receive()` blocks for the next packet; `verdict()` answers it."""

    def __init__(self, number: int, copy_range: int = 0xFFFF):
        self.number = number
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        self.sock.bind((0, 0))
        self.seq = 0
        self._config(_attr(NFQA_CFG_CMD, struct.pack("!BBH", NFQNL_CFG_CMD_BIND, 0,
                                                     socket.AF_INET)))
        self._config(_attr(NFQA_CFG_PARAMS, struct.pack("!IB", copy_range, NFQNL_COPY_PACKET)))

    def _send(self, msg_type: int, body: bytes, flags: int = NLM_F_REQUEST) -> int:
        self.seq += 1
        nfgen = _NFGEN.pack(socket.AF_UNSPEC, 0, socket.htons(self.number))
        payload = nfgen + body
        header = _NLMSG_HDR.pack(_NLMSG_HDR.size + len(payload),
                                 (NFNL_SUBSYS_QUEUE << 8) | msg_type, flags, self.seq, 0)
        self.sock.send(header + payload)
        return self.seq

    def _config(self, body: bytes) -> None:
        seq = self._send(NFQNL_MSG_CONFIG, body, NLM_F_REQUEST | NLM_F_ACK)
        while True:
            data = self.sock.recv(65536)
            for msg_type, msg_seq, body_bytes in _messages(data):
                if msg_type == NLMSG_ERROR and msg_seq == seq:
                    errno = -struct.unpack_from("=i", body_bytes)[0]
                    if errno:
                        raise OSError(errno, f"NFQUEUE {self.number}: config refused "
                                      f"({socket.errno.errorcode.get(errno, errno)})")
                    return

    def receive(self) -> list[QueuedPacket]:
        """The packets of the next netlink read (one or more)."""
        packets = []
        for msg_type, _, body in _messages(self.sock.recv(1 << 17)):
            if msg_type != (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET:
                continue
            attrs = _attrs(body[_NFGEN.size:])
            if NFQA_PACKET_HDR not in attrs or NFQA_PAYLOAD not in attrs:
                continue
            packet_id = struct.unpack_from("!I", attrs[NFQA_PACKET_HDR])[0]
            packets.append(QueuedPacket(packet_id, attrs[NFQA_PAYLOAD],
                                        _ifindex(attrs.get(NFQA_IFINDEX_PHYSINDEV)),
                                        _ifindex(attrs.get(NFQA_IFINDEX_PHYSOUTDEV)),
                                        _hwaddr(attrs.get(NFQA_HWADDR))))
        return packets

    def verdict(self, packet_id: int, accept: bool) -> None:
        body = _attr(NFQA_VERDICT_HDR, struct.pack("!II", NF_ACCEPT if accept else NF_DROP,
                                                   packet_id))
        self._send(NFQNL_MSG_VERDICT, body)

    def close(self) -> None:
        try:
            self._send(NFQNL_MSG_CONFIG, _attr(NFQA_CFG_CMD, struct.pack(
                "!BBH", NFQNL_CFG_CMD_UNBIND, 0, socket.AF_INET)))
        finally:
            self.sock.close()


def _ifindex(data: bytes | None) -> int | None:
    return struct.unpack_from("!I", data)[0] if data else None


def _hwaddr(data: bytes | None) -> str | None:
    """struct nfqnl_msg_packet_hw: be16 length, 2 bytes padding, the address."""
    if not data:
        return None
    length = struct.unpack_from("!H", data)[0]
    return ":".join(f"{b:02x}" for b in data[4:4 + length])


def _messages(data: bytes):
    offset = 0
    while offset + _NLMSG_HDR.size <= len(data):
        length, msg_type, _, seq, _ = _NLMSG_HDR.unpack_from(data, offset)
        if length < _NLMSG_HDR.size:
            break
        yield msg_type, seq, data[offset + _NLMSG_HDR.size:offset + length]
        offset += length + (-length % 4)
