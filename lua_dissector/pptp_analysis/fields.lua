--[[
pptp-analysis: the plugin's fields and experts (contract 1's filter names) and the layout of
each control message (RFC 2637 §2). A module of the plugin: pptp.lua calls define() with its
two protocols; run on its own, it does nothing.
]]

local M = {}

-- Whether Wireshark builds a tree for this packet: not for a plain `tshark -r`, where the
-- tree items are skipped (the analysis and the experts never are). A shown tree is visible;
-- the trees of filters and taps are not, and neither is the NULL tree of a plain read. Up to
-- Wireshark 4.4 the trees of filters are hidden and the NULL tree is not; from 4.6 on both
-- are hidden, and only whether the item exists tells them apart, which Wireshark says in the
-- item's text form alone (taking every NULL tree for a tree cost 4.6 two passes' worth of
-- tree items on a plain read). The text form costs about as much as a tree item, so it is
-- asked only where the flag cannot answer.
local major, minor = (get_version and get_version() or ""):match("^(%d+)%.(%d+)")
local NULL_TREE_HIDDEN = major and (tonumber(major) * 100 + tonumber(minor) >= 405)
function M.builds_tree(tree)
    if tree.visible then return true end
    if not NULL_TREE_HIDDEN then return tree.hidden end
    return tostring(tree):find("has item=true", 1, true) ~= nil
end

