--[[
pptp-analysis: MS-CHAPv2 (RFC 2759), MPPE keys (RFC 3079) and MPPE decryption (RFC 3078), a
module of the plugin (loaded by pptp.lua with require and linked to the crypto module; it
registers nothing and does nothing when run on its own).
]]

local byte, floor = string.byte, math.floor

local crypto -- pptp_analysis.crypto, given by link()
-- An RC4 state for one-off use (a key change, a late packet), reset each time: a cipher made
-- per packet would cost more than the packet.
local scratch = {}

local AUTH_MAGIC1 = "Magic server to client signing constant"
local AUTH_MAGIC2 = "Pad to make it do more than one iteration"
local MASTER_MAGIC = "This is the MPPE Master Key"
local CLIENT_SEND_MAGIC =
    "On the client side, this is the send key; on the server side, it is the receive key."
local CLIENT_RECEIVE_MAGIC =
    "On the client side, this is the receive key; on the server side, it is the send key."
local SHA_PAD1 = string.rep("\0", 40)
local SHA_PAD2 = string.rep("\242", 40)

-- NtPasswordHash (RFC 2759 §8.3): MD4 of the password (UTF-8 text) in UTF-16LE.
local function nt_password_hash(password)
    return crypto.md4(crypto.utf16le(password))
end

-- ChallengeHash (RFC 2759 §8.2): the user name without any "DOMAIN\" prefix (§4).
local function challenge_hash(peer_challenge, authenticator_challenge, user_name)
    local name = user_name:match("[^\\]*$")
    return crypto.sha1(peer_challenge .. authenticator_challenge .. name):sub(1, 8)
end

