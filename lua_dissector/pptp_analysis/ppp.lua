--[[
pptp-analysis: the PPP inside a call's GRE (a module of the plugin, loaded by pptp.lua with
require and linked by it; it registers nothing and does nothing when run on its own): which
protocols a call carries, the authentication LCP settles and the user it names, MPPE as CCP
settles it, the coherency counts, and cleartext IP. The frames themselves go to Wireshark's
PPP dissector.
]]

local M = {}

-- Given by link(), at the end.
local add_finding, display_name, decryption, SEQ_MOD
local PppProto, ppp_names, CONFIGURE_REQUEST, CONFIGURE_ACK, TERMINATE_ACK
local LCP_OPT_AUTH, CCP_OPT_MPPE
local chap_algorithms, weak_auth, MPPE_KEY_BITS, MPPE_STATELESS, COUNT_SPACE, COUNT_WINDOW

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

-- How many Configure-Requests per side and protocol, and CHAP Challenges and Responses, a
-- call remembers to tell a peer's answer from a frame no peer would accept.
local REMEMBERED = 8

-- Code, identifier and options (their octets, up to the length field) of an LCP or CCP
-- packet whose information field starts at ``info``: no options if it is cut off before
-- its header or its length is one no peer would take (below 4, or beyond the octets there).
local function negotiation_of(payload, info)
    local available = payload:len() - info
    if available < 4 then return available > 0 and payload(info, 1):uint() or nil end
    local code, identifier, high, low = payload:raw(info, 4):byte(1, 4)
    local length = high * 256 + low
    if length < 4 or length > available then return code, identifier, nil end
    return code, identifier, length > 4 and payload:raw(info + 4, length - 4) or ""
end

-- The options in ``octets``: kind -> its data (a string).
local function options_in(octets)
    local found = {}
    local at, size_of = 1, #octets
    while at < size_of do
        local kind, size = octets:byte(at, at + 1)
        if size < 2 or at + size - 1 > size_of then break end
        found[kind] = octets:sub(at + 2, at + size - 1)
        at = at + size
    end
    return found
end

local function auth_of(option)
    local high, low, algorithm = option:byte(1, 3)
    if not low then return nil end
    local proto = high * 256 + low
    if proto == PppProto.PAP then return "PAP" end
    if proto == PppProto.EAP then return "EAP" end
    if proto == PppProto.CHAP and algorithm then return chap_algorithms[algorithm] or "CHAP" end
    return string.format("0x%04x", proto)
end

-- The key length and mode an MPPE option acknowledges: the strongest bit set wins.
local function mppe_mode(option)
    local a, b, c, d = option:byte(1, 4)
    if not d then return nil, false end
    local bits = ((a * 256 + b) * 256 + c) * 256 + d
    local stateless = math.floor(bits / MPPE_STATELESS) % 2 == 1
    for _, pair in ipairs(MPPE_KEY_BITS) do
        if math.floor(bits / pair[1]) % 2 == 1 then return pair[2], stateless end
    end
    return nil, stateless
end

