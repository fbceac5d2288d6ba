"""Protocol numbers and value tables of PPTP (RFC 2637), enhanced GRE and the PPP inside it."""

from __future__ import annotations

from enum import IntEnum

TCP_PORT = 1723
IP_PROTO_GRE = 47
MAGIC_COOKIE = 0x1A2B3C4D
PROTOCOL_VERSION = 0x0100  # 1.0, high octet is the version, low octet the revision
HEADER_LENGTH = 12  # length, PPTP message type, magic cookie, control type, reserved0


class PptpMessageType(IntEnum):
    """The PPTP message type of the common header (RFC 2637 §2)."""

    CONTROL = 1
    MANAGEMENT = 2


class MsgType(IntEnum):
    """Control message types (RFC 2637 §2.1-2.15)."""

    SCCRQ = 1  # Start-Control-Connection-Request
    SCCRP = 2  # Start-Control-Connection-Reply
    STOPCCRQ = 3  # Stop-Control-Connection-Request
    STOPCCRP = 4  # Stop-Control-Connection-Reply
    ECHORQ = 5  # Echo-Request
    ECHORP = 6  # Echo-Reply
    OCRQ = 7  # Outgoing-Call-Request
    OCRP = 8  # Outgoing-Call-Reply
    ICRQ = 9  # Incoming-Call-Request
    ICRP = 10  # Incoming-Call-Reply
    ICCN = 11  # Incoming-Call-Connected
    CCRQ = 12  # Call-Clear-Request
    CDN = 13  # Call-Disconnect-Notify
    WEN = 14  # WAN-Error-Notify
    SLI = 15  # Set-Link-Info


MESSAGE_NAMES = {
    MsgType.SCCRQ: "Start-Control-Connection-Request",
    MsgType.SCCRP: "Start-Control-Connection-Reply",
    MsgType.STOPCCRQ: "Stop-Control-Connection-Request",
    MsgType.STOPCCRP: "Stop-Control-Connection-Reply",
    MsgType.ECHORQ: "Echo-Request",
    MsgType.ECHORP: "Echo-Reply",
    MsgType.OCRQ: "Outgoing-Call-Request",
    MsgType.OCRP: "Outgoing-Call-Reply",
    MsgType.ICRQ: "Incoming-Call-Request",
    MsgType.ICRP: "Incoming-Call-Reply",
    MsgType.ICCN: "Incoming-Call-Connected",
    MsgType.CCRQ: "Call-Clear-Request",
    MsgType.CDN: "Call-Disconnect-Notify",
    MsgType.WEN: "WAN-Error-Notify",
    MsgType.SLI: "Set-Link-Info",
}


class Role(IntEnum):
    """Which end of the control connection a message comes from (RFC 2637 §1.2)."""

    PNS = 1  # PPTP Network Server; in VPN use the dialling client (pptp-linux, Windows)
    PAC = 2  # PPTP Access Concentrator; in VPN use the server (pptpd, RRAS)
    EITHER = 3


SENDER = {
    MsgType.SCCRQ: Role.EITHER,
    MsgType.SCCRP: Role.EITHER,
    MsgType.STOPCCRQ: Role.EITHER,
    MsgType.STOPCCRP: Role.EITHER,
    MsgType.ECHORQ: Role.EITHER,
    MsgType.ECHORP: Role.EITHER,
    MsgType.OCRQ: Role.PNS,
    MsgType.OCRP: Role.PAC,
    MsgType.ICRQ: Role.PAC,
    MsgType.ICRP: Role.PNS,
    MsgType.ICCN: Role.PAC,
    MsgType.CCRQ: Role.PNS,
    MsgType.CDN: Role.PAC,
    MsgType.WEN: Role.PAC,
    MsgType.SLI: Role.PNS,
}

# Result codes differ per message type (RFC 2637 §2.2, 2.4, 2.6, 2.8, 2.10, 2.13).
SCCRP_RESULTS = {
    1: "Successful channel establishment",
    2: "General error",
    3: "Command channel already exists",
    4: "Requester is not authorized to establish a command channel",
    5: "The protocol version of the requester is not supported",
}
STOPCCRQ_REASONS = {1: "None", 2: "Stop-Protocol", 3: "Stop-Local-Shutdown"}
STOPCCRP_RESULTS = {1: "OK", 2: "General error"}
ECHORP_RESULTS = {1: "OK", 2: "General error"}
OCRP_RESULTS = {
    1: "Connected",
    2: "General Error",
    3: "No Carrier",
    4: "Busy",
    5: "No Dial Tone",
    6: "Time-out",
    7: "Do Not Accept",
}
ICRP_RESULTS = {1: "Connect", 2: "General Error", 3: "Do Not Accept"}
CDN_RESULTS = {1: "Lost Carrier", 2: "General Error", 3: "Admin Shutdown", 4: "Request"}
ERROR_CODES = {
    0: "None",
    1: "Not-Connected",
    2: "Bad-Format",
    3: "Bad-Value",
    4: "No-Resource",
    5: "Bad-Call ID",
    6: "PAC-Error",
}

