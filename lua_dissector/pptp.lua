--[[
pptp-analysis: PPTP (RFC 2637) control and enhanced-GRE analysis for Wireshark.

Dissects:
  pptp_ctrl  PPTP control messages on TCP 1723 (any port through the heuristic or Decode As),
             reassembled across TCP segments, with request/reply links and a state machine;
  pptp_gre   enhanced GRE (IP protocol 47, version 1): header, the call each packet belongs to,
             sequence analysis per call and direction, MPPE header, security posture. Other
             GRE versions go on to Wireshark's own "gre" dissector untouched; the PPP payload
             goes to the dissector Wireshark's GRE uses for protocol 0x880B.

Load:   copy into the personal Lua plugin folder (`make install`), or
        tshark -X lua_script:pptp.lua -r capture.pcap
Stats:  tshark -q -z pptp,calls -r capture.pcap  (Statistics > PPTP Calls in the GUI)
Try it: `make demo` writes and decodes a sample session.

Runs on Lua 5.2 (Wireshark 4.0) and later: no bitwise operators, only arithmetic.
]]

set_plugin_info({
    version = "0.1.0",
    description = "PPTP control and enhanced-GRE analysis",
    repository = "pptp-analysis",
})

local pptp_ctrl = Proto("pptp_ctrl", "PPTP Control (pptp-analysis)")
local pptp_gre = Proto("pptp_gre", "Enhanced GRE for PPTP (pptp-analysis)")

----------------------------------------------------------------------------------------------
-- Settings
----------------------------------------------------------------------------------------------
local default_settings = {
    ports = "1723",
    reassemble = true,
    heuristic = true,
    sequence_analysis = true,
    gre_grace = 10,
}
local settings = {}
for key, value in pairs(default_settings) do settings[key] = value end

pptp_ctrl.prefs.ports = Pref.range("TCP ports", default_settings.ports,
    "TCP ports of the PPTP control connection", 65535)
pptp_ctrl.prefs.reassemble = Pref.bool("Reassemble messages spanning TCP segments",
    default_settings.reassemble, "Needs TCP's \"Allow subdissector to reassemble\" too")
pptp_ctrl.prefs.heuristic = Pref.bool("Find PPTP on other ports", default_settings.heuristic,
    "Recognize control messages by their magic cookie on any TCP port")
pptp_gre.prefs.sequence_analysis = Pref.bool("Analyze GRE sequence numbers",
    default_settings.sequence_analysis, "Flag lost, duplicate and out-of-order GRE packets")
pptp_gre.prefs.gre_grace = Pref.uint("GRE grace period (seconds)", default_settings.gre_grace,
    "A connected call whose GRE from one side does not appear within this time is flagged "
        .. "as GRE (IP protocol 47) blocked that way")

----------------------------------------------------------------------------------------------
----------------------------------------------------------------------------------------------
-- Constants and value strings
----------------------------------------------------------------------------------------------
local MAGIC_COOKIE = 0x1A2B3C4D
local HEADER_LENGTH = 12
local MAX_LENGTH = 1024 -- no defined message is longer than 220 octets
local PROTOCOL_VERSION = 0x0100
local GRE_PROTO_PPP = 0x880B
local SEQ_MOD = 4294967296
local SEQ_HALF = 2147483648
local SEEN_LIMIT = 8192 -- sequence numbers remembered per call direction
local GAP_LIMIT = 64 -- open gaps per direction that late packets are matched against
local LISTED_NUMBERS = 12 -- sequence numbers listed by name in a loss report

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
    [0] = "None (as Windows sends)", [1] = "Lost Carrier", [2] = "General Error",
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
    IP = 0x0021, MPPE = 0x00FD, IPCP = 0x8021, CCP = 0x80FD, LCP = 0xC021,
    PAP = 0xC023, CHAP = 0xC223, EAP = 0xC227,
}
local ppp_names = {
    [PppProto.IP] = "IP", [PppProto.MPPE] = "MPPE", [PppProto.IPCP] = "IPCP",
    [PppProto.CCP] = "CCP", [PppProto.LCP] = "LCP", [PppProto.PAP] = "PAP",
    [PppProto.CHAP] = "CHAP", [PppProto.EAP] = "EAP", [0x0057] = "IPv6", [0x8057] = "IPV6CP",
}
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

