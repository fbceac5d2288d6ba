"""Reading captures: every pcap and pcapng file the harness's tools accept, and the IP packets
their frames carry (dpkt reads the files; this module adds what it leaves out).

- ``records``: (frame number, exact timestamp, link type, frame) of every packet of a pcap or
  a pcapng file, each pcapng interface with its own link type and time resolution;
- ``network_packet``: the IPv4 or IPv6 packet of a frame on Ethernet (802.1Q/802.1ad tags
  skipped), Linux cooked v1/v2, raw IP (101, and 12/14 as some platforms wrote them), the
  IPv4/IPv6 link types and BSD/OpenBSD loopback;
- ``transport``: the addresses, protocol and payload of an IP packet, IP-in-IP unwrapped;
- ``ip_records``: the three together.

Fragmented IP is not reassembled. The decryption tools and the ground truth of captures we did
not synthesize (``reading``) both read through here.
"""

from __future__ import annotations

import ipaddress
import struct
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import dpkt

ETH_IPV4 = 0x0800
ETH_IPV6 = 0x86DD
ETH_VLAN = 0x8100
VLAN_TAGS = (ETH_VLAN, 0x88A8, 0x9100)
# pcap link types (tcpdump.org/linktypes.html). Raw IP appears as 101 in files, and as 12 or
# 14 where a capture kept the DLT_RAW value of the platform it came from.
LINKTYPE_NULL = 0  # BSD loopback: 4-octet address family in host order
LINKTYPE_ETHERNET = 1
DLT_RAW_BSD = 12
DLT_RAW_OPENBSD = 14
LINKTYPE_RAW = 101
LINKTYPE_LOOP = 108  # OpenBSD loopback: the family in network order
LINKTYPE_LINUX_SLL = 113
LINKTYPE_IPV4 = 228
LINKTYPE_IPV6 = 229
LINKTYPE_LINUX_SLL2 = 276
RAW_LINKTYPES = (LINKTYPE_RAW, DLT_RAW_BSD, DLT_RAW_OPENBSD, LINKTYPE_IPV4, LINKTYPE_IPV6)
IP_PROTO_IPV4, IP_PROTO_IPV6 = 4, 41  # IP-in-IP
IPV6_EXTENSIONS = (0, 43, 60)  # hop-by-hop, routing, destination options: skipped
IPV6_FRAGMENT = 44

PCAPNG_MAGIC = b"\x0a\x0d\x0d\x0a"
PCAPNG_BYTE_ORDER_LE = b"\x4d\x3c\x2b\x1a"


def records(path: str | Path) -> Iterator[tuple[int, Decimal, int, bytes]]:
    """(frame number, timestamp, link type, frame) of every packet of a pcap or pcapng file,
    numbered from 1 as Wireshark numbers them; timestamps exact (``Decimal`` seconds)."""
    with open(path, "rb") as f:
        magic = f.read(4)
        f.seek(0)
        if magic == PCAPNG_MAGIC:
            yield from _pcapng_records(f)
            return
        try:
            reader = dpkt.pcap.Reader(f)
        except (ValueError, dpkt.UnpackError):
            raise ValueError(f"{path}: not a pcap or pcapng capture") from None
        linktype = reader.datalink()
        for number, (ts, frame) in enumerate(reader, 1):
            yield number, _exact(ts), linktype, bytes(frame)


def _exact(ts: float | Decimal) -> Decimal:
    """dpkt gives microsecond pcap timestamps as floats: back to whole microseconds."""
    if isinstance(ts, Decimal):
        return ts
    return Decimal(round(ts * 1_000_000)) / 1_000_000


_PCAPNG_BLOCKS = {
    # block type -> (little-endian class, big-endian class)
    dpkt.pcapng.PCAPNG_BT_IDB: (
        dpkt.pcapng.InterfaceDescriptionBlockLE,
        dpkt.pcapng.InterfaceDescriptionBlock,
    ),
    dpkt.pcapng.PCAPNG_BT_EPB: (
        dpkt.pcapng.EnhancedPacketBlockLE,
        dpkt.pcapng.EnhancedPacketBlock,
    ),
    dpkt.pcapng.PCAPNG_BT_PB: (dpkt.pcapng.PacketBlockLE, dpkt.pcapng.PacketBlock),
}