-- Registers the fields and experts of ``pptp_ctrl`` and ``pptp_gre`` (``protocol``: the
-- pptp_analysis.protocol module) and keeps them in this module: ctrl, gre (fields),
-- ctrl_experts, gre_experts, problem(), the message layouts and their lengths.
function M.define(pptp_ctrl, pptp_gre, protocol)
    local tree_add, set_hidden = TreeItem.add, TreeItem.set_hidden
    local add_expert = TreeItem.add_proto_expert_info
    local MsgType, HEADER_LENGTH = protocol.MsgType, protocol.HEADER_LENGTH
    local message_names, pptp_types = protocol.message_names, protocol.pptp_types
    local capability_names, bearer_names = protocol.capability_names, protocol.bearer_names
    local sccrp_results, error_codes = protocol.sccrp_results, protocol.error_codes
    local stop_reasons, ok_results = protocol.stop_reasons, protocol.ok_results
    local ocrp_results, icrp_results = protocol.ocrp_results, protocol.icrp_results
    local cdn_results = protocol.cdn_results
    local gre_versions, gre_protocols = protocol.gre_versions, protocol.gre_protocols

    -- Fields: pptp_ctrl (names mirror Wireshark's pptp.* fields)
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
        bearer_analog = ProtoField.bool("pptp_ctrl.bearer_capabilities.analog", "Analog", 32, nil,
            0x1),
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
        stop_result = ProtoField.uint8("pptp_ctrl.stop_result", "Result Code", base.DEC,
            ok_results),
        identifier = ProtoField.uint32("pptp_ctrl.identifier", "Identifier"),
        echo_result = ProtoField.uint8("pptp_ctrl.echo_result", "Result Code", base.DEC,
            ok_results),
        call_id = ProtoField.uint16("pptp_ctrl.call_id", "Call ID"),
        call_serial_number = ProtoField.uint16("pptp_ctrl.call_serial_number",
            "Call Serial Number"),
        minimum_bps = ProtoField.uint32("pptp_ctrl.minimum_bps", "Minimum BPS"),
        maximum_bps = ProtoField.uint32("pptp_ctrl.maximum_bps", "Maximum BPS"),
        bearer_type = ProtoField.uint32("pptp_ctrl.bearer_type", "Bearer Type", base.DEC,
            bearer_names),
        framing_type = ProtoField.uint32("pptp_ctrl.framing_type", "Framing Type", base.DEC,
            capability_names),
        packet_receive_window_size = ProtoField.uint16("pptp_ctrl.packet_receive_window_size",
            "Packet Receive Window Size"),
        packet_processing_delay = ProtoField.uint16("pptp_ctrl.packet_processing_delay",
            "Packet Processing Delay"),
        phone_number_length = ProtoField.uint16("pptp_ctrl.phone_number_length",
            "Phone Number Length"),
        phone_number = ProtoField.string("pptp_ctrl.phone_number", "Phone Number"),
        subaddress = ProtoField.string("pptp_ctrl.subaddress", "Subaddress"),
        peer_call_id = ProtoField.uint16("pptp_ctrl.peer_call_id", "Peer Call ID"),
        out_result = ProtoField.uint8("pptp_ctrl.out_result", "Result Code", base.DEC,
            ocrp_results),
        cause = ProtoField.uint16("pptp_ctrl.cause", "Cause Code"),
        connect_speed = ProtoField.uint32("pptp_ctrl.connect_speed", "Connect Speed"),
        physical_channel_id = ProtoField.uint32("pptp_ctrl.physical_channel_id",
            "Physical Channel ID"),
        dialed_number_length = ProtoField.uint16("pptp_ctrl.dialed_number_length",
            "Dialed Number Length"),
        dialed_number = ProtoField.string("pptp_ctrl.dialed_number", "Dialed Number"),
        dialing_number_length = ProtoField.uint16("pptp_ctrl.dialing_number_length",
            "Dialing Number Length"),
        dialing_number = ProtoField.string("pptp_ctrl.dialing_number", "Dialing Number"),
        in_result = ProtoField.uint8("pptp_ctrl.in_result", "Result Code", base.DEC, icrp_results),
        disc_result = ProtoField.uint8("pptp_ctrl.disc_result", "Result Code", base.DEC,
            cdn_results),
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
        call = ProtoField.uint32("pptp_ctrl.call", "Call number (in this capture)"),
        problem = ProtoField.string("pptp_ctrl.problem", "Problem"),
        -- What most often keeps a connected call's GRE away, beside the short expert message.
        gre_blocked_cause = ProtoField.string("pptp_ctrl.gre_blocked_cause", "Likely cause"),
    }
    local field_key = {} -- ProtoField -> its key in cf, to name decoded values
    for key, field in pairs(cf) do
        table.insert(pptp_ctrl.fields, field)
        field_key[field] = key
    end

    -- Fields: pptp_gre (names mirror Wireshark's gre.* fields where it has them)
    local gf = {
        flags = ProtoField.uint16("pptp_gre.flags", "Flags and Version", base.HEX),
        checksum_bit = ProtoField.bool("pptp_gre.flags.checksum", "Checksum Bit", 16, nil, 0x8000),
        routing_bit = ProtoField.bool("pptp_gre.flags.routing", "Routing Bit", 16, nil, 0x4000),
        key_bit = ProtoField.bool("pptp_gre.flags.key", "Key Bit", 16, nil, 0x2000),
        seq_bit = ProtoField.bool("pptp_gre.flags.sequence_number", "Sequence Number Bit", 16,
            nil, 0x1000),
        strict_bit = ProtoField.bool("pptp_gre.flags.strict_source_route",
            "Strict Source Route Bit", 16, nil, 0x0800),
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
        call = ProtoField.uint32("pptp_gre.call", "Call number (in this capture)"),
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
        -- A stray far from the highest confirmed number (counted apart, unless the flow
        -- restarted at it: its expert says which), and the packet after one that continued
        -- from it: the flow restarted there. GRE without a call: the Call ID of the flow the
        -- other way that its acknowledgments pair it with (one tunnel).
        out_of_window = ProtoField.uint8("pptp_gre.analysis.out_of_window",
            "Out of the acceptance window"),
        restart = ProtoField.uint8("pptp_gre.analysis.restart", "Flow restarted"),
        paired_call_id = ProtoField.uint16("pptp_gre.paired_call_id",
            "Paired with the flow the other way of Call ID"),
        -- The A, B, C, D bits and the coherency count (pptp_gre.mppe & 0x0fff) are in its text.
        mppe_header = ProtoField.uint16("pptp_gre.mppe", "MPPE header", base.HEX),
        -- Decryption (a credentials file given): whether this packet was, with which key.
        decrypted = ProtoField.bool("pptp_gre.decrypted", "Decrypted"),
        key_bits = ProtoField.uint8("pptp_gre.mppe.key_bits", "MPPE key length (bits)"),
        key_user = ProtoField.string("pptp_gre.mppe.user", "Decrypted with the credential of"),
        -- The user name a client's MS-CHAP, CHAP, PAP or EAP response gave.
        user = ProtoField.string("pptp_gre.user", "User name (as the client gave it)"),
        problem = ProtoField.string("pptp_gre.problem", "Problem"),
    }
    for _, field in pairs(gf) do table.insert(pptp_gre.fields, field) end

    -- Experts: every problem has a stable name, pptp_ctrl.expert.* or pptp_gre.expert.*; their
    -- summaries stay short enough for the Expert Information dialog's column.
    local expert_lists = { [pptp_ctrl] = {}, [pptp_gre] = {} }
    local function new_expert(proto, name, text, group, severity)
        -- Proto.name is upper case; filter names are the protocol's lower-case abbreviation.
        local e = ProtoExpert.new(proto.name:lower() .. ".expert." .. name, text, group, severity)
        table.insert(expert_lists[proto], e)
        return e
    end
    local group, severity = expert.group, expert.severity
    local ce = {
        bad_magic_cookie = new_expert(pptp_ctrl, "bad_magic_cookie",
            "Magic cookie is not 0x1A2B3C4D", group.MALFORMED, severity.ERROR),
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
        -- Two passes know when every number a packet skipped arrived later: reordering.
        skipped_arrived_later = new_expert(pptp_gre, "skipped_arrived_later",
            "GRE sequence numbers skipped here arrived later", group.SEQUENCE, severity.NOTE),
        -- ... and when the number that skipped them was never confirmed: no loss was counted.
        skipped_unconfirmed = new_expert(pptp_gre, "skipped_unconfirmed",
            "GRE sequence numbers skipped by an unconfirmed number", group.SEQUENCE,
            severity.NOTE),
        duplicate = new_expert(pptp_gre, "duplicate", "Duplicate GRE sequence number",
            group.SEQUENCE, severity.WARN),
        out_of_order = new_expert(pptp_gre, "out_of_order", "GRE packet out of order",
            group.SEQUENCE, severity.WARN),
        out_of_window = new_expert(pptp_gre, "out_of_window",
            "GRE sequence number out of the acceptance window", group.SEQUENCE, severity.WARN),
        restart = new_expert(pptp_gre, "restart", "GRE flow restarted its sequence numbers",
            group.SEQUENCE, severity.NOTE),
        ack_unseen = new_expert(pptp_gre, "ack_unseen",
            "Acks a sequence number the peer was not seen sending",
            group.SEQUENCE, severity.NOTE),
        coherency_gap = new_expert(pptp_gre, "coherency_gap", "MPPE coherency count skips",
            group.SEQUENCE, severity.WARN),
        weak_auth = new_expert(pptp_gre, "weak_auth",
            "Weak PPP authentication: in clear or crackable offline",
            group.SECURITY, severity.WARN),
        cleartext = new_expert(pptp_gre, "cleartext",
            "IP inside the tunnel without MPPE encryption", group.SECURITY, severity.WARN),
        ppp_error = new_expert(pptp_gre, "ppp_error", "PPP payload could not be dissected",
            group.MALFORMED, severity.ERROR),
        pap_in_clear = new_expert(pptp_gre, "pap_in_clear",
            "PAP password in clear", group.SECURITY, severity.WARN),
        mschapv2_in_clear = new_expert(pptp_gre, "mschapv2_in_clear",
            "MS-CHAPv2 handshake in clear: crackable offline", group.SECURITY, severity.WARN),
        no_handshake = new_expert(pptp_gre, "no_handshake",
            "No MS-CHAPv2 handshake captured: cannot decrypt", group.DECRYPTION,
            severity.NOTE),
        no_credential = new_expert(pptp_gre, "no_credential",
            "No listed credential opens this handshake",
            group.DECRYPTION, severity.WARN),
        decryption_failed = new_expert(pptp_gre, "decryption_failed",
            "MPPE packet not decrypted", group.DECRYPTION, severity.WARN),
        mppc_compressed = new_expert(pptp_gre, "mppc_compressed",
            "MPPC-compressed (C bit): decrypted, not decompressed", group.UNDECODED, severity.NOTE),
        credentials_unreadable = new_expert(pptp_gre, "credentials_unreadable",
            "The MPPE credentials file cannot be read", group.DECRYPTION, severity.WARN),
        header_truncated = new_expert(pptp_gre, "header_truncated",
            "GRE header cut off before its announced fields", group.MALFORMED, severity.ERROR),
        gre_error = new_expert(pptp_gre, "gre_error",
            "Wireshark's GRE dissector failed on this packet", group.MALFORMED, severity.ERROR),
        -- PPP followed as its peers follow it: frames no peer would take for an answer.
        ppp_unmatched_ack = new_expert(pptp_gre, "ppp_unmatched_ack",
            "Configure-Ack that echoes no Configure-Request: ignored",
            group.PROTOCOL, severity.WARN),
        chap_unmatched_response = new_expert(pptp_gre, "chap_unmatched_response",
            "CHAP Response to no Challenge: ignored", group.PROTOCOL, severity.WARN),
        chap_unmatched_success = new_expert(pptp_gre, "chap_unmatched_success",
            "CHAP Success that acknowledges no Response: ignored", group.PROTOCOL, severity.WARN),
    }
    -- Proto.experts registers the experts only when assigned a whole table.
    pptp_ctrl.experts = expert_lists[pptp_ctrl]
    pptp_gre.experts = expert_lists[pptp_gre]

    -- Raises the expert ``name`` on ``item``, whether or not Wireshark builds a tree: Expert
    -- Information and `-z expert` read experts raised on a pass without one (the GUI's first
    -- pass, a plain `tshark -r`). With a tree (``with_tree``), names the problem in a field too,
    -- as Lua experts cannot be filtered on in Wireshark 4.0 (pptp_ctrl.problem == "truncated"):
    -- a hidden one, as the expert shown says the same in words.
    local function problem(item, name, text, with_tree)
        local e, field = ce[name], cf.problem
        if not e then e, field = ge[name], gf.problem end
        if text then add_expert(item, e, text) else add_expert(item, e) end
        if with_tree ~= false then set_hidden(tree_add(item, field, name)) end
    end

    -- Message layouts (RFC 2637 §2): field, size in octets, kind
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
        [MsgType.STOPCCRQ] = {
            { cf.reason, 1, U }, { cf.reserved, 1, RES }, { cf.reserved, 2, RES },
        },
        [MsgType.STOPCCRP] = {
            { cf.stop_result, 1, U }, { cf.error, 1, U }, { cf.reserved, 2, RES },
        },
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
            { cf.buffer_overruns, 4, U }, { cf.timeout_errors, 4, U },
            { cf.alignment_errors, 4, U },
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

    M.ctrl, M.gre, M.ctrl_experts, M.gre_experts = cf, gf, ce, ge
    M.problem, M.field_key = problem, field_key
    M.layouts, M.fixed_length = layouts, fixed_length
    M.UINT, M.STRING, M.RESERVED = U, STR, RES
end

return M
