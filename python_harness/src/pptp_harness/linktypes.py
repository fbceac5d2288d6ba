"""The same capture on other link layers and in tunnels: an analyzer that reads GRE must find
it whatever carries the IP packet (Ethernet, 802.1Q, Linux cooked v1/v2 as ``tcpdump -i any``
writes, raw IP, IP in IP) and whether IPv4 or IPv6 carries it.

Each conversion reads an Ethernet capture (the harness's, or a real one) frame by frame and
writes the IP packet of every frame in the new framing, with its timestamp.
"""

from __future__ import annotations

import ipaddress
import struct
from collections.abc import Callable, Iterator
from pathlib import Path

import dpkt

from .captures import (
    DLT_RAW_BSD,
    ETH_IPV4,
    ETH_IPV6,
    ETH_VLAN,
    LINKTYPE_LINUX_SLL,
    LINKTYPE_LINUX_SLL2,
    LINKTYPE_RAW,
)

ARPHRD_ETHER = 1
SLL_OUTGOING = 4
# Outer endpoints of the IP-in-IP tunnels (documentation prefixes, RFC 5737 and RFC 3849).
TUNNEL_V4 = (bytes([203, 0, 113, 200]), bytes([203, 0, 113, 201]))
TUNNEL_V6 = (
    ipaddress.IPv6Address("2001:db8:ffff::1").packed,
    ipaddress.IPv6Address("2001:db8:ffff::2").packed,
)
# IPv4 a.b.c.d becomes 2001:db8::a.b.c.d in the IPv6 variant.
V6_PREFIX = ipaddress.IPv6Address("2001:db8::").packed[:12]


def ip_packets(pcap: str | Path) -> Iterator[tuple[float, int, bytes, bytes]]:
    """(timestamp, ethertype, source MAC, IP packet) of each Ethernet frame, VLAN tags
    skipped."""
    with open(pcap, "rb") as f:
        reader = dpkt.pcap.Reader(f)
        if reader.datalink() != dpkt.pcap.DLT_EN10MB:
            raise ValueError(f"{pcap}: not an Ethernet capture")
        for ts, frame in reader:
            at, ethertype = 14, struct.unpack("!H", frame[12:14])[0]
            while ethertype == ETH_VLAN:
                ethertype = struct.unpack("!H", frame[at + 2 : at + 4])[0]
                at += 4
            yield ts, ethertype, frame[6:12], frame[at:]


def v4_to_v6(address: bytes) -> bytes:
    return V6_PREFIX + address


def ipv6_packet(packet: bytes) -> bytes:
    """The IPv4 ``packet`` as IPv6 (addresses mapped with ``v4_to_v6``, the payload as it
    is: a TCP checksum goes stale, which ``zeek -C`` and tshark ignore)."""
    ip = dpkt.ip.IP(packet)
    payload = packet[ip.hl * 4 : ip.len]
    header = struct.pack("!IHBB", 6 << 28, len(payload), ip.p, ip.ttl)
    return header + v4_to_v6(ip.src) + v4_to_v6(ip.dst) + payload


def ipv4_in(outer_v6: bool, packet: bytes) -> tuple[int, bytes]:
    """``packet`` (IPv4) inside an outer IPv6 (protocol 4 as next header) or IPv4 header."""
    if outer_v6:
        header = struct.pack("!IHBB", 6 << 28, len(packet), 4, 64)
        return ETH_IPV6, header + TUNNEL_V6[0] + TUNNEL_V6[1] + packet
    outer = dpkt.ip.IP(
        src=TUNNEL_V4[0], dst=TUNNEL_V4[1], p=4, ttl=64, data=packet, len=20 + len(packet)
    )
    return ETH_IPV4, bytes(outer)


def _ethernet(ethertype: int, mac: bytes, packet: bytes, vlan: int | None = None) -> bytes:
    tag = struct.pack("!HH", ETH_VLAN, vlan) if vlan is not None else b""
    return b"\x02\x00\x00\x00\x00\x02" + mac + tag + struct.pack("!H", ethertype) + packet


def _sll(ethertype: int, mac: bytes, packet: bytes) -> bytes:
    header = struct.pack("!HHH", SLL_OUTGOING, ARPHRD_ETHER, 6) + mac + b"\x00\x00"
    return header + struct.pack("!H", ethertype) + packet


def _sll2(ethertype: int, mac: bytes, packet: bytes) -> bytes:
    header = struct.pack("!HHIHBB", ethertype, 0, 2, ARPHRD_ETHER, SLL_OUTGOING, 6)
    return header + mac + b"\x00\x00" + packet


# name -> (link type, frame of (ethertype, source MAC, IP packet))
Framing = Callable[[int, bytes, bytes], bytes]
FRAMINGS: dict[str, tuple[int, Framing]] = {
    "ethernet": (dpkt.pcap.DLT_EN10MB, _ethernet),
    "vlan": (dpkt.pcap.DLT_EN10MB, lambda t, m, p: _ethernet(t, m, p, vlan=100)),
    "linux_sll": (LINKTYPE_LINUX_SLL, _sll),
    "linux_sll2": (LINKTYPE_LINUX_SLL2, _sll2),
    "raw": (LINKTYPE_RAW, lambda t, m, p: p),
    "raw_dlt12": (DLT_RAW_BSD, lambda t, m, p: p),
}

# name -> what becomes of each (ethertype, IP packet) before it is framed
Carrier = Callable[[int, bytes], tuple[int, bytes]]
CARRIERS: dict[str, Carrier] = {
    "ipv4": lambda t, p: (t, p),
    "ipv6": lambda t, p: (ETH_IPV6, ipv6_packet(p)) if t == ETH_IPV4 else (t, p),
    "4in6": lambda t, p: ipv4_in(True, p) if t == ETH_IPV4 else (t, p),
    "4in4": lambda t, p: ipv4_in(False, p) if t == ETH_IPV4 else (t, p),
}


def convert(
    pcap: str | Path, out: str | Path, framing: str = "ethernet", carrier: str = "ipv4"
) -> Path:
    """Write ``pcap``'s IP packets to ``out`` framed as ``framing``, carried as ``carrier``."""
    linktype, frame = FRAMINGS[framing]
    carry = CARRIERS[carrier]
    with open(out, "wb") as f:
        writer = dpkt.pcap.Writer(f, snaplen=65535, linktype=linktype)
        for ts, ethertype, mac, packet in ip_packets(pcap):
            kind, carried = carry(ethertype, packet)
            writer.writepkt(frame(kind, mac, carried), ts=ts)
    return Path(out)