def _pcapng_records(f) -> Iterator[tuple[int, Decimal, int, bytes]]:
    """dpkt's pcapng Reader takes the first interface's link type and time resolution for
    every packet; a capture on several interfaces (or in several sections) needs each packet's
    own. A truncated last block ends the capture."""
    little = True
    interfaces: list[tuple[int, Decimal, int]] = []  # link type, units per second, offset
    number, ts = 0, Decimal(0)
    while True:
        head = f.read(8)
        if len(head) < 8:
            return
        if head[:4] == PCAPNG_MAGIC:  # a section: its byte order, and interfaces anew
            little = f.read(4) == PCAPNG_BYTE_ORDER_LE
            (length,) = struct.unpack("<I" if little else ">I", head[4:])
            f.read(length - 12)
            interfaces = []
            continue
        kind, length = struct.unpack("<II" if little else ">II", head)
        block = head + f.read(max(length, 12) - 8)
        if length < 12 or len(block) < length:
            return
        classes = _PCAPNG_BLOCKS.get(kind)
        try:
            parsed = classes[0 if little else 1](block) if classes else None
        except (dpkt.UnpackError, struct.error, ValueError):  # ValueError: a broken comment
            number += kind != dpkt.pcapng.PCAPNG_BT_IDB  # a packet all the same
            continue
        if kind == dpkt.pcapng.PCAPNG_BT_IDB:
            interfaces.append(_interface(parsed, little))
        elif parsed is not None and parsed.iface_id < len(interfaces):
            linktype, units, offset = interfaces[parsed.iface_id]
            number += 1
            ts = Decimal((parsed.ts_high << 32) | parsed.ts_low) / units + offset
            yield number, ts, linktype, bytes(parsed.pkt_data)
        elif kind == dpkt.pcapng.PCAPNG_BT_SPB and interfaces:
            # No timestamp: the previous packet's stands for it.
            (original,) = struct.unpack_from("<I" if little else ">I", block, 8)
            number += 1
            yield number, ts, interfaces[0][0], bytes(block[12 : 12 + min(original, length - 16)])


def _interface(idb, little: bool) -> tuple[int, Decimal, int]:
    units, offset = Decimal(1_000_000), 0
    for opt in idb.opts:
        if opt.code == dpkt.pcapng.PCAPNG_OPT_IF_TSRESOL and opt.data:
            value = opt.data[0]
            units = Decimal(2 if value & 0x80 else 10) ** (value & 0x7F)
        elif opt.code == dpkt.pcapng.PCAPNG_OPT_IF_TSOFFSET and len(opt.data) >= 8:
            (offset,) = struct.unpack("<q" if little else ">q", opt.data[:8])
    return idb.linktype, units, offset


def network_packet(linktype: int, frame: bytes) -> bytes | None:
    """The IPv4 or IPv6 packet a frame carries, or None."""
    at = None
    if linktype == LINKTYPE_ETHERNET and len(frame) >= 14:
        at, (ethertype,) = 14, struct.unpack_from(">H", frame, 12)
        while ethertype in VLAN_TAGS and len(frame) >= at + 4:
            (ethertype,) = struct.unpack_from(">H", frame, at + 2)
            at += 4
        at = at if ethertype in (ETH_IPV4, ETH_IPV6) else None
    elif linktype == LINKTYPE_LINUX_SLL and len(frame) >= 16:
        at = 16 if struct.unpack_from(">H", frame, 14)[0] in (ETH_IPV4, ETH_IPV6) else None
    elif linktype == LINKTYPE_LINUX_SLL2 and len(frame) >= 20:
        at = 20 if struct.unpack_from(">H", frame, 0)[0] in (ETH_IPV4, ETH_IPV6) else None
    elif linktype in RAW_LINKTYPES:
        at = 0
    elif linktype in (LINKTYPE_NULL, LINKTYPE_LOOP):
        at = 4  # the family's value differs between systems: the IP version nibble decides
    if at is None or len(frame) <= at or frame[at] >> 4 not in (4, 6):
        return None
    return frame[at:]


def transport(packet: bytes) -> tuple[str, str, int, bytes] | None:
    """(source, destination, protocol, payload) of an IP packet, IP-in-IP unwrapped; None for
    a fragment or a truncated header."""
    for _ in range(8):
        if not packet:
            return None
        version = packet[0] >> 4
        if version == 4 and len(packet) >= 20:
            ihl = (packet[0] & 0x0F) * 4
            total, fragment, proto = struct.unpack_from(">H2xHxB", packet, 2)
            if ihl < 20 or fragment & 0x3FFF:  # MF set or a non-zero offset
                return None
            src, dst = packet[12:16], packet[16:20]
            payload = packet[ihl : max(total, ihl)]
        elif version == 6 and len(packet) >= 40:
            length, proto = struct.unpack_from(">HB", packet, 4)
            src, dst = packet[8:24], packet[24:40]
            payload = packet[40 : 40 + length]
            while proto in IPV6_EXTENSIONS and len(payload) >= 8:
                proto, size = payload[0], (payload[1] + 1) * 8
                payload = payload[size:]
            if proto == IPV6_FRAGMENT:
                return None
        else:
            return None
        if proto in (IP_PROTO_IPV4, IP_PROTO_IPV6):
            packet = payload
            continue
        return (
            str(ipaddress.ip_address(src)),
            str(ipaddress.ip_address(dst)),
            proto,
            payload,
        )
    return None


def ip_records(path: str | Path) -> Iterator[tuple[int, Decimal, tuple[str, str, int, bytes]]]:
    """(frame number, timestamp, (source, destination, protocol, payload)) of every frame of
    ``path`` that carries an unfragmented IP packet."""
    for number, ts, linktype, frame in records(path):
        packet = network_packet(linktype, frame)
        found = transport(packet) if packet is not None else None
        if found is not None:
            yield number, ts, found
