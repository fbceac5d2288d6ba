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

local CTRL_TITLE = "PPTP Control (pptp-analysis)"
local pptp_ctrl = Proto("pptp_ctrl", CTRL_TITLE)
local GRE_TITLE = "Enhanced GRE for PPTP (pptp-analysis)"
local pptp_gre = Proto("pptp_gre", GRE_TITLE)

-- Methods of the hot paths taken from their classes once: `item:add(...)` finds "add"
-- through Wireshark's attribute dispatcher, a C call of its own on every use (5 to 6 % of
-- tshark's instructions when it builds trees, on Wireshark 4.0).
local tree_add, set_generated = TreeItem.add, TreeItem.set_generated
local add_expert = TreeItem.add_proto_expert_info
local tvb_len, tvb_raw, range_tvb = Tvb.len, Tvb.raw, TvbRange.tvb
local call_dissector = Dissector.call
local prepend_column = Column.prepend

----------------------------------------------------------------------------------------------
-- Settings
----------------------------------------------------------------------------------------------
local default_settings = {
    ports = "1723",
    reassemble = true,
    heuristic = true,
    sequence_analysis = true,
    gre_grace = 10,
    credentials_file = "",
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
pptp_gre.prefs.credentials_file = Pref.string("MPPE credentials file",
    default_settings.credentials_file, "A file of MS-CHAPv2 credentials to decrypt MPPE with, "
        .. "one per line: PASSWORD, USER:PASSWORD, nthash:HEX32 or USER:nthash:HEX32 (# starts "
        .. "a comment). Read, never written or shown; empty: no decryption")

----------------------------------------------------------------------------------------------
----------------------------------------------------------------------------------------------
-- Constants and value strings
----------------------------------------------------------------------------------------------
local MAGIC_COOKIE = 0x1A2B3C4D
local HEADER_LENGTH = 12

-- The second octet's range for each first octet of a well-formed UTF-8 sequence (RFC 3629:
-- no overlong forms, no surrogates, nothing above U+10FFFF), and the sequence's length.
local UTF8_LEADS = {}
for lead = 0xC2, 0xDF do UTF8_LEADS[lead] = { 2, 0x80, 0xBF } end
for lead = 0xE0, 0xEF do UTF8_LEADS[lead] = { 3, 0x80, 0xBF } end
UTF8_LEADS[0xE0], UTF8_LEADS[0xED] = { 3, 0xA0, 0xBF }, { 3, 0x80, 0x9F }
for lead = 0xF1, 0xF3 do UTF8_LEADS[lead] = { 4, 0x80, 0xBF } end
UTF8_LEADS[0xF0], UTF8_LEADS[0xF4] = { 4, 0x90, 0xBF }, { 4, 0x80, 0x8F }