FRAMING_ASYNC = 0x1
FRAMING_SYNC = 0x2
BEARER_ANALOG = 0x1
BEARER_DIGITAL = 0x2
FRAMING_CAPABILITIES = {FRAMING_ASYNC: "Asynchronous", FRAMING_SYNC: "Synchronous"}
BEARER_CAPABILITIES = {BEARER_ANALOG: "Analog", BEARER_DIGITAL: "Digital"}

# Enhanced GRE (RFC 2637 §4.1): flags-and-version word.
GRE_VERSION_PPTP = 1
GRE_PROTO_PPP = 0x880B
GRE_FLAG_CHECKSUM = 0x8000
GRE_FLAG_ROUTING = 0x4000
GRE_FLAG_KEY = 0x2000
GRE_FLAG_SEQ = 0x1000
GRE_FLAG_STRICT_ROUTE = 0x0800
GRE_RECURSION_MASK = 0x0700
GRE_FLAG_ACK = 0x0080
GRE_RESERVED_MASK = 0x0078
GRE_VERSION_MASK = 0x0007


class PppProto(IntEnum):
    """PPP protocol numbers seen inside PPTP tunnels."""

    IP = 0x0021
    IPV6 = 0x0057
    MPPE = 0x00FD  # compressed/encrypted datagram (RFC 3078)
    IPCP = 0x8021
    CCP = 0x80FD
    LCP = 0xC021
    PAP = 0xC023
    CHAP = 0xC223
    EAP = 0xC227


# What Wireshark names the layer for each PPP protocol (its frame.protocols entry).
PPP_LAYER_NAMES = {
    PppProto.IP: "ip",
    PppProto.MPPE: "comp_data",
    PppProto.IPCP: "ipcp",
    PppProto.CCP: "ccp",
    PppProto.LCP: "lcp",
    PppProto.PAP: "pap",
    PppProto.CHAP: "chap",
    PppProto.EAP: "eap",
}


class CpCode(IntEnum):
    """Codes shared by LCP, IPCP and CCP (RFC 1661 §5)."""

    CONFIGURE_REQUEST = 1
    CONFIGURE_ACK = 2
    CONFIGURE_NAK = 3
    CONFIGURE_REJECT = 4
    TERMINATE_REQUEST = 5
    TERMINATE_ACK = 6
    CODE_REJECT = 7
    PROTOCOL_REJECT = 8
    ECHO_REQUEST = 9
    ECHO_REPLY = 10


LCP_OPT_MRU = 1
LCP_OPT_AUTH_PROTOCOL = 3
LCP_OPT_MAGIC_NUMBER = 5
LCP_OPT_PFC = 7  # protocol field compression
LCP_OPT_ACFC = 8  # address and control field compression
IPCP_OPT_IP_ADDRESS = 3
CCP_OPT_MPPE = 18

CHAP_ALGORITHM_MD5 = 5
CHAP_ALGORITHM_MSCHAP_V1 = 0x80
CHAP_ALGORITHM_MSCHAP_V2 = 0x81


# Names of the authentication protocols an LCP negotiation can settle on.
AUTH_PAP = "PAP"
AUTH_CHAP_MD5 = "CHAP-MD5"
AUTH_MSCHAP_V1 = "MS-CHAPv1"
AUTH_MSCHAP_V2 = "MS-CHAPv2"
AUTH_EAP = "EAP"
AUTH_NONE = "none"
# Seconds after a call is connected within which each side's GRE must appear; otherwise GRE
# (IP protocol 47) is taken as blocked that way. The plugin's and Zeek's default too.
GRE_GRACE = 10.0
WEAK_AUTH = frozenset({AUTH_PAP, AUTH_CHAP_MD5, AUTH_MSCHAP_V1, AUTH_MSCHAP_V2})

PAP_AUTH_REQUEST, PAP_AUTH_ACK, PAP_AUTH_NAK = 1, 2, 3
CHAP_CHALLENGE, CHAP_RESPONSE, CHAP_SUCCESS, CHAP_FAILURE = 1, 2, 3, 4
EAP_REQUEST, EAP_RESPONSE, EAP_SUCCESS, EAP_FAILURE = 1, 2, 3, 4
EAP_TYPE_IDENTITY = 1

# MPPE supported bits (RFC 3078 §2.1) and the data header (RFC 3078 §3).
MPPE_BIT_STATELESS = 0x01000000  # H
MPPE_BIT_128 = 0x00000040  # S
MPPE_BIT_56 = 0x00000080  # M
MPPE_BIT_40 = 0x00000020  # L
MPPE_FLAG_FLUSHED = 0x8000  # A
MPPE_FLAG_COMPRESSED = 0x2000  # C
MPPE_FLAG_ENCRYPTED = 0x1000  # D
MPPE_COHERENCY_MASK = 0x0FFF
