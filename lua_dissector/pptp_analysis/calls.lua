--[[
pptp-analysis: control connections and calls (a module of the plugin, loaded by pptp.lua with
require and linked by it; it registers nothing and does nothing when run on its own). The
first pass applies each control message to its connection and calls: request/reply links,
the Call IDs GRE is filed under, how each call ended, and whether its GRE came (the firewall
diagnosis). TCP's tap tells each connection its stream and when it closed.
]]

local M = {}

local NO_CALLS = {}

-- Given by link(): the capture's state, the preferences, and the parts of other modules used.
local state, settings
local endpoint, connection_key, receiver_key, new_flow
local MsgType, ocrp_results, icrp_results, cdn_results
local cf, problem, tree_add, set_generated

function M.link(plugin)
    state, settings = plugin.state.current, plugin.settings
    endpoint, connection_key = plugin.state.endpoint, plugin.state.connection_key
    receiver_key, new_flow = plugin.state.receiver_key, plugin.state.new_flow
    local protocol = plugin.protocol
    MsgType, ocrp_results = protocol.MsgType, protocol.ocrp_results
    icrp_results, cdn_results = protocol.icrp_results, protocol.cdn_results
    cf, problem = plugin.fields.ctrl, plugin.fields.problem
    tree_add, set_generated = TreeItem.add, TreeItem.set_generated
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
M.set_pptp_ports = set_pptp_ports

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
-- capture ends sooner, never had the chance to show its GRE; and none with PPTP_GRE disabled,
-- where no call's GRE is seen.
local function gre_diagnosis(call)
    if not call.connected_at or settings.disabled.pptp_gre then return nil end
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

-- The printing taps (-z pptp,calls and pptp,report) and the calls window also want to know
-- when each control connection's TCP closed: TCP's tap stays on while ``watching`` is true.
function M.watch_closes(watching)
    watching_closes = watching
    if watching then ensure_tcp_tap() end
end

function M.watching_closes()
    return watching_closes
end

-- A new capture: nothing awaits its stream, and TCP's tap goes at the next packet.
function M.reset()
    release_tcp_tap(true)
end

M.await_stream, M.release_tcp_tap = await_stream, release_tcp_tap
M.connection_for, M.store_connection = connection_for, store_connection
M.gre_direction, M.gre_seen, M.gre_diagnosis = gre_direction, gre_seen, gre_diagnosis
M.GRE_BLOCKED_WORDS, M.blocked_problem = GRE_BLOCKED_WORDS, blocked_problem
M.check_deadlines, M.track_message, M.NO_CALLS = check_deadlines, track_message, NO_CALLS

return M