----------------------------------------------------------------------------------------------
-- Fields: pptp_ctrl (names mirror Wireshark's pptp.* fields)
----------------------------------------------------------------------------------------------
local cf = {
    length = ProtoField.uint16("pptp_ctrl.length", "Length", base.DEC),
    type = ProtoField.uint16("pptp_ctrl.type", "Message type", base.DEC, pptp_types),
    magic_cookie = ProtoField.uint32("pptp_ctrl.magic_cookie", "Magic Cookie", base.HEX),
    control_message_type = ProtoField.uint16("pptp_ctrl.control_message_type",
        "Control Message Type", base.DEC, message_names),
    reserved = ProtoField.bytes("pptp_ctrl.reserved", "Reserved"),
    protocol_version = ProtoField.uint16("pptp_ctrl.protocol_version", "Protocol version",
        base.HEX),
    framing_capabilities = ProtoField.uint32("pptp_ctrl.framing_capabilities",
        "Framing Capabilities", base.DEC, capability_names),
    framing_async = ProtoField.bool("pptp_ctrl.framing_capabilities.async", "Asynchronous", 32,
        nil, 0x1),
    framing_sync = ProtoField.bool("pptp_ctrl.framing_capabilities.sync", "Synchronous", 32,
        nil, 0x2),
    bearer_capabilities = ProtoField.uint32("pptp_ctrl.bearer_capabilities",
        "Bearer Capabilities", base.DEC, bearer_names),
    bearer_analog = ProtoField.bool("pptp_ctrl.bearer_capabilities.analog", "Analog", 32, nil, 0x1),
    bearer_digital = ProtoField.bool("pptp_ctrl.bearer_capabilities.digital", "Digital", 32,
        nil, 0x2),
    maximum_channels = ProtoField.uint16("pptp_ctrl.maximum_channels", "Maximum Channels"),
    firmware_revision = ProtoField.uint16("pptp_ctrl.firmware_revision", "Firmware Revision"),
    host_name = ProtoField.string("pptp_ctrl.host_name", "Host Name"),
    vendor_name = ProtoField.string("pptp_ctrl.vendor_name", "Vendor Name"),
    control_result = ProtoField.uint8("pptp_ctrl.control_result", "Result Code", base.DEC,
        sccrp_results),
    error = ProtoField.uint8("pptp_ctrl.error", "Error Code", base.DEC, error_codes),
    reason = ProtoField.uint8("pptp_ctrl.reason", "Reason", base.DEC, stop_reasons),
    stop_result = ProtoField.uint8("pptp_ctrl.stop_result", "Result Code", base.DEC, ok_results),
    identifier = ProtoField.uint32("pptp_ctrl.identifier", "Identifier"),
    echo_result = ProtoField.uint8("pptp_ctrl.echo_result", "Result Code", base.DEC, ok_results),
    call_id = ProtoField.uint16("pptp_ctrl.call_id", "Call ID"),
    call_serial_number = ProtoField.uint16("pptp_ctrl.call_serial_number", "Call Serial Number"),
    minimum_bps = ProtoField.uint32("pptp_ctrl.minimum_bps", "Minimum BPS"),
    maximum_bps = ProtoField.uint32("pptp_ctrl.maximum_bps", "Maximum BPS"),
    bearer_type = ProtoField.uint32("pptp_ctrl.bearer_type", "Bearer Type", base.DEC, bearer_names),
    framing_type = ProtoField.uint32("pptp_ctrl.framing_type", "Framing Type", base.DEC,
        capability_names),
    packet_receive_window_size = ProtoField.uint16("pptp_ctrl.packet_receive_window_size",
        "Packet Receive Window Size"),
    packet_processing_delay = ProtoField.uint16("pptp_ctrl.packet_processing_delay",
        "Packet Processing Delay"),
    phone_number_length = ProtoField.uint16("pptp_ctrl.phone_number_length", "Phone Number Length"),
    phone_number = ProtoField.string("pptp_ctrl.phone_number", "Phone Number"),
    subaddress = ProtoField.string("pptp_ctrl.subaddress", "Subaddress"),
    peer_call_id = ProtoField.uint16("pptp_ctrl.peer_call_id", "Peer Call ID"),
    out_result = ProtoField.uint8("pptp_ctrl.out_result", "Result Code", base.DEC, ocrp_results),
    cause = ProtoField.uint16("pptp_ctrl.cause", "Cause Code"),
    connect_speed = ProtoField.uint32("pptp_ctrl.connect_speed", "Connect Speed"),
    physical_channel_id = ProtoField.uint32("pptp_ctrl.physical_channel_id", "Physical Channel ID"),
    dialed_number_length = ProtoField.uint16("pptp_ctrl.dialed_number_length",
        "Dialed Number Length"),
    dialed_number = ProtoField.string("pptp_ctrl.dialed_number", "Dialed Number"),
    dialing_number_length = ProtoField.uint16("pptp_ctrl.dialing_number_length",
        "Dialing Number Length"),
    dialing_number = ProtoField.string("pptp_ctrl.dialing_number", "Dialing Number"),
    in_result = ProtoField.uint8("pptp_ctrl.in_result", "Result Code", base.DEC, icrp_results),
    disc_result = ProtoField.uint8("pptp_ctrl.disc_result", "Result Code", base.DEC, cdn_results),
    call_statistics = ProtoField.string("pptp_ctrl.call_statistics", "Call Statistics"),
    crc_errors = ProtoField.uint32("pptp_ctrl.crc_errors", "CRC Errors"),
    framing_errors = ProtoField.uint32("pptp_ctrl.framing_errors", "Framing Errors"),
    hardware_overruns = ProtoField.uint32("pptp_ctrl.hardware_overruns", "Hardware overruns"),
    buffer_overruns = ProtoField.uint32("pptp_ctrl.buffer_overruns", "Buffer overruns"),
    timeout_errors = ProtoField.uint32("pptp_ctrl.timeout_errors", "Time-out Errors"),
    alignment_errors = ProtoField.uint32("pptp_ctrl.alignment_errors", "Alignment Errors"),
    send_accm = ProtoField.uint32("pptp_ctrl.send_accm", "Send ACCM", base.HEX),
    receive_accm = ProtoField.uint32("pptp_ctrl.receive_accm", "Receive ACCM", base.HEX),
    response_in = ProtoField.framenum("pptp_ctrl.response_in", "Response In", base.NONE,
        frametype.RESPONSE),
    response_to = ProtoField.framenum("pptp_ctrl.response_to", "Request In", base.NONE,
        frametype.REQUEST),
    response_time = ProtoField.relative_time("pptp_ctrl.response_time", "Response Time"),
    -- The call a message belongs to, numbered as the calls table numbers them; GRE of the same
    -- call carries the same number in pptp_gre.call.
    call = ProtoField.uint32("pptp_ctrl.call", "Call"),
    problem = ProtoField.string("pptp_ctrl.problem", "Problem"),
}
local field_key = {} -- ProtoField -> its key in cf, to name decoded values
for key, field in pairs(cf) do
    table.insert(pptp_ctrl.fields, field)
    field_key[field] = key
end

----------------------------------------------------------------------------------------------
-- Fields: pptp_gre (names mirror Wireshark's gre.* fields where it has them)
----------------------------------------------------------------------------------------------
local gf = {
    flags = ProtoField.uint16("pptp_gre.flags", "Flags and Version", base.HEX),
    checksum_bit = ProtoField.bool("pptp_gre.flags.checksum", "Checksum Bit", 16, nil, 0x8000),
    routing_bit = ProtoField.bool("pptp_gre.flags.routing", "Routing Bit", 16, nil, 0x4000),
    key_bit = ProtoField.bool("pptp_gre.flags.key", "Key Bit", 16, nil, 0x2000),
    seq_bit = ProtoField.bool("pptp_gre.flags.sequence_number", "Sequence Number Bit", 16,
        nil, 0x1000),
    strict_bit = ProtoField.bool("pptp_gre.flags.strict_source_route", "Strict Source Route Bit",
        16, nil, 0x0800),
    recursion = ProtoField.uint16("pptp_gre.flags.recursion_control", "Recursion control",
        base.DEC, nil, 0x0700),
    ack_bit = ProtoField.bool("pptp_gre.flags.ack", "Acknowledgment", 16, nil, 0x0080),
    reserved_flags = ProtoField.uint16("pptp_gre.flags.reserved", "Flags (Reserved)", base.DEC,
        nil, 0x0078),
    version = ProtoField.uint16("pptp_gre.version", "Version", base.DEC, gre_versions, 0x0007),
    protocol = ProtoField.uint16("pptp_gre.protocol", "Protocol Type", base.HEX, gre_protocols),
    payload_length = ProtoField.uint16("pptp_gre.payload_length", "Payload Length"),
    call_id = ProtoField.uint16("pptp_gre.call_id", "Call ID"),
    seq = ProtoField.uint32("pptp_gre.seq", "Sequence Number"),
    ack = ProtoField.uint32("pptp_gre.ack", "Acknowledgment Number"),
    -- The call, both directions alike, numbered as the calls table numbers them.
    call = ProtoField.uint32("pptp_gre.call", "Call"),
    call_frame = ProtoField.framenum("pptp_gre.call_frame", "Call ID assigned in"),
    tcp_stream = ProtoField.uint32("pptp_gre.tcp_stream", "Control connection (TCP stream)"),
    -- On the packet that settled them (LCP and CCP Configure-Ack); every packet's call line
    -- says what is known of both.
    auth = ProtoField.string("pptp_gre.call.auth", "Authentication"),
    encrypted = ProtoField.bool("pptp_gre.call.encrypted", "MPPE negotiated"),
    lost = ProtoField.uint32("pptp_gre.analysis.lost",
        "Sequence numbers skipped before this packet"),
    arrived_later = ProtoField.uint32("pptp_gre.analysis.arrived_later",
        "Of those, arrived later (out of order)"),
    never_arrived = ProtoField.uint32("pptp_gre.analysis.never_arrived",
        "Of those, never arrived"),
    duplicate = ProtoField.bool("pptp_gre.analysis.duplicate", "Duplicate sequence number"),
    out_of_order = ProtoField.bool("pptp_gre.analysis.out_of_order", "Out of order"),
    -- The A, B, C, D bits and the coherency count (pptp_gre.mppe & 0x0fff) are in its text.
    mppe_header = ProtoField.uint16("pptp_gre.mppe", "MPPE header", base.HEX),
    problem = ProtoField.string("pptp_gre.problem", "Problem"),
}
for _, field in pairs(gf) do table.insert(pptp_gre.fields, field) end

----------------------------------------------------------------------------------------------
-- Experts: every problem has a stable name, pptp_ctrl.expert.* or pptp_gre.expert.*; their
-- summaries stay short enough for the Expert Information dialog's column.
----------------------------------------------------------------------------------------------
local expert_lists = { [pptp_ctrl] = {}, [pptp_gre] = {} }
local function new_expert(proto, name, text, group, severity)
    local e = ProtoExpert.new(proto.name .. ".expert." .. name, text, group, severity)
    table.insert(expert_lists[proto], e)
    return e
end
local g, s = expert.group, expert.severity
local ce = {
    bad_magic_cookie = new_expert(pptp_ctrl, "bad_magic_cookie", "Magic cookie is not 0x1A2B3C4D",
        g.MALFORMED, s.ERROR),
    length_mismatch = new_expert(pptp_ctrl, "length_mismatch",
        "Length does not fit the message type", g.MALFORMED, s.ERROR),
    truncated = new_expert(pptp_ctrl, "truncated", "Message cut off before its length",
        g.MALFORMED, s.ERROR),
    unknown_message_type = new_expert(pptp_ctrl, "unknown_message_type",
        "Control message type not defined by RFC 2637", g.MALFORMED, s.WARN),
    reserved_nonzero = new_expert(pptp_ctrl, "reserved_nonzero", "Reserved field is not zero",
        g.PROTOCOL, s.WARN),
    bad_version = new_expert(pptp_ctrl, "bad_version", "Unsupported protocol version",
        g.PROTOCOL, s.WARN),
    not_control = new_expert(pptp_ctrl, "not_control", "PPTP message type is not 1 (control)",
        g.PROTOCOL, s.WARN),
    out_of_state = new_expert(pptp_ctrl, "out_of_state",
        "Message not expected in this state of the connection or call", g.SEQUENCE, s.WARN),
    no_gre_both_ways = new_expert(pptp_ctrl, "no_gre_both_ways",
        "Call connected, but no GRE either way", g.PROTOCOL, s.WARN),
    no_gre_from_client = new_expert(pptp_ctrl, "no_gre_from_client",
        "Call connected, but no GRE from the client", g.PROTOCOL, s.WARN),
    no_gre_from_server = new_expert(pptp_ctrl, "no_gre_from_server",
        "Call connected, but no GRE from the server", g.PROTOCOL, s.WARN),
    nat_editor = new_expert(pptp_ctrl, "nat_editor",
        "Client Call ID equals its TCP source port: a NAT's PPTP helper rewrote it",
        g.PROTOCOL, s.NOTE),
    call_id_collision = new_expert(pptp_ctrl, "call_id_collision",
        "Another control connection from this address uses this Call ID (no PPTP NAT editor?)",
        g.SECURITY, s.WARN),
    setup_unseen = new_expert(pptp_ctrl, "setup_unseen",
        "Call learnt from this message: its set-up is not in the capture", g.SEQUENCE, s.NOTE),
}
local ge = {
    key_missing = new_expert(pptp_gre, "key_missing", "GRE version 1 without the key bit",
        g.MALFORMED, s.ERROR),
    reserved_flags = new_expert(pptp_gre, "reserved_flags",
        "C, R, s, recursion or reserved flag bits set (must be 0 in enhanced GRE)",
        g.PROTOCOL, s.WARN),
    wrong_protocol = new_expert(pptp_gre, "wrong_protocol",
        "Enhanced GRE carries protocol 0x880B (PPP)", g.PROTOCOL, s.WARN),
    payload_length_mismatch = new_expert(pptp_gre, "payload_length_mismatch",
        "Payload length differs from the bytes carried", g.MALFORMED, s.WARN),
    ack_only_with_payload = new_expert(pptp_gre, "ack_only_with_payload",
        "Acknowledgment-only packet (no sequence number) carries payload", g.PROTOCOL, s.WARN),
    address_mismatch = new_expert(pptp_gre, "address_mismatch",
        "GRE of a known call from an address other than its control connection's peer",
        g.PROTOCOL, s.WARN),
    without_call = new_expert(pptp_gre, "without_call",
        "GRE without a call: no control connection in the capture set up this Call ID",
        g.SEQUENCE, s.NOTE),
    lost = new_expert(pptp_gre, "lost", "GRE sequence numbers skipped", g.SEQUENCE, s.WARN),
    duplicate = new_expert(pptp_gre, "duplicate", "Duplicate GRE sequence number",
        g.SEQUENCE, s.WARN),
    out_of_order = new_expert(pptp_gre, "out_of_order", "GRE packet out of order",
        g.SEQUENCE, s.WARN),
    ack_unseen = new_expert(pptp_gre, "ack_unseen",
        "Acknowledges a sequence number the peer was not seen sending", g.SEQUENCE, s.NOTE),
    coherency_gap = new_expert(pptp_gre, "coherency_gap", "MPPE coherency count skips",
        g.SEQUENCE, s.WARN),
    weak_auth = new_expert(pptp_gre, "weak_auth",
        "Weak PPP authentication negotiated (PAP, CHAP-MD5 or MS-CHAP)", g.SECURITY, s.WARN),
    cleartext = new_expert(pptp_gre, "cleartext",
        "IP inside the tunnel without MPPE encryption", g.SECURITY, s.WARN),
    ppp_error = new_expert(pptp_gre, "ppp_error", "PPP payload could not be dissected",
        g.MALFORMED, s.ERROR),
    header_truncated = new_expert(pptp_gre, "header_truncated",
        "GRE header cut off before the fields its flags announce", g.MALFORMED, s.ERROR),
    gre_error = new_expert(pptp_gre, "gre_error",
        "Wireshark's GRE dissector could not dissect this packet", g.MALFORMED, s.ERROR),
}
-- Proto.experts registers the experts only when assigned a whole table.
pptp_ctrl.experts = expert_lists[pptp_ctrl]
pptp_gre.experts = expert_lists[pptp_gre]

-- Raises the expert ``name`` on ``item``, whether or not Wireshark builds a tree: Expert
-- Information and `-z expert` read experts raised on a pass without one (the GUI's first
-- pass, a plain `tshark -r`). With a tree (``with_tree``), names the problem in a field too,
-- as Lua experts cannot be filtered on in Wireshark 4.0 (pptp_ctrl.problem == "truncated").
local function problem(item, name, text, with_tree)
    local e, field = ce[name], cf.problem
    if not e then e, field = ge[name], gf.problem end
    if text then item:add_proto_expert_info(e, text) else item:add_proto_expert_info(e) end
    if with_tree ~= false then item:add(field, name):set_generated() end
end

----------------------------------------------------------------------------------------------
-- Message layouts (RFC 2637 §2): field, size in octets, kind
----------------------------------------------------------------------------------------------
local U, STR, RES = "uint", "string", "reserved"
local layouts = {
    [MsgType.SCCRQ] = {
        { cf.protocol_version, 2, U }, { cf.reserved, 2, RES },
        { cf.framing_capabilities, 4, U }, { cf.bearer_capabilities, 4, U },
        { cf.maximum_channels, 2, U }, { cf.firmware_revision, 2, U },
        { cf.host_name, 64, STR }, { cf.vendor_name, 64, STR },
    },
    [MsgType.SCCRP] = {
        { cf.protocol_version, 2, U }, { cf.control_result, 1, U }, { cf.error, 1, U },
        { cf.framing_capabilities, 4, U }, { cf.bearer_capabilities, 4, U },
        { cf.maximum_channels, 2, U }, { cf.firmware_revision, 2, U },
        { cf.host_name, 64, STR }, { cf.vendor_name, 64, STR },
    },
    [MsgType.STOPCCRQ] = { { cf.reason, 1, U }, { cf.reserved, 1, RES }, { cf.reserved, 2, RES } },
    [MsgType.STOPCCRP] = { { cf.stop_result, 1, U }, { cf.error, 1, U }, { cf.reserved, 2, RES } },
    [MsgType.ECHORQ] = { { cf.identifier, 4, U } },
    [MsgType.ECHORP] = {
        { cf.identifier, 4, U }, { cf.echo_result, 1, U }, { cf.error, 1, U },
        { cf.reserved, 2, RES },
    },
    [MsgType.OCRQ] = {
        { cf.call_id, 2, U }, { cf.call_serial_number, 2, U }, { cf.minimum_bps, 4, U },
        { cf.maximum_bps, 4, U }, { cf.bearer_type, 4, U }, { cf.framing_type, 4, U },
        { cf.packet_receive_window_size, 2, U }, { cf.packet_processing_delay, 2, U },
        { cf.phone_number_length, 2, U }, { cf.reserved, 2, RES },
        { cf.phone_number, 64, STR }, { cf.subaddress, 64, STR },
    },
    [MsgType.OCRP] = {
        { cf.call_id, 2, U }, { cf.peer_call_id, 2, U }, { cf.out_result, 1, U },
        { cf.error, 1, U }, { cf.cause, 2, U }, { cf.connect_speed, 4, U },
        { cf.packet_receive_window_size, 2, U }, { cf.packet_processing_delay, 2, U },
        { cf.physical_channel_id, 4, U },
    },
    [MsgType.ICRQ] = {
        { cf.call_id, 2, U }, { cf.call_serial_number, 2, U }, { cf.bearer_type, 4, U },
        { cf.physical_channel_id, 4, U }, { cf.dialed_number_length, 2, U },
        { cf.dialing_number_length, 2, U }, { cf.dialed_number, 64, STR },
        { cf.dialing_number, 64, STR }, { cf.subaddress, 64, STR },
    },
    [MsgType.ICRP] = {
        { cf.call_id, 2, U }, { cf.peer_call_id, 2, U }, { cf.in_result, 1, U },
        { cf.error, 1, U }, { cf.packet_receive_window_size, 2, U },
        { cf.packet_processing_delay, 2, U }, { cf.reserved, 2, RES },
    },
    [MsgType.ICCN] = {
        { cf.peer_call_id, 2, U }, { cf.reserved, 2, RES }, { cf.connect_speed, 4, U },
        { cf.packet_receive_window_size, 2, U }, { cf.packet_processing_delay, 2, U },
        { cf.framing_type, 4, U },
    },
    [MsgType.CCRQ] = { { cf.call_id, 2, U }, { cf.reserved, 2, RES } },
    [MsgType.CDN] = {
        { cf.call_id, 2, U }, { cf.disc_result, 1, U }, { cf.error, 1, U }, { cf.cause, 2, U },
        { cf.reserved, 2, RES }, { cf.call_statistics, 128, STR },
    },
    [MsgType.WEN] = {
        { cf.peer_call_id, 2, U }, { cf.reserved, 2, RES }, { cf.crc_errors, 4, U },
        { cf.framing_errors, 4, U }, { cf.hardware_overruns, 4, U },
        { cf.buffer_overruns, 4, U }, { cf.timeout_errors, 4, U }, { cf.alignment_errors, 4, U },
    },
    [MsgType.SLI] = {
        { cf.peer_call_id, 2, U }, { cf.reserved, 2, RES }, { cf.send_accm, 4, U },
        { cf.receive_accm, 4, U },
    },
}
local fixed_length = {}
for mtype, layout in pairs(layouts) do
    local size = HEADER_LENGTH
    for _, entry in ipairs(layout) do size = size + entry[2] end
    fixed_length[mtype] = size
end

----------------------------------------------------------------------------------------------
-- The collector, tuned per Lua version by `make bench` (the setting is the shared Lua state's,
-- so other Lua plugins get it too). Dissection makes garbage (ranges, tree items) at a high
-- rate while the state below lives long, and the default pause (200%) lets the heap double
-- between cycles.
-- Lua 5.2 (Wireshark 4.0): no pause and a fast step (the sessions capture: 1.25x -> 1.07x
-- the built-ins' memory, and less time).
-- Lua 5.4 (Wireshark 4.4 and later): the same settings make it run full cycles almost without
-- a break (60x slower); a short pause (110%) with the default step holds the heap as tightly
-- (1.04x) in less time than 5.4's defaults or its generational mode (1.20x memory).
if _VERSION >= "Lua 5.4" then
    collectgarbage("incremental", 110, 200)
else
    collectgarbage("setpause", 100)
    collectgarbage("setstepmul", 1000)
end

-- Per-capture state, reset in init(): built on the first pass, read on later ones
----------------------------------------------------------------------------------------------
local state

local function reset_state()
    state = {
        -- Kept small: a capture may hold 100,000s of control connections and messages.
        -- both endpoints' key -> state name, or { state, started, pending, calls, stream }
        connections = {},
        -- receiver address and Call ID -> the call GRE to it belongs to (the latest set up)
        receivers = {},
        -- the same key -> { sender address -> call }, only where two calls share that key
        shared_receivers = {},
        calls = {},       -- every call, set up or learnt, in the order seen (its number)
        -- GRE no call claimed, per receiver address, Call ID and sender: receiver key ..
        -- sender -> flow; in the order first seen in orphans (their number)
        flows = {},
        orphans = {},
        -- message key -> true; a reply: minus its request's frame; a request once answered:
        -- its reply's frame (then, if it is a reply too, ICRP, its request is in reply_to)
        messages = {},
        reply_to = {},
        reply_time = {},  -- message key -> seconds since that request
        message_notes = {}, -- message key -> { out_of_state, collision, nat_editor, ... }
        message_call = {}, -- message key -> the call it belongs to, for messages of a call
        gre_dir = {},     -- frame -> the flow (call direction) of that GRE packet
        gre_notes = {},   -- frame -> what the analysis found, only for packets with findings
        -- Connected calls waiting for their grace period to pass, in order (one pass:
        -- the GRE-blocked diagnosis goes on the first PPTP frame after it)
        awaiting_gre = {},
        awaiting_first = 1,
        deadline_notes = {}, -- frame -> { call, diagnosis } found there on the first pass
        failures = {},    -- frame -> a Lua error its first pass raised (see surfacing_errors)
        last_time = 0,    -- when the last PPTP message or GRE packet was seen
        last_frame = 0,
    }
end
reset_state()

local function endpoint(address, port)
    return tostring(address) .. ":" .. tostring(port)
end

-- Table keys for addresses and ports: an IPv4 address as its 4 octets, a number as 2. Short
-- keys matter: Lua 5.2 hashes only every other character of a string of 32 or more, and
-- "10.64.1.2:1024-198.51.100.1:1723"-like keys that differ in a few digits then collide
-- (100,000 control connections took seconds of lookups).
local function address_key(address)
    local text = tostring(address)
    local a, b, c, d = text:match("^(%d+)%.(%d+)%.(%d+)%.(%d+)$")
    if a then return string.char(tonumber(a), tonumber(b), tonumber(c), tonumber(d)) end
    return text
end

local function u16_key(number)
    return string.char(math.floor(number / 256) % 256, number % 256)
end

-- The TCP ports of the preference, as a set (a range such as "1723,5000-5010").
local pptp_ports = {}
local function set_pptp_ports(range)
    pptp_ports = {}
    for part in tostring(range):gmatch("[^,%s]+") do
        local low, high = part:match("^(%d+)-(%d+)$")
        low, high = tonumber(low or part), tonumber(high or part)
        if low and high and high - low < 65536 then
            for port = low, high do pptp_ports[port] = true end
        end
    end
end
set_pptp_ports(settings.ports)

local function nstime(seconds)
    local whole = math.floor(seconds)
    return NSTime.new(whole, math.floor((seconds - whole) * 1e9 + 0.5))
end

-- Sequence numbers from ``base`` on as a short list: "17, 20-24, 31" (at most
-- LISTED_NUMBERS named), in serial order across the wrap.
local function number_list(numbers, base)
    table.sort(numbers, function(a, b) return (a - base) % SEQ_MOD < (b - base) % SEQ_MOD end)
    local parts, i = {}, 1
    while i <= #numbers and #parts < LISTED_NUMBERS do
        local j = i
        while j < #numbers and numbers[j + 1] == (numbers[j] + 1) % SEQ_MOD do j = j + 1 end
        parts[#parts + 1] = j > i and (numbers[i] .. "-" .. numbers[j]) or tostring(numbers[i])
        i = j + 1
    end
    if i <= #numbers then parts[#parts + 1] = "..." end
    return table.concat(parts, ", ")
end

----------------------------------------------------------------------------------------------
-- GRE flows and sequence analysis
----------------------------------------------------------------------------------------------
-- One direction of a call, or GRE no call claimed (an orphan flow: ``call`` is nil until a
-- later control message teaches the call it belongs to).
local function new_flow(call, to_pns)
    return { packets = 0, bytes = 0, duplicates = 0, out_of_order = 0, call = call,
        to_pns = to_pns }
end

-- Sequence analysis of one flow (the same rules as the harness's ground truth): nil for a
-- packet in order, else "lost" and the gap it opened, "duplicate" or "out_of_order". The
-- numbers seen are remembered in a ring of SEEN_LIMIT slots (slot = number mod SEEN_LIMIT):
-- bounded memory, no rebuilding, and every number within the last SEEN_LIMIT is recognised
-- when it comes again. A gap remembers which of its numbers arrived later, out of order.
local function observe_sequence(dir, seq, number)
    local highest = dir.highest
    if not highest then
        dir.first, dir.highest, dir.unique = seq, seq, 1
        return nil
    end
    -- Made on the second number: most GRE without a call is a packet or two.
    local ring = dir.ring
    if not ring then
        ring = { [highest % SEEN_LIMIT] = highest }
        dir.ring = ring
    end
    local slot = seq % SEEN_LIMIT
    if ring[slot] == seq then
        dir.duplicates = dir.duplicates + 1
        return "duplicate"
    end
    ring[slot] = seq
    dir.unique = dir.unique + 1
    local ahead = (seq - dir.highest) % SEQ_MOD
    if ahead > 0 and ahead < SEQ_HALF then
        local from = (dir.highest + 1) % SEQ_MOD
        dir.highest = seq
        if ahead == 1 then return nil end
        local gap = { frame = number, from = from, count = ahead - 1, late = {} }
        local gaps = dir.gaps or {}
        if #gaps >= GAP_LIMIT then table.remove(gaps, 1) end
        gaps[#gaps + 1] = gap
        dir.gaps = gaps
        return "lost", gap
    end
    dir.out_of_order = dir.out_of_order + 1
    -- Behind the first number seen: the numbers start here.
    if (dir.first - seq) % SEQ_MOD < SEQ_HALF then dir.first = seq end
    local gaps = dir.gaps
    if gaps then
        for i = #gaps, 1, -1 do
            local gap = gaps[i]
            if (seq - gap.from) % SEQ_MOD < gap.count then
                gap.late[#gap.late + 1] = seq
                break
            end
        end
    end
    return "out_of_order"
end

-- Numbers between the first and the highest seen that never arrived.
local function numbers_lost(dir)
    if not dir or not dir.first then return 0 end
    return (dir.highest - dir.first) % SEQ_MOD + 1 - dir.unique
end

-- The findings of a packet, kept only for the few packets that have any.
local function add_finding(number, name, value)
    local notes = state.gre_notes[number]
    if not notes then
        notes = {}
        state.gre_notes[number] = notes
    end
    notes[name] = value == nil or value
end

----------------------------------------------------------------------------------------------
-- Control connection and call state (first pass only)
----------------------------------------------------------------------------------------------
local NO_CALLS = {}

-- The key of this packet's control connection: its two endpoints.
local function connection_key(pinfo)
    local a = address_key(pinfo.src) .. u16_key(pinfo.src_port)
    local b = address_key(pinfo.dst) .. u16_key(pinfo.dst_port)
    return a < b and (a .. b) or (b .. a)
end

-- TCP's tap tells a connection its tcp.stream and, when a calls table is asked for, when
-- its TCP closed. A Lua tap makes Wireshark build every packet's tree, which would take most
-- of the plugin's time on a plain `tshark -r`; so it is registered only while a connection
-- with a call waits for its stream (it learns it from the connection's next TCP segment), or
-- for the run that prints a calls table (whose own tap builds trees anyway). A pass that runs
-- no taps (the first of `tshark -2`) is noticed when two more of the connection's messages
-- pass with no tap call at all, and waits no longer: a later pass that shows the message
-- asks again.
local tcp_tap
local awaiting_stream = {} -- connection key -> { connection, tap calls then, messages since }
local watching_closes = false
local tap_calls = 0
local TCP_FIN, TCP_RST = 0x01, 0x04

local function on_tcp(pinfo, _, tcp_info)
    tap_calls = tap_calls + 1
    if next(awaiting_stream) == nil and not watching_closes then return end
    local key = connection_key(pinfo)
    local waiting = awaiting_stream[key]
    if waiting then
        waiting[1].stream = tcp_info.th_stream
        awaiting_stream[key] = nil
    end
    if not watching_closes then return end
    local flags = tcp_info.th_flags
    if flags % 2 ~= TCP_FIN and math.floor(flags / TCP_RST) % 2 ~= 1 then return end
    local conn = state.connections[key]
    if type(conn) == "table" and conn.calls and not conn.closed then
        local by = pinfo.src_port == conn.pac_port and "server" or "client"
        conn.closed = string.format("TCP %s from the %s in frame %d",
            flags % 2 == TCP_FIN and "FIN" or "RST", by, pinfo.number)
    end
end

local function ensure_tcp_tap()
    if not tcp_tap then
        tcp_tap = Listener.new("tcp")
        tcp_tap.packet = on_tcp
    end
end

local function await_stream(key)
    local conn = state.connections[key]
    if type(conn) ~= "table" or not conn.calls or conn.stream then return end
    local waiting = awaiting_stream[key]
    if waiting then
        waiting[3] = waiting[3] + 1
        if waiting[3] >= 2 and tap_calls == waiting[2] then awaiting_stream = {} end
        return
    end
    awaiting_stream[key] = { conn, tap_calls, 0 }
    ensure_tcp_tap()
end

-- Called from the dissectors, never from the tap's own callback: Wireshark frees a listener
-- when it is removed, and may still be walking the list of listeners then.
local function release_tcp_tap(everything)
    if everything then awaiting_stream = {} end
    if tcp_tap and not watching_closes and next(awaiting_stream) == nil then
        tcp_tap:remove()
        tcp_tap = nil
    end
end

-- A connection with nothing pending and no call is stored as its state's name alone ("*"
-- appended once started): most control connections never place a call, and a table each
-- would be most of the plugin's memory on a capture of many of them.
local function connection_for(key)
    local conn = state.connections[key]
    if type(conn) == "string" then
        local started = conn:sub(-1) == "*"
        conn = { state = started and conn:sub(1, -2) or conn, started = started or nil }
        state.connections[key] = conn
    elseif not conn then
        conn = { state = "unknown" }
        state.connections[key] = conn
    end
    return conn
end

local function store_connection(key, conn)
    if not conn.pending and not conn.calls then
        state.connections[key] = conn.started and (conn.state .. "*") or conn.state
    end
end

-- Records a request so the matching reply can link to it. Times are relative to the first
-- frame: small numbers keep nanosecond precision in a Lua double. Only pending requests
-- have a table; a connection with none keeps no ``pending`` at all.
local function expect_reply(conn, key, note, pinfo)
    conn.pending = conn.pending or {}
    conn.pending[key] = { message = note.key, frame = pinfo.number, time = pinfo.rel_ts }
end

local function take_reply(conn, key, note, pinfo)
    local request = conn.pending and conn.pending[key]
    if not request then return false end
    conn.pending[key] = nil
    if next(conn.pending) == nil then conn.pending = nil end
    local previous = state.messages[request.message]
    if type(previous) == "number" and previous < 0 then
        state.reply_to[request.message] = -previous
    end
    state.messages[request.message] = pinfo.number
    note.response_to = request.frame
    note.response_time = pinfo.rel_ts - request.time
    return true
end

-- The key of GRE sent to ``address`` (text) carrying ``call_id`` (its two octets as they
-- travel): short, as Lua 5.2 hashes only every other character of a 32-octet string.
local function receiver_key(address, call_id)
    return address .. u16_key(call_id)
end

-- Whether GRE to ``address`` with ``call_id`` goes to the call's PNS, and who should send it.
local function gre_direction(call, address, call_id)
    local to_pns = address == call.pns_address and call_id == call.pns_id
    return to_pns, to_pns and call.pac_address or call.pns_address
end

-- GRE that reached ``receiver_key`` from ``sender`` before a call claimed it now belongs to
-- ``call`` (a call learnt from a later control message, or GRE that raced its reply).
local function adopt_flow(call, to_pns, key, sender)
    local flow = state.flows[key .. sender]
    if not flow or flow.call then return end
    local side = to_pns and "to_pns" or "to_pac"
    if call[side].packets > 0 then return end
    flow.call, flow.to_pns = call, to_pns
    call[side] = flow
    for proto, name in pairs(flow.protocols or NO_CALLS) do call.protocols[proto] = name end
    flow.protocols = nil
    if flow.first_frame < call.first_frame then
        call.first_frame, call.start = flow.first_frame, flow.first_time
    end
end

-- GRE to the ``side`` ("pns" or "pac") of ``call`` carries ``call_id``. Two servers, or two
-- clients behind one NAT, may hand out the same Call ID at one address: then the sender (the
-- other side of each call) tells the calls apart.
local function register_receiver(call, side, call_id, frame)
    call[side .. "_id"], call[side .. "_frame"] = call_id, frame
    local address = call[side .. "_address"]
    local key = receiver_key(address, call_id)
    local previous = state.receivers[key]
    if previous and previous ~= call then
        local by_sender = state.shared_receivers[key] or {}
        local _, previous_sender = gre_direction(previous, address, call_id)
        local _, sender = gre_direction(call, address, call_id)
        by_sender[previous_sender], by_sender[sender] = by_sender[previous_sender] or previous, call
        state.shared_receivers[key] = by_sender
    end
    state.receivers[key] = call
    local to_pns = side == "pns"
    adopt_flow(call, to_pns, key, to_pns and call.pac_address or call.pns_address)
end

-- A call of the control connection ``conn``: "outgoing" or "incoming" as its set-up says,
-- "unseen" when learnt from a later message. ``from_pns``: this message comes from the PNS.
local function new_call(conn, kind, pinfo, from_pns)
    local here, there = endpoint(pinfo.src, pinfo.src_port), endpoint(pinfo.dst, pinfo.dst_port)
    local src, dst = tostring(pinfo.src), tostring(pinfo.dst)
    local call = {
        conn = conn, kind = kind, first_frame = pinfo.number, last_frame = pinfo.number,
        start = pinfo.rel_ts, finish = pinfo.rel_ts, protocols = {},
        mppe = false, cleartext = false, mppe_packets = 0,
        pns = from_pns and here or there, pac = from_pns and there or here,
        pns_address = from_pns and src or dst, pac_address = from_pns and dst or src,
    }
    -- One flow per direction; a GRE packet's frame refers to its flow.
    call.to_pns, call.to_pac = new_flow(call, true), new_flow(call, false)
    table.insert(state.calls, call)
    call.number = #state.calls
    conn.calls = conn.calls or {}
    table.insert(conn.calls, call)
    conn.pac_port = from_pns and pinfo.dst_port or pinfo.src_port
    return call
end

-- Which sides sent GRE within the grace period after the call was connected.
local function gre_seen(call)
    local limit = call.connected_at and call.connected_at + settings.gre_grace
    local function within(dir) return limit and dir.first_time and dir.first_time <= limit end
    local client, server = within(call.to_pac), within(call.to_pns)
    if client and server then return "both" end
    return client and "client" or server and "server" or "none"
end

local GRE_BLOCKED = { client = "no_gre_from_server", server = "no_gre_from_client",
    none = "no_gre_both_ways" }
local GRE_BLOCKED_TEXT = {
    no_gre_both_ways = "No GRE either way within %d s: IP protocol 47 blocked, or the client "
        .. "gave up on the call (Windows: error 806)",
    no_gre_from_client = "No GRE from the client within %d s: protocol 47 blocked client to "
        .. "server, or the client never accepted the call",
    no_gre_from_server = "No GRE from the server within %d s: protocol 47 blocked server to "
        .. "client (a server NAT without a GRE mapping)",
}

-- The firewall diagnosis of a connected call: nil, or the expert name of the blocked way.
-- Only a call watched for the whole grace period gets one: a call cleared sooner, or whose
-- capture ends sooner, never had the chance to show its GRE.
local function gre_diagnosis(call)
    if not call.connected_at then return nil end
    local watched_until = call.ended_at or state.last_time
    if watched_until < call.connected_at + settings.gre_grace then return nil end
    return GRE_BLOCKED[gre_seen(call)]
end

-- One pass: the first PPTP frame after a connected call's grace period carries its
-- diagnosis (two passes show it on the reply that connected the call instead).
local function check_deadlines(number, now)
    local waiting, first = state.awaiting_gre, state.awaiting_first
    local call = waiting[first]
    while call and now >= call.connected_at + settings.gre_grace do
        waiting[first] = nil
        first = first + 1
        local blocked = gre_diagnosis(call)
        if blocked then
            local found = state.deadline_notes[number] or {}
            found[#found + 1] = { call = call, blocked = blocked }
            state.deadline_notes[number] = found
        end
        call = waiting[first]
    end
    state.awaiting_first = first
end

-- Whether ``port`` is the server's (PAC's) end of ``conn``: as its calls showed, else one of
-- the PPTP ports of the preferences.
local function is_pac_port(conn, port)
    if conn.pac_port then return port == conn.pac_port end
    return pptp_ports[port] == true
end

local function find_call(conn, side, call_id)
    for _, call in ipairs(conn.calls or NO_CALLS) do
        if call[side .. "_id"] == call_id and not call.cleared then return call end
    end
end

-- A call whose set-up the capture missed, learnt from a later message that names it by the
-- ``side``'s Call ID: a call learnt before from the other side's Call ID (a Call-Clear-
-- Request answered by this Disconnect-Notify, a Set-Link-Info and a WAN-Error-Notify) gets
-- it, else a new call does.
local function learn_call(conn, side, call_id, pinfo, from_pns, note)
    local call
    for _, other in ipairs(conn.calls or NO_CALLS) do
        if other.kind == "unseen" and not other.cleared and other[side .. "_id"] == nil then
            call = other
        end
    end
    if not call then
        call = new_call(conn, "unseen", pinfo, from_pns)
        note.learnt = call
    end
    register_receiver(call, side, call_id, pinfo.number)
    return call
end

-- Ends ``call`` (the first reason given stays).
local function end_call(call, when, reason)
    call.ended_at = call.ended_at or when
    call.ended = call.ended or reason
end

-- Applies one control message to the state; returns false if it arrived out of state. A
-- connection whose start the capture missed (never `started`) takes every message as it
-- comes, and learns the calls of Call-Clear-Request, Call-Disconnect-Notify, WAN-Error-
-- Notify and Set-Link-Info from their Call IDs.
local function track_message(mtype, values, pinfo, note, conn)
    local in_order = true
    local unseen = not conn.started
    local function touch(call)
        if call then
            call.last_frame, call.finish = pinfo.number, pinfo.rel_ts
            note.call = call
        end
    end
    if mtype == MsgType.SCCRQ then
        in_order = not conn.started
        conn.started, conn.state = true, "requested"
        expect_reply(conn, "start", note, pinfo)
    elseif mtype == MsgType.SCCRP then
        in_order = take_reply(conn, "start", note, pinfo) or not conn.started
        conn.state = "established"
    elseif mtype == MsgType.STOPCCRQ then
        conn.state = "stopping"
        expect_reply(conn, "stop", note, pinfo)
        local by = is_pac_port(conn, pinfo.src_port) and "server" or "client"
        for _, call in ipairs(conn.calls or NO_CALLS) do
            call.cleared = true
            end_call(call, pinfo.rel_ts, "Stop-Control-Connection-Request from the " .. by)
        end
    elseif mtype == MsgType.STOPCCRP then
        in_order = take_reply(conn, "stop", note, pinfo) or not conn.started
        conn.state = "closed"
    elseif mtype == MsgType.ECHORQ then
        local to = endpoint(pinfo.dst, pinfo.dst_port)
        expect_reply(conn, "echo:" .. values.identifier .. ">" .. to, note, pinfo)
    elseif mtype == MsgType.ECHORP then
        in_order = take_reply(conn, "echo:" .. values.identifier .. ">"
            .. endpoint(pinfo.src, pinfo.src_port), note, pinfo) or not conn.started
    elseif mtype == MsgType.OCRQ then
        local call = new_call(conn, "outgoing", pinfo, true)
        local other = state.receivers[receiver_key(call.pns_address, values.call_id)]
        if other and other.conn ~= conn and not other.cleared then
            note.collision = true
        end
        register_receiver(call, "pns", values.call_id, pinfo.number)
        if values.call_id == pinfo.src_port then note.nat_editor = true end
        expect_reply(conn, "call:" .. values.call_id, note, pinfo)
        in_order = conn.state == "established" or not conn.started
        note.call = call
    elseif mtype == MsgType.OCRP or mtype == MsgType.ICRP then
        local call = find_call(conn, mtype == MsgType.OCRP and "pns" or "pac", values.peer_call_id)
        in_order = take_reply(conn, "call:" .. values.peer_call_id, note, pinfo) or not conn.started
        if call then
            local side = mtype == MsgType.OCRP and "pac" or "pns"
            register_receiver(call, side, values.call_id, pinfo.number)
            call.result = mtype == MsgType.OCRP and values.out_result or values.in_result
            if call.result == 1 then
                call.connected_at, note.connected = pinfo.rel_ts, call
                table.insert(state.awaiting_gre, call)
            else
                call.cleared = true
                end_call(call, pinfo.rel_ts, "refused: " .. ((mtype == MsgType.OCRP
                    and ocrp_results or icrp_results)[call.result] or tostring(call.result)))
            end
            if mtype == MsgType.ICRP then
                if values.call_id == pinfo.src_port then note.nat_editor = true end
                expect_reply(conn, "connect:" .. values.call_id, note, pinfo)
            end
            touch(call)
        end
    elseif mtype == MsgType.ICRQ then
        local call = new_call(conn, "incoming", pinfo, false)
        register_receiver(call, "pac", values.call_id, pinfo.number)
        expect_reply(conn, "call:" .. values.call_id, note, pinfo)
        in_order = conn.state == "established" or not conn.started
        note.call = call
    elseif mtype == MsgType.ICCN then
        in_order = take_reply(conn, "connect:" .. values.peer_call_id, note, pinfo)
            or not conn.started
        touch(find_call(conn, "pns", values.peer_call_id))
    elseif mtype == MsgType.CCRQ then
        local call = find_call(conn, "pns", values.call_id)
        if not call and unseen then
            call = learn_call(conn, "pns", values.call_id, pinfo, true, note)
        end
        in_order = call ~= nil
        if call then
            expect_reply(conn, "clear:" .. (call.pac_id or "?"), note, pinfo)
            end_call(call, pinfo.rel_ts, "Call-Clear-Request from the client")
            touch(call)
        end
    elseif mtype == MsgType.CDN then
        local call = find_call(conn, "pac", values.call_id)
        if not call and unseen then
            call = learn_call(conn, "pac", values.call_id, pinfo, false, note)
        end
        if not take_reply(conn, "clear:" .. values.call_id, note, pinfo) then
            take_reply(conn, "clear:?", note, pinfo)
        end
        in_order = call ~= nil
        if call then
            call.cleared, call.disconnect_result = true, values.disc_result
            call.ended_at, call.ended = call.ended_at or pinfo.rel_ts, "Call-Disconnect-Notify: "
                .. (cdn_results[values.disc_result] or tostring(values.disc_result))
            touch(call)
        end
    elseif mtype == MsgType.WEN or mtype == MsgType.SLI then
        -- WAN-Error-Notify comes from the PAC with the PNS's Call ID; Set-Link-Info from the
        -- PNS with the PAC's, and real PACs send it too, with the PNS's.
        local from_pns = mtype == MsgType.SLI and not is_pac_port(conn, pinfo.src_port)
        local side = from_pns and "pac" or "pns"
        local call = find_call(conn, side, values.peer_call_id)
            or (mtype == MsgType.SLI and find_call(conn, "pns", values.peer_call_id))
        if not call and unseen then
            call = learn_call(conn, side, values.peer_call_id, pinfo, from_pns, note)
        end
        in_order = call ~= nil or not conn.started
        touch(call)
    end
    if mtype >= MsgType.OCRQ and conn.started and conn.state ~= "established" then
        in_order = false
    end
    return in_order
end

----------------------------------------------------------------------------------------------
-- pptp_ctrl dissector
----------------------------------------------------------------------------------------------
-- Whether Wireshark builds a tree for this packet: not for a plain `tshark -r`, where the
-- tree items are skipped (the analysis and the experts never are). Wireshark hands Lua a
-- hidden "fake item" when it builds one; a NULL tree shows no text and is neither hidden nor
-- visible.
local function builds_tree(tree)
    return tree.hidden or tree.visible or tree.text ~= nil
end

-- The Info column: the first message of a frame sets it, later ones of the same dissection
-- append. A frame dissected twice in a row (the GUI does, after a display filter) starts
-- from TCP's text again, so "the same dissection" is told by the column still showing what
-- this dissector wrote last.
local info_frame, info_text = -1, nil

local function set_info(pinfo, text)
    pinfo.cols.protocol = "PPTP"
    local column = pinfo.cols.info
    if info_frame == pinfo.number and tostring(column) == info_text then
        info_text = info_text .. ", " .. text
    else
        info_frame, info_text = pinfo.number, text
    end
    column:set(info_text)
end

-- The values the state machine reads, by message type: { key, offset, size } each.
local TRACKED = { identifier = true, call_id = true, peer_call_id = true, out_result = true,
    in_result = true, disc_result = true }
local tracked_fields, TRACKED_SPAN = {}, HEADER_LENGTH
for mtype, layout in pairs(layouts) do
    local list, offset = {}, HEADER_LENGTH
    for _, entry in ipairs(layout) do
        local name = field_key[entry[1]]
        if entry[3] == U and TRACKED[name] then
            table.insert(list, { name, offset, entry[2] })
            TRACKED_SPAN = math.max(TRACKED_SPAN, offset + entry[2])
        end
        offset = offset + entry[2]
    end
    tracked_fields[mtype] = list
end

-- The tracked values of a message from its first octets (``raw``), or nil if the message
-- ends (``body_end``) before one of them: such a message changes no state.
local function tracked_values(raw, mtype, body_end)
    local values = {}
    for _, tracked in ipairs(tracked_fields[mtype]) do
        local name, at, size = tracked[1], tracked[2], tracked[3]
        if at + size > body_end then return nil end
        local value = 0
        for i = at + 1, at + size do value = value * 256 + raw:byte(i) end
        values[name] = value
    end
    return values
end

-- The problems of a message's octets, tree or not: { name, text, at } each, ``at`` the key
-- of the item they belong to ("type", "magic_cookie", "reserved" or a layout entry's index;
-- nil: the message).
local function message_problems(tvb, mtype, length, available)
    local found = {}
    local function add(name, text, at) found[#found + 1] = { name, text, at } end
    if tvb(2, 2):uint() ~= 1 then add("not_control", nil, "type") end
    if tvb(4, 4):uint() ~= MAGIC_COOKIE then add("bad_magic_cookie", nil, "magic_cookie") end
    if tvb(10, 2):uint() ~= 0 then add("reserved_nonzero", nil, "reserved") end
    local layout = layouts[mtype]
    if not layout then
        add("unknown_message_type")
        return found
    end
    local name = message_names[mtype]
    if length ~= fixed_length[mtype] then
        add("length_mismatch", string.format("Length %d, but a %s has %d octets", length, name,
            fixed_length[mtype]))
    end
    if available < length and available < fixed_length[mtype] then
        add("truncated", string.format("Only %d of %d octets", available, length))
    end
    local offset, body_end = HEADER_LENGTH, math.min(available, length)
    for index, entry in ipairs(layout) do
        local field, size, kind = entry[1], entry[2], entry[3]
        if offset + size > body_end then break end
        if kind == RES and tvb:raw(offset, size):find("[^\0]") then
            add("reserved_nonzero", nil, index)
        elseif field == cf.protocol_version and tvb(offset, 2):uint() ~= PROTOCOL_VERSION then
            add("bad_version", nil, index)
        end
        offset = offset + size
    end
    return found
end

-- Every field of a message into the tree, each problem on its item; returns the message's.
local function message_tree(tvb, tree, name, mtype, length, available, problems)
    local item = tree:add(pptp_ctrl, tvb())
    item:append_text(": " .. name)
    local items = {}
    item:add(cf.length, tvb(0, 2))
    items.type = item:add(cf.type, tvb(2, 2))
    items.magic_cookie = item:add(cf.magic_cookie, tvb(4, 4))
    items.magic_cookie:append_text(tvb(4, 4):uint() == MAGIC_COOKIE and " (correct)"
        or " (incorrect)")
    item:add(cf.control_message_type, tvb(8, 2))
    items.reserved = item:add(cf.reserved, tvb(10, 2))
    local offset = HEADER_LENGTH
    local body_end = math.min(available, length)
    for index, entry in ipairs(layouts[mtype] or NO_CALLS) do
        local field, size, kind = entry[1], entry[2], entry[3]
        if offset + size > body_end then break end
        local range = tvb(offset, size)
        if kind == STR then
            item:add(field, range, range:stringz())
        else
            local field_item = item:add(field, range)
            items[index] = field_item
            if field == cf.protocol_version then
                field_item:append_text(string.format(" (%d.%d)", range(0, 1):uint(),
                    range(1, 1):uint()))
            elseif field == cf.framing_capabilities then
                field_item:add(cf.framing_async, range)
                field_item:add(cf.framing_sync, range)
            elseif field == cf.bearer_capabilities then
                field_item:add(cf.bearer_analog, range)
                field_item:add(cf.bearer_digital, range)
            end
        end
        offset = offset + size
    end
    for _, found in ipairs(problems) do
        problem(found[3] and items[found[3]] or item, found[1], found[2])
    end
    return item
end

-- First pass: applies one message to the state and keeps what later passes show in the
-- compact per-message maps of ``state``.
local function track(key, conn_key, mtype, values, pinfo)
    local note = { key = key }
    state.last_time, state.last_frame = pinfo.rel_ts, pinfo.number
    state.messages[key] = true
    local conn = connection_for(conn_key)
    note.in_order = track_message(mtype, values, pinfo, note, conn)
    store_connection(conn_key, conn)
    if note.response_to then
        state.messages[key], state.reply_time[key] = -note.response_to, note.response_time
    end
    if note.call then state.message_call[key] = note.call end
    if note.in_order == false or note.collision or note.nat_editor or note.connected
        or note.learnt then
        state.message_notes[key] = { out_of_state = note.in_order == false,
            collision = note.collision, nat_editor = note.nat_editor,
            connected = note.connected, learnt = note.learnt }
    end
end

-- What the analysis found about a message: its call, links, state and firewall problems;
-- the problems raised on ``item``, a tree item or (no tree) the dissector's tree.
local function message_analysis(item, with_tree, key, name, pinfo)
    local seen = state.messages[key]
    if with_tree then
        local reply_to = state.reply_to[key]
        if seen ~= true and seen < 0 then
            reply_to = -seen
        elseif seen ~= true then
            item:add(cf.response_in, seen):set_generated()
        end
        if reply_to then
            item:add(cf.response_to, reply_to):set_generated()
            item:add(cf.response_time, nstime(state.reply_time[key])):set_generated()
        end
        local call = state.message_call[key]
        if call then item:add(cf.call, call.number):set_generated() end
    end
    local note = state.message_notes[key]
    if not note then return end
    if note.out_of_state then
        problem(item, "out_of_state", name .. " is not expected here", with_tree)
    end
    if note.collision then problem(item, "call_id_collision", nil, with_tree) end
    if note.nat_editor then problem(item, "nat_editor", nil, with_tree) end
    if note.learnt then
        problem(item, "setup_unseen", string.format("Call %d learnt from this %s: its set-up "
            .. "is not in the capture", note.learnt.number, name), with_tree)
    end
    -- Two passes know the whole capture: the diagnosis goes on the reply that connected the
    -- call. One pass shows it where the grace period ran out (see deadline_problems).
    local blocked = note.connected and pinfo.visited and gre_diagnosis(note.connected)
    if blocked then
        problem(item, blocked, string.format(GRE_BLOCKED_TEXT[blocked], settings.gre_grace),
            with_tree)
    end
end

-- One pass: the GRE-blocked diagnoses found on this frame, once per dissection.
local deadline_frame = -1
local function deadline_problems(tree, pinfo, with_tree)
    local found = state.deadline_notes[pinfo.number]
    if not found or pinfo.visited or deadline_frame == pinfo.number then return end
    deadline_frame = pinfo.number
    for _, note in ipairs(found) do
        problem(tree, note.blocked, string.format("Call %d: " .. GRE_BLOCKED_TEXT[note.blocked],
            note.call.number, settings.gre_grace), with_tree)
    end
end

-- One message of ``tvb`` (declared length, maybe fewer octets): the state on the first
-- pass; the problems always; the tree whenever Wireshark builds one (not for a plain
-- `tshark -r`).
local function dissect_message(tvb, pinfo, tree, key)
    local available = tvb:len()
    local with_tree = builds_tree(tree)
    if available < HEADER_LENGTH then
        problem(with_tree and tree:add(pptp_ctrl, tvb()) or tree, "truncated",
            "Only " .. available .. " octets of a header", with_tree)
        set_info(pinfo, "PPTP fragment")
        return
    end
    local raw = tvb:raw(0, available < TRACKED_SPAN and available or TRACKED_SPAN)
    local l1, l2 = raw:byte(1, 2)
    local m1, m2 = raw:byte(9, 10)
    local length, mtype = l1 * 256 + l2, m1 * 256 + m2
    local name = message_names[mtype] or ("Unknown control type (" .. mtype .. ")")
    set_info(pinfo, name)
    local problems = message_problems(tvb, mtype, length, available)
    local item = tree
    if with_tree then
        item = message_tree(tvb, tree, name, mtype, length, available, problems)
    else
        for _, found in ipairs(problems) do problem(tree, found[1], found[2], false) end
    end
    if not layouts[mtype] then return end

    -- A connection with a call learns its stream from TCP's tap: asked on the first pass,
    -- whose taps the GUI runs, and again on a later pass that shows the message, as tshark's
    -- two-pass mode runs taps on its second pass only.
    if not pinfo.visited and not state.messages[key] then
        local values = tracked_values(raw, mtype, math.min(available, length))
        if not values then return end
        local conn_key = connection_key(pinfo)
        track(key, conn_key, mtype, values, pinfo)
        await_stream(conn_key)
    elseif with_tree and pinfo.visited then
        await_stream(connection_key(pinfo))
    end
    if state.messages[key] then message_analysis(item, with_tree, key, name, pinfo) end
end

-- Octets the PDU at ``offset`` claims, capped so garbage cannot swallow the stream.
local function pdu_length(tvb, offset)
    local length = tvb(offset, 2):uint()
    if length < HEADER_LENGTH or length > MAX_LENGTH then return nil end
    return length
end

-- A Lua error raised on the first pass would be seen only there, yet tshark -2 and the GUI's
-- packet details show later passes, where the state is already built. So it is kept, and
-- raised again on every later pass after the packet is shown: a bug can never hide.
local function surfacing_errors(dissect)
    return function(tvb, pinfo, tree)
        if pinfo.visited then
            local used = dissect(tvb, pinfo, tree)
            local failure = state.failures[pinfo.number]
            if failure then error(failure, 0) end
            return used
        end
        local ok, used = pcall(dissect, tvb, pinfo, tree)
        if ok then return used end
        state.failures[pinfo.number] = used
        error(used, 0)
    end
end

local function dissect_control(tvb, pinfo, tree)
    release_tcp_tap()
    if not pinfo.visited then
        state.last_time = pinfo.rel_ts
        check_deadlines(pinfo.number, state.last_time)
    end
    deadline_problems(tree, pinfo, builds_tree(tree))
    local total = tvb:len()
    local offset = 0
    -- Each message's state is keyed by the frame and where the message lies in it, stable
    -- across passes: a number, not a string, as there may be 100,000s. A reassembled buffer
    -- starts at offset 0, where a segment's payload never does (headers come first).
    local function key()
        local at = tvb:offset()
        return pinfo.number * 0x40000 + (at == 0 and 0x20000 or 0) + (at + offset) % 0x20000
    end
    while offset < total do
        local remaining = total - offset
        local wants_more = settings.reassemble and pinfo.can_desegment > 0
        if remaining < 2 then
            if wants_more then
                pinfo.desegment_offset = offset
                pinfo.desegment_len = DESEGMENT_ONE_MORE_SEGMENT
                return total
            end
            dissect_message(tvb(offset):tvb(), pinfo, tree, key())
            return total
        end
        local length = pdu_length(tvb, offset)
        if not length then
            -- An impossible length: show what is there and give up on this segment.
            dissect_message(tvb(offset):tvb(), pinfo, tree, key())
            return total
        end
        if remaining < length then
            if wants_more then
                pinfo.desegment_offset = offset
                pinfo.desegment_len = length - remaining
                return total
            end
            dissect_message(tvb(offset):tvb(), pinfo, tree, key())
            return total
        end
        dissect_message(tvb(offset, length):tvb(), pinfo, tree, key())
        offset = offset + length
    end
    return total
end

pptp_ctrl.dissector = surfacing_errors(dissect_control)

local function heuristic(tvb, pinfo, tree)
    if not settings.heuristic or tvb:len() < HEADER_LENGTH then return false end
    if tvb(4, 4):uint() ~= MAGIC_COOKIE then return false end
    local length, ptype = tvb(0, 2):uint(), tvb(2, 2):uint()
    if length < HEADER_LENGTH or length > MAX_LENGTH or (ptype ~= 1 and ptype ~= 2) then
        return false
    end
    pinfo.conversation = pptp_ctrl
    pptp_ctrl.dissector(tvb, pinfo, tree)
    return true
end

----------------------------------------------------------------------------------------------
-- pptp_gre dissector
----------------------------------------------------------------------------------------------
local ip_proto_table = DissectorTable.get("ip.proto")
local gre_proto_table = DissectorTable.get("gre.proto")
local builtin_gre = ip_proto_table:get_dissector(47)
local ppp_handle = gre_proto_table:get_dissector(GRE_PROTO_PPP)

-- The PPP protocol number of a frame inside GRE, and where (0-based, from the frame's start)
-- its information field starts, from the octets of ``raw`` after ``at``.
local function ppp_protocol(raw, at)
    local a, b, c, d = raw:byte(at + 1, at + 4)
    local skip = 0
    if a == 0xFF and b == 0x03 then a, b, skip = c, d, 2 end
    if not a then return nil end
    if a % 2 == 1 then return a, skip + 1 end -- protocol field compressed to one octet
    if not b then return nil end
    return a * 256 + b, skip + 2
end

-- Configuration options of an LCP/CCP packet starting at ``offset`` (code id length options).
local function options_of(tvb, offset)
    local found = {}
    local available = tvb:len() - offset
    if available < 4 then return available > 0 and tvb(offset, 1):uint() or nil, found end
    local code = tvb(offset, 1):uint()
    local stop = offset + math.min(tvb(offset + 2, 2):uint(), available)
    local at = offset + 4
    while at + 2 <= stop do
        local kind, size = tvb(at, 1):uint(), tvb(at + 1, 1):uint()
        if size < 2 or at + size > stop then break end
        found[kind] = tvb(at + 2, size - 2)
        at = at + size
    end
    return code, found
end

local function auth_of(option)
    if option:len() < 2 then return nil end
    local proto = option(0, 2):uint()
    if proto == PppProto.PAP then return "PAP" end
    if proto == PppProto.EAP then return "EAP" end
    if proto == PppProto.CHAP and option:len() >= 3 then
        return chap_algorithms[option(2, 1):uint()] or "CHAP"
    end
    return string.format("0x%04x", proto)
end

-- The key length and mode an MPPE option acknowledges: the strongest bit set wins.
local function mppe_mode(option)
    if option:len() < 4 then return nil, false end
    local bits = option(0, 4):uint()
    for _, pair in ipairs(MPPE_KEY_BITS) do
        if math.floor(bits / pair[1]) % 2 == 1 then
            return pair[2], math.floor(bits / MPPE_STATELESS) % 2 == 1
        end
    end
    return nil, math.floor(bits / MPPE_STATELESS) % 2 == 1
end

-- What the first octets of a flow's PPP frame tell about its call (``head`` holds the GRE
-- header and up to 8 of them, from ``at`` on; ``payload`` is the whole frame, read only for
-- LCP and CCP negotiation). GRE no call claimed yet keeps its protocols on its flow until one
-- does.
local function analyze_ppp(number, call, dir, head, at, payload, seq, order)
    local proto, info = ppp_protocol(head, at)
    if not proto then return end
    local holder = call or dir
    local protocols = holder.protocols
    if not protocols then
        protocols = {}
        holder.protocols = protocols
    end
    if not protocols[proto] then
        protocols[proto] = ppp_names[proto] or string.format("0x%04x", proto)
    end
    if proto == PppProto.MPPE then
        local high, low = head:byte(at + info + 1, at + info + 2)
        if low then
            if call then call.mppe_packets = call.mppe_packets + 1 end
            -- The count goes up by one per packet sent: a gap the GRE sequence numbers do
            -- not show as lost (or a packet out of order) is the sender's, not the network's.
            local count = (high % 16) * 256 + low
            if order ~= "duplicate" and order ~= "out_of_order" then
                local previous = dir.coherency
                if previous then
                    local step = (seq and dir.coherency_seq) and (seq - dir.coherency_seq) or 1
                    if count ~= (previous + step) % 4096 then
                        add_finding(number, "coherency_gap")
                    end
                end
                dir.coherency, dir.coherency_seq = count, seq
            end
        end
    elseif proto == PppProto.IP then
        -- Once per direction: every packet after it is as clear.
        if not (call and call.mppe) and not dir.cleartext then
            dir.cleartext = true
            add_finding(number, "cleartext")
        end
        if call then call.cleartext = true end
    elseif call and proto == PppProto.LCP then
        local code, options = options_of(payload, info)
        if code == CONFIGURE_ACK and options[LCP_OPT_AUTH] then
            call.auth, call.auth_frame = auth_of(options[LCP_OPT_AUTH]), number
            if weak_auth[call.auth] then add_finding(number, "weak_auth", call.auth) end
        elseif code == TERMINATE_ACK then
            call.lcp_terminated = call.lcp_terminated or number
        end
    elseif call and proto == PppProto.CCP then
        local code, options = options_of(payload, info)
        if code == CONFIGURE_ACK and options[CCP_OPT_MPPE] and not call.mppe then
            call.mppe, call.mppe_frame = true, number
            call.key_bits, call.stateless = mppe_mode(options[CCP_OPT_MPPE])
        end
    end
end

-- The flow of GRE no call claimed: per receiver, Call ID and sender, numbered in the order
-- seen; its first packet gets the without_call note.
local function orphan_flow(number, key, receiver, sender, call_id)
    local flow_key = key .. sender
    local dir = state.flows[flow_key]
    if dir then return dir end
    dir = new_flow(nil, nil)
    dir.receiver, dir.sender, dir.call_id, dir.first_frame = receiver, sender, call_id, number
    state.flows[flow_key] = dir
    table.insert(state.orphans, dir)
    dir.number = #state.orphans
    add_finding(number, "without_call")
    return dir
end

-- First-pass analysis of one GRE packet, the hot path of the plugin: per frame only its flow
-- is kept, plus findings for the few packets that have any. Addresses are compared as the
-- text Wireshark gives, each read once.
local function analyze_gre(pinfo, number, call_id, id_octets, seq, ack, payload_size, head,
                           at, payload)
    local now = pinfo.rel_ts
    state.last_time, state.last_frame = now, number
    if state.awaiting_gre[state.awaiting_first] then check_deadlines(number, now) end
    if not call_id then return end
    local receiver = tostring(pinfo.dst)
    local key = receiver .. id_octets
    local call = state.receivers[key]
    local dir, back, sender, to_pns
    if call then
        local expected
        sender = tostring(pinfo.src)
        to_pns, expected = gre_direction(call, receiver, call_id)
        if sender ~= expected then
            local shared = state.shared_receivers[key]
            local other = shared and shared[sender]
            if other then
                call = other
                to_pns = gre_direction(call, receiver, call_id)
            elseif call.cleared then
                call = nil -- a cleared call claims no GRE from another address
            else
                add_finding(number, "address_mismatch")
            end
        end
    end
    if call then
        dir, back = call.to_pac, call.to_pns
        if to_pns then dir, back = back, dir end
        call.last_frame, call.finish = number, now
    else
        dir = orphan_flow(number, key, receiver, sender or tostring(pinfo.src), call_id)
        call = dir.call
    end
    state.gre_dir[number] = dir
    dir.packets = dir.packets + 1
    dir.bytes = dir.bytes + payload_size
    dir.first_time = dir.first_time or now
    dir.last_frame = number
    local order
    if seq and settings.sequence_analysis then
        local finding, value = observe_sequence(dir, seq, number)
        if finding then add_finding(number, finding, value) end
        order = finding
    end
    if ack and back and back.highest then
        local ahead = (ack - back.highest) % SEQ_MOD
        if ahead > 0 and ahead < SEQ_HALF then add_finding(number, "ack_unseen") end
    end
    if payload then analyze_ppp(number, call, dir, head, at, payload, seq, order) end
end

local function u32(a, b, c, d)
    return ((a * 256 + b) * 256 + c) * 256 + d
end

local flag_fields = { gf.checksum_bit, gf.routing_bit, gf.key_bit, gf.seq_bit, gf.strict_bit,
    gf.recursion, gf.ack_bit, gf.reserved_flags, gf.version }

-- GRE that is not enhanced GRE goes to Wireshark's own dissector; an exception it raises
-- would surface as a Lua error, so it becomes our expert instead.
local function to_builtin_gre(tvb, pinfo, tree)
    local ok, used = pcall(builtin_gre.call, builtin_gre, tvb, pinfo, tree)
    if ok then return used end
    local with_tree = builds_tree(tree)
    problem(with_tree and tree:add(pptp_gre, tvb()) or tree, "gre_error", nil, with_tree)
    return tvb:len()
end

-- The header's problems, tree or not: { name, text } each.
local function header_problems(f1, f2, protocol, has_key, has_seq, has_ack, needed, size,
                               payload_length, payload_size)
    local found = {}
    -- Only K, S, A and the version may be set: C, R, s, recursion and flags must be 0.
    local others = f1 - (has_key and 0x20 or 0) - (has_seq and 0x10 or 0)
    if others ~= 0 or math.floor(f2 / 8) % 16 ~= 0 then found[#found + 1] = { "reserved_flags" } end
    if protocol ~= GRE_PROTO_PPP then found[#found + 1] = { "wrong_protocol" } end
    if not has_key then found[#found + 1] = { "key_missing" } end
    if needed > size then
        found[#found + 1] = { "header_truncated", string.format(
            "The flags announce a %d-octet header, but the packet has %d", needed, size) }
    end
    if payload_length and payload_length ~= payload_size then
        found[#found + 1] = { "payload_length_mismatch", string.format(
            "Payload length %d, but %d octets follow", payload_length, payload_size) }
    end
    if payload_size > 0 and not has_seq and has_ack then
        found[#found + 1] = { "ack_only_with_payload" }
    end
    return found
end

-- Whether a negotiation settled in ``frame`` had, as of frame ``number``: 0 settled, 1 settled
-- later (two passes know), 2 not (yet).
local function settled(number, frame, visited)
    if frame and number >= frame then return 0 end
    return frame and visited and 1 or 2
end

local function settled_text(state_code, value, frame, visited)
    if state_code == 0 then return value end
    if state_code == 1 then return string.format("%s from frame %d", value, frame) end
    return visited and "none" or "not negotiated yet"
end

-- The call line of a GRE packet: both Call IDs, the stream, whether the set-up was seen, and
-- what is known of the call's authentication and encryption at this packet. Made once per
-- call for each of the few ways it reads (call.lines is emptied when the call changes).
local function call_line(call, number, visited)
    local auth_code = settled(number, call.auth_frame, visited)
    local mppe_code = settled(number, call.mppe_frame, visited)
    local lines = call.lines
    if not lines or lines.stream ~= call.conn.stream then
        lines = { stream = call.conn.stream }
        call.lines = lines
    end
    local code = auth_code * 3 + mppe_code + (visited and 9 or 0)
    local line = auth_code ~= 1 and mppe_code ~= 1 and lines[code]
    if line then return line end
    local mppe = call.mppe and string.format("MPPE %s%s", call.key_bits and (call.key_bits
        .. "-bit") or "", call.stateless and " stateless" or "")
    line = string.format(" (client Call ID %s, server Call ID %s%s%s; authentication: %s; "
        .. "encryption: %s)", tostring(call.pns_id or "?"), tostring(call.pac_id or "?"),
        call.conn.stream and (", TCP stream " .. call.conn.stream) or "",
        call.kind == "unseen" and ", set-up not captured" or "",
        settled_text(auth_code, call.auth, call.auth_frame, visited),
        settled_text(mppe_code, mppe, call.mppe_frame, visited))
    lines[code] = line
    return line
end

-- The MPPE header's bits in words, by its first octet's high nibble (A B C D).
local MPPE_BITS_TEXT = {}
for nibble = 0, 15 do
    local bits = {}
    if nibble >= 8 then bits[#bits + 1] = "flushed" end
    if math.floor(nibble / 2) % 2 == 1 then bits[#bits + 1] = "compressed" end
    if nibble % 2 == 1 then bits[#bits + 1] = "encrypted" end
    bits[#bits + 1] = "coherency count "
    MPPE_BITS_TEXT[nibble] = " (" .. table.concat(bits, ", ")
end

-- What a loss was at its gap: on two passes, which numbers arrived later and which never.
local function loss_text(gap, visited)
    if not visited then return gap.count .. " sequence number(s) skipped" end
    local late = #gap.late
    if late == 0 then return string.format("Lost %d: none arrived later", gap.count) end
    if late == gap.count then
        return string.format("%d skipped: all arrived later, out of order", gap.count)
    end
    local seen, missing = {}, {}
    for _, seq in ipairs(gap.late) do seen[seq] = true end
    for i = 0, gap.count - 1 do
        local seq = (gap.from + i) % SEQ_MOD
        if not seen[seq] then
            missing[#missing + 1] = seq
            if #missing > LISTED_NUMBERS then break end
        end
    end
    return string.format("Lost %d: %d arrived later; never arrived: %s", gap.count - late, late,
        number_list(missing, gap.from))
end

-- The findings of the first pass about a packet (of flow ``dir``), raised on ``item``: a
-- tree item, or (no tree) the dissector's tree.
local function gre_findings(item, with_tree, dir, notes, visited, pinfo, call_id)
    local gap = notes.lost
    if gap then
        if with_tree then
            item:add(gf.lost, gap.count):set_generated()
            if visited then
                item:add(gf.arrived_later, #gap.late):set_generated()
                item:add(gf.never_arrived, gap.count - #gap.late):set_generated()
            end
        end
        item:add_proto_expert_info(ge.lost, loss_text(gap, visited))
    end
    if notes.duplicate then
        if with_tree then item:add(gf.duplicate, true):set_generated() end
        item:add_proto_expert_info(ge.duplicate)
    end
    if notes.out_of_order then
        if with_tree then item:add(gf.out_of_order, true):set_generated() end
        item:add_proto_expert_info(ge.out_of_order)
    end
    if notes.ack_unseen then problem(item, "ack_unseen", nil, with_tree) end
    if notes.weak_auth then
        item:add_proto_expert_info(ge.weak_auth, "Weak authentication: " .. notes.weak_auth)
    end
    if notes.cleartext then
        local call = dir and dir.call
        if call then
            item:add_proto_expert_info(ge.cleartext, string.format(
                "IP inside call %d (%s) without MPPE encryption", call.number,
                dir.to_pns and "server to client" or "client to server"))
        else
            item:add_proto_expert_info(ge.cleartext)
        end
    end
    if notes.coherency_gap then problem(item, "coherency_gap", nil, with_tree) end
    if notes.address_mismatch and dir and dir.call then
        local call = dir.call
        problem(item, "address_mismatch", string.format("GRE for Call ID %d from %s; its "
            .. "control connection's peer is %s", call_id, tostring(pinfo.src),
            dir.to_pns and call.pac_address or call.pns_address), with_tree)
    end
    -- GRE a later control message tied to a call is no longer without one (two passes).
    if notes.without_call and not (visited and dir and dir.call) then
        problem(item, "without_call", nil, with_tree)
    end
end

-- The Info column's call for a flow: "Call 2 client→server: " or, for GRE without a call,
-- its Call ID; kept on the flow, as it is set on every packet.
local function info_prefix(dir, call_id)
    local call = dir and dir.call
    if not call then return string.format("GRE without call, Call ID %d: ", call_id) end
    local prefix = dir.prefix
    if not prefix or dir.prefix_of ~= call then
        prefix = string.format("Call %d %s: ", call.number,
            dir.to_pns and "server→client" or "client→server")
        dir.prefix, dir.prefix_of = prefix, call
    end
    return prefix
end

local function dissect_gre(tvb, pinfo, tree)
    release_tcp_tap()
    local size = tvb:len()
    if size < 4 then
        pinfo.cols.protocol = "GRE"
        local with_tree = builds_tree(tree)
        problem(with_tree and tree:add(pptp_gre, tvb()) or tree, "header_truncated",
            "GRE header cut off after " .. size .. " of 4 octets", with_tree)
        return size
    end
    -- The whole header is at most 20 octets: read it once as a string, with the first 8
    -- octets of the PPP frame after it.
    local head = tvb:raw(0, size < 28 and size or 28)
    local f1, f2, p1, p2 = head:byte(1, 4)
    if f2 % 8 ~= 1 then return to_builtin_gre(tvb, pinfo, tree) end

    local has_key, has_seq, has_ack = f1 % 64 >= 32, f1 % 32 >= 16, f2 >= 128
    local protocol = p1 * 256 + p2
    local offset = 4
    if f1 >= 64 then offset = offset + 4 end -- C or R: checksum and offset words
    -- Octets the flags announce: 4, the C/R word, then 4 each for K, S and A.
    local needed = offset + (has_key and 4 or 0) + (has_seq and 4 or 0) + (has_ack and 4 or 0)
    if offset > size then offset = size end
    local key_at, seq_at, ack_at, call_id, id_octets, payload_length, seq, ack
    if has_key and offset + 4 <= size then
        key_at = offset
        local a, b, c, d = head:byte(offset + 1, offset + 4)
        payload_length, call_id = a * 256 + b, c * 256 + d
        id_octets = head:sub(offset + 3, offset + 4)
        offset = offset + 4
    end
    if has_seq and offset + 4 <= size then
        seq_at, seq = offset, u32(head:byte(offset + 1, offset + 4))
        offset = offset + 4
    end
    if has_ack and offset + 4 <= size then
        ack_at, ack = offset, u32(head:byte(offset + 1, offset + 4))
        offset = offset + 4
    end
    local payload_size = size - offset
    local payload = payload_size > 0 and tvb(offset):tvb() or nil

    local number, visited = pinfo.number, pinfo.visited
    if not visited then
        analyze_gre(pinfo, number, call_id, id_octets, seq, ack, payload_size, head, offset,
            payload)
    end
    local dir, notes = state.gre_dir[number], state.gre_notes[number]
    local with_tree = builds_tree(tree)
    local item = tree
    if with_tree then
        -- Only a visible tree shows text and the generated marks: the fake trees of -Y and -T
        -- fields need the values alone.
        local shown = tree.visible
        item = tree:add(pptp_gre, tvb(0, offset))
        local flags_range = tvb(0, 2)
        local flags_item = item:add(gf.flags, flags_range)
        for i = 1, #flag_fields do flags_item:add(flag_fields[i], flags_range) end
        item:add(gf.protocol, tvb(2, 2))
        if key_at then
            item:add(gf.payload_length, tvb(key_at, 2))
            item:add(gf.call_id, tvb(key_at + 2, 2))
        end
        if seq_at then item:add(gf.seq, tvb(seq_at, 4)) end
        if ack_at then item:add(gf.ack, tvb(ack_at, 4)) end
        local call = dir and dir.call
        if call then
            local to_pns = dir.to_pns
            local call_item = shown
                and item:add(gf.call, call.number, "Call: " .. call.number
                    .. call_line(call, number, visited))
                or item:add(gf.call, call.number)
            local frame_item = item:add(gf.call_frame, to_pns and call.pns_frame or call.pac_frame)
            local stream = call.conn.stream
            local stream_item = stream and item:add(gf.tcp_stream, stream)
            local auth_item = number == call.auth_frame and item:add(gf.auth, call.auth)
            local mppe_item = number == call.mppe_frame and item:add(gf.encrypted, true)
            if shown then
                call_item:set_generated()
                frame_item:set_generated()
                if stream_item then stream_item:set_generated() end
                if auth_item then auth_item:set_generated() end
                if mppe_item then mppe_item:set_generated() end
                item:append_text(string.format(", Call %d, %s%s%s", call.number,
                    to_pns and "server to client" or "client to server",
                    seq and (", Seq " .. seq) or "", ack and (", Ack " .. ack) or ""))
            end
        elseif shown and call_id then
            item:append_text(string.format(", Call ID %d, no call%s%s", call_id,
                seq and (", Seq " .. seq) or "", ack and (", Ack " .. ack) or ""))
        end
        local proto, info
        if payload then proto, info = ppp_protocol(head, offset) end
        if proto == PppProto.MPPE and payload_size >= info + 2 then
            if shown then
                local high, low = head:byte(offset + info + 1, offset + info + 2)
                item:add(gf.mppe_header, payload(info, 2), high * 256 + low, string.format(
                    "MPPE header: 0x%04x%s%d)", high * 256 + low,
                    MPPE_BITS_TEXT[math.floor(high / 16)], (high % 16) * 256 + low))
            else
                item:add(gf.mppe_header, payload(info, 2))
            end
        end
    end
    -- The usual header (K, S and maybe A, PPP, a payload length that fits) needs no checks.
    if f1 ~= 0x20 and f1 ~= 0x30 or f2 ~= 0x01 and f2 ~= 0x81 or protocol ~= GRE_PROTO_PPP
        or needed > size or payload_length ~= payload_size
        or (payload_size > 0 and not has_seq and has_ack) then
        for _, found in ipairs(header_problems(f1, f2, protocol, has_key, has_seq, has_ack,
            needed, size, payload_length, payload_size)) do
            problem(item, found[1], found[2], with_tree)
        end
    end
    if notes then gre_findings(item, with_tree, dir, notes, visited, pinfo, call_id) end
    if state.deadline_notes[number] then deadline_problems(item, pinfo, with_tree) end

    -- The Info column starts with the call, put in front of what the PPP dissector (which
    -- also sets the protocol column) wrote.
    local handle = payload and (protocol == GRE_PROTO_PPP and ppp_handle
        or gre_proto_table:get_dissector(protocol))
    if not handle then
        pinfo.cols.protocol = "GRE"
        pinfo.cols.info = (call_id and info_prefix(dir, call_id) or "") .. (payload
            and "Encapsulated data" or ("Ack-only" .. (ack and (", ack=" .. ack) or "")))
        return size
    end
    if not pcall(handle.call, handle, payload, pinfo, tree) then
        pinfo.cols.protocol = "GRE"
        problem(with_tree and tree:add(pptp_gre, tvb(0, offset)) or tree, "ppp_error", nil,
            with_tree)
    end
    if call_id then pinfo.cols.info:prepend(info_prefix(dir, call_id)) end
    return size
end

pptp_gre.dissector = surfacing_errors(dissect_gre)

----------------------------------------------------------------------------------------------
-- Per-call summary: tshark -z pptp,calls (one tab-separated line per call) and
-- Statistics > PPTP Calls (one block per call, in words)
----------------------------------------------------------------------------------------------
local function protocols_text(set)
    local names = {}
    for _, name in pairs(set or NO_CALLS) do table.insert(names, name) end
    table.sort(names)
    return #names > 0 and table.concat(names, ",") or "-"
end

-- packets, bytes, lost, duplicate, out of order of one flow.
local function counts(dir)
    return dir.packets, dir.bytes, numbers_lost(dir), dir.duplicates, dir.out_of_order
end

local function encryption_text(call)
    if not (call.mppe and call.mppe_packets > 0) then return "none" end
    return string.format("MPPE%s%s", call.key_bits and (" " .. call.key_bits .. "-bit") or "",
        call.stateless and " stateless" or " stateful")
end

-- How a call ended, as far as the capture shows.
local function ending(call)
    if call.ended then return call.ended end
    local closed = call.conn.closed
    if closed then return closed .. ", no Call-Disconnect-Notify" end
    if call.lcp_terminated then
        return string.format("LCP Terminate in frame %d, no Call-Disconnect-Notify",
            call.lcp_terminated)
    end
    return "still up at the end of the capture"
end

local function gre_text(call)
    return call.connected_at and gre_seen(call) or "-"
end

local TABLE_COLUMNS = {
    "call", "kind", "tcp_stream", "client", "server", "client_call_id", "server_call_id",
    "first_frame", "last_frame", "duration", "c2s_packets", "c2s_bytes", "c2s_lost",
    "c2s_duplicate", "c2s_out_of_order", "s2c_packets", "s2c_bytes", "s2c_lost",
    "s2c_duplicate", "s2c_out_of_order", "auth", "encrypted", "encryption",
    "disconnect_result", "ended", "gre_seen", "ppp",
}
local ORPHAN_COLUMNS = {
    "flow", "sender", "receiver", "call_id", "first_frame", "last_frame", "packets", "bytes",
    "lost", "duplicate", "out_of_order", "ppp",
}

-- `tshark -z pptp,calls`: documented in the README; every value on one line per call.
local function calls_table()
    local lines = {
        "# PPTP calls (pptp-analysis): one tab-separated line per call",
        table.concat(TABLE_COLUMNS, "\t"),
    }
    for _, call in ipairs(state.calls) do
        local values = {
            call.number, call.kind, call.conn.stream or "-", call.pns, call.pac,
            call.pns_id or "-", call.pac_id or "-", call.first_frame, call.last_frame,
            string.format("%.3f", call.finish - call.start),
        }
        for _, dir in ipairs({ call.to_pac, call.to_pns }) do
            for _, value in ipairs({ counts(dir) }) do values[#values + 1] = value end
        end
        for _, value in ipairs({ call.auth or "none",
            tostring(call.mppe and call.mppe_packets > 0), encryption_text(call),
            call.disconnect_result or "-", ending(call), gre_text(call),
            protocols_text(call.protocols) }) do
            values[#values + 1] = value
        end
        for i = 1, #values do values[i] = tostring(values[i]) end
        table.insert(lines, table.concat(values, "\t"))
    end
    local header = { "# GRE without a call: one tab-separated line per sender, receiver and "
        .. "Call ID", table.concat(ORPHAN_COLUMNS, "\t") }
    for _, dir in ipairs(state.orphans) do
        if not dir.call then
            if header then
                table.insert(lines, header[1])
                table.insert(lines, header[2])
                header = nil
            end
            local values = { dir.number, dir.sender, dir.receiver, dir.call_id, dir.first_frame,
                dir.last_frame }
            for _, value in ipairs({ counts(dir) }) do values[#values + 1] = value end
            values[#values + 1] = protocols_text(dir.protocols)
            for i = 1, #values do values[i] = tostring(values[i]) end
            table.insert(lines, table.concat(values, "\t"))
        end
    end
    return table.concat(lines, "\n")
end

local function direction_line(label, dir)
    local packets, bytes, lost, duplicate, out_of_order = counts(dir)
    return string.format("  %-16s %d packets, %d bytes; lost %d, duplicate %d, out of order %d",
        label, packets, bytes, lost, duplicate, out_of_order)
end

local GRE_SEEN_TEXT = {
    both = "both sides within %d s", client = "only the client's within %d s: GRE from the "
        .. "server blocked?", server = "only the server's within %d s: GRE from the client "
        .. "blocked?", none = "none within %d s: IP protocol 47 blocked?",
}

-- Statistics > PPTP Calls: a block of labelled lines per call, readable in the window.
local function calls_report()
    local lines = { string.format("PPTP calls: %d (set up or learnt in the capture)",
        #state.calls) }
    for _, call in ipairs(state.calls) do
        local kind = call.kind == "unseen" and "set-up not captured" or call.kind
        table.insert(lines, "")
        table.insert(lines, string.format("Call %d: %s, TCP stream %s, frames %d to %d, %.3f s",
            call.number, kind, tostring(call.conn.stream or "?"), call.first_frame,
            call.last_frame, call.finish - call.start))
        table.insert(lines, string.format("  %-16s %s, Call ID %s", "client (PNS)", call.pns,
            tostring(call.pns_id or "?")))
        table.insert(lines, string.format("  %-16s %s, Call ID %s", "server (PAC)", call.pac,
            tostring(call.pac_id or "?")))
        table.insert(lines, direction_line("client to server", call.to_pac))
        table.insert(lines, direction_line("server to client", call.to_pns))
        local auth = call.auth or "none seen"
        if weak_auth[auth] then auth = auth .. " (weak: its handshake can be cracked offline)" end
        table.insert(lines, string.format("  %-16s %s", "authentication", auth))
        table.insert(lines, string.format("  %-16s %s", "encryption", encryption_text(call)))
        table.insert(lines, string.format("  %-16s %s", "ended", ending(call)))
        if call.connected_at then
            table.insert(lines, string.format("  %-16s " .. GRE_SEEN_TEXT[gre_seen(call)],
                "GRE", settings.gre_grace))
        end
        table.insert(lines, string.format("  %-16s %s", "PPP", protocols_text(call.protocols)))
    end
    local orphans = 0
    for _, dir in ipairs(state.orphans) do
        if not dir.call then
            if orphans == 0 then
                table.insert(lines, "")
                table.insert(lines, "GRE without a call (no control connection in the "
                    .. "capture set these Call IDs up):")
            end
            orphans = orphans + 1
            local packets, bytes, lost, duplicate, out_of_order = counts(dir)
            table.insert(lines, string.format("  %s to %s, Call ID %d, frames %d to %d: %d "
                .. "packets, %d bytes; lost %d, duplicate %d, out of order %d; PPP %s",
                dir.sender, dir.receiver, dir.call_id, dir.first_frame, dir.last_frame, packets,
                bytes, lost, duplicate, out_of_order, protocols_text(dir.protocols)))
        end
    end
    return table.concat(lines, "\n")
end

-- The table's run also watches TCP for closed control connections (its own tap builds
-- every tree anyway, so TCP's costs nothing more).
local function register_calls_tap()
    watching_closes = true
    ensure_tcp_tap()
    local tap = Listener.new("frame", "pptp_gre || pptp_ctrl")
    function tap.draw()
        print(calls_table())
    end
end

if register_stat_cmd_arg then
    register_stat_cmd_arg("pptp,calls", function() register_calls_tap() end)
end

-- Statistics > PPTP Calls. Wireshark's Qt interface lists Lua menu entries of the unsorted
-- statistics group; entries of MENU_STAT_GENERIC never appear (seen in Wireshark 4.0). The
-- packets are scanned again with TCP's tap, to see control connections close.
if gui_enabled and gui_enabled() then
    register_menu("PPTP Calls", function()
        local window = TextWindow.new("PPTP Calls")
        if not watching_closes and retap_packets then
            watching_closes = true
            ensure_tcp_tap()
            retap_packets()
            watching_closes = false -- the tap goes at the next packet dissected
        end
        window:set(calls_report())
    end, MENU_STAT_UNSORTED)
end

----------------------------------------------------------------------------------------------
-- Registration and preferences
----------------------------------------------------------------------------------------------
local tcp_port_table = DissectorTable.get("tcp.port")
local builtin_pptp = tcp_port_table:get_dissector(1723)

-- Disabling ours in Analyze > Enabled Protocols gives Wireshark's own dissectors back: a
-- disabled Lua protocol still holds its table entries, which would leave GRE as data and
-- TCP 1723 to other heuristics. Wireshark saves that dialog's choice in disabled_protos
-- and dissects again, calling init (`tshark --disable-protocol` is not seen here).
local function disabled_protocols()
    local off = {}
    local path = Dir and Dir.personal_config_path and Dir.personal_config_path("disabled_protos")
    local file = path and io.open(path, "r")
    if file then
        for line in file:lines() do
            local name = line:match("^%s*([%w_.]+)")
            if name then off[name] = true end
        end
        file:close()
    end
    return off
end

local function claim_tables()
    local off = disabled_protocols()
    ip_proto_table:add(47, off.pptp_gre and builtin_gre or pptp_gre)
    if off.pptp_ctrl then
        tcp_port_table:remove(settings.ports, pptp_ctrl)
        if builtin_pptp then tcp_port_table:add(1723, builtin_pptp) end
    else
        tcp_port_table:add(settings.ports, pptp_ctrl)
    end
end

function pptp_ctrl.init()
    reset_state()
    release_tcp_tap(true)
    info_frame, info_text, deadline_frame = -1, nil, -1
    claim_tables()
end

function pptp_ctrl.prefs_changed()
    tcp_port_table:remove(settings.ports, pptp_ctrl)
    settings.ports = pptp_ctrl.prefs.ports
    settings.reassemble = pptp_ctrl.prefs.reassemble
    settings.heuristic = pptp_ctrl.prefs.heuristic
    set_pptp_ports(settings.ports)
    tcp_port_table:add(settings.ports, pptp_ctrl)
end

function pptp_gre.prefs_changed()
    settings.sequence_analysis = pptp_gre.prefs.sequence_analysis
    settings.gre_grace = pptp_gre.prefs.gre_grace
end

tcp_port_table:add(settings.ports, pptp_ctrl)
ip_proto_table:add(47, pptp_gre)
pptp_ctrl:register_heuristic("tcp", heuristic)