local function remember(list, entry)
    list[#list + 1] = entry
    if #list > REMEMBERED then table.remove(list, 1) end
end

-- The Configure-Requests one side of ``call`` sent lately with protocol ``proto``: each as
-- its identifier's octet followed by its options, the very octets an Ack must echo.
local function requests_of(call, from_server, proto)
    local sides = call.requests
    if not sides then
        sides = { [true] = {}, [false] = {} }
        call.requests = sides
    end
    local list = sides[from_server][proto]
    if not list then
        list = {}
        sides[from_server][proto] = list
    end
    return list
end

local function side_name(from_server)
    return from_server and "server" or "client"
end

-- An LCP or CCP packet of a call: Configure-Requests are remembered; a Configure-Ack settles
-- what it acknowledges only if it echoes one of them from the other side, identifier and
-- options exactly (RFC 1661 §5.2): anything else no peer would take for an answer.
local function negotiate(number, call, from_server, proto, payload, info)
    local code, identifier, options = negotiation_of(payload, info)
    if code == TERMINATE_ACK and proto == PppProto.LCP then
        call.lcp_terminated = call.lcp_terminated or number
        return
    elseif code == CONFIGURE_REQUEST and options then
        remember(requests_of(call, from_server, proto), string.char(identifier) .. options)
        return
    elseif code ~= CONFIGURE_ACK then
        return
    end
    local echoed = options and string.char(identifier) .. options
    local answers = false
    for _, request in ipairs(requests_of(call, not from_server, proto)) do
        if request == echoed then answers = true end
    end
    if not answers then
        add_finding(number, "ppp_unmatched_ack", string.format("%s Configure-Ack that echoes "
            .. "no Configure-Request of the %s: ignored", ppp_names[proto],
            side_name(not from_server)))
        return
    end
    local found = options_in(options)
    if proto == PppProto.LCP then
        if found[LCP_OPT_AUTH] then
            call.auth, call.auth_frame = auth_of(found[LCP_OPT_AUTH]), number
            if weak_auth[call.auth] then add_finding(number, "weak_auth", call.auth) end
        elseif not from_server and not call.auth then
            -- The client agreed to the server's options, and they ask for no authentication
            -- (the server is the one to ask): an auth_frame without an auth.
            call.auth_frame = call.auth_frame or number
        end
    elseif found[CCP_OPT_MPPE] and not call.mppe then
        call.mppe, call.mppe_frame = true, number
        call.key_bits, call.stateless = mppe_mode(found[CCP_OPT_MPPE])
        call.handshake_changes = (call.handshake_changes or 0) + 1
    end
end

-- A CHAP packet of a call. The server's Challenges are remembered; a Response counts only
-- with a remembered Challenge's identifier, and names the user; a Success only with a
-- counting Response's. What decryption needs of MS-CHAPv2 (RFC 2759) is kept: each counting
-- Response (16-octet peer challenge, NT-Response, name) with the Challenges it may answer,
-- and each counting Success's authenticator response ("S=" and 40 hex digits).
local function note_chap(number, call, from_server, payload, info)
    local available = payload:len() - info
    if available < 4 then return end
    local code, identifier, high, low = payload:raw(info, 4):byte(1, 4)
    local length = math.min(high * 256 + low, available)
    local mschapv2 = call.auth == "MS-CHAPv2"
    if (code == 1 or code == 2) and length >= 5 then
        local size = payload(info + 4, 1):uint()
        if 5 + size > length then return end
        local value = size > 0 and payload:raw(info + 5, size) or ""
        if code == 1 then
            if from_server then
                call.challenges = call.challenges or {}
                remember(call.challenges, { id = identifier, value = value })
            end
            return
        end
        local answered = {}
        for _, challenge in ipairs(not from_server and call.challenges or {}) do
            if challenge.id == identifier then answered[#answered + 1] = challenge.value end
        end
        if #answered == 0 then
            add_finding(number, "chap_unmatched_response", string.format("CHAP Response with "
                .. "identifier %d answers no Challenge of the server: ignored", identifier))
            return
        end
        local name = length > 5 + size and payload:raw(info + 5 + size, length - 5 - size) or ""
        call.user = call.user or name
        local response = { id = identifier, name = name, challenges = answered }
        if mschapv2 and size == 49 then
            response.peer, response.nt = value:sub(1, 16), value:sub(25, 48)
            call.handshake_changes = (call.handshake_changes or 0) + 1
            add_finding(number, "mschapv2_in_clear", display_name(name))
        end
        call.responses = call.responses or {}
        remember(call.responses, response)
    elseif code == 3 and from_server then
        local acknowledges = false
        for _, response in ipairs(call.responses or {}) do
            if response.id == identifier then acknowledges = true end
        end
        if not acknowledges then
            add_finding(number, "chap_unmatched_success", string.format("CHAP Success with "
                .. "identifier %d acknowledges no Response of the client: ignored", identifier))
            return
        end
        local said = length > 4 and payload:raw(info + 4, length - 4):match("^S=(%x+)")
        if mschapv2 and said then
            call.successes = call.successes or {}
            remember(call.successes, { id = identifier, authenticator = "S=" .. said:upper() })
            call.handshake_changes = (call.handshake_changes or 0) + 1
        end
    end
end

-- The user name of a PAP Authenticate-Request or an EAP Response/Identity.
-- A PAP Authenticate-Request carries the password itself: the first one of a call is flagged.
local function note_identity(number, call, proto, payload, info)
    local available = payload:len() - info
    if call.user or available < 5 then return end
    local code = payload(info, 1):uint()
    local length = math.min(payload(info + 2, 2):uint(), available)
    if proto == PppProto.PAP and code == 1 then
        local size = payload(info + 4, 1):uint()
        if size > 0 and 5 + size <= length then
            call.user = payload:raw(info + 5, size)
            add_finding(number, "pap_in_clear", display_name(call.user))
        end
    elseif proto == PppProto.EAP and code == 2 and payload(info + 4, 1):uint() == 1
        and length > 5 then
        call.user = payload:raw(info + 5, length - 5)
    end
end

-- What the first octets of a flow's PPP frame tell about its call (``head`` holds the GRE
-- header and up to 8 of them, from ``at`` on; ``payload`` is the whole frame, read only for
-- LCP and CCP negotiation). GRE no call claimed yet keeps its protocols on its flow until one
-- does.
local function analyze_ppp(number, call, dir, head, at, payload, seq, order)
    local proto, info = ppp_protocol(head, at)
    if not proto then return end
    -- A repeated or stray sequence number is likely a damaged copy: its protocol is neither
    -- listed nor taken as IP in clear.
    local fresh = order ~= "duplicate" and order ~= "out_of_window"
    local holder = call or dir
    local protocols = holder.protocols
    if not protocols then
        protocols = {}
        holder.protocols = protocols
    end
    if fresh and not protocols[proto] then
        -- A number the plugin does not name is listed if RFC 1661 allows it (low octet odd,
        -- high octet even).
        local listed = ppp_names[proto]
        if not listed and proto % 2 == 1 and math.floor(proto / 256) % 2 == 0 then
            listed = string.format("0x%04x", proto)
        end
        protocols[proto] = listed
    end
    if proto == PppProto.MPPE then
        local high, low = head:byte(at + info + 1, at + info + 2)
        if low then
            if call then call.mppe_packets = call.mppe_packets + 1 end
            if decryption.credentials and payload:len() > info + 2 then
                if call then
                    decryption.decrypt_packet(number, call, dir, head, at, info, payload)
                elseif not dir.keys_noted then
                    dir.keys_noted = true -- GRE without a call: whose handshake is unknown
                    add_finding(number, "no_handshake")
                end
            end
            -- The count goes up by one per MPPE packet sent: a gap the GRE sequence numbers
            -- do not explain (more counts skipped than numbers, which other PPP packets such
            -- as LCP also take) is the sender's, not the network's. A count far from the
            -- last (as decryption's window has it) moves nothing and is no gap, unless the
            -- next one continues from it; nor does a GRE packet out of the sequence window.
            local count = (high % 16) * 256 + low
            if order ~= "duplicate" and order ~= "out_of_order" and order ~= "out_of_window" then
                local previous = dir.coherency
                local advance = previous and (count - previous) % COUNT_SPACE
                local stray = dir.coherency_stray
                if advance and advance > COUNT_WINDOW
                    and not (stray and count == (stray + 1) % COUNT_SPACE) then
                    dir.coherency_stray = count
                else
                    if advance then
                        local step = (seq and dir.coherency_seq)
                            and (seq - dir.coherency_seq) % SEQ_MOD or 1
                        if advance == 0 or advance > step then
                            add_finding(number, "coherency_gap")
                        end
                    end
                    dir.coherency, dir.coherency_seq, dir.coherency_stray = count, seq, nil
                end
            end
        end
    elseif proto == PppProto.IP and fresh then
        -- Once per direction: every packet after it is as clear.
        if not (call and call.mppe) and not dir.cleartext then
            dir.cleartext = true
            add_finding(number, "cleartext")
        end
        if call then call.cleartext = true end
    elseif call and (proto == PppProto.LCP or proto == PppProto.CCP) then
        negotiate(number, call, dir.to_pns, proto, payload, info)
    elseif call and proto == PppProto.CHAP then
        note_chap(number, call, dir.to_pns, payload, info)
    elseif call and (proto == PppProto.PAP or proto == PppProto.EAP) then
        note_identity(number, call, proto, payload, info)
    end
end

M.protocol_of, M.analyze = ppp_protocol, analyze_ppp

function M.link(plugin)
    add_finding, display_name = plugin.state.add_finding, plugin.text.display_name
    decryption, SEQ_MOD = plugin.decryption, plugin.sequence.SEQ_MOD
    local protocol = plugin.protocol
    PppProto, ppp_names = protocol.PppProto, protocol.ppp_names
    CONFIGURE_REQUEST, CONFIGURE_ACK = protocol.CONFIGURE_REQUEST, protocol.CONFIGURE_ACK
    TERMINATE_ACK = protocol.TERMINATE_ACK
    LCP_OPT_AUTH, CCP_OPT_MPPE = protocol.LCP_OPT_AUTH, protocol.CCP_OPT_MPPE
    chap_algorithms, weak_auth = protocol.chap_algorithms, protocol.weak_auth
    MPPE_KEY_BITS, MPPE_STATELESS = protocol.MPPE_KEY_BITS, protocol.MPPE_STATELESS
    COUNT_SPACE, COUNT_WINDOW = plugin.mppe.COUNT_SPACE, plugin.mppe.COUNT_WINDOW
end

return M
