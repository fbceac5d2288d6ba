"""Enhanced GRE (RFC 2637 §4.1) and the PPP frames inside it, as annotated bytes."""

from __future__ import annotations

import dpkt
import pytest

from pptp_harness import ppp
from pptp_harness.constants import AUTH_EAP, AUTH_MSCHAP_V2, AUTH_PAP, CHAP_RESPONSE, PppProto
from pptp_harness.gre import EnhancedGRE, enhanced_gre


def test_data_packet_with_ack():
    """K, S and A set: key (payload length, Call ID), sequence, acknowledgment, then PPP."""
    payload = bytes.fromhex("ff03c021090100081a2b3c4d")  # LCP Echo-Request
    raw = (
        bytes.fromhex(
            "3081"  # C=0 R=0 K=1 S=1 s=0 Recur=0 A=1 Flags=0 Ver=1
            "880b"  # Protocol: PPP
            "000c"  # Payload Length 12
            "7800"  # Call ID 30720
            "00000005"  # Sequence Number
            "00000004"  # Acknowledgment Number
        )
        + payload
    )
    assert bytes(enhanced_gre(30720, payload, 5, 4)) == raw
    parsed = EnhancedGRE(raw)
    assert (parsed.payload_length, parsed.call_id, parsed.seq, parsed.ack, parsed.data) == (
        12,
        30720,
        5,
        4,
        payload,
    )
    assert parsed.truth() == {
        "pptp_gre.flags": 0x3081,
        "pptp_gre.version": 1,
        "pptp_gre.protocol": 0x880B,
        "pptp_gre.payload_length": 12,
        "pptp_gre.call_id": 30720,
        "pptp_gre.seq": 5,
        "pptp_gre.ack": 4,
    }


def test_ack_only_packet_has_no_payload_and_no_sequence():
    raw = bytes.fromhex("2081880b000000000000000e")
    assert bytes(enhanced_gre(0, b"", None, 14)) == raw
    assert "pptp_gre.seq" not in EnhancedGRE(raw).truth()


def test_data_packet_without_ack():
    assert bytes(enhanced_gre(1, b"\xfd\x10\x00", 0, None)) == bytes.fromhex(
        "3001880b0003000100000000fd1000"
    )


def test_short_header_raises_need_data():
    with pytest.raises(dpkt.NeedData):
        EnhancedGRE(bytes.fromhex("3081880b000c7800"))


@pytest.mark.parametrize("name", ["chapcrack-sample.pcap", "packetlife-PPTP_negotiation.pcap"])
def test_every_real_gre_packet_round_trips(name, real_captures):
    """Every GRE v1 packet of a real pptpd/Windows capture parses and re-packs to the same bytes."""
    seen = 0
    with (real_captures / name).open("rb") as f:
        for _, buf in dpkt.pcap.Reader(f):
            ip = dpkt.ethernet.Ethernet(buf).data
            if isinstance(ip, dpkt.ip.IP) and ip.p == 47:
                raw = bytes(ip.data) if isinstance(ip.data, dpkt.Packet) else ip.data
                packet = EnhancedGRE(raw)
                assert bytes(packet) == raw
                # payload_length is not always len(data): a few real packets declare one octet
                # more than they carry, a quirk the analyzers must report, not trip over.
                seen += 1
    assert seen > 0


def test_ppp_framing_with_and_without_compression():
    """ff 03 and a two-octet protocol, or (after LCP agreed ACFC/PFC) neither."""
    frame = ppp.mppe_data(0x12, size=2)
    assert bytes(frame)[:6] == bytes.fromhex("ff0300fd1012")
    assert bytes(frame.compressed())[:3] == bytes.fromhex("fd1012")
    lcp = ppp.lcp_echo()
    assert bytes(lcp.compressed()) == bytes(lcp)  # LCP is always sent uncompressed


def test_lcp_authentication_protocol_option():
    """RFC 1661 §6.2: type 3; CHAP carries its algorithm (0x81 = MS-CHAPv2)."""
    info = ppp.lcp_configure(auth=AUTH_MSCHAP_V2, compression=False).info
    assert bytes.fromhex("0305c22381") in info
    assert bytes.fromhex("0304c023") in ppp.lcp_configure(auth=AUTH_PAP).info
    assert bytes.fromhex("0304c227") in ppp.lcp_configure(auth=AUTH_EAP).info


def test_ms_chap_v2_response_value_is_49_octets():
    """RFC 2759 §4: peer challenge 16, reserved 8, NT-Response 24, flags 1."""
    (response,) = [frame for from_client, frame in ppp.chap_exchange(AUTH_MSCHAP_V2) if from_client]
    info = response.info
    assert info[0] == CHAP_RESPONSE
    assert info[4] == 49
    assert info[5 + 16 : 5 + 24] == bytes(8)


def test_ccp_mppe_option_and_mppe_header():
    """RFC 3078: CCP option 18 with the supported bits; data header D bit and coherency count."""
    assert bytes.fromhex("120601000040") in ppp.ccp_mppe().info
    assert ppp.mppe_data(0xABC, flushed=True).info[:2] == bytes.fromhex("9abc")
    assert ppp.mppe_data(1).protocol == PppProto.MPPE
