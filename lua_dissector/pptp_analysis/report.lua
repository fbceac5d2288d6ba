--[[
pptp-analysis: the per-call summary (a module of the plugin, loaded by pptp.lua with require
and linked by it; it registers nothing and does nothing when run on its own): the calls table
of `tshark -z pptp,calls` (one tab-separated line per call) and the report of Statistics ›
PPTP Calls and `tshark -z pptp,report` (an overview line per call, then a block of labelled
lines per call, in words).
]]

local M = {}

-- Given by link(), at the end.
local state, settings, decryption, display_name, numbers_lost, NO_CALLS
local PppProto, weak_auth, gre_seen, gre_diagnosis, GRE_BLOCKED_WORDS

-- What the calls window says when the plugin's protocols are disabled, by which of them.
local DISABLED_TEXT = {
    both = "PPTP analysis is off: PPTP_CTRL and PPTP_GRE are disabled",
    pptp_ctrl = "PPTP control analysis is off: PPTP_CTRL is disabled, so no call is seen",
    pptp_gre = "PPTP GRE analysis is off: PPTP_GRE is disabled",
}

-- Which of DISABLED_TEXT's cases holds (nil: none), from what the entry found disabled.
local function disabled_case()
    local off = settings.disabled
    return off.pptp_ctrl and off.pptp_gre and "both" or off.pptp_ctrl and "pptp_ctrl"
        or off.pptp_gre and "pptp_gre" or nil
end

local function protocols_text(set)
    local names = {}
    for _, name in pairs(set or NO_CALLS) do table.insert(names, name) end
    table.sort(names)
    return #names > 0 and table.concat(names, ",") or "-"
end

-- packets, bytes, lost, duplicate, out of order, out of window, restarts of one flow.
local function counts(dir)
    return dir.packets, dir.bytes, numbers_lost(dir), dir.duplicates, dir.out_of_order,
        dir.out_of_window, dir.restarts
end

-- Whether the call carried MPPE: its packets counted, or (a call learnt mid-call, whose
-- earlier GRE it adopted) the protocol seen.
local function carried_mppe(call)
    return call.mppe_packets > 0 or (call.protocols and call.protocols[PppProto.MPPE]) ~= nil
end

local function encryption_text(call)
    if carried_mppe(call) and not call.mppe then
        return "MPPE (its negotiation not captured)" -- a capture that started mid-call
    end
    if not (call.mppe and call.mppe_packets > 0) then return "none" end
    return string.format("MPPE%s%s", call.key_bits and (" " .. call.key_bits .. "-bit") or "",
        call.stateless and " stateless" or " stateful")
end

-- Whether the call's MPPE was decrypted: "-" without a credentials file or MPPE packets,
-- "decrypted", "no_handshake" (a call learnt mid-call included) or "no_credential".
local function decryption_text(call)
    if not decryption.credentials or not carried_mppe(call) then return "-" end
    return call.keys or "no_handshake"
end