-- A name a peer sent (raw octets) as text for the tree, expert messages and reports:
-- printable ASCII (a DOMAIN\user name's backslash too) and well-formed UTF-8 as they are,
-- any other octet as \xNN, so that Wireshark and tshark's output (JSON above all) stay
-- valid UTF-8.
local function display_name(raw)
    if not raw:find("[^\32-\126]") then return raw end
    local out, at, size = {}, 1, #raw
    while at <= size do
        local octet = raw:byte(at)
        local lead = UTF8_LEADS[octet]
        local length = 1
        if lead and at + lead[1] - 1 <= size then
            local second = raw:byte(at + 1)
            length = second >= lead[2] and second <= lead[3] and lead[1] or 1
            for k = at + 2, at + length - 1 do
                local follow = raw:byte(k)
                if follow < 0x80 or follow > 0xBF then length = 1 end
            end
        end
        if length > 1 then
            out[#out + 1] = raw:sub(at, at + length - 1)
        elseif octet >= 32 and octet <= 126 then
            out[#out + 1] = string.char(octet)
        else
            out[#out + 1] = string.format("\\x%02x", octet)
        end
        at = at + length
    end
    return table.concat(out)
end
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
    -- What most often keeps a connected call's GRE away, beside the short expert message.
    gre_blocked_cause = ProtoField.string("pptp_ctrl.gre_blocked_cause", "Likely cause"),
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
    -- Decryption (a credentials file given): whether this packet was, with which key.
    decrypted = ProtoField.bool("pptp_gre.decrypted", "Decrypted"),
    key_bits = ProtoField.uint8("pptp_gre.mppe.key_bits", "MPPE key length (bits)"),
    key_user = ProtoField.string("pptp_gre.mppe.user", "Decrypted with the credential of"),
    -- The user name a client's MS-CHAP, CHAP, PAP or EAP response gave.
    user = ProtoField.string("pptp_gre.user", "Authenticated user"),
    problem = ProtoField.string("pptp_gre.problem", "Problem"),
}
for _, field in pairs(gf) do table.insert(pptp_gre.fields, field) end

----------------------------------------------------------------------------------------------
-- Experts: every problem has a stable name, pptp_ctrl.expert.* or pptp_gre.expert.*; their
-- summaries stay short enough for the Expert Information dialog's column.
----------------------------------------------------------------------------------------------
local expert_lists = { [pptp_ctrl] = {}, [pptp_gre] = {} }
local function new_expert(proto, name, text, group, severity)
    -- Proto.name is upper case; filter names are the protocol's lower-case abbreviation.
    local e = ProtoExpert.new(proto.name:lower() .. ".expert." .. name, text, group, severity)
    table.insert(expert_lists[proto], e)
    return e
end
local group, severity = expert.group, expert.severity
local ce = {
    bad_magic_cookie = new_expert(pptp_ctrl, "bad_magic_cookie", "Magic cookie is not 0x1A2B3C4D",
        group.MALFORMED, severity.ERROR),
    length_mismatch = new_expert(pptp_ctrl, "length_mismatch",
        "Length does not fit the message type", group.MALFORMED, severity.ERROR),
    truncated = new_expert(pptp_ctrl, "truncated", "Message cut off before its length",
        group.MALFORMED, severity.ERROR),
    unknown_message_type = new_expert(pptp_ctrl, "unknown_message_type",
        "Control message type not defined by RFC 2637", group.MALFORMED, severity.WARN),
    reserved_nonzero = new_expert(pptp_ctrl, "reserved_nonzero", "Reserved field is not zero",
        group.PROTOCOL, severity.WARN),
    bad_version = new_expert(pptp_ctrl, "bad_version", "Unsupported protocol version",
        group.PROTOCOL, severity.WARN),
    not_control = new_expert(pptp_ctrl, "not_control", "PPTP message type is not 1 (control)",
        group.PROTOCOL, severity.WARN),
    out_of_state = new_expert(pptp_ctrl, "out_of_state",
        "Message out of state for the connection or call",
        group.SEQUENCE, severity.WARN),
    no_gre_both_ways = new_expert(pptp_ctrl, "no_gre_both_ways",
        "Call connected, but no GRE either way", group.PROTOCOL, severity.WARN),
    no_gre_from_client = new_expert(pptp_ctrl, "no_gre_from_client",
        "Call connected, but no GRE from the client", group.PROTOCOL, severity.WARN),
    no_gre_from_server = new_expert(pptp_ctrl, "no_gre_from_server",
        "Call connected, but no GRE from the server", group.PROTOCOL, severity.WARN),
    nat_editor = new_expert(pptp_ctrl, "nat_editor",
        "Call ID = TCP source port: a NAT's PPTP helper",
        group.PROTOCOL, severity.NOTE),
    call_id_collision = new_expert(pptp_ctrl, "call_id_collision",
        "Call ID collision behind one address (no NAT editor)",
        group.SECURITY, severity.WARN),
    refused = new_expert(pptp_ctrl, "refused", "Call or control connection refused",
        group.RESPONSE_CODE, severity.WARN),
    setup_unseen = new_expert(pptp_ctrl, "setup_unseen",
        "Call learnt here: its set-up is not captured",
        group.SEQUENCE, severity.NOTE),
}
local ge = {
    key_missing = new_expert(pptp_gre, "key_missing", "GRE version 1 without the key bit",
        group.MALFORMED, severity.ERROR),
    reserved_flags = new_expert(pptp_gre, "reserved_flags",
        "Flag bits set that enhanced GRE keeps 0",
        group.PROTOCOL, severity.WARN),
    wrong_protocol = new_expert(pptp_gre, "wrong_protocol",
        "Enhanced GRE carries protocol 0x880B (PPP)", group.PROTOCOL, severity.WARN),
    payload_length_mismatch = new_expert(pptp_gre, "payload_length_mismatch",
        "Payload length differs from the bytes carried", group.MALFORMED, severity.WARN),
    ack_only_with_payload = new_expert(pptp_gre, "ack_only_with_payload",
        "Ack-only packet (no sequence number) with payload",
        group.PROTOCOL, severity.WARN),
    address_mismatch = new_expert(pptp_gre, "address_mismatch",
        "GRE of a call from an unexpected address",
        group.PROTOCOL, severity.WARN),
    without_call = new_expert(pptp_gre, "without_call",
        "GRE without a call (no set-up in the capture)",
        group.SEQUENCE, severity.NOTE),
    lost = new_expert(pptp_gre, "lost", "GRE sequence numbers skipped",
        group.SEQUENCE, severity.WARN),
    duplicate = new_expert(pptp_gre, "duplicate", "Duplicate GRE sequence number",
        group.SEQUENCE, severity.WARN),
    out_of_order = new_expert(pptp_gre, "out_of_order", "GRE packet out of order",
        group.SEQUENCE, severity.WARN),
    ack_unseen = new_expert(pptp_gre, "ack_unseen",
        "Acks a sequence number the peer was not seen sending",
        group.SEQUENCE, severity.NOTE),
    coherency_gap = new_expert(pptp_gre, "coherency_gap", "MPPE coherency count skips",
        group.SEQUENCE, severity.WARN),
    weak_auth = new_expert(pptp_gre, "weak_auth",
        "Weak PPP authentication (PAP, CHAP or MS-CHAP)",
        group.SECURITY, severity.WARN),
    cleartext = new_expert(pptp_gre, "cleartext",
        "IP inside the tunnel without MPPE encryption", group.SECURITY, severity.WARN),
    ppp_error = new_expert(pptp_gre, "ppp_error", "PPP payload could not be dissected",
        group.MALFORMED, severity.ERROR),
    mschapv2_in_clear = new_expert(pptp_gre, "mschapv2_in_clear",
        "MS-CHAPv2 handshake in clear: crackable offline", group.SECURITY, severity.WARN),
    no_handshake = new_expert(pptp_gre, "no_handshake",
        "No MS-CHAPv2 handshake captured: cannot decrypt", group.DECRYPTION,
        severity.NOTE),
    no_credential = new_expert(pptp_gre, "no_credential",
        "No listed credential opens this handshake",
        group.DECRYPTION, severity.WARN),
    decryption_failed = new_expert(pptp_gre, "decryption_failed",
        "Decryption failed: the result is not a PPP frame", group.DECRYPTION, severity.WARN),
    mppc_compressed = new_expert(pptp_gre, "mppc_compressed",
        "MPPC-compressed (C bit): decrypted, not decompressed", group.UNDECODED, severity.NOTE),
    credentials_unreadable = new_expert(pptp_gre, "credentials_unreadable",
        "The MPPE credentials file cannot be read", group.DECRYPTION, severity.WARN),
    header_truncated = new_expert(pptp_gre, "header_truncated",
        "GRE header cut off before its announced fields", group.MALFORMED, severity.ERROR),
    gre_error = new_expert(pptp_gre, "gre_error",
        "Wireshark's GRE dissector failed on this packet", group.MALFORMED, severity.ERROR),
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
    if text then add_expert(item, e, text) else add_expert(item, e) end
    if with_tree ~= false then set_generated(tree_add(item, field, name)) end
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

----------------------------------------------------------------------------------------------
-- Crypto for MPPE decryption: MD4, SHA-1, RC4, DES, MS-CHAPv2 (RFC 2759), MPPE keys
-- (RFC 3079) and an MPPE decryptor (RFC 3078). Strings hold raw octets throughout.
--
-- One source for Lua 5.2 (Wireshark 4.0) and 5.3+ (Wireshark 4.4): bitwise operators would
-- not parse on 5.2, so the hot loops are built at load time from source text with load():
-- with native operators where they compile, else with bit32 (SHA-1, MD4) or a 64K-entry
-- XOR table (RC4, faster than a bit32 call per octet).
----------------------------------------------------------------------------------------------
-- Everything is local to one do-block: the plugin's main chunk gains one local, crypto.
local crypto
do
    local crypto_byte, crypto_char, crypto_concat = string.byte, string.char, table.concat
    local crypto_unpack = table.unpack or rawget(_G, "unpack")
    local crypto_floor = math.floor
    local crypto_native = load("return function(a, b) return a ~ b end") ~= nil
    local crypto_bit32 = rawget(_G, "bit32")
    local CHUNK = 4096 -- octets per string.byte/string.char call: well inside the C stack limit
    local TWO32 = 4294967296

    -- 32-bit operations as functions: native operators compiled from text on 5.3+, bit32 on 5.2.
    local band, bor, bxor, bnot, rol
    if crypto_native then
        band, bor, bxor, bnot, rol = load([[
            return function(a, b) return a & b end,
                function(a, b) return a | b end,
                function(a, b) return a ~ b end,
                function(a) return ~a & 0xFFFFFFFF end,
                function(a, n) return ((a << n) | (a >> (32 - n))) & 0xFFFFFFFF end
        ]])()
    elseif crypto_bit32 then
        band, bor, bxor, bnot, rol = crypto_bit32.band, crypto_bit32.bor, crypto_bit32.bxor,
            crypto_bit32.bnot, crypto_bit32.lrotate
    else
        error("pptp_crypto needs Lua 5.3+ or the bit32 library")
    end

    local function to_hex(s)
        return (s:gsub(".", function(c) return string.format("%02X", crypto_byte(c)) end))
    end

    -- Octets from hex digits (spaces allowed); nil if not hex or odd.
    local function from_hex(text)
        local digits = text:gsub("%s", "")
        if #digits % 2 == 1 or digits:find("[^%x]") then return nil end
        return (digits:gsub("..", function(pair) return crypto_char(tonumber(pair, 16)) end))
    end

    -- The octets of s as a table of numbers (1-based), read in chunks.
    local function octets(s)
        local n = #s
        if n <= CHUNK then return { crypto_byte(s, 1, n) } end
        local t = {}
        for from = 1, n, CHUNK do
            local part = { crypto_byte(s, from, math.min(from + CHUNK - 1, n)) }
            for k = 1, #part do t[from + k - 1] = part[k] end
        end
        return t
    end

    -- A string from a table of octet numbers t[1..n].
    local function chars(t, n)
        if n <= CHUNK then return crypto_char(crypto_unpack(t, 1, n)) end
        local parts = {}
        for from = 1, n, CHUNK do
            parts[#parts + 1] = crypto_char(crypto_unpack(t, from, math.min(from + CHUNK - 1, n)))
        end
        return crypto_concat(parts)
    end

    local function word_bytes_be(w)
        return crypto_floor(w / 16777216) % 256, crypto_floor(w / 65536) % 256,
            crypto_floor(w / 256) % 256, w % 256
    end

    -- Merkle-Damgard padding shared by MD4 (little-endian length) and SHA-1 (big-endian).
    local function md_pad(s, big_endian)
        local bits = #s * 8
        local low, high = bits % TWO32, crypto_floor(bits / TWO32)
        local zeros = (55 - #s) % 64
        local l1, l2, l3, l4 = word_bytes_be(low)
        local h1, h2, h3, h4 = word_bytes_be(high)
        local head = s .. "\128" .. string.rep("\0", zeros)
        if big_endian then return head .. crypto_char(h1, h2, h3, h4, l1, l2, l3, l4) end
        return head .. crypto_char(l4, l3, l2, l1, h4, h3, h2, h1)
    end

    ----------------------------------------------------------------------------------------------
    -- MD4 (RFC 1320): used once per password, so written once with the operation functions.
    ----------------------------------------------------------------------------------------------
    local MD4_ROUND2 = { 0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15 }
    local MD4_ROUND3 = { 0, 8, 4, 12, 2, 10, 6, 14, 1, 9, 5, 13, 3, 11, 7, 15 }
    local MD4_SHIFTS = { { 3, 7, 11, 19 }, { 3, 5, 9, 13 }, { 3, 9, 11, 15 } }

    local function md4(s)
        local msg = md_pad(s, false)
        local h1, h2, h3, h4 = 0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476
        local x = {}
        for block = 1, #msg, 64 do
            for k = 0, 15 do
                local b1, b2, b3, b4 = crypto_byte(msg, block + 4 * k, block + 4 * k + 3)
                x[k] = ((b4 * 256 + b3) * 256 + b2) * 256 + b1
            end
            local st = { h1, h2, h3, h4 }
            -- Step n updates word (1 - n) mod 4 of the state: a, d, c, b, a, ...
            for n = 0, 47 do
                local round = crypto_floor(n / 16) + 1
                local at = (4 - n % 4) % 4 + 1
                local a, b = st[at], st[at % 4 + 1]
                local c, d = st[(at + 1) % 4 + 1], st[(at + 2) % 4 + 1]
                local f, k
                if round == 1 then
                    f, k = bor(band(b, c), band(bnot(b), d)), x[n % 16]
                elseif round == 2 then
                    f = bor(bor(band(b, c), band(b, d)), band(c, d))
                    k = (x[MD4_ROUND2[n % 16 + 1]] + 0x5A827999) % TWO32
                else
                    f, k = bxor(bxor(b, c), d), (x[MD4_ROUND3[n % 16 + 1]] + 0x6ED9EBA1) % TWO32
                end
                st[at] = rol((a + f + k) % TWO32, MD4_SHIFTS[round][n % 4 + 1])
            end
            h1, h2 = (h1 + st[1]) % TWO32, (h2 + st[2]) % TWO32
            h3, h4 = (h3 + st[3]) % TWO32, (h4 + st[4]) % TWO32
        end
        local out = {}
        for _, w in ipairs({ h1, h2, h3, h4 }) do
            local b1, b2, b3, b4 = word_bytes_be(w)
            out[#out + 1] = crypto_char(b4, b3, b2, b1)
        end
        return crypto_concat(out)
    end

    ----------------------------------------------------------------------------------------------
    -- SHA-1 (FIPS 180): once per packet in stateless MPPE, so its block function is built from
    -- text with inline operators: "a & b" on 5.3+, "band(a, b)" with bit32 on 5.2. Macros
    -- AND(x, y), OR(x, y), XOR(x, y), NOT(x), ROL(x, n) (n a number) are expanded before load().
    ----------------------------------------------------------------------------------------------
    local SHA1_BLOCK = [[
    local band, bor, bxor, bnot, rol = ...
    return function(H, W)
        for t = 17, 80 do
            W[t] = ROL(XOR(XOR(XOR(W[t - 3], W[t - 8]), W[t - 14]), W[t - 16]), 1)
        end
        local a, b, c, d, e = H[1], H[2], H[3], H[4], H[5]
        for t = 1, 20 do
            local f = OR(AND(b, c), AND(NOT(b), d))
            local x = (ROL(a, 5) + f + e + 0x5A827999 + W[t]) % 4294967296
            a, b, c, d, e = x, a, ROL(b, 30), c, d
        end
        for t = 21, 40 do
            local f = XOR(XOR(b, c), d)
            local x = (ROL(a, 5) + f + e + 0x6ED9EBA1 + W[t]) % 4294967296
            a, b, c, d, e = x, a, ROL(b, 30), c, d
        end
        for t = 41, 60 do
            local f = OR(AND(b, c), AND(d, OR(b, c)))
            local x = (ROL(a, 5) + f + e + 0x8F1BBCDC + W[t]) % 4294967296
            a, b, c, d, e = x, a, ROL(b, 30), c, d
        end
        for t = 61, 80 do
            local f = XOR(XOR(b, c), d)
            local x = (ROL(a, 5) + f + e + 0xCA62C1D6 + W[t]) % 4294967296
            a, b, c, d, e = x, a, ROL(b, 30), c, d
        end
        H[1], H[2], H[3] = (H[1] + a) % 4294967296, (H[2] + b) % 4294967296, (H[3] + c) % 4294967296
        H[4], H[5] = (H[4] + d) % 4294967296, (H[5] + e) % 4294967296
    end
    ]]

    -- Arguments of a macro call (text inside its parentheses), split at top-level commas.
    local function macro_args(text)
        local args, depth, from = {}, 0, 1
        for k = 1, #text do
            local ch = text:sub(k, k)
            if ch == "(" then
                depth = depth + 1
            elseif ch == ")" then
                depth = depth - 1
            elseif ch == "," and depth == 0 then
                args[#args + 1] = text:sub(from, k - 1):match("^%s*(.-)%s*$")
                from = k + 1
            end
        end
        args[#args + 1] = text:sub(from):match("^%s*(.-)%s*$")
        return args
    end

    local MACROS = {
        native = {
            AND = function(x, y) return "(" .. x .. " & " .. y .. ")" end,
            OR = function(x, y) return "(" .. x .. " | " .. y .. ")" end,
            XOR = function(x, y) return "(" .. x .. " ~ " .. y .. ")" end,
            NOT = function(x) return "(~" .. x .. " & 0xFFFFFFFF)" end,
            ROL = function(x, n)
                return "(((" .. x .. " << " .. n .. ") | (" .. x .. " >> " .. (32 - tonumber(n))
                    .. ")) & 0xFFFFFFFF)"
            end,
        },
        functions = {
            AND = function(x, y) return "band(" .. x .. ", " .. y .. ")" end,
            OR = function(x, y) return "bor(" .. x .. ", " .. y .. ")" end,
            XOR = function(x, y) return "bxor(" .. x .. ", " .. y .. ")" end,
            NOT = function(x) return "bnot(" .. x .. ")" end,
            ROL = function(x, n) return "rol(" .. x .. ", " .. n .. ")" end,
        },
    }

    -- Expand the macros of a template. The macro call that starts last holds no other, so
    -- expanding it first works from the inside out.
    local function expand(template, native)
        local forms, text = MACROS[native and "native" or "functions"], template
        while true do
            local at, name, open
            local pos = 1
            while true do
                local s, e, word = text:find("%f[%w_](%u%u+)%(", pos)
                if not s then break end
                if forms[word] then at, name, open = s, word, e end
                pos = e
            end
            if not at then return text end
            local call = text:match("^%b()", open)
            local args = macro_args(call:sub(2, -2))
            text = text:sub(1, at - 1) .. forms[name](args[1], args[2]) .. text:sub(open + #call)
        end
    end

    local function compile(template, native, ...)
        local chunk, err = load(expand(template, native), "=pptp_crypto", "t")
        if not chunk then error(err) end
        return chunk(...)
    end

    local sha1_block = compile(SHA1_BLOCK, crypto_native, band, bor, bxor, bnot, rol)

    local function sha1(s)
        local msg = md_pad(s, true)
        local H = { 0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0 }
        local W = {}
        for block = 1, #msg, 64 do
            local b = { crypto_byte(msg, block, block + 63) }
            for t = 1, 16 do
                local p = 4 * t - 3
                W[t] = ((b[p] * 256 + b[p + 1]) * 256 + b[p + 2]) * 256 + b[p + 3]
            end
            sha1_block(H, W)
        end
        local out = {}
        for k = 1, 5 do out[k] = crypto_char(word_bytes_be(H[k])) end
        return crypto_concat(out)
    end

    ----------------------------------------------------------------------------------------------
    -- RC4: the hot path. The keystream loop is built from text with its XOR as "c ~ k" on 5.3+
    -- and as a lookup in a 64K table on 5.2 (faster there than a bit32.bxor call). Indices into
    -- S are 1-based and wrap by comparison: "%" on 5.2's floats costs more than a branch.
    ----------------------------------------------------------------------------------------------
    local RC4_LOOP = [[
    local byte, char, unpack, concat, xor_table, bxor, CHUNK = ...
    return function(st, s)
        local S, i, j, out = st.S, st.i, st.j, st.out
        local n = #s
        local parts = n > CHUNK and {} or nil
        for from = 1, n, CHUNK do
            local to = from + CHUNK - 1
            if to > n then to = n end
            local input = { byte(s, from, to) }
            for p = 1, to - from + 1 do
                i = i + 1
                if i > 256 then i = 1 end
                local si = S[i]
                j = j + si
                if j > 256 then j = j - 256 end
                local sj = S[j]
                S[i], S[j] = sj, si
                local t = si + sj + 1
                if t > 256 then t = t - 256 end
                local c, k = input[p], S[t]
                out[p] = XOR_OCTET
            end
            if not parts then
                st.i, st.j = i, j
                return char(unpack(out, 1, n))
            end
            parts[#parts + 1] = char(unpack(out, 1, to - from + 1))
        end
        st.i, st.j = i, j
        return concat(parts or {})
    end
    ]]
    local RC4_XOR = { native = "c ~ k", table = "xor_table[c * 256 + k + 1]", bit32 = "bxor(c, k)" }

    local crypto_xor_table
    local function xor_table()
        if not crypto_xor_table then
            local t = {}
            for a = 0, 255 do
                for b = 0, 255 do t[a * 256 + b + 1] = bxor(a, b) end
            end
            crypto_xor_table = t
        end
        return crypto_xor_table
    end

    -- An RC4 keystream loop with a given XOR flavour ("native", "table" or "bit32").
    local function rc4_loop(flavour)
        local text = RC4_LOOP:gsub("XOR_OCTET", RC4_XOR[flavour])
        local chunk, err = load(text, "=pptp_crypto_rc4", "t")
        if not chunk then error(err) end
        return chunk(crypto_byte, crypto_char, crypto_unpack, crypto_concat,
            flavour == "table" and xor_table() or nil, bxor, CHUNK)
    end

    -- Built on first use: the 64K-entry table costs memory a capture without credentials
    -- should not pay.
    local rc4_keystream
    local function rc4_crypt(st, s)
        rc4_keystream = rc4_keystream or rc4_loop(crypto_native and "native" or "table")
        return rc4_keystream(st, s)
    end

    -- (Re)initialize an RC4 state with a key (the key-scheduling algorithm).
    local function rc4_reset(st, key)
        local S, kb, kl = st.S, { crypto_byte(key, 1, #key) }, #key
        for i = 1, 256 do S[i] = i - 1 end
        local j, at = 1, 1 -- 1-based j; at walks the key
        for i = 1, 256 do
            local si = S[i]
            j = j + si + kb[at]
            while j > 256 do j = j - 256 end
            at = at + 1
            if at > kl then at = 1 end
            S[i], S[j] = S[j], si
        end
        st.i, st.j = 1, 1 -- 1-based: i = j = 0
        return st
    end

    local function rc4_new(key)
        return rc4_reset({ S = {}, out = {} }, key)
    end

    ----------------------------------------------------------------------------------------------
    -- DES (FIPS 46-3), encryption of one block: only to check NT-Responses, a few per
    -- handshake, so it works bit by bit on tables of 0/1 rather than fast.
    ----------------------------------------------------------------------------------------------
    local DES_IP = {
        58, 50, 42, 34, 26, 18, 10, 2,
        60, 52, 44, 36, 28, 20, 12, 4,
        62, 54, 46, 38, 30, 22, 14, 6,
        64, 56, 48, 40, 32, 24, 16, 8,
        57, 49, 41, 33, 25, 17, 9, 1,
        59, 51, 43, 35, 27, 19, 11, 3,
        61, 53, 45, 37, 29, 21, 13, 5,
        63, 55, 47, 39, 31, 23, 15, 7,
    }
    local DES_E = {
        32, 1, 2, 3, 4, 5,
        4, 5, 6, 7, 8, 9,
        8, 9, 10, 11, 12, 13,
        12, 13, 14, 15, 16, 17,
        16, 17, 18, 19, 20, 21,
        20, 21, 22, 23, 24, 25,
        24, 25, 26, 27, 28, 29,
        28, 29, 30, 31, 32, 1,
    }
    local DES_P = {
        16, 7, 20, 21, 29, 12, 28, 17,
        1, 15, 23, 26, 5, 18, 31, 10,
        2, 8, 24, 14, 32, 27, 3, 9,
        19, 13, 30, 6, 22, 11, 4, 25,
    }
    local DES_PC1 = {
        57, 49, 41, 33, 25, 17, 9,
        1, 58, 50, 42, 34, 26, 18,
        10, 2, 59, 51, 43, 35, 27,
        19, 11, 3, 60, 52, 44, 36,
        63, 55, 47, 39, 31, 23, 15,
        7, 62, 54, 46, 38, 30, 22,
        14, 6, 61, 53, 45, 37, 29,
        21, 13, 5, 28, 20, 12, 4,
    }
    local DES_PC2 = {
        14, 17, 11, 24, 1, 5,
        3, 28, 15, 6, 21, 10,
        23, 19, 12, 4, 26, 8,
        16, 7, 27, 20, 13, 2,
        41, 52, 31, 37, 47, 55,
        30, 40, 51, 45, 33, 48,
        44, 49, 39, 56, 34, 53,
        46, 42, 50, 36, 29, 32,
    }
    local DES_SHIFTS = { 1, 1, 2, 2, 2, 2, 2, 2, 1, 2, 2, 2, 2, 2, 2, 1 }
    local DES_S = { -- one row of 16 per line, four rows per box
        {
            14, 4, 13, 1, 2, 15, 11, 8, 3, 10, 6, 12, 5, 9, 0, 7,
            0, 15, 7, 4, 14, 2, 13, 1, 10, 6, 12, 11, 9, 5, 3, 8,
            4, 1, 14, 8, 13, 6, 2, 11, 15, 12, 9, 7, 3, 10, 5, 0,
            15, 12, 8, 2, 4, 9, 1, 7, 5, 11, 3, 14, 10, 0, 6, 13,
        },
        {
            15, 1, 8, 14, 6, 11, 3, 4, 9, 7, 2, 13, 12, 0, 5, 10,
            3, 13, 4, 7, 15, 2, 8, 14, 12, 0, 1, 10, 6, 9, 11, 5,
            0, 14, 7, 11, 10, 4, 13, 1, 5, 8, 12, 6, 9, 3, 2, 15,
            13, 8, 10, 1, 3, 15, 4, 2, 11, 6, 7, 12, 0, 5, 14, 9,
        },
        {
            10, 0, 9, 14, 6, 3, 15, 5, 1, 13, 12, 7, 11, 4, 2, 8,
            13, 7, 0, 9, 3, 4, 6, 10, 2, 8, 5, 14, 12, 11, 15, 1,
            13, 6, 4, 9, 8, 15, 3, 0, 11, 1, 2, 12, 5, 10, 14, 7,
            1, 10, 13, 0, 6, 9, 8, 7, 4, 15, 14, 3, 11, 5, 2, 12,
        },
        {
            7, 13, 14, 3, 0, 6, 9, 10, 1, 2, 8, 5, 11, 12, 4, 15,
            13, 8, 11, 5, 6, 15, 0, 3, 4, 7, 2, 12, 1, 10, 14, 9,
            10, 6, 9, 0, 12, 11, 7, 13, 15, 1, 3, 14, 5, 2, 8, 4,
            3, 15, 0, 6, 10, 1, 13, 8, 9, 4, 5, 11, 12, 7, 2, 14,
        },
        {
            2, 12, 4, 1, 7, 10, 11, 6, 8, 5, 3, 15, 13, 0, 14, 9,
            14, 11, 2, 12, 4, 7, 13, 1, 5, 0, 15, 10, 3, 9, 8, 6,
            4, 2, 1, 11, 10, 13, 7, 8, 15, 9, 12, 5, 6, 3, 0, 14,
            11, 8, 12, 7, 1, 14, 2, 13, 6, 15, 0, 9, 10, 4, 5, 3,
        },
        {
            12, 1, 10, 15, 9, 2, 6, 8, 0, 13, 3, 4, 14, 7, 5, 11,
            10, 15, 4, 2, 7, 12, 9, 5, 6, 1, 13, 14, 0, 11, 3, 8,
            9, 14, 15, 5, 2, 8, 12, 3, 7, 0, 4, 10, 1, 13, 11, 6,
            4, 3, 2, 12, 9, 5, 15, 10, 11, 14, 1, 7, 6, 0, 8, 13,
        },
        {
            4, 11, 2, 14, 15, 0, 8, 13, 3, 12, 9, 7, 5, 10, 6, 1,
            13, 0, 11, 7, 4, 9, 1, 10, 14, 3, 5, 12, 2, 15, 8, 6,
            1, 4, 11, 13, 12, 3, 7, 14, 10, 15, 6, 8, 0, 5, 9, 2,
            6, 11, 13, 8, 1, 4, 10, 7, 9, 5, 0, 15, 14, 2, 3, 12,
        },
        {
            13, 2, 8, 4, 6, 15, 11, 1, 10, 9, 3, 14, 5, 0, 12, 7,
            1, 15, 13, 8, 10, 3, 7, 4, 12, 5, 6, 11, 0, 14, 9, 2,
            7, 11, 4, 1, 9, 12, 14, 2, 0, 6, 10, 13, 15, 3, 5, 8,
            2, 1, 14, 7, 4, 10, 8, 13, 15, 12, 9, 0, 3, 5, 6, 11,
        },
    }

    local function bits_of(s)
        local out = {}
        for k = 1, #s do
            local v = crypto_byte(s, k)
            for b = 7, 0, -1 do
                out[#out + 1] = crypto_floor(v / 2 ^ b) % 2
            end
        end
        return out
    end

    local function permute(bits, table_)
        local out = {}
        for k = 1, #table_ do out[k] = bits[table_[k]] end
        return out
    end

    -- A 7-octet key spread to 8 octets, odd parity in each low bit (RFC 2759 §8.6 and §9.3).
    local function des_key(key7)
        local bits, out = bits_of(key7), {}
        for k = 0, 7 do
            local v, ones = 0, 0
            for b = 1, 7 do
                local bit = bits[k * 7 + b]
                v, ones = v * 2 + bit, ones + bit
            end
            out[k + 1] = v * 2 + (ones + 1) % 2
        end
        return crypto_char(crypto_unpack(out, 1, 8))
    end

    -- DesEncrypt (RFC 2759 §8.6): one 8-octet block under a 7-octet key (or an 8-octet one).
    local function des_encrypt(key, block)
        if #key == 7 then key = des_key(key) end
        local cd = permute(bits_of(key), DES_PC1)
        local subkeys = {}
        for round = 1, 16 do
            for _ = 1, DES_SHIFTS[round] do
                table.insert(cd, 28, table.remove(cd, 1))
                table.insert(cd, 56, table.remove(cd, 29))
            end
            subkeys[round] = permute(cd, DES_PC2)
        end
        local lr = permute(bits_of(block), DES_IP)
        local l, r = { crypto_unpack(lr, 1, 32) }, { crypto_unpack(lr, 33, 64) }
        for round = 1, 16 do
            local e, key_bits, f = permute(r, DES_E), subkeys[round], {}
            for box = 0, 7 do
                local x = {}
                for b = 1, 6 do x[b] = (e[box * 6 + b] + key_bits[box * 6 + b]) % 2 end
                local row, col = x[1] * 2 + x[6], x[2] * 8 + x[3] * 4 + x[4] * 2 + x[5]
                local v = DES_S[box + 1][row * 16 + col + 1]
                for b = 3, 0, -1 do f[#f + 1] = crypto_floor(v / 2 ^ b) % 2 end
            end
            f = permute(f, DES_P)
            local new_r = {}
            for b = 1, 32 do new_r[b] = (l[b] + f[b]) % 2 end
            l, r = r, new_r
        end
        local pre = {}
        for b = 1, 32 do pre[b], pre[b + 32] = r[b], l[b] end
        local out = {}
        for b = 1, 64 do out[DES_IP[b]] = pre[b] end -- the final permutation undoes IP
        local octets_out = {}
        for k = 0, 7 do
            local v = 0
            for b = 1, 8 do v = v * 2 + out[k * 8 + b] end
            octets_out[k + 1] = v
        end
        return crypto_char(crypto_unpack(octets_out, 1, 8))
    end

    ----------------------------------------------------------------------------------------------
    -- MS-CHAPv2 (RFC 2759) and MPPE keys (RFC 3079)
    ----------------------------------------------------------------------------------------------
    local AUTH_MAGIC1 = "Magic server to client signing constant"
    local AUTH_MAGIC2 = "Pad to make it do more than one iteration"
    local MASTER_MAGIC = "This is the MPPE Master Key"
    local CLIENT_SEND_MAGIC =
        "On the client side, this is the send key; on the server side, it is the receive key."
    local CLIENT_RECEIVE_MAGIC =
        "On the client side, this is the receive key; on the server side, it is the send key."
    local SHA_PAD1 = string.rep("\0", 40)
    local SHA_PAD2 = string.rep("\242", 40)

    -- UTF-8 text to UTF-16LE (surrogate pairs beyond the BMP); an octet that starts no valid
    -- UTF-8 sequence stands for itself (Latin-1), so Latin-1 credential files work too.
    local function utf16le(text)
        local out, at, n = {}, 1, #text
        local function unit(u) out[#out + 1] = crypto_char(u % 256, crypto_floor(u / 256)) end
        while at <= n do
            local c = crypto_byte(text, at)
            local size, cp = 1, c
            if c >= 0xC2 and c <= 0xF4 then
                size = c >= 0xF0 and 4 or c >= 0xE0 and 3 or 2
                cp = c % (2 ^ (7 - size))
                for k = 1, size - 1 do
                    local cont = crypto_byte(text, at + k)
                    if not cont or cont < 0x80 or cont > 0xBF then
                        size, cp = 1, c
                        break
                    end
                    cp = cp * 64 + cont % 64
                end
                if size > 1 and (cp < ({ 0, 0x80, 0x800, 0x10000 })[size] or cp > 0x10FFFF
                        or (cp >= 0xD800 and cp <= 0xDFFF)) then
                    size, cp = 1, c
                end
            end
            if cp >= 0x10000 then
                cp = cp - 0x10000
                unit(0xD800 + crypto_floor(cp / 1024))
                unit(0xDC00 + cp % 1024)
            else
                unit(cp)
            end
            at = at + size
        end
        return crypto_concat(out)
    end

    -- NtPasswordHash (RFC 2759 §8.3): MD4 of the password (UTF-8 text) in UTF-16LE.
    local function nt_password_hash(password)
        return md4(utf16le(password))
    end

    -- ChallengeHash (RFC 2759 §8.2): the user name without any "DOMAIN\" prefix (§4).
    local function challenge_hash(peer_challenge, authenticator_challenge, user_name)
        local name = user_name:match("[^\\]*$")
        return sha1(peer_challenge .. authenticator_challenge .. name):sub(1, 8)
    end

    -- GenerateNTResponse (RFC 2759 §8.1, §8.5) from the password hash.
    local function nt_response(authenticator_challenge, peer_challenge, user_name, password_hash)
        local challenge = challenge_hash(peer_challenge, authenticator_challenge, user_name)
        local z = password_hash .. string.rep("\0", 21 - #password_hash)
        return des_encrypt(z:sub(1, 7), challenge) .. des_encrypt(z:sub(8, 14), challenge)
            .. des_encrypt(z:sub(15, 21), challenge)
    end

    -- GenerateAuthenticatorResponse (RFC 2759 §8.7): "S=" and 40 upper-case hex digits.
    local function authenticator_response(password_hash, nt_resp, peer_challenge,
                                          authenticator_challenge, user_name)
        local digest = sha1(md4(password_hash) .. nt_resp .. AUTH_MAGIC1)
        local challenge = challenge_hash(peer_challenge, authenticator_challenge, user_name)
        return "S=" .. to_hex(sha1(digest .. challenge .. AUTH_MAGIC2))
    end

    -- GetMasterKey (RFC 3079 §3.4).
    local function master_key(password_hash_hash, nt_resp)
        return sha1(password_hash_hash .. nt_resp .. MASTER_MAGIC):sub(1, 16)
    end

    local function key_length(key_bits)
        return key_bits == 128 and 16 or 8
    end

    -- A side's send and receive start keys (RFC 3079 §3.4 GetAsymmetricStartKey): the client's
    -- send key is the server's receive key.
    local function start_keys(master, key_bits, is_server)
        local size = key_length(key_bits)
        local client_send = sha1(master .. SHA_PAD1 .. CLIENT_SEND_MAGIC .. SHA_PAD2):sub(1, size)
        local client_receive = sha1(master .. SHA_PAD1 .. CLIENT_RECEIVE_MAGIC .. SHA_PAD2)
            :sub(1, size)
        if is_server then return client_receive, client_send end
        return client_send, client_receive
    end

    -- 40-bit keys begin D1 26 9E, 56-bit keys D1 (RFC 3078 §7.3, RFC 3079 §3.1-3.2).
    local function reduce_key(key, key_bits)
        if key_bits == 40 then return "\209\038\158" .. key:sub(4) end
        if key_bits == 56 then return "\209" .. key:sub(2) end
        return key
    end

    -- GetNewKeyFromSHA (RFC 3078 §7.3).
    local function new_key_from_sha(start_key, session_key, size)
        return sha1(start_key:sub(1, size) .. SHA_PAD1 .. session_key:sub(1, size) .. SHA_PAD2)
            :sub(1, size)
    end

    -- The first session key of a direction (RFC 3079 §3.1-3.3): no RC4 step.
    local function initial_session_key(start_key, key_bits)
        local size = key_length(key_bits)
        return reduce_key(new_key_from_sha(start_key, start_key, size), key_bits)
    end

    -- The MPPE key change (RFC 3078 §7.3).
    local function change_key(start_key, session_key, key_bits)
        local interim = new_key_from_sha(start_key, session_key, key_length(key_bits))
        return reduce_key(rc4_crypt(rc4_new(interim), interim), key_bits)
    end

    ----------------------------------------------------------------------------------------------
    -- MPPE decryption (RFC 3078), one decryptor per direction. Stateless (§7.1, §8.1): one key
    -- change per coherency count, fresh RC4 per packet; keys of the last 256 counts are kept so
    -- late or repeated packets decrypt. Stateful (§7.2, §8.2): the key changes on the "flag"
    -- packet (count's low octet 0xFF), which also restarts RC4; otherwise RC4 runs on. After a
    -- gap the keystream position is unknown: the flag packets skipped still count as key
    -- changes, and decryption resumes at the next flushed (A bit) or flag packet.
    -- rekey_on_flush: as Linux's MPPE, a flushed packet changes the key instead of restarting
    -- RC4 with the current one.
    ----------------------------------------------------------------------------------------------
    local COUNT_SPACE = 4096

    local function mppe_new(start_key, key_bits, stateless, rekey_on_flush)
        if key_bits ~= 40 and key_bits ~= 56 and key_bits ~= 128 then
            return nil, "key bits must be 40, 56 or 128"
        end
        if #start_key ~= key_length(key_bits) then return nil, "start key of the wrong length" end
        local session = initial_session_key(start_key, key_bits)
        return {
            start = start_key, bits = key_bits, stateless = stateless and true or false,
            rekey_on_flush = rekey_on_flush and true or false, session = session,
            rc4 = rc4_new(session), count = nil, synced = true, recent = {}, key_changes = 0,
        }
    end

    local function mppe_change_key(dec)
        dec.session = change_key(dec.start, dec.session, dec.bits)
        dec.key_changes = dec.key_changes + 1
        rc4_reset(dec.rc4, dec.session)
    end

    -- Counts from the last one seen: 1 for the next, 0 for a repeat, over 2048 for a late one.
    local function mppe_ahead(dec, count)
        if not dec.count then return count + 1 end
        return (count - dec.count) % COUNT_SPACE
    end

    local function mppe_stateless(dec, count, ciphertext)
        local ahead = mppe_ahead(dec, count)
        if ahead == 0 or ahead > COUNT_SPACE / 2 then
            local key = dec.recent[count]
            if not key then return nil, "packet too far behind to decrypt" end
            return rc4_crypt(rc4_new(key), ciphertext)
        end
        local recent = dec.recent
        for _ = 1, ahead do
            dec.session = change_key(dec.start, dec.session, dec.bits)
            dec.key_changes = dec.key_changes + 1
            dec.count = dec.count and (dec.count + 1) % COUNT_SPACE or 0
            recent[dec.count] = dec.session
            recent[(dec.count - 257) % COUNT_SPACE] = nil
        end
        if ahead > 1 then -- a jump: drop keys now more than 256 counts behind
            for c in pairs(recent) do
                if (count - c) % COUNT_SPACE > 256 then recent[c] = nil end
            end
        end
        return rc4_crypt(rc4_reset(dec.rc4, dec.session), ciphertext)
    end

    local function mppe_stateful(dec, count, flushed, ciphertext)
        local ahead = mppe_ahead(dec, count)
        if ahead == 0 or ahead > COUNT_SPACE / 2 then
            return nil, "repeated or late packet in stateful mode: its keystream is gone"
        end
        local last = dec.count or -1
        -- Key changes of the flag packets skipped on the way (this packet's own comes below).
        local skipped = crypto_floor((last + ahead) / 256) - crypto_floor((last + 1) / 256)
        for _ = 1, skipped do mppe_change_key(dec) end
        dec.count = count
        if count % 256 == 255 then
            mppe_change_key(dec)
        elseif flushed then
            if dec.rekey_on_flush then
                mppe_change_key(dec)
            else
                rc4_reset(dec.rc4, dec.session)
            end
        elseif ahead > 1 or not dec.synced then
            dec.synced = false
            return nil, "packets lost: waiting for a flushed or flag packet"
        end
        dec.synced = true
        return rc4_crypt(dec.rc4, ciphertext)
    end

    -- Decrypt one MPPE packet: header as its 2 octets (a longer string: the first 2) or as the
    -- 16-bit number; ciphertext after it. Returns the plaintext (inner protocol field, 1 or 2
    -- octets, then information) or nil and a reason. Packets must come in capture order.
    local function mppe_decrypt(dec, header, ciphertext)
        local word = header
        if type(header) == "string" then
            local high, low = crypto_byte(header, 1, 2)
            if not low then return nil, "MPPE header too short" end
            word = high * 256 + low
        end
        local flags, count = crypto_floor(word / 4096), word % 4096
        if flags % 2 == 0 then return nil, "not encrypted (D bit clear)" end
        if crypto_floor(flags / 2) % 2 == 1 then
            return nil, "MPPC-compressed (C bit): not supported"
        end
        if dec.stateless then return mppe_stateless(dec, count, ciphertext) end
        return mppe_stateful(dec, count, flags >= 8, ciphertext)
    end

    crypto = {
        md4 = md4, sha1 = sha1, rc4_new = rc4_new, rc4_reset = rc4_reset, rc4_crypt = rc4_crypt,
        des_key = des_key, des_encrypt = des_encrypt, utf16le = utf16le, to_hex = to_hex,
        from_hex = from_hex, nt_password_hash = nt_password_hash, challenge_hash = challenge_hash,
        nt_response = nt_response, authenticator_response = authenticator_response,
        master_key = master_key, start_keys = start_keys, reduce_key = reduce_key,
        initial_session_key = initial_session_key, change_key = change_key, mppe_new = mppe_new,
        mppe_decrypt = mppe_decrypt,
        -- for tests and measurements
        _rc4_loop = rc4_loop, _native = crypto_native, _octets = octets, _chars = chars,
    }
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
        -- frame -> the flow (call direction) of that GRE packet: for the frames of the chunk
        -- of FLOW_CHUNK being analysed (and any analysed after it was sealed) a table; for
        -- sealed chunks (gre_chunks: chunk -> string) 3 octets per frame, the flow's number
        -- in flow_list (0: none). Packed, a frame costs 3 octets of heap instead of 16, and
        -- a collector that runs without pause walks the whole heap on every cycle.
        gre_dir = {},
        gre_chunks = {},
        open_chunk = 0,
        flow_list = {},   -- every flow that got a GRE packet, by its number (flow.id)
        gre_notes = {},   -- frame -> what the analysis found, only for packets with findings
        plaintexts = {},  -- frame -> its decrypted PPP frame (with a credentials file only)
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
    -- Made at the first number out of line: until then the numbers seen are those from
    -- dir.first to the highest, each once and in order, and the ring would hold just the
    -- last SEEN_LIMIT of them (a flow without loss never needs one).
    local ring = dir.ring
    if not ring then
        local run = (highest - dir.first) % SEQ_MOD + 1
        if run > SEEN_LIMIT then run = SEEN_LIMIT end
        if (highest - seq) % SEQ_MOD < run then
            dir.duplicates = dir.duplicates + 1
            return "duplicate"
        end
        if (seq - highest) % SEQ_MOD == 1 then
            dir.unique = dir.unique + 1
            dir.highest = seq
            return nil
        end
        ring = {}
        for back = run - 1, 0, -1 do
            local number_seen = (highest - back) % SEQ_MOD
            ring[number_seen % SEEN_LIMIT] = number_seen
        end
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
-- Each blocked way in words: the expert message (short enough for the Expert Information
-- dialog's column), the likely cause (beside it in the tree), the calls overview's word.
local GRE_BLOCKED_WORDS = {
    no_gre_both_ways = { message = "No GRE either way within %d s",
        cause = "IP protocol 47 blocked, or the client gave up on the call (Windows: error 806)",
        overview = "none either way" },
    no_gre_from_client = { message = "No GRE from the client within %d s",
        cause = "protocol 47 blocked from client to server, or the client never accepted the "
            .. "call",
        overview = "none from client" },
    no_gre_from_server = { message = "No GRE from the server within %d s",
        cause = "protocol 47 blocked from server to client (a server NAT without a GRE mapping)",
        overview = "none from server" },
}

-- The expert of a blocked way (``prefix`` before its message), with its likely cause.
local function blocked_problem(item, blocked, prefix, with_tree)
    local words = GRE_BLOCKED_WORDS[blocked]
    problem(item, blocked, prefix .. string.format(words.message, settings.gre_grace), with_tree)
    if with_tree then set_generated(tree_add(item, cf.gre_blocked_cause, words.cause)) end
end

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
-- this dissector wrote last. Later messages append: TCP fences the column after a
-- reassembled message, and a set would then only replace what follows the fence.
local info_frame, info_text = -1, nil

local function set_info(pinfo, text)
    pinfo.cols.protocol = "PPTP"
    local column = pinfo.cols.info
    if info_frame == pinfo.number and tostring(column) == info_text then
        info_text = info_text .. ", " .. text
        column:append(", " .. text)
    else
        info_frame, info_text = pinfo.number, text
        column:set(text)
    end
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
-- Labels are given as items are made: appending to one costs more than the item.
local function message_tree(tvb, tree, name, mtype, length, available, problems, cookie)
    local item = tree:add(pptp_ctrl, tvb(), CTRL_TITLE .. ": " .. name)
    local items = {}
    item:add(cf.length, tvb(0, 2))
    items.type = item:add(cf.type, tvb(2, 2))
    items.magic_cookie = item:add(cf.magic_cookie, tvb(4, 4), cookie,
        string.format("Magic Cookie: 0x%08x (%s)", cookie,
            cookie == MAGIC_COOKIE and "correct" or "incorrect"))
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
        problem(item, "setup_unseen", string.format("Call %d learnt here: set-up not captured",
            note.learnt.number), with_tree)
    end
    -- Two passes know the whole capture: the diagnosis goes on the reply that connected the
    -- call. One pass shows it where the grace period ran out (see deadline_problems).
    local blocked = note.connected and pinfo.visited and gre_diagnosis(note.connected)
    if blocked then blocked_problem(item, blocked, "", with_tree) end
end

-- One pass: the GRE-blocked diagnoses found on this frame, once per dissection.
local deadline_frame = -1
local function deadline_problems(tree, pinfo, with_tree)
    local found = state.deadline_notes[pinfo.number]
    if not found or pinfo.visited or deadline_frame == pinfo.number then return end
    deadline_frame = pinfo.number
    for _, note in ipairs(found) do
        blocked_problem(tree, note.blocked, "Call " .. note.call.number .. ": ", with_tree)
    end
end

-- Why a reply refused its request (its result code in words), or nil: what an analyst asks
-- first when a VPN fails, so it goes to the Info column and Expert Information.
local REFUSALS = {
    [MsgType.SCCRP] = { 15, sccrp_results }, [MsgType.OCRP] = { 17, ocrp_results },
    [MsgType.ICRP] = { 17, icrp_results },
}
local function refusal_of(raw, mtype, length)
    local where = REFUSALS[mtype]
    if not where or length < where[1] or #raw < where[1] then return nil end
    local result = raw:byte(where[1])
    if result == 1 then return nil end
    return where[2][result] or ("result " .. result)
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
    local refusal = refusal_of(raw, mtype, math.min(available, length))
    set_info(pinfo, refusal and string.format("%s (%s)", name, refusal) or name)
    local problems = message_problems(tvb, mtype, length, available)
    local item = tree
    if with_tree then
        local c1, c2, c3, c4 = raw:byte(5, 8)
        item = message_tree(tvb, tree, name, mtype, length, available, problems,
            ((c1 * 256 + c2) * 256 + c3) * 256 + c4)
    else
        for _, found in ipairs(problems) do problem(tree, found[1], found[2], false) end
    end
    if refusal then
        item:add_proto_expert_info(ce.refused, string.format("%s refused: %s",
            mtype == MsgType.SCCRP and "Control connection" or "Call", refusal))
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
            local used = dissect(tvb, pinfo, tree, true)
            local failure = state.failures[pinfo.number]
            if failure then error(failure, 0) end
            return used
        end
        local ok, used = pcall(dissect, tvb, pinfo, tree, false)
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

----------------------------------------------------------------------------------------------
-- MPPE decryption (RFC 3078, 3079) keyed from a call's MS-CHAPv2 exchange (RFC 2759), with
-- the credentials of the file the preference pptp_gre.credentials_file names. Without one
-- none of it runs: each MPPE packet pays one check.
----------------------------------------------------------------------------------------------
local credentials -- { { user = name or nil, hash = NT hash }, ... }, or nil: decryption off
local credentials_problem -- why the file named could not be used
local credentials_frame -- the frame that says so

-- The credentials of ``path``: one per line, PASSWORD, USER:PASSWORD, nthash:HEX32 or
-- USER:nthash:HEX32; a line starting with "#" is a comment. A password is hashed at once
-- and its text dropped; nothing read is ever shown.
local function read_credentials(path)
    if path == "" then return nil end
    local file = io.open(path, "r")
    if not file then return nil, "cannot open the MPPE credentials file " .. path end
    local list = {}
    for line in file:lines() do
        line = line:gsub("\r$", "")
        if line ~= "" and not line:match("^%s*#") then
            local user, rest = line:match("^([^:]*):(.*)$")
            local hex
            if user == "nthash" then
                user, hex = nil, rest
            elseif rest and rest:sub(1, 7) == "nthash:" then
                hex = rest:sub(8)
            end
            local hash
            if hex then
                hash = #hex == 32 and crypto.from_hex(hex)
            else
                hash = crypto.nt_password_hash(rest or line)
                if not rest then user = nil end
            end
            if hash then list[#list + 1] = { user = user ~= "" and user or nil, hash = hash } end
        end
    end
    file:close()
    return list
end

local function load_credentials()
    -- A folder or a device opens as a file and fails only when read.
    local ok, list, problem_text = pcall(read_credentials, settings.credentials_file)
    if not ok then
        list, problem_text = nil, "cannot read the MPPE credentials file "
            .. settings.credentials_file
    end
    credentials, credentials_problem = list, problem_text
    credentials_frame = nil
end

-- What a CHAP packet of a call tells for decryption: the authenticator challenge (Challenge,
-- 16 octets: MS-CHAPv2), the peer challenge, NT-Response and user name (Response, 49
-- octets), the authenticator response (Success, "S=" and 40 hex digits).
local function note_chap(number, call, payload, info)
    local available = payload:len() - info
    if available < 4 then return end
    local code = payload(info, 1):uint()
    local length = math.min(payload(info + 2, 2):uint(), available)
    if (code == 1 or code == 2) and length >= 5 then
        local size = payload(info + 4, 1):uint()
        if 5 + size > length then return end
        local value = size > 0 and payload:raw(info + 5, size) or ""
        local mschapv2 = call.auth == "MS-CHAPv2"
        if code == 1 and size == 16 and mschapv2 then
            call.auth_challenge = value
        elseif code == 2 then
            local name = length > 5 + size and payload:raw(info + 5 + size, length - 5 - size)
                or ""
            call.user = call.user or name
            if mschapv2 and size == 49 then
                call.peer_challenge, call.nt_response = value:sub(1, 16), value:sub(25, 48)
                add_finding(number, "mschapv2_in_clear", display_name(name))
            end
        end
    elseif code == 3 and length > 4 and call.auth == "MS-CHAPv2" then
        call.authenticator = payload:raw(info + 4, length - 4):match("^S=(%x+)")
    end
end

-- The user name of a PAP Authenticate-Request or an EAP Response/Identity.
local function note_identity(call, proto, payload, info)
    local available = payload:len() - info
    if call.user or available < 5 then return end
    local code = payload(info, 1):uint()
    local length = math.min(payload(info + 2, 2):uint(), available)
    if proto == PppProto.PAP and code == 1 then
        local size = payload(info + 4, 1):uint()
        if size > 0 and 5 + size <= length then call.user = payload:raw(info + 5, size) end
    elseif proto == PppProto.EAP and code == 2 and payload(info + 4, 1):uint() == 1
        and length > 5 then
        call.user = payload:raw(info + 5, length - 5)
    end
end

-- A call's keys, once, at its first MPPE packet: which credential opens its handshake (the
-- authenticator response when the Success was seen, else the NT-Response), then both
-- directions' decryptors. ``call.keys`` says how it went.
local function derive_keys(call)
    if not (call.auth_challenge and call.nt_response and call.user) then
        call.keys = "no_handshake"
        return
    end
    if not call.key_bits then
        call.keys = "no_handshake" -- no CCP seen: the key length is unknown
        return
    end
    local user = call.user
    local short = user:match("[^\\]*$")
    local expected = call.authenticator and ("S=" .. call.authenticator:upper())
    for _, credential in ipairs(credentials) do
        local who = credential.user
        if not who or who == user or who == short then
            local hash = credential.hash
            local opens
            if expected then
                opens = crypto.authenticator_response(hash, call.nt_response, call.peer_challenge,
                    call.auth_challenge, user) == expected
            else
                opens = crypto.nt_response(call.auth_challenge, call.peer_challenge, user, hash)
                    == call.nt_response
            end
            if opens then
                local master = crypto.master_key(crypto.md4(hash), call.nt_response)
                local client_send, client_receive = crypto.start_keys(master, call.key_bits, false)
                call.to_pac.decryptor = crypto.mppe_new(client_send, call.key_bits, call.stateless)
                call.to_pns.decryptor = crypto.mppe_new(client_receive, call.key_bits,
                    call.stateless)
                call.keys, call.key_user = "decrypted", display_name(user)
                return
            end
        end
    end
    call.keys = "no_credential"
end

-- Whether ``plaintext`` reads as a PPP frame (protocol field first, maybe compressed): the
-- protocol number's low octet is odd and its high octet even (RFC 1661 §2); IPv4 starts
-- with version 4.
local function looks_like_ppp(plaintext)
    local a, b, c = plaintext:byte(1, 3)
    if not a then return false end
    if a % 2 == 1 then return a ~= PppProto.IP or b == nil or math.floor(b / 16) == 4 end
    if not b or b % 2 == 0 then return false end
    return a * 256 + b ~= PppProto.IP or c == nil or math.floor(c / 16) == 4
end

-- First pass: one MPPE packet of a call direction decrypted in capture order; the plaintext
-- kept for every later pass (state.plaintexts), or why not (the packet's findings).
local function decrypt_packet(number, call, dir, head, at, info, payload)
    if not call.keys then derive_keys(call) end
    if call.keys ~= "decrypted" then
        if not call.keys_noted then
            call.keys_noted = true
            add_finding(number, call.keys)
        end
        return
    end
    local high, low = head:byte(at + info + 1, at + info + 2)
    local word = high * 256 + low
    if math.floor(high / 0x20) % 2 == 1 then add_finding(number, "mppc_compressed") end
    local plaintext = crypto.mppe_decrypt(dir.decryptor, word, payload:raw(info + 2))
    if plaintext and math.floor(high / 0x20) % 2 == 0 and looks_like_ppp(plaintext) then
        state.plaintexts[number] = plaintext
    elseif not plaintext or math.floor(high / 0x20) % 2 == 0 then
        add_finding(number, "decryption_failed")
    end
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
            if credentials and payload:len() > info + 2 then
                if call then
                    decrypt_packet(number, call, dir, head, at, info, payload)
                elseif not dir.keys_noted then
                    dir.keys_noted = true -- GRE without a call: whose handshake is unknown
                    add_finding(number, "no_handshake")
                end
            end
            -- The count goes up by one per MPPE packet sent: a gap the GRE sequence numbers
            -- do not explain (more counts skipped than numbers, which other PPP packets such
            -- as LCP also take) is the sender's, not the network's.
            local count = (high % 16) * 256 + low
            if order ~= "duplicate" and order ~= "out_of_order" then
                local previous = dir.coherency
                if previous then
                    local step = (seq and dir.coherency_seq)
                        and (seq - dir.coherency_seq) % SEQ_MOD or 1
                    local advance = (count - previous) % 4096
                    if advance == 0 or advance > step then
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
    elseif call and proto == PppProto.CHAP then
        note_chap(number, call, payload, info)
    elseif call and (proto == PppProto.PAP or proto == PppProto.EAP) then
        note_identity(call, proto, payload, info)
    elseif call and proto == PppProto.CCP then
        local code, options = options_of(payload, info)
        if code == CONFIGURE_ACK and options[CCP_OPT_MPPE] and not call.mppe then
            call.mppe, call.mppe_frame = true, number
            call.key_bits, call.stateless = mppe_mode(options[CCP_OPT_MPPE])
        end
    end
end

-- Frames per packed chunk of state.gre_dir.
local FLOW_CHUNK = 1024

-- Packs the frames of the open chunk into a string (first pass, in frame order).
local function seal_chunk()
    local chunk, open = state.open_chunk, state.gre_dir
    local first = chunk * FLOW_CHUNK
    local parts = {}
    for number = first, first + FLOW_CHUNK - 1 do
        local dir = open[number]
        local id = dir and dir.id or 0
        if id > 0xFFFFFF then
            id = 0 -- beyond 3 octets (16.7 million flows): the frame stays in the table
        else
            open[number] = nil
        end
        parts[#parts + 1] = string.char(math.floor(id / 65536), math.floor(id / 256) % 256,
            id % 256)
    end
    state.gre_chunks[chunk] = table.concat(parts)
end

local function remember_flow(number, dir)
    local id = dir.id
    if not id then
        id = #state.flow_list + 1
        state.flow_list[id], dir.id = dir, id
    end
    local chunk = math.floor(number / FLOW_CHUNK)
    if chunk > state.open_chunk then
        seal_chunk()
        state.open_chunk = chunk
    end
    state.gre_dir[number] = dir
end

local function flow_of(number)
    local dir = state.gre_dir[number]
    if dir then return dir end
    local packed = state.gre_chunks[math.floor(number / FLOW_CHUNK)]
    if not packed then return nil end
    local at = number % FLOW_CHUNK * 3
    local a, b, c = packed:byte(at + 1, at + 3)
    return state.flow_list[(a * 256 + b) * 256 + c]
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
    remember_flow(number, dir)
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
    return dir
end

local function u32(a, b, c, d)
    return ((a * 256 + b) * 256 + c) * 256 + d
end

local flag_fields = { gf.checksum_bit, gf.routing_bit, gf.key_bit, gf.seq_bit, gf.strict_bit,
    gf.recursion, gf.ack_bit, gf.reserved_flags, gf.version }

-- GRE that is not enhanced GRE goes to Wireshark's own dissector; an exception it raises
-- would surface as a Lua error, so it becomes our expert instead.
local function to_builtin_gre(tvb, pinfo, tree)
    local ok, used = pcall(call_dissector, builtin_gre, tvb, pinfo, tree)
    if ok then return used end
    local with_tree = builds_tree(tree)
    problem(with_tree and tree_add(tree, pptp_gre, tvb()) or tree, "gre_error", nil, with_tree)
    return tvb_len(tvb)
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
    line = "Call: " .. call.number
    local mppe = call.mppe and string.format("MPPE %s%s", call.key_bits and (call.key_bits
        .. "-bit") or "", call.stateless and " stateless" or "")
    line = line .. string.format(" (client Call ID %s, server Call ID %s%s%s; authentication: "
        .. "%s; encryption: %s)", tostring(call.pns_id or "?"), tostring(call.pac_id or "?"),
        call.conn.stream and (", TCP stream " .. call.conn.stream) or "",
        call.kind == "unseen" and ", set-up not captured" or "",
        settled_text(auth_code, call.auth, call.auth_frame, visited),
        settled_text(mppe_code, mppe, call.mppe_frame, visited))
    lines[code] = line
    return line
end

local HEX_OCTETS = {}
for octet = 0, 255 do HEX_OCTETS[octet] = string.format("%02x", octet) end

-- The GRE tree's summary line: the call and direction, made once per flow (the sequence
-- numbers are the lines below: a label per packet costs as much as two tree items).
local function gre_label(dir, call_id)
    local call = dir and dir.call
    local label = dir and dir.label
    if not label or dir.label_of ~= call then
        if call then
            label = string.format("%s, Call %d, %s", GRE_TITLE, call.number,
                dir.to_pns and "server to client" or "client to server")
        elseif call_id then
            label = string.format("%s, Call ID %d, no call", GRE_TITLE, call_id)
        else
            label = GRE_TITLE
        end
        if dir then dir.label, dir.label_of = label, call end
    end
    return label
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
    if late == 0 then
        return string.format("%d lost (seq %s): none arrived later", gap.count,
            number_list(missing, gap.from))
    end
    return string.format("%d skipped: %d arrived later, %d lost (seq %s)", gap.count, late,
        gap.count - late, number_list(missing, gap.from))
end

local DECRYPTION_PROBLEMS = { "no_handshake", "no_credential", "decryption_failed",
    "mppc_compressed" }

-- The findings of the first pass about a packet (of flow ``dir``), raised on ``item``: a
-- tree item, or (no tree) the dissector's tree.
local function gre_findings(item, with_tree, dir, notes, visited, pinfo, call_id)
    local gap = notes.lost
    if gap then
        if with_tree then
            set_generated(tree_add(item, gf.lost, gap.count))
            if visited then
                set_generated(tree_add(item, gf.arrived_later, #gap.late))
                set_generated(tree_add(item, gf.never_arrived, gap.count - #gap.late))
            end
        end
        add_expert(item, ge.lost, loss_text(gap, visited))
    end
    if notes.duplicate then
        if with_tree then set_generated(tree_add(item, gf.duplicate, true)) end
        add_expert(item, ge.duplicate)
    end
    if notes.out_of_order then
        if with_tree then set_generated(tree_add(item, gf.out_of_order, true)) end
        add_expert(item, ge.out_of_order)
    end
    if notes.ack_unseen then problem(item, "ack_unseen", nil, with_tree) end
    if notes.weak_auth then
        add_expert(item, ge.weak_auth, "Weak authentication: " .. notes.weak_auth)
    end
    if notes.cleartext then
        local call = dir and dir.call
        if call then
            add_expert(item, ge.cleartext, string.format(
                "IP inside call %d (%s) without MPPE encryption", call.number,
                dir.to_pns and "server to client" or "client to server"))
        else
            add_expert(item, ge.cleartext)
        end
    end
    if notes.coherency_gap then problem(item, "coherency_gap", nil, with_tree) end
    if notes.mschapv2_in_clear then
        if with_tree then set_generated(tree_add(item, gf.user, notes.mschapv2_in_clear)) end
        add_expert(item, ge.mschapv2_in_clear, string.format("MS-CHAPv2 handshake "
            .. "of user %s in clear: crackable offline", notes.mschapv2_in_clear))
    end
    for _, name in ipairs(DECRYPTION_PROBLEMS) do
        if notes[name] then problem(item, name, nil, with_tree) end
    end
    if notes.address_mismatch and dir and dir.call then
        local call = dir.call
        problem(item, "address_mismatch", string.format("Call ID %d from %s, not its control "
            .. "peer %s", call_id, tostring(pinfo.src),
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

local function dissect_gre(tvb, pinfo, tree, visited)
    release_tcp_tap()
    local size = tvb_len(tvb)
    if size < 4 then
        pinfo.cols.protocol = "GRE"
        local with_tree = builds_tree(tree)
        problem(with_tree and tree_add(tree, pptp_gre, tvb()) or tree, "header_truncated",
            "GRE header cut off after " .. size .. " of 4 octets", with_tree)
        return size
    end
    -- The whole header is at most 20 octets: read it once as a string, with the first 8
    -- octets of the PPP frame after it.
    local head = tvb_raw(tvb, 0, size < 28 and size or 28)
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
    local payload = payload_size > 0 and range_tvb(tvb(offset)) or nil

    local number = pinfo.number
    local dir
    if visited then
        dir = flow_of(number)
    else
        dir = analyze_gre(pinfo, number, call_id, id_octets, seq, ack, payload_size, head,
            offset, payload)
    end
    local notes = state.gre_notes[number]
    -- Only a visible tree (the details pane, -V, -T fields) shows text, the generated marks
    -- and which octets a field covers; the fake trees of filters need the values alone, and
    -- every TvbRange made costs as much as the item.
    local shown = tree.visible
    local with_tree = shown or builds_tree(tree)
    local item = tree
    if with_tree then
        -- Labelled as it is made: appending to a label costs more than the whole label.
        item = shown and tree_add(tree, pptp_gre, tvb(0, offset), gre_label(dir, call_id))
            or tree_add(tree, pptp_gre, tvb(0, offset))
        local flags_range = tvb(0, 2)
        local flags_item = tree_add(item, gf.flags, flags_range)
        for i = 1, #flag_fields do tree_add(flags_item, flag_fields[i], flags_range) end
        if shown then
            tree_add(item, gf.protocol, tvb(2, 2))
            if key_at then
                tree_add(item, gf.payload_length, tvb(key_at, 2))
                tree_add(item, gf.call_id, tvb(key_at + 2, 2))
            end
            if seq_at then tree_add(item, gf.seq, tvb(seq_at, 4)) end
            if ack_at then tree_add(item, gf.ack, tvb(ack_at, 4)) end
        else
            tree_add(item, gf.protocol, protocol)
            if key_at then
                tree_add(item, gf.payload_length, payload_length)
                tree_add(item, gf.call_id, call_id)
            end
            if seq_at then tree_add(item, gf.seq, seq) end
            if ack_at then tree_add(item, gf.ack, ack) end
        end
        local call = dir and dir.call
        if call then
            local to_pns = dir.to_pns
            local call_item = shown
                and tree_add(item, gf.call, call.number, call_line(call, number, visited))
                or tree_add(item, gf.call, call.number)
            local frame_item = tree_add(item, gf.call_frame,
                to_pns and call.pns_frame or call.pac_frame)
            local stream = call.conn.stream
            local stream_item = stream and tree_add(item, gf.tcp_stream, stream)
            local auth_item = number == call.auth_frame and tree_add(item, gf.auth, call.auth)
            local mppe_item = number == call.mppe_frame and tree_add(item, gf.encrypted, true)
            if shown then
                set_generated(call_item)
                set_generated(frame_item)
                if stream_item then set_generated(stream_item) end
                if auth_item then set_generated(auth_item) end
                if mppe_item then set_generated(mppe_item) end
            end
        end
        local proto, info
        if payload then proto, info = ppp_protocol(head, offset) end
        if proto == PppProto.MPPE and payload_size >= info + 2 then
            local high, low = head:byte(offset + info + 1, offset + info + 2)
            if shown then
                tree_add(item, gf.mppe_header, payload(info, 2), high * 256 + low,
                    "MPPE header: 0x" .. HEX_OCTETS[high] .. HEX_OCTETS[low]
                    .. MPPE_BITS_TEXT[math.floor(high / 16)] .. (high % 16) * 256 + low .. ")")
            else
                tree_add(item, gf.mppe_header, high * 256 + low)
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

    -- A decrypted MPPE packet: the PPP frame inside, as its own data source, goes to the PPP
    -- dissector instead of the ciphertext.
    if credentials then
        local plaintext = state.plaintexts[number]
        local call = dir and dir.call
        if plaintext then
            payload = ByteArray.new(plaintext, true):tvb("Decrypted PPP")
            if with_tree then
                set_generated(tree_add(item, gf.decrypted, true))
                set_generated(tree_add(item, gf.key_bits, call.key_bits))
                set_generated(tree_add(item, gf.key_user, call.key_user))
            end
        elseif with_tree and call and call.mppe_frame and payload
            and ppp_protocol(head, offset) == PppProto.MPPE then
            set_generated(tree_add(item, gf.decrypted, false))
        end
    end
    -- On the first GRE packet, in every pass: the GUI shows only later passes.
    if credentials_problem and (credentials_frame or number) == number then
        credentials_frame = number
        problem(item, "credentials_unreadable", credentials_problem, with_tree)
    end

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
    if not pcall(call_dissector, handle, payload, pinfo, tree) then
        pinfo.cols.protocol = "GRE"
        problem(with_tree and tree_add(tree, pptp_gre, tvb(0, offset)) or tree, "ppp_error",
            nil, with_tree)
    end
    if call_id then prepend_column(pinfo.cols.info, info_prefix(dir, call_id)) end
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
    local seen = call.mppe_packets > 0 or (call.protocols and call.protocols[PppProto.MPPE])
    if seen and not call.mppe then
        return "MPPE (its negotiation not captured)" -- a capture that started mid-call
    end
    if not (call.mppe and call.mppe_packets > 0) then return "none" end
    return string.format("MPPE%s%s", call.key_bits and (" " .. call.key_bits .. "-bit") or "",
        call.stateless and " stateless" or " stateful")
end

-- Whether the call's MPPE was decrypted: "-" without a credentials file, "decrypted",
-- "no_handshake" or "no_credential".
local function decryption_text(call)
    if not credentials or not (call.mppe and call.mppe_packets > 0) then return "-" end
    return call.keys or "no_handshake"
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
    "s2c_duplicate", "s2c_out_of_order", "auth", "user", "encrypted", "encryption",
    "decryption", "disconnect_result", "ended", "gre_seen", "ppp",
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
        for _, value in ipairs({ call.auth or "none", call.user and display_name(call.user) or "-",
            tostring(call.mppe and call.mppe_packets > 0), encryption_text(call),
            decryption_text(call), call.disconnect_result or "-", ending(call), gre_text(call),
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

-- A flow's counts in words, the anomalies only where there are some.
local function flow_counts_text(dir)
    local packets, bytes, lost, duplicate, out_of_order = counts(dir)
    if packets == 0 then return "no GRE" end
    local anomalies = {}
    if lost > 0 then anomalies[#anomalies + 1] = lost .. " lost" end
    if duplicate > 0 then anomalies[#anomalies + 1] = duplicate .. " duplicate" end
    if out_of_order > 0 then anomalies[#anomalies + 1] = out_of_order .. " out of order" end
    return string.format("%d packets, %d bytes; %s", packets, bytes,
        #anomalies > 0 and table.concat(anomalies, ", ") or "none lost")
end

local function direction_line(label, dir)
    return string.format("  %-16s %s", label, flow_counts_text(dir))
end

local GRE_SEEN_TEXT = {
    both = "both sides within %d s", client = "only the client's within %d s (server's "
        .. "blocked?)", server = "only the server's within %d s (client's blocked?)",
    none = "none within %d s: IP protocol 47 blocked?",
}

-- The overview's row format for routes up to ``width`` long: columns two spaces apart (a
-- full column would run into the next).
local function overview_row(width)
    return "  %-3s  %-" .. width .. "s  %-9s  %-8s  %s"
end

-- The overview's line of a call: who, how it authenticated and encrypted, how its GRE went.
local function overview_line(call, route, row)
    local lost = numbers_lost(call.to_pac) + numbers_lost(call.to_pns)
    local blocked = gre_diagnosis(call)
    local gre = blocked and GRE_BLOCKED_WORDS[blocked].overview or lost > 0 and (lost .. " lost")
        or call.to_pac.packets + call.to_pns.packets > 0 and "ok"
        or (call.kind ~= "unseen" and not call.connected_at and "not connected" or "-")
    local encryption = encryption_text(call) == "none" and "none"
        or "MPPE" .. (call.mppe and call.key_bits and ("-" .. call.key_bits) or "")
    return string.format(row, call.number, route,
        call.auth or "none seen", encryption, gre)
end

-- "client -> server" of a call, without ports.
local function route_of(call)
    return (call.pns:gsub(":%d+$", "")) .. " -> " .. (call.pac:gsub(":%d+$", ""))
end

-- Statistics > PPTP Calls (and tshark -z pptp,report): an overview of one line per call,
-- then a block of labelled lines per call, readable in the window's default width.
local function calls_report()
    local lines = { string.format("PPTP calls: %d (set up or learnt in the capture)",
        #state.calls) }
    if #state.calls > 0 then
        local routes, width = {}, #"client -> server"
        for i, call in ipairs(state.calls) do
            routes[i] = route_of(call)
            if #routes[i] > width then width = #routes[i] end
        end
        local row = overview_row(width)
        table.insert(lines, "")
        table.insert(lines, string.format(row, "#", "client -> server", "auth", "encrypt", "GRE"))
        for i, call in ipairs(state.calls) do
            table.insert(lines, overview_line(call, routes[i], row))
        end
    end
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
        if auth == "PAP" then
            auth = auth .. " (the password crosses in clear)"
        elseif weak_auth[auth] then
            auth = auth .. " (weak: crackable offline)"
        end
        table.insert(lines, string.format("  %-16s %s", "authentication", auth))
        if call.user then
            table.insert(lines, string.format("  %-16s %s", "user", display_name(call.user)))
        end
        table.insert(lines, string.format("  %-16s %s", "encryption", encryption_text(call)))
        local decryption = decryption_text(call)
        if decryption ~= "-" then
            table.insert(lines, string.format("  %-16s %s", "decryption", ({
                decrypted = "decrypted with the credential of " .. tostring(call.key_user),
                no_handshake = "not possible: no MS-CHAPv2 handshake in the capture",
                no_credential = "no listed credential matches its MS-CHAPv2 handshake",
            })[decryption]))
        end
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
                table.insert(lines, "GRE without a call (no control message named these "
                    .. "Call IDs):")
            end
            orphans = orphans + 1
            table.insert(lines, string.format("  %s -> %s, Call ID %d, frames %d to %d",
                dir.sender, dir.receiver, dir.call_id, dir.first_frame, dir.last_frame))
            table.insert(lines, "    " .. flow_counts_text(dir))
            table.insert(lines, "    PPP: " .. protocols_text(dir.protocols))
        end
    end
    return table.concat(lines, "\n")
end

-- `tshark -z pptp,calls` and `-z pptp,report` (the Statistics > PPTP Calls text, for a
-- terminal): a tap that prints ``render()`` at the end. The run also watches TCP for closed
-- control connections (its own tap builds every tree anyway, so TCP's costs nothing more).
local function register_printing_tap(render)
    watching_closes = true
    ensure_tcp_tap()
    local tap = Listener.new("frame", "pptp_gre || pptp_ctrl")
    function tap.draw()
        print(render())
    end
end

if register_stat_cmd_arg then
    register_stat_cmd_arg("pptp,calls", function() register_printing_tap(calls_table) end)
    register_stat_cmd_arg("pptp,report", function() register_printing_tap(calls_report) end)
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
    load_credentials() -- again at every capture: the file may have changed
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
    settings.credentials_file = pptp_gre.prefs.credentials_file
end

tcp_port_table:add(settings.ports, pptp_ctrl)
ip_proto_table:add(47, pptp_gre)
pptp_ctrl:register_heuristic("tcp", heuristic)
