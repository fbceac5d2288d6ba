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
local gf, problem, tree_add, set_generated

-- Reads the credentials file ``path`` ("": none) for a new capture.
function M.load(path)
    credentials, credentials_problem = credentials_file.read(path)
    credentials_frame = nil
    M.credentials = credentials
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
    local name, short = user:lower(), user:match("[^\\]*$"):lower()
    local expected = call.authenticator and ("S=" .. call.authenticator:upper())
    for _, credential in ipairs(credentials) do
        local who = credential.user
        if not who or who == name or who == short then
            local hash = credential.hash
            local opens
            if expected then
                opens = mppe.authenticator_response(hash, call.nt_response, call.peer_challenge,
                    call.auth_challenge, user) == expected
            else
                opens = mppe.nt_response(call.auth_challenge, call.peer_challenge, user, hash)
                    == call.nt_response
            end
            if opens then
                local master = mppe.master_key(crypto.md4(hash), call.nt_response)
                local client_send, client_receive = mppe.start_keys(master, call.key_bits, false)
                call.to_pac.decryptor = mppe.new(client_send, call.key_bits, call.stateless)
                call.to_pns.decryptor = mppe.new(client_receive, call.key_bits,
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
    local plaintext = mppe.decrypt(dir.decryptor, word, payload:raw(info + 2))
    if plaintext and math.floor(high / 0x20) % 2 == 0 and looks_like_ppp(plaintext) then
        state.plaintexts[number] = plaintext
    elseif not plaintext or math.floor(high / 0x20) % 2 == 0 then
        add_finding(number, "decryption_failed")
    end
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
    ppp_protocol = plugin.ppp.protocol_of
    gf, problem = plugin.fields.gre, plugin.fields.problem
    tree_add, set_generated = TreeItem.add, TreeItem.set_generated
end

return M
