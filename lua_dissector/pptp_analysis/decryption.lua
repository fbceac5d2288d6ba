--[[
pptp-analysis: MPPE decryption in the plugin (contract 4), a module loaded by pptp.lua with
require and linked by it; it registers nothing and does nothing when run on its own. With a
credentials file, each call's keys come from its MS-CHAPv2 handshake (RFC 2759, 3079), and
each MPPE packet is decrypted on the first pass, in capture order (RFC 3078); the PPP frame
inside goes to Wireshark's PPP dissector as a data source of its own. Without a file none of
it runs: each MPPE packet pays one check.
]]

local M = {}

-- { { user = name or nil, hash = NT hash }, ... }, or nil: decryption off. Read by the
-- dissectors and the report.
M.credentials = nil
local credentials
local credentials_problem -- why the file named could not be used
local credentials_frame -- the frame that says so

-- Given by link(), at the end.
local state, add_finding, display_name, PppProto, crypto, mppe, credentials_file, ppp_protocol
local ppp_names, CONTROL_PROTOCOLS
local gf, problem, tree_add, set_generated

-- Reads the credentials file ``path`` ("": none) for a new capture.
function M.load(path)
    credentials, credentials_problem = credentials_file.read(path)
    credentials_frame = nil
    M.credentials = credentials
end

-- Whether ``credential`` opens the MS-CHAPv2 handshake of ``response`` to ``challenge``
-- (RFC 2759): its NT-Response is the one the credential's hash makes, and, for a
-- ``success`` (the authenticator response the server sent), so is that.
local function opens(credential, response, challenge, success)
    local who, user = credential.user, response.name
    if who and who ~= user:lower() and who ~= user:match("[^\\]*$"):lower() then
        return false
    end
    local hash = credential.hash
    if mppe.nt_response(challenge, response.peer, user, hash) ~= response.nt then return false end
    return not success or mppe.authenticator_response(hash, response.nt, response.peer,
        challenge, user) == success.authenticator
end

-- The credential and handshake that key ``call``: the handshake a Success acknowledges
-- (same identifier; the latest first) whose NT-Response and authenticator response a
-- credential makes; with no such Success (none captured), the latest Response whose
-- NT-Response a credential makes.
local function keying_handshake(call)
    local responses = call.responses or {}
    local successes = call.successes or {}
    for s = #successes, 0, -1 do
        local success = successes[s] -- nil at 0: any Response, by its NT-Response alone
        for r = #responses, 1, -1 do
            local response = responses[r]
            if response.nt and (not success or response.id == success.id) then
                for _, challenge in ipairs(response.challenges) do
                    for _, credential in ipairs(credentials) do
                        if #challenge == 16 and opens(credential, response, challenge, success)
                        then
                            return credential, response
                        end
                    end
                end
            end
        end
    end
end

-- A call's keys, at its first MPPE packet and again whenever its handshake or MPPE mode
-- has changed since, until one opens: both directions' decryptors. ``call.keys`` says how
-- it went.
local function derive_keys(call)
    call.keys_tried = call.handshake_changes
    local handshake = false
    for _, response in ipairs(call.responses or {}) do
        if response.nt then handshake = true end
    end
    if not handshake or not call.key_bits then
        call.keys = "no_handshake" -- no MS-CHAPv2 Response, or no CCP: no key length
        return
    end
    local credential, response = keying_handshake(call)
    if not credential then
        call.keys = "no_credential"
        return
    end
    local master = mppe.master_key(crypto.md4(credential.hash), response.nt)
    local client_send, client_receive = mppe.start_keys(master, call.key_bits, false)
    call.to_pac.decryptor = mppe.new(client_send, call.key_bits, call.stateless)
    call.to_pns.decryptor = mppe.new(client_receive, call.key_bits, call.stateless)
    call.keys, call.key_user = "decrypted", display_name(response.name)
end

