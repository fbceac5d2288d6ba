--[[
pptp-analysis: PPTP (RFC 2637), enhanced GRE and PPP numbers and their names, a module of the
plugin (loaded by pptp.lua with require; it registers nothing and does nothing when run on its
own). Names follow RFC 2637's spelling, as Wireshark's own pptp dissector does.
]]

local MAGIC_COOKIE = 0x1A2B3C4D
local HEADER_LENGTH = 12
local MAX_LENGTH = 1024 -- no defined message is longer than 220 octets
local PROTOCOL_VERSION = 0x0100
local GRE_PROTO_PPP = 0x880B

local MsgType = {
    SCCRQ = 1, SCCRP = 2, STOPCCRQ = 3, STOPCCRP = 4, ECHORQ = 5, ECHORP = 6,
    OCRQ = 7, OCRP = 8, ICRQ = 9, ICRP = 10, ICCN = 11, CCRQ = 12, CDN = 13, WEN = 14, SLI = 15,
}
local message_names = {
    [MsgType.SCCRQ] = "Start-Control-Connection-Request",
    [MsgType.SCCRP] = "Start-Control-Connection-Reply",
    [MsgType.STOPCCRQ] = "Stop-Control-Connection-Request",
    [MsgType.STOPCCRP] = "Stop-Control-Connection-Reply",
    [MsgType.ECHORQ] = "Echo-Request",
    [MsgType.ECHORP] = "Echo-Reply",
    [MsgType.OCRQ] = "Outgoing-Call-Request",
    [MsgType.OCRP] = "Outgoing-Call-Reply",
    [MsgType.ICRQ] = "Incoming-Call-Request",
    [MsgType.ICRP] = "Incoming-Call-Reply",
    [MsgType.ICCN] = "Incoming-Call-Connected",
    [MsgType.CCRQ] = "Call-Clear-Request",
    [MsgType.CDN] = "Call-Disconnect-Notify",
    [MsgType.WEN] = "WAN-Error-Notify",
    [MsgType.SLI] = "Set-Link-Info",
}
local pptp_types = { [1] = "Control Message", [2] = "Management Message" }
local capability_names = { [1] = "Asynchronous", [2] = "Synchronous", [3] = "Either" }
local bearer_names = { [1] = "Analog", [2] = "Digital", [3] = "Either" }
local sccrp_results = {
    [1] = "Successful channel establishment", [2] = "General error",
    [3] = "Command channel already exists", [4] = "Requester is not authorized",
    [5] = "Protocol version not supported",
}
local stop_reasons = { [1] = "None", [2] = "Stop-Protocol", [3] = "Stop-Local-Shutdown" }
local ok_results = { [1] = "OK", [2] = "General error" }
local ocrp_results = {
    [1] = "Connected", [2] = "General Error", [3] = "No Carrier", [4] = "Busy",
    [5] = "No Dial Tone", [6] = "Time-out", [7] = "Do Not Accept",
}
local icrp_results = { [1] = "Connect", [2] = "General Error", [3] = "Do Not Accept" }
local cdn_results = {
    [0] = "None given", [1] = "Lost Carrier", [2] = "General Error",
    [3] = "Admin Shutdown", [4] = "Request",
}
local error_codes = {
    [0] = "None", [1] = "Not-Connected", [2] = "Bad-Format", [3] = "Bad-Value",
    [4] = "No-Resource", [5] = "Bad-Call ID", [6] = "PAC-Error",
}
-- As Wireshark's own GRE dissector names them.
local gre_versions = { [0] = "GRE", [1] = "Enhanced GRE" }
local gre_protocols = { [GRE_PROTO_PPP] = "PPP" }

local PppProto = {
    IP = 0x0021, IPV6 = 0x0057, MPPE = 0x00FD, IPCP = 0x8021, IPV6CP = 0x8057, CCP = 0x80FD,
    LCP = 0xC021, PAP = 0xC023, CHAP = 0xC223, EAP = 0xC227,
}
-- The abbreviations Wireshark's PPP dissector gives (ppp.protocol), for those real peers send.
local ppp_names = {
    [PppProto.IP] = "IP", [PppProto.MPPE] = "MPPE", [PppProto.IPCP] = "IPCP",
    [PppProto.CCP] = "CCP", [PppProto.LCP] = "LCP", [PppProto.PAP] = "PAP",
    [PppProto.CHAP] = "CHAP", [PppProto.EAP] = "EAP", [PppProto.IPV6] = "IPv6",
    [PppProto.IPV6CP] = "IPV6CP",
    [0x002B] = "IPX", [0x802B] = "IPXCP", [0x002D] = "VJ compressed TCP/IP",
    [0x002F] = "VJ uncompressed TCP/IP", [0x003D] = "MP", [0x0031] = "Bridging PDU",
    [0x8031] = "BCP", [0x00FB] = "Compressed datagram (link)", [0x80FB] = "CCP (link)",
    [0xC025] = "LQR", [0xC029] = "CBCP", [0xC02B] = "BACP", [0xC02D] = "BAP",
    [0x0281] = "MPLS", [0x8281] = "MPLSCP", [0x8207] = "CDPCP",
}
local CONFIGURE_REQUEST = 1
local CONFIGURE_ACK = 2
local TERMINATE_ACK = 6
local LCP_OPT_AUTH = 3
local CCP_OPT_MPPE = 18
local chap_algorithms = { [5] = "CHAP-MD5", [0x80] = "MS-CHAPv1", [0x81] = "MS-CHAPv2" }
local weak_auth = {
    ["PAP"] = true, ["CHAP-MD5"] = true, ["MS-CHAPv1"] = true, ["MS-CHAPv2"] = true,
}
-- MPPE's supported bits (RFC 3078 §2.1): the strongest key offered, and stateless mode.
local MPPE_KEY_BITS = { { 0x40, 128 }, { 0x80, 56 }, { 0x20, 40 } }
local MPPE_STATELESS = 0x01000000

return {
    MAGIC_COOKIE = MAGIC_COOKIE, HEADER_LENGTH = HEADER_LENGTH, MAX_LENGTH = MAX_LENGTH,
    PROTOCOL_VERSION = PROTOCOL_VERSION, GRE_PROTO_PPP = GRE_PROTO_PPP, MsgType = MsgType,
    message_names = message_names, pptp_types = pptp_types, capability_names = capability_names,
    bearer_names = bearer_names, sccrp_results = sccrp_results, stop_reasons = stop_reasons,
    ok_results = ok_results, ocrp_results = ocrp_results, icrp_results = icrp_results,
    cdn_results = cdn_results, error_codes = error_codes, gre_versions = gre_versions,
    gre_protocols = gre_protocols, PppProto = PppProto, ppp_names = ppp_names,
    CONFIGURE_REQUEST = CONFIGURE_REQUEST, CONFIGURE_ACK = CONFIGURE_ACK,
    TERMINATE_ACK = TERMINATE_ACK, LCP_OPT_AUTH = LCP_OPT_AUTH, CCP_OPT_MPPE = CCP_OPT_MPPE,
    chap_algorithms = chap_algorithms, weak_auth = weak_auth, MPPE_KEY_BITS = MPPE_KEY_BITS,
    MPPE_STATELESS = MPPE_STATELESS,
}
