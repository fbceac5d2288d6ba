--[[
pptp-analysis: the pptp_gre dissector, enhanced GRE (RFC 2637 §4.1) on IP protocol 47 (a
module of the plugin, loaded by pptp.lua with require and linked by it; it registers nothing
and does nothing when run on its own). Each packet's header is shown and checked, tied to its
call and direction, its sequence number analysed (module sequence), its PPP followed (module
ppp) and handed to Wireshark's PPP dissector; GRE of other versions goes to Wireshark's own.
This is the plugin's hot path: the GRE of a VPN is most of what it sees.
]]

local M = {}

-- Methods of the hot paths taken from their classes once: `item:add(...)` finds "add"
-- through Wireshark's attribute dispatcher, a C call of its own on every use (5 to 6 % of
-- tshark's instructions when it builds trees, on Wireshark 4.0).
local tree_add, set_generated = TreeItem.add, TreeItem.set_generated
local add_expert = TreeItem.add_proto_expert_info
local tvb_len, tvb_raw, range_tvb = Tvb.len, Tvb.raw, TvbRange.tvb
local call_dissector = Dissector.call
local prepend_column = Column.prepend

-- Given by link(), at the end.
local pptp_gre, GRE_TITLE, state, settings
local gf, ge, problem, builds_tree, flag_fields
local GRE_PROTO_PPP, PppProto, SEQ_MOD, SEQ_HALF, SEQ_WINDOW, observe_sequence, loss_text
local sequence_confirmed
local remember_flow, flow_of, add_finding, new_flow
local gre_direction, check_deadlines, release_tcp_tap, deadline_problems
local ppp_protocol, analyze_ppp, show_decryption
local gre_proto_table, builtin_gre, ppp_handle