-- Why ``plaintext`` is not a PPP frame a peer would send (nil: it is one): IPv4 (protocol
-- 0x21, compressed or not) whose header's version is 4, IHL at least 5 and total length
-- the octets after the protocol field; IPv6 (0x57) whose payload length and 40 are those
-- octets; or LCP, IPCP, IPV6CP or CCP with a code from 1 to 11 and a length that is.
local function implausible(plaintext)
    local a, b = plaintext:byte(1, 2)
    if not b then return "too short for a PPP frame" end
    local proto, at = a, 2 -- the protocol field compressed to one octet, or two
    if a % 2 == 0 then proto, at = a * 256 + b, 3 end
    local after = #plaintext - at + 1
    -- IPv4's version and IHL, then its total length; IPv6's version, then its payload
    -- length; a control protocol's code, then its length.
    local first, _, high, low, ipv6_high, ipv6_low = plaintext:byte(at, at + 5)
    if proto == PppProto.IP then
        if after < 20 or math.floor(first / 16) ~= 4 or first % 16 < 5
            or high * 256 + low ~= after then
            return "the result is no IPv4 packet"
        end
    elseif proto == PppProto.IPV6 then
        if after < 40 or math.floor(first / 16) ~= 6
            or ipv6_high * 256 + ipv6_low + 40 ~= after then
            return "the result is no IPv6 packet"
        end
    elseif CONTROL_PROTOCOLS[proto] then
        if not low or first < 1 or first > 11 or high * 256 + low ~= after then
            return "the result is no " .. ppp_names[proto] .. " packet"
        end
    else
        return string.format("the result is no PPP frame a peer sends here (protocol 0x%04x)",
            proto)
    end
end

-- First pass: one MPPE packet of a call direction decrypted in capture order; the plaintext
-- kept for every later pass (state.plaintexts), or why not (the packet's findings). Only a
-- packet that decrypts to a PPP frame moves the direction's decryptor.
local function decrypt_packet(number, call, dir, head, at, info, payload)
    if not call.keys or call.keys ~= "decrypted" and call.keys_tried ~= call.handshake_changes
    then
        derive_keys(call)
    end
    if call.keys ~= "decrypted" then
        if not call.keys_noted then
            call.keys_noted = true
            add_finding(number, call.keys)
        end
        return
    end
    local high, low = head:byte(at + info + 1, at + info + 2)
    if math.floor(high / 0x20) % 2 == 1 then add_finding(number, "mppc_compressed") end
    local decryptor = dir.decryptor
    local plaintext, why = mppe.try(decryptor, high * 256 + low, payload:raw(info + 2))
    if plaintext then
        why = implausible(plaintext)
        if not why then
            mppe.commit(decryptor)
            state.plaintexts[number] = plaintext
            return
        end
        mppe.reject(decryptor)
    end
    add_finding(number, "decryption_failed", "Not decrypted: " .. why)
end

-- A decrypted MPPE packet: its PPP frame, as its own data source, to go to the PPP dissector
-- instead of the ciphertext (returned as the payload to dissect); what the tree says of it.
function M.show(item, with_tree, number, dir, payload, head, offset)
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
    return payload
end

M.decrypt_packet = decrypt_packet

function M.link(plugin)
    state, add_finding = plugin.state.current, plugin.state.add_finding
    display_name, PppProto = plugin.text.display_name, plugin.protocol.PppProto
    crypto, mppe, credentials_file = plugin.crypto, plugin.mppe, plugin.credentials
    ppp_protocol, ppp_names = plugin.ppp.protocol_of, plugin.protocol.ppp_names
    CONTROL_PROTOCOLS = { [PppProto.LCP] = true, [PppProto.IPCP] = true,
        [PppProto.IPV6CP] = true, [PppProto.CCP] = true }
    gf, problem = plugin.fields.gre, plugin.fields.problem
    tree_add, set_generated = TreeItem.add, TreeItem.set_generated
end

return M
