--[[
pptp-analysis: the pptp_ctrl dissector, PPTP control messages on TCP (a module of the plugin,
loaded by pptp.lua with require and linked by it; it registers nothing and does nothing when
run on its own). Messages are framed across TCP segments, every field of RFC 2637 shown, each
problem an expert, and the first pass applies each message to the state (module calls).
]]

local M = {}

-- Given by link(), at the end.
local pptp_ctrl, CTRL_TITLE, state, settings, calls
local MsgType, MAGIC_COOKIE, HEADER_LENGTH, MAX_LENGTH, PROTOCOL_VERSION
local message_names, sccrp_results, ocrp_results, icrp_results
local cf, ce, problem, builds_tree, layouts, fixed_length, field_key, U, STR, RES
local NO_CALLS, connection_key, connection_for, store_connection, track_message
local gre_diagnosis, blocked_problem, await_stream, release_tcp_tap, check_deadlines

local function nstime(seconds)
    local whole = math.floor(seconds)
    return NSTime.new(whole, math.floor((seconds - whole) * 1e9 + 0.5))
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

-- The message just set in the Info column (``text``), now with the call it belongs to, as
-- GRE's rows show it: "Call #2: Call-Clear-Request".
local function info_with_call(pinfo, text, call)
    local column = pinfo.cols.info
    if info_frame ~= pinfo.number or tostring(column) ~= info_text
        or info_text:sub(-#text) ~= text then
        return
    end
    info_text = info_text:sub(1, -#text - 1) .. "Call #" .. call.number .. ": " .. text
    column:set(info_text)
end

-- The values the state machine reads, by message type: { key, offset, size } each.
local TRACKED = { identifier = true, call_id = true, peer_call_id = true, out_result = true,
    in_result = true, disc_result = true }
local tracked_fields, TRACKED_SPAN = {}, 0
local function find_tracked_fields()
    TRACKED_SPAN = HEADER_LENGTH
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
        if call then item:add(cf.call, call.number, "Call #" .. call.number):set_generated() end
    end
    local note = state.message_notes[key]
    if not note then return end
    if note.out_of_state then
        problem(item, "out_of_state", name .. " is not expected here", with_tree)
    end
    if note.collision then problem(item, "call_id_collision", nil, with_tree) end
    if note.nat_editor then problem(item, "nat_editor", nil, with_tree) end
    if note.learnt then
        problem(item, "setup_unseen", string.format("Call #%d learnt here: set-up not captured",
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
        blocked_problem(tree, note.blocked, "Call #" .. note.call.number .. ": ", with_tree)
    end
end

-- Why a reply refused its request (its result code in words), or nil: what an analyst asks
-- first when a VPN fails, so it goes to the Info column and Expert Information.
-- By message type: where its result code is (1-based) and the names of the codes.
local REFUSALS = {}
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
    local info = refusal and string.format("%s (%s)", name, refusal) or name
    set_info(pinfo, info)
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
    if not state.messages[key] then return end
    local call = state.message_call[key]
    if call then info_with_call(pinfo, info, call) end
    message_analysis(item, with_tree, key, name, pinfo)
end

-- Octets the PDU at ``offset`` claims, capped so garbage cannot swallow the stream.
local function pdu_length(tvb, offset)
    local length = tvb(offset, 2):uint()
    if length < HEADER_LENGTH or length > MAX_LENGTH then return nil end
    return length
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

function M.link(plugin)
    pptp_ctrl, CTRL_TITLE = plugin.pptp_ctrl, plugin.CTRL_TITLE
    state, settings, calls = plugin.state.current, plugin.settings, plugin.calls
    local protocol = plugin.protocol
    MsgType, MAGIC_COOKIE = protocol.MsgType, protocol.MAGIC_COOKIE
    HEADER_LENGTH, MAX_LENGTH = protocol.HEADER_LENGTH, protocol.MAX_LENGTH
    PROTOCOL_VERSION, message_names = protocol.PROTOCOL_VERSION, protocol.message_names
    sccrp_results, ocrp_results = protocol.sccrp_results, protocol.ocrp_results
    icrp_results = protocol.icrp_results
    local fields = plugin.fields
    cf, ce, problem, builds_tree = fields.ctrl, fields.ctrl_experts, fields.problem,
        fields.builds_tree
    layouts, fixed_length, field_key = fields.layouts, fields.fixed_length, fields.field_key
    U, STR, RES = fields.UINT, fields.STRING, fields.RESERVED
    NO_CALLS, connection_key = calls.NO_CALLS, plugin.state.connection_key
    connection_for, store_connection = calls.connection_for, calls.store_connection
    track_message, gre_diagnosis = calls.track_message, calls.gre_diagnosis
    blocked_problem, await_stream = calls.blocked_problem, calls.await_stream
    release_tcp_tap, check_deadlines = calls.release_tcp_tap, calls.check_deadlines
    REFUSALS = {
        [MsgType.SCCRP] = { 15, sccrp_results }, [MsgType.OCRP] = { 17, ocrp_results },
        [MsgType.ICRP] = { 17, icrp_results },
    }
    find_tracked_fields()
end

-- A new capture: the Info column and the deadline notes start afresh.
function M.reset()
    info_frame, info_text, deadline_frame = -1, nil, -1
end

M.dissect, M.deadline_problems = dissect_control, deadline_problems
M.heuristic = heuristic

return M