-- The flows of GRE no call claimed from one address to another, in the order first seen: a
-- flow's opposites are those sent the other way, with which it may pair.
local function orphan_route(sender, receiver)
    local routes = state.orphan_routes
    local route = sender .. ">" .. receiver
    local flows = routes[route]
    if not flows then
        flows = {}
        routes[route] = flows
    end
    return flows
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
    local same_way = orphan_route(sender, receiver)
    same_way[#same_way + 1] = dir
    dir.opposites = orphan_route(receiver, sender)
    add_finding(number, "without_call")
    return dir
end

-- GRE no call claimed that acknowledges ``ack``: the two directions of one tunnel are the
-- flow and the first unpaired flow the other way whose current numbers (within the window)
-- this acknowledges, both with a confirmed number (two lone packets, such as altered copies
-- whose Call IDs changed, are no tunnel). Pairs are fixed once made.
local function pair_orphan(dir, ack)
    if not sequence_confirmed(dir) then return end
    for _, other in ipairs(dir.opposites) do
        local highest = other.highest
        if highest and not other.paired and not other.call and other ~= dir
            and sequence_confirmed(other) then
            local reach = (highest - other.first) % SEQ_MOD
            if reach > SEQ_WINDOW then reach = SEQ_WINDOW end
            if (highest - ack) % SEQ_MOD <= reach then
                dir.paired, other.paired = other, dir
                return
            end
        end
    end
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
        dir.finish = now
    end
    remember_flow(number, dir)
    dir.packets = dir.packets + 1
    dir.bytes = dir.bytes + payload_size
    dir.first_time = dir.first_time or now
    dir.last_frame = number
    local order
    if seq and settings.sequence_analysis then
        local finding, value, restarted = observe_sequence(dir, seq, number, now)
        if finding then add_finding(number, finding, value) end
        if restarted then
            add_finding(number, "restart", restarted)
            add_finding(restarted.frame, "restarted_here", number)
        end
        order = finding
    end
    if ack then
        if back then
            if back.highest then
                local ahead = (ack - back.highest) % SEQ_MOD
                if ahead > 0 and ahead < SEQ_HALF then add_finding(number, "ack_unseen") end
            end
        elseif not dir.paired and not call then
            pair_orphan(dir, ack)
        end
    end
    if payload then analyze_ppp(number, call, dir, head, at, payload, seq, order) end
    return dir
end

local function u32(a, b, c, d)
    return ((a * 256 + b) * 256 + c) * 256 + d
end

-- GRE that is not enhanced GRE goes to Wireshark's own dissector; an exception it raises
-- would surface as a Lua error, so it becomes our expert instead.
local function to_builtin_gre(tvb, pinfo, tree)
    if not builtin_gre then return 0 end -- none left (4.0, after a reload): shown as data
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

-- A negotiation's outcome as the call line reads it at frame ``number``: the value and the
-- frame that settled it (on one pass, once that frame has passed; on two, on every packet),
-- else what is missing.
local function settled_text(subject, value, frame, number, visited, missing)
    if frame and (visited or number >= frame) then
        return string.format("%s (agreed in frame %d)", value, frame)
    end
    return visited and missing or (subject .. " not negotiated yet")
end

-- The call line of a GRE packet: the call's number, both Call IDs, its control connection,
-- and its authentication and encryption with the frame that settled each; the same on every
-- packet of the call on two passes. Made once per call for each of the few ways it reads,
-- and again when a later Configure-Ack changes what was agreed.
local function call_line(call, number, visited)
    local unseen = call.kind == "unseen"
    local auth_shown = call.auth_frame and (visited or number >= call.auth_frame)
    local mppe_shown = call.mppe_frame and (visited or number >= call.mppe_frame)
    local mppe_seen = call.protocols[PppProto.MPPE] ~= nil
    local lines = call.lines
    if not lines or lines.stream ~= call.conn.stream or lines.auth_frame ~= call.auth_frame then
        lines = { stream = call.conn.stream, auth_frame = call.auth_frame }
        call.lines = lines
    end
    local code = (auth_shown and 1 or 0) + (mppe_shown and 2 or 0) + (visited and 4 or 0)
        + (mppe_seen and 8 or 0)
    local line = lines[code]
    if line then return line end
    local mppe = call.mppe and ("MPPE" .. (call.key_bits and (" " .. call.key_bits .. "-bit")
        or "") .. (call.stateless and " stateless" or " stateful"))
    local no_mppe = mppe_seen and "MPPE, its negotiation not captured"
        or unseen and "encryption not captured" or "no encryption"
    line = string.format("Call #%d%s: Call IDs client %s, server %s%s; %s; %s", call.number,
        unseen and " (set-up not captured)" or "", tostring(call.pns_id or "?"),
        tostring(call.pac_id or "?"),
        call.conn.stream and ("; TCP stream " .. call.conn.stream) or "",
        settled_text("authentication", call.auth and ("authentication " .. call.auth)
            or "no authentication", call.auth_frame, number, visited,
            "authentication not captured"),
        mppe_seen and not call.mppe and no_mppe
            or settled_text("encryption", mppe, call.mppe_frame, number, visited, no_mppe))
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
            label = string.format("%s, call #%d %s, Call ID %d", GRE_TITLE, call.number,
                dir.to_pns and "server to client" or "client to server", call_id or 0)
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

-- Findings of the PPP inside (decryption, and frames no peer would accept), raised with the
-- text the analysis gave, if any.
local DECRYPTION_PROBLEMS = { "no_handshake", "no_credential", "decryption_failed",
    "mppc_compressed", "ppp_unmatched_ack", "chap_unmatched_response", "chap_unmatched_success" }

-- The findings of the first pass about a packet (of flow ``dir``), raised on ``item``: a
-- tree item, or (no tree) the dissector's tree.
local function gre_findings(item, with_tree, dir, notes, visited, pinfo, call_id, seq)
    local gap = notes.lost
    if gap then
        if with_tree then
            set_generated(tree_add(item, gf.lost, gap.count))
            if visited then
                set_generated(tree_add(item, gf.arrived_later, #gap.late))
                set_generated(tree_add(item, gf.never_arrived, gap.count - #gap.late))
            end
        end
        local all_late = visited and #gap.late == gap.count
        local text, unconfirmed = loss_text(gap, visited)
        add_expert(item, all_late and ge.skipped_arrived_later
            or unconfirmed and ge.skipped_unconfirmed or ge.lost, text)
    end
    if notes.duplicate then
        if with_tree then set_generated(tree_add(item, gf.duplicate, true)) end
        add_expert(item, ge.duplicate)
    end
    if notes.out_of_order then
        if with_tree then set_generated(tree_add(item, gf.out_of_order, true)) end
        add_expert(item, ge.out_of_order)
    end
    local restarted = notes.restart
    if restarted then
        if with_tree then set_generated(tree_add(item, gf.restart, 1)) end
        add_expert(item, ge.restart, string.format("Flow restarted at sequence number %d "
            .. "(frame %d)", restarted.seq, restarted.frame))
    end
    local reference = notes.out_of_window -- "highest confirmed N", or "highest N"
    if reference then
        if with_tree then set_generated(tree_add(item, gf.out_of_window, 1)) end
        -- Two passes know when a later packet went on from it: the flow restarted here.
        local went_on = visited and notes.restarted_here
        add_expert(item, ge.out_of_window, string.format("Sequence number %d out of the "
            .. "acceptance window (%s): %s", seq, reference, went_on and string.format(
                "the flow restarted here (frame %d went on from it)", went_on)
                or "counted apart"))
    end
    if notes.ack_unseen then problem(item, "ack_unseen", nil, with_tree) end
    if notes.weak_auth then
        problem(item, "weak_auth", "Weak authentication: " .. notes.weak_auth, with_tree)
    end
    if notes.cleartext then
        local call = dir and dir.call
        problem(item, "cleartext", call and string.format(
            "IP inside call #%d (%s) without MPPE encryption", call.number,
            dir.to_pns and "server to client" or "client to server"), with_tree)
    end
    if notes.coherency_gap then problem(item, "coherency_gap", nil, with_tree) end
    if notes.pap_in_clear then
        problem(item, "pap_in_clear", string.format("PAP password of user %s in clear",
            notes.pap_in_clear), with_tree)
    end
    if notes.mschapv2_in_clear then
        if with_tree then set_generated(tree_add(item, gf.user, notes.mschapv2_in_clear)) end
        problem(item, "mschapv2_in_clear", string.format("MS-CHAPv2 handshake of user %s in "
            .. "clear: crackable offline", notes.mschapv2_in_clear), with_tree)
    end
    for _, name in ipairs(DECRYPTION_PROBLEMS) do
        local found = notes[name]
        if found then problem(item, name, found ~= true and found or nil, with_tree) end
    end
    if notes.address_mismatch and dir and dir.call then
        local call = dir.call
        problem(item, "address_mismatch", string.format("Call ID %d from %s, not its control "
            .. "peer %s", call_id, tostring(pinfo.src),
            dir.to_pns and call.pac_address or call.pns_address), with_tree)
    end
    -- GRE a later control message tied to a call is no longer without one (two passes).
    if notes.without_call and not (visited and dir and dir.call) then
        problem(item, "without_call", settings.disabled.pptp_ctrl
            and "GRE without a call (PPTP_CTRL is disabled: no call is seen)", with_tree)
    end
end

-- The Info column's call for a flow: "Call #2 client→server, Call ID 50: " (the call's number
-- in the calls table, then the Call ID the packet carries) or, for GRE without a call, its
-- Call ID; kept on the flow, as it is set on every packet.
local function info_prefix(dir, call_id)
    local call = dir and dir.call
    if not call then return string.format("GRE without call, Call ID %d: ", call_id) end
    local prefix = dir.prefix
    if not prefix or dir.prefix_of ~= call then
        prefix = string.format("Call #%d %s, Call ID %d: ", call.number,
            dir.to_pns and "server→client" or "client→server", call_id)
        dir.prefix, dir.prefix_of = prefix, call
    end
    return prefix
end

-- What the Info column says of a packet's sequence number, as TCP's analysis does ("[TCP
-- Out-Of-Order]"), so that the packet list shows it: "" for a packet in order.
local function sequence_marks(notes)
    if not notes then return "" end
    local gap = notes.lost
    return (notes.restart and "[GRE restart] " or "")
        .. (gap and ("[GRE " .. gap.count .. " skipped] ") or "")
        .. (notes.out_of_order and "[GRE out of order] " or "")
        .. (notes.duplicate and "[GRE duplicate] " or "")
        .. (notes.out_of_window and "[GRE out of window] " or "")
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
            or tree_add(tree, pptp_gre)
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
            local assigned_in = to_pns and call.pns_frame or call.pac_frame
            local frame_item = shown and call.kind == "unseen" and assigned_in
                and tree_add(item, gf.call_frame, assigned_in,
                    "Call ID learnt from: " .. assigned_in .. " (its set-up is not captured)")
                or tree_add(item, gf.call_frame, assigned_in)
            local stream = call.conn.stream
            local stream_item = stream and tree_add(item, gf.tcp_stream, stream)
            local auth_item = number == call.auth_frame
                and tree_add(item, gf.auth, call.auth or "none")
            local mppe_item = number == call.mppe_frame and tree_add(item, gf.encrypted, true)
            if shown then
                set_generated(call_item)
                set_generated(frame_item)
                if stream_item then set_generated(stream_item) end
                if auth_item then set_generated(auth_item) end
                if mppe_item then set_generated(mppe_item) end
            end
        elseif dir and dir.paired then
            -- GRE without a call, paired with the flow the other way: one tunnel.
            local paired_item = tree_add(item, gf.paired_call_id, dir.paired.call_id)
            if shown then set_generated(paired_item) end
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
    if notes then gre_findings(item, with_tree, dir, notes, visited, pinfo, call_id, seq) end
    if state.deadline_notes[number] then deadline_problems(item, pinfo, with_tree) end
    -- A decrypted MPPE packet: the PPP frame inside, as its own data source, goes to the PPP
    -- dissector instead of the ciphertext.
    payload = show_decryption(item, with_tree, number, dir, payload, head, offset)

    -- The Info column starts with the call, put in front of what the PPP dissector (which
    -- also sets the protocol column) wrote.
    local handle = payload and (protocol == GRE_PROTO_PPP and ppp_handle
        or gre_proto_table:get_dissector(protocol))
    if not handle then
        pinfo.cols.protocol = "GRE"
        pinfo.cols.info = (call_id and info_prefix(dir, call_id) or "") .. sequence_marks(notes)
            .. (payload
            and "Encapsulated data" or ("Ack-only" .. (ack and (", ack=" .. ack) or "")))
        return size
    end
    if not pcall(call_dissector, handle, payload, pinfo, tree) then
        pinfo.cols.protocol = "GRE"
        problem(with_tree and tree_add(tree, pptp_gre, tvb(0, offset)) or tree, "ppp_error",
            nil, with_tree)
    end
    if call_id then
        prepend_column(pinfo.cols.info, info_prefix(dir, call_id) .. sequence_marks(notes))
    end
    return size
end

M.dissect = dissect_gre

function M.link(plugin)
    pptp_gre, GRE_TITLE = plugin.pptp_gre, plugin.GRE_TITLE
    state, settings = plugin.state.current, plugin.settings
    local fields = plugin.fields
    gf, ge, problem, builds_tree = fields.gre, fields.gre_experts, fields.problem,
        fields.builds_tree
    flag_fields = { gf.checksum_bit, gf.routing_bit, gf.key_bit, gf.seq_bit, gf.strict_bit,
        gf.recursion, gf.ack_bit, gf.reserved_flags, gf.version }
    GRE_PROTO_PPP, PppProto = plugin.protocol.GRE_PROTO_PPP, plugin.protocol.PppProto
    local sequence = plugin.sequence
    SEQ_MOD, SEQ_HALF, SEQ_WINDOW = sequence.SEQ_MOD, sequence.SEQ_HALF, sequence.SEQ_WINDOW
    observe_sequence, loss_text = sequence.observe, sequence.loss_text
    sequence_confirmed = sequence.is_confirmed
    remember_flow, flow_of = plugin.state.remember_flow, plugin.state.flow_of
    add_finding, new_flow = plugin.state.add_finding, plugin.state.new_flow
    gre_direction, check_deadlines = plugin.calls.gre_direction, plugin.calls.check_deadlines
    release_tcp_tap, deadline_problems = plugin.calls.release_tcp_tap,
        plugin.control.deadline_problems
    ppp_protocol, analyze_ppp = plugin.ppp.protocol_of, plugin.ppp.analyze
    show_decryption = plugin.decryption.show
    gre_proto_table = DissectorTable.get("gre.proto")
    builtin_gre = plugin.wiresharks_gre
    ppp_handle = gre_proto_table:get_dissector(GRE_PROTO_PPP)
end

return M
