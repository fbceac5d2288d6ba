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
local PppProto, ppp_names, CONFIGURE_ACK, TERMINATE_ACK, LCP_OPT_AUTH, CCP_OPT_MPPE
local chap_algorithms, weak_auth, MPPE_KEY_BITS, MPPE_STATELESS

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
        elseif code == CONFIGURE_ACK and not dir.to_pns and not call.auth then
            -- The client agreed to the server's options, and they ask for no authentication
            -- (the server is the one to ask): an auth_frame without an auth.
            call.auth_frame = call.auth_frame or number
        elseif code == TERMINATE_ACK then
            call.lcp_terminated = call.lcp_terminated or number
        end
    elseif call and proto == PppProto.CHAP then
        note_chap(number, call, payload, info)
    elseif call and (proto == PppProto.PAP or proto == PppProto.EAP) then
        note_identity(number, call, proto, payload, info)
    elseif call and proto == PppProto.CCP then
        local code, options = options_of(payload, info)
        if code == CONFIGURE_ACK and options[CCP_OPT_MPPE] and not call.mppe then
            call.mppe, call.mppe_frame = true, number
            call.key_bits, call.stateless = mppe_mode(options[CCP_OPT_MPPE])
        end
    end
end

M.protocol_of, M.analyze = ppp_protocol, analyze_ppp

function M.link(plugin)
    add_finding, display_name = plugin.state.add_finding, plugin.text.display_name
    decryption, SEQ_MOD = plugin.decryption, plugin.sequence.SEQ_MOD
    local protocol = plugin.protocol
    PppProto, ppp_names = protocol.PppProto, protocol.ppp_names
    CONFIGURE_ACK, TERMINATE_ACK = protocol.CONFIGURE_ACK, protocol.TERMINATE_ACK
    LCP_OPT_AUTH, CCP_OPT_MPPE = protocol.LCP_OPT_AUTH, protocol.CCP_OPT_MPPE
    chap_algorithms, weak_auth = protocol.chap_algorithms, protocol.weak_auth
    MPPE_KEY_BITS, MPPE_STATELESS = protocol.MPPE_KEY_BITS, protocol.MPPE_STATELESS
end

return M
