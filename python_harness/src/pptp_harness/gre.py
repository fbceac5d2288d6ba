"""Enhanced GRE (RFC 2637 §4.1): GRE version 1 carrying PPP for one PPTP call."""

from __future__ import annotations

import struct

import dpkt

from .constants import (
    GRE_FLAG_ACK,
    GRE_FLAG_KEY,
    GRE_FLAG_SEQ,
    GRE_PROTO_PPP,
    GRE_VERSION_MASK,
    GRE_VERSION_PPTP,
)

PREFIX = "pptp_gre."


class EnhancedGRE(dpkt.Packet):
    """An enhanced GRE header and its payload.

    Fields: flags (2, flags and version: C R K S s Recur A flags Ver), protocol (2, 0x880B),
    then, each present when its flag bit is set: payload_length and call_id (2 + 2, the key,
    bit K), seq (4, bit S), ack (4, bit A). ``data`` is the PPP frame; ack-only packets have none.
    """

    __hdr__ = (
        ("flags", "H", GRE_FLAG_KEY | GRE_VERSION_PPTP),
        ("protocol", "H", GRE_PROTO_PPP),
    )
    payload_length = 0
    call_id = 0
    seq = 0
    ack = 0

    def _optional(self) -> list[tuple[str, str]]:
        fields = []
        if self.flags & GRE_FLAG_KEY:
            fields += [("payload_length", "H"), ("call_id", "H")]
        if self.flags & GRE_FLAG_SEQ:
            fields.append(("seq", "I"))
        if self.flags & GRE_FLAG_ACK:
            fields.append(("ack", "I"))
        return fields

    def unpack(self, buf: bytes) -> None:
        dpkt.Packet.unpack(self, buf)
        fields = self._optional()
        fmt = ">" + "".join(f for _, f in fields)
        size = struct.calcsize(fmt)
        if len(self.data) < size:
            raise dpkt.NeedData(f"enhanced GRE header needs {size} more octets")
        for (name, _), value in zip(fields, struct.unpack_from(fmt, self.data)):
            setattr(self, name, value)
        self.data = self.data[size:]

    def pack_hdr(self) -> bytes:
        fields = self._optional()
        extra = struct.pack(
            ">" + "".join(f for _, f in fields), *(getattr(self, n) for n, _ in fields)
        )
        return dpkt.Packet.pack_hdr(self) + extra

    def __len__(self) -> int:
        return len(self.pack_hdr()) + len(self.data)

    @property
    def version(self) -> int:
        return self.flags & GRE_VERSION_MASK

    def truth(self) -> dict[str, object]:
        """Header field values under contract 1's names (absent fields are not named)."""
        values: dict[str, object] = {
            PREFIX + "flags": self.flags,
            PREFIX + "version": self.version,
            PREFIX + "protocol": self.protocol,
        }
        for name, _ in self._optional():
            values[PREFIX + name] = getattr(self, name)
        return values


def enhanced_gre(
    call_id: int,
    payload: bytes = b"",
    seq: int | None = None,
    ack: int | None = None,
    *,
    extra_flags: int = 0,
    clear_flags: int = 0,
    payload_length: int | None = None,
    protocol: int = GRE_PROTO_PPP,
) -> EnhancedGRE:
    """An enhanced GRE packet with the K, S and A bits set to match what is present.

    ``extra_flags``/``clear_flags`` set or clear bits afterwards (for broken variants);
    ``payload_length`` overrides the true payload size.
    """
    flags = GRE_FLAG_KEY | GRE_VERSION_PPTP
    if seq is not None:
        flags |= GRE_FLAG_SEQ
    if ack is not None:
        flags |= GRE_FLAG_ACK
    flags = (flags | extra_flags) & ~clear_flags
    return EnhancedGRE(
        flags=flags,
        protocol=protocol,
        payload_length=len(payload) if payload_length is None else payload_length,
        call_id=call_id,
        seq=seq or 0,
        ack=ack or 0,
        data=payload,
    )
