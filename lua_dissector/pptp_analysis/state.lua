--[[
pptp-analysis: the state of one capture, built on the first pass and read on later ones (a
module of the plugin, loaded by pptp.lua with require; it registers nothing and does nothing
when run on its own): what the analysis keeps, the keys it files things under, which flow
each GRE frame belongs to, and the findings of the few packets that have any.
]]

local M = {}

-- The capture's state: one table for the whole run, emptied and refilled by reset() (at
-- every init), so that every module may hold on to it.
local state = {}
M.current = state

function M.reset()
    for key in pairs(state) do state[key] = nil end
    -- Kept small: a capture may hold 100,000s of control connections and messages.
    -- both endpoints' key -> state name, or { state, started, pending, calls, stream }
    state.connections = {}
    -- receiver address and Call ID -> the call GRE to it belongs to (the latest set up)
    state.receivers = {}
    -- the same key -> { sender address -> call }, only where two calls share that key
    state.shared_receivers = {}
    state.calls = {} -- every call, set up or learnt, in the order seen (its number)
    -- GRE no call claimed, per receiver address, Call ID and sender: receiver key ..
    -- sender -> flow; in the order first seen in orphans (their number)
    state.flows = {}
    state.orphans = {}
    -- sender .. ">" .. receiver -> the flows of GRE no call claimed sent that way, in order
    state.orphan_routes = {}
    -- message key -> true; a reply: minus its request's frame; a request once answered:
    -- its reply's frame (then, if it is a reply too, ICRP, its request is in reply_to)
    state.messages = {}
    state.reply_to = {}
    state.reply_time = {} -- message key -> seconds since that request
    state.message_notes = {} -- message key -> { out_of_state, collision, nat_editor, ... }
    state.message_call = {} -- message key -> the call it belongs to, for messages of a call
    -- frame -> the flow (call direction) of that GRE packet: for the frames of the chunk
    -- of FLOW_CHUNK being analysed (and any analysed after it was sealed) a table; for
    -- sealed chunks (gre_chunks: chunk -> string) 3 octets per frame, the flow's number
    -- in flow_list (0: none). Packed, a frame costs 3 octets of heap instead of 16, and
    -- a collector that runs without pause walks the whole heap on every cycle.
    state.gre_dir = {}
    state.gre_chunks = {}
    state.open_chunk = 0
    state.flow_list = {} -- every flow that got a GRE packet, by its number (flow.id)
    state.gre_notes = {} -- frame -> what the analysis found, only for packets with findings
    state.plaintexts = {} -- frame -> its decrypted PPP frame (with a credentials file only)
    -- Connected calls waiting for their grace period to pass, in order (one pass:
    -- the GRE-blocked diagnosis goes on the first PPTP frame after it)
    state.awaiting_gre = {}
    state.awaiting_first = 1
    state.deadline_notes = {} -- frame -> { call, diagnosis } found there on the first pass
    state.failures = {} -- frame -> a Lua error its first pass raised (see surfacing_errors)
    state.last_time = 0 -- when the last PPTP message or GRE packet was seen
    state.last_frame = 0
end
M.reset()

-- A Lua error raised on the first pass would be seen only there, yet tshark -2 and the GUI's
-- packet details show later passes, where the state is already built. So it is kept, and
-- raised again on every later pass after the packet is shown: a bug can never hide.
function M.surfacing_errors(dissect)
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

----------------------------------------------------------------------------------------------
-- Keys
----------------------------------------------------------------------------------------------
function M.endpoint(address, port)
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
M.u16_key = u16_key

-- The key of this packet's control connection: its two endpoints.
function M.connection_key(pinfo)
    local a = address_key(pinfo.src) .. u16_key(pinfo.src_port)
    local b = address_key(pinfo.dst) .. u16_key(pinfo.dst_port)
    return a < b and (a .. b) or (b .. a)
end

-- The key of GRE sent to ``address`` (text) carrying ``call_id`` (its two octets as they
-- travel): short, as Lua 5.2 hashes only every other character of a 32-octet string.
function M.receiver_key(address, call_id)
    return address .. u16_key(call_id)
end

----------------------------------------------------------------------------------------------
-- GRE flows: one direction of a call, or GRE no call claimed (an orphan flow: ``call`` is nil
-- until a later control message teaches the call it belongs to).
----------------------------------------------------------------------------------------------
function M.new_flow(call, to_pns)
    return { packets = 0, bytes = 0, duplicates = 0, out_of_order = 0, out_of_window = 0,
        restarts = 0, lost_before = 0, call = call, to_pns = to_pns }
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

-- The GRE packet of frame ``number`` belongs to flow ``dir``.
function M.remember_flow(number, dir)
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

-- The flow of the GRE packet of frame ``number``, or nil.
function M.flow_of(number)
    local dir = state.gre_dir[number]
    if dir then return dir end
    local packed = state.gre_chunks[math.floor(number / FLOW_CHUNK)]
    if not packed then return nil end
    local at = number % FLOW_CHUNK * 3
    local a, b, c = packed:byte(at + 1, at + 3)
    return state.flow_list[(a * 256 + b) * 256 + c]
end

-- The findings of a packet, kept only for the few packets that have any.
function M.add_finding(number, name, value)
    local notes = state.gre_notes[number]
    if not notes then
        notes = {}
        state.gre_notes[number] = notes
    end
    notes[name] = value == nil or value
end

return M