-- GenerateNTResponse (RFC 2759 §8.1, §8.5) from the password hash.
local function nt_response(authenticator_challenge, peer_challenge, user_name, password_hash)
    local challenge = challenge_hash(peer_challenge, authenticator_challenge, user_name)
    local z = password_hash .. string.rep("\0", 21 - #password_hash)
    local des = crypto.des_encrypt
    return des(z:sub(1, 7), challenge) .. des(z:sub(8, 14), challenge)
        .. des(z:sub(15, 21), challenge)
end

-- GenerateAuthenticatorResponse (RFC 2759 §8.7): "S=" and 40 upper-case hex digits.
local function authenticator_response(password_hash, nt_resp, peer_challenge,
                                      authenticator_challenge, user_name)
    local digest = crypto.sha1(crypto.md4(password_hash) .. nt_resp .. AUTH_MAGIC1)
    local challenge = challenge_hash(peer_challenge, authenticator_challenge, user_name)
    return "S=" .. crypto.to_hex(crypto.sha1(digest .. challenge .. AUTH_MAGIC2))
end

-- GetMasterKey (RFC 3079 §3.4).
local function master_key(password_hash_hash, nt_resp)
    return crypto.sha1(password_hash_hash .. nt_resp .. MASTER_MAGIC):sub(1, 16)
end

local function key_length(key_bits)
    return key_bits == 128 and 16 or 8
end

-- A side's send and receive start keys (RFC 3079 §3.4 GetAsymmetricStartKey): the client's
-- send key is the server's receive key.
local function start_keys(master, key_bits, is_server)
    local size = key_length(key_bits)
    local sha1 = crypto.sha1
    local client_send = sha1(master .. SHA_PAD1 .. CLIENT_SEND_MAGIC .. SHA_PAD2):sub(1, size)
    local client_receive = sha1(master .. SHA_PAD1 .. CLIENT_RECEIVE_MAGIC .. SHA_PAD2)
        :sub(1, size)
    if is_server then return client_receive, client_send end
    return client_send, client_receive
end

-- 40-bit keys begin D1 26 9E, 56-bit keys D1 (RFC 3078 §7.3, RFC 3079 §3.1-3.2).
local function reduce_key(key, key_bits)
    if key_bits == 40 then return "\209\038\158" .. key:sub(4) end
    if key_bits == 56 then return "\209" .. key:sub(2) end
    return key
end

-- GetNewKeyFromSHA (RFC 3078 §7.3).
local function new_key_from_sha(start_key, session_key, size)
    return crypto.sha1(start_key:sub(1, size) .. SHA_PAD1 .. session_key:sub(1, size)
        .. SHA_PAD2):sub(1, size)
end

-- The first session key of a direction (RFC 3079 §3.1-3.3): no RC4 step.
local function initial_session_key(start_key, key_bits)
    local size = key_length(key_bits)
    return reduce_key(new_key_from_sha(start_key, start_key, size), key_bits)
end

-- The MPPE key change (RFC 3078 §7.3).
local function change_key(start_key, session_key, key_bits)
    local interim = new_key_from_sha(start_key, session_key, key_length(key_bits))
    return reduce_key(crypto.rc4_crypt(crypto.rc4_reset(scratch, interim), interim), key_bits)
end

----------------------------------------------------------------------------------------------
-- MPPE decryption (RFC 3078), one decryptor per direction. Stateless (§7.1, §8.1): one key
-- change per coherency count, fresh RC4 per packet; keys of the last 256 counts are kept so
-- late or repeated packets decrypt. Stateful (§7.2, §8.2): the key changes on the "flag"
-- packet (count's low octet 0xFF), which also restarts RC4; otherwise RC4 runs on. After a
-- gap the keystream position is unknown: the flag packets skipped still count as key
-- changes, and decryption resumes at the next flushed (A bit) or flag packet.
-- rekey_on_flush: as Linux's MPPE, a flushed packet changes the key instead of restarting
-- RC4 with the current one.
----------------------------------------------------------------------------------------------
local COUNT_SPACE = 4096

local function mppe_new(start_key, key_bits, stateless, rekey_on_flush)
    if key_bits ~= 40 and key_bits ~= 56 and key_bits ~= 128 then
        return nil, "key bits must be 40, 56 or 128"
    end
    if #start_key ~= key_length(key_bits) then return nil, "start key of the wrong length" end
    local session = initial_session_key(start_key, key_bits)
    return {
        start = start_key, bits = key_bits, stateless = stateless and true or false,
        rekey_on_flush = rekey_on_flush and true or false, session = session,
        rc4 = crypto.rc4_new(session), count = nil, synced = true, recent = {}, key_changes = 0,
    }
end

local function mppe_change_key(dec)
    dec.session = change_key(dec.start, dec.session, dec.bits)
    dec.key_changes = dec.key_changes + 1
    crypto.rc4_reset(dec.rc4, dec.session)
end

-- Counts from the last one seen: 1 for the next, 0 for a repeat, over 2048 for a late one.
local function mppe_ahead(dec, count)
    if not dec.count then return count + 1 end
    return (count - dec.count) % COUNT_SPACE
end

local function mppe_stateless(dec, count, ciphertext)
    local ahead = mppe_ahead(dec, count)
    if ahead == 0 or ahead > COUNT_SPACE / 2 then
        local key = dec.recent[count]
        if not key then return nil, "packet too far behind to decrypt" end
        return crypto.rc4_crypt(crypto.rc4_reset(scratch, key), ciphertext)
    end
    local recent = dec.recent
    for _ = 1, ahead do
        dec.session = change_key(dec.start, dec.session, dec.bits)
        dec.key_changes = dec.key_changes + 1
        dec.count = dec.count and (dec.count + 1) % COUNT_SPACE or 0
        recent[dec.count] = dec.session
        recent[(dec.count - 257) % COUNT_SPACE] = nil
    end
    if ahead > 1 then -- a jump: drop keys now more than 256 counts behind
        for c in pairs(recent) do
            if (count - c) % COUNT_SPACE > 256 then recent[c] = nil end
        end
    end
    return crypto.rc4_crypt(crypto.rc4_reset(dec.rc4, dec.session), ciphertext)
end

local function mppe_stateful(dec, count, flushed, ciphertext)
    local ahead = mppe_ahead(dec, count)
    if ahead == 0 or ahead > COUNT_SPACE / 2 then
        return nil, "repeated or late packet in stateful mode: its keystream is gone"
    end
    local last = dec.count or -1
    -- Key changes of the flag packets skipped on the way (this packet's own comes below).
    local skipped = floor((last + ahead) / 256) - floor((last + 1) / 256)
    for _ = 1, skipped do mppe_change_key(dec) end
    dec.count = count
    if count % 256 == 255 then
        mppe_change_key(dec)
    elseif flushed then
        if dec.rekey_on_flush then
            mppe_change_key(dec)
        else
            crypto.rc4_reset(dec.rc4, dec.session)
        end
    elseif ahead > 1 or not dec.synced then
        dec.synced = false
        return nil, "packets lost: waiting for a flushed or flag packet"
    end
    dec.synced = true
    return crypto.rc4_crypt(dec.rc4, ciphertext)
end

-- Decrypt one MPPE packet: header as its 2 octets (a longer string: the first 2) or as the
-- 16-bit number; ciphertext after it. Returns the plaintext (inner protocol field, 1 or 2
-- octets, then information) or nil and a reason. Packets must come in capture order.
local function mppe_decrypt(dec, header, ciphertext)
    local word = header
    if type(header) == "string" then
        local high, low = byte(header, 1, 2)
        if not low then return nil, "MPPE header too short" end
        word = high * 256 + low
    end
    local flags, count = floor(word / 4096), word % 4096
    if flags % 2 == 0 then return nil, "not encrypted (D bit clear)" end
    if floor(flags / 2) % 2 == 1 then
        return nil, "MPPC-compressed (C bit): not supported"
    end
    if dec.stateless then return mppe_stateless(dec, count, ciphertext) end
    return mppe_stateful(dec, count, flags >= 8, ciphertext)
end

return {
    link = function(modules) crypto = modules.crypto end,
    nt_password_hash = nt_password_hash, challenge_hash = challenge_hash,
    nt_response = nt_response, authenticator_response = authenticator_response,
    master_key = master_key, start_keys = start_keys, reduce_key = reduce_key,
    initial_session_key = initial_session_key, change_key = change_key, new = mppe_new,
    decrypt = mppe_decrypt,
}