-- The overview's line on decryption (a credentials file given): which calls it opened and
-- why the others stay closed, by call number; nil when no call carried MPPE.
local DECRYPTION_WORDS = {
    decrypted = "decrypted", no_handshake = "no MS-CHAPv2 handshake captured",
    no_credential = "no listed credential opens it",
}
local function decryption_overview()
    local by_outcome, order = {}, { "decrypted", "no_handshake", "no_credential" }
    for _, call in ipairs(state.calls) do
        local outcome = decryption_text(call)
        if outcome ~= "-" then
            by_outcome[outcome] = by_outcome[outcome] or {}
            table.insert(by_outcome[outcome], "#" .. call.number)
        end
    end
    local parts = {}
    for _, outcome in ipairs(order) do
        if by_outcome[outcome] then
            parts[#parts + 1] = table.concat(by_outcome[outcome], ", ") .. " "
                .. DECRYPTION_WORDS[outcome]
        end
    end
    if #parts == 0 then return nil end
    return "decryption: " .. table.concat(parts, "; ")
end

-- ``text`` in lines of at most ``width`` characters, broken at spaces, each after ``indent``.
local function wrapped(text, width, indent)
    local lines, line = {}, indent
    for word in text:gmatch("%S+") do
        if #line > #indent and #line + 1 + #word > width then
            lines[#lines + 1] = line
            line = indent .. "  " .. word
        else
            line = line .. (#line > #indent and " " or "") .. word
        end
    end
    lines[#lines + 1] = line
    return lines
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

-- The width of the calls window's text beside its scroll bar.
local REPORT_WIDTH = 72

local function gre_text(call)
    return call.connected_at and gre_seen(call) or "-"
end

local TABLE_COLUMNS = {
    "call", "kind", "tcp_stream", "client", "server", "client_call_id", "server_call_id",
    "first_frame", "last_frame", "duration", "c2s_packets", "c2s_bytes", "c2s_lost",
    "c2s_duplicate", "c2s_out_of_order", "c2s_out_of_window", "c2s_restarts", "s2c_packets",
    "s2c_bytes", "s2c_lost", "s2c_duplicate", "s2c_out_of_order", "s2c_out_of_window",
    "s2c_restarts", "auth", "user", "encrypted", "encryption", "decryption",
    "disconnect_result", "ended", "gre_seen", "ppp",
}
local ORPHAN_COLUMNS = {
    "flow", "sender", "receiver", "call_id", "first_frame", "last_frame", "packets", "bytes",
    "lost", "duplicate", "out_of_order", "out_of_window", "restarts", "paired_call_id", "ppp",
}

-- "1 tunnel", "2 tunnels".
local function tunnels_text(count)
    return count .. (count == 1 and " tunnel" or " tunnels")
end

-- GRE without a call of at most this many packets, paired with none, is told in a group.
local SMALL_FLOW = 2

-- The Call ID of the flow the other way that GRE without a call is paired with, or nil (a
-- pair stays made, even if a later control message names one of its flows' call).
local function paired_call_id(dir)
    local paired = dir.paired
    return paired and paired.call_id
end

-- The PPP protocols of the two flows of a tunnel learnt from GRE alone.
local function tunnel_protocols(first, second)
    local protocols = {}
    for _, dir in ipairs({ first, second }) do
        for proto, name in pairs(dir.protocols or NO_CALLS) do protocols[proto] = name end
    end
    return protocols
end

-- The calls table's lines of the tunnels learnt from GRE alone, numbered after the calls: a
-- call of kind gre_only whose client is the side whose GRE came first, its Call IDs those of
-- its two flows, the columns of the control channel and of PPP it does not follow "-".
local function tunnel_lines()
    local lines, number = {}, #state.calls
    for _, first in ipairs(state.orphans) do
        local second = first.paired
        if second and not first.call and not second.call and first.number < second.number then
            number = number + 1
            local protocols = tunnel_protocols(first, second)
            local values = { number, "gre_only", "-", first.sender, first.receiver,
                second.call_id, first.call_id, first.first_frame,
                math.max(first.last_frame, second.last_frame), string.format("%.3f",
                    math.max(first.finish, second.finish) - first.first_time) }
            for _, dir in ipairs({ first, second }) do
                for _, value in ipairs({ counts(dir) }) do values[#values + 1] = value end
            end
            for _, value in ipairs({ "-", "-", tostring(protocols[PppProto.MPPE] ~= nil), "-",
                "-", "-", "-", "both", protocols_text(protocols) }) do
                values[#values + 1] = value
            end
            for i = 1, #values do values[i] = tostring(values[i]) end
            lines[#lines + 1] = values
        end
    end
    return lines
end

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
    for _, values in ipairs(tunnel_lines()) do
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
            values[#values + 1] = paired_call_id(dir) or "-"
            values[#values + 1] = protocols_text(dir.protocols)
            for i = 1, #values do values[i] = tostring(values[i]) end
            table.insert(lines, table.concat(values, "\t"))
        end
    end
    return table.concat(lines, "\n")
end

-- A flow's counts in words, the anomalies only where there are some.
local function flow_counts_text(dir)
    local packets, bytes, lost, duplicate, out_of_order, out_of_window, restarts = counts(dir)
    if packets == 0 then return "no GRE" end
    local anomalies = {}
    if lost > 0 then anomalies[#anomalies + 1] = lost .. " lost" end
    if duplicate > 0 then anomalies[#anomalies + 1] = duplicate .. " duplicate" end
    if out_of_order > 0 then anomalies[#anomalies + 1] = out_of_order .. " out of order" end
    if out_of_window > 0 then anomalies[#anomalies + 1] = out_of_window .. " out of window" end
    if restarts > 0 then
        anomalies[#anomalies + 1] = string.format("restarted %d time%s", restarts,
            restarts == 1 and "" or "s")
    end
    return string.format("%d packet%s, %d bytes; %s", packets, packets == 1 and "" or "s", bytes,
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

-- How a call authenticated, as its GRE packets' call line says it: the method, "none" when
-- the client agreed to options that ask for none, else ``unknown`` (the overview's "-", as
-- its other columns say it).
local function auth_text(call, unknown)
    return call.auth or call.auth_frame and "none" or unknown
end

-- The overview's line of a call: who, how it authenticated and encrypted, how its GRE went.
local function overview_line(call, route, row)
    if settings.disabled.pptp_gre then
        return string.format(row, call.number, route, "-", "-", "-")
    end
    local lost = numbers_lost(call.to_pac) + numbers_lost(call.to_pns)
    local blocked = gre_diagnosis(call)
    local gre = blocked and GRE_BLOCKED_WORDS[blocked].overview or lost > 0 and (lost .. " lost")
        or call.to_pac.packets + call.to_pns.packets > 0 and "ok"
        or (call.kind ~= "unseen" and not call.connected_at and "not connected" or "-")
    local encryption = encryption_text(call) == "none" and "none"
        or "MPPE" .. (call.mppe and call.key_bits and ("-" .. call.key_bits) or "")
    return string.format(row, call.number, route,
        auth_text(call, "-"), encryption, gre)
end

-- "client -> server" of a call, without ports.
local function route_of(call)
    return (call.pns:gsub(":%d+$", "")) .. " -> " .. (call.pac:gsub(":%d+$", ""))
end

-- Statistics > PPTP Calls (and tshark -z pptp,report): an overview of one line per call,
-- then a block of labelled lines per call, readable in the window's default width.
local function calls_report()
    local disabled = disabled_case()
    if disabled == "both" or disabled == "pptp_ctrl" then
        return DISABLED_TEXT[disabled] .. "\n(in Analyze > Enabled Protocols, or with "
            .. "--disable-protocol).\n" .. (disabled == "both"
                and "Wireshark's own dissectors decode the capture."
                or "Wireshark's PPTP decodes the control connection; GRE is analysed\n"
                    .. "without its calls.")
    end
    local orphans, paired_flows = {}, 0
    for _, dir in ipairs(state.orphans) do
        if not dir.call then
            orphans[#orphans + 1] = dir
            if dir.paired then paired_flows = paired_flows + 1 end
        end
    end
    local lines = { string.format("PPTP calls: %d (set up or learnt in the capture)",
        #state.calls) }
    if #orphans > 0 then
        table.insert(lines, string.format("GRE without a call: %d flow%s%s", #orphans,
            #orphans == 1 and "" or "s", paired_flows > 0 and string.format(", %d of them "
                .. "the ways of %s learnt from GRE alone", paired_flows, tunnels_text(
                    math.ceil(paired_flows / 2))) or ""))
    end
    if disabled then table.insert(lines, DISABLED_TEXT[disabled]) end
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
        local decrypted = decryption_overview()
        if decrypted then
            table.insert(lines, "")
            for _, line in ipairs(wrapped(decrypted, REPORT_WIDTH, "  ")) do
                table.insert(lines, line)
            end
        end
    end
    for _, call in ipairs(state.calls) do
        local kind = call.kind == "unseen" and "set-up not captured" or call.kind
        table.insert(lines, "")
        table.insert(lines, string.format("Call #%d: %s, TCP stream %s, frames %d to %d, %.3f s",
            call.number, kind, tostring(call.conn.stream or "?"), call.first_frame,
            call.last_frame, call.finish - call.start))
        table.insert(lines, string.format("  %-16s %s, Call ID %s", "client (PNS)", call.pns,
            tostring(call.pns_id or "?")))
        table.insert(lines, string.format("  %-16s %s, Call ID %s", "server (PAC)", call.pac,
            tostring(call.pac_id or "?")))
        if disabled == "pptp_gre" then
            table.insert(lines, string.format("  %-16s %s", "GRE", "not analysed: PPTP_GRE is "
                .. "disabled"))
            table.insert(lines, string.format("  %-16s %s", "ended", ending(call)))
            goto next_call
        end
        table.insert(lines, direction_line("client to server", call.to_pac))
        table.insert(lines, direction_line("server to client", call.to_pns))
        local auth = auth_text(call, "not captured")
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
        local decrypted = decryption_text(call)
        if decrypted ~= "-" then
            table.insert(lines, string.format("  %-16s %s", "decryption", ({
                decrypted = "decrypted with the credential of " .. tostring(call.key_user),
                no_handshake = "not possible: no MS-CHAPv2 handshake in the capture",
                no_credential = "no listed credential matches its MS-CHAPv2 handshake",
            })[decrypted]))
        end
        table.insert(lines, string.format("  %-16s %s", "ended", ending(call)))
        if call.connected_at then
            table.insert(lines, string.format("  %-16s " .. GRE_SEEN_TEXT[gre_seen(call)],
                "GRE", settings.gre_grace))
        end
        table.insert(lines, string.format("  %-16s %s", "PPP", protocols_text(call.protocols)))
        ::next_call::
    end
    -- Flows of a packet or two that pair with none are told apart only where there are
    -- several: such flows are mostly copies whose Call ID was damaged.
    local small, small_packets = {}, 0
    for _, dir in ipairs(orphans) do
        if dir.packets <= SMALL_FLOW and not dir.paired then
            small[#small + 1] = dir
            small_packets = small_packets + dir.packets
        end
    end
    local grouped = #small > 1
    if #orphans > 0 then
        table.insert(lines, "")
        table.insert(lines, "GRE without a call (no control message named these Call IDs):")
    end
    for _, dir in ipairs(orphans) do
        if not (grouped and dir.packets <= SMALL_FLOW and not dir.paired) then
            table.insert(lines, string.format("  %s -> %s, Call ID %d, frames %d to %d",
                dir.sender, dir.receiver, dir.call_id, dir.first_frame, dir.last_frame))
            table.insert(lines, "    " .. flow_counts_text(dir))
            local paired = paired_call_id(dir)
            if paired then
                table.insert(lines, string.format("    one tunnel with Call ID %d the other way "
                    .. "(learnt from GRE alone: its acknowledgments)", paired))
            end
            table.insert(lines, "    PPP: " .. protocols_text(dir.protocols))
        end
    end
    if grouped then
        table.insert(lines, string.format("  %d flows of one or two packets each, paired with "
            .. "none", #small))
        table.insert(lines, string.format("    %d packets, frames %d to %d: copies whose Call "
            .. "ID was damaged,", small_packets, small[1].first_frame, small[#small].last_frame))
        table.insert(lines, "    or stray packets; each has its line in tshark -z pptp,calls")
    end
    return table.concat(lines, "\n")
end


M.calls_table, M.calls_report = calls_table, calls_report

function M.link(plugin)
    state, settings, decryption = plugin.state.current, plugin.settings, plugin.decryption
    display_name, numbers_lost = plugin.text.display_name, plugin.sequence.numbers_lost
    PppProto, weak_auth = plugin.protocol.PppProto, plugin.protocol.weak_auth
    local calls = plugin.calls
    NO_CALLS, gre_seen, gre_diagnosis = calls.NO_CALLS, calls.gre_seen, calls.gre_diagnosis
    GRE_BLOCKED_WORDS = calls.GRE_BLOCKED_WORDS
end

return M
