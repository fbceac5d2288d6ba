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
-- gap the keystream position is unknown: decryption resumes at the next flushed (A bit) or
-- flag packet, the flag packets skipped counting as key changes.
-- rekey_on_flush: as Linux's MPPE, a flushed packet changes the key instead of restarting
-- RC4 with the current one.
--
-- A packet is first tried (try): its plaintext is computed without moving the decryptor;
-- the caller then commits it (commit), or drops it (reject) when the plaintext is no PPP
-- frame, so that a forged or damaged packet never moves the keys. Stateless counts more
-- than COUNT_WINDOW ahead of the last committed one are not even tried, unless one
-- continues the count of the packet before it, itself out of the window (a genuine long
-- loss goes on; random counts do not).
----------------------------------------------------------------------------------------------
local COUNT_SPACE = 4096
local COUNT_WINDOW = 256

local function mppe_new(start_key, key_bits, stateless, rekey_on_flush)
    if key_bits ~= 40 and key_bits ~= 56 and key_bits ~= 128 then
        return nil, "key bits must be 40, 56 or 128"
    end
    if #start_key ~= key_length(key_bits) then return nil, "start key of the wrong length" end
    local session = initial_session_key(start_key, key_bits)
    return {
        start = start_key, bits = key_bits, stateless = stateless and true or false,
        rekey_on_flush = rekey_on_flush and true or false, session = session,
        rc4 = crypto.rc4_new(session), spare = {}, count = nil, recent = {}, key_changes = 0,
        -- stateful: keystream octets used since RC4 last started (to undo a rejected packet)
        used = 0,
        -- the packet tried last: how to commit it (nil: nothing to commit)
        pending = nil, keys = {}, keys_from = nil, keys_made = 0, stray = nil,
    }
end

-- Counts from the last one committed: 1 for the next, 0 for a repeat, over 2048 for a late
-- one. Before any packet the session is taken to have started at count 0.
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
    -- Only the packet right after an out-of-window one may continue from it.
    local stray = dec.stray
    dec.stray = nil
    if ahead > COUNT_WINDOW and not (stray and count == (stray + 1) % COUNT_SPACE) then
        dec.stray = count
        return nil, string.format("coherency count %d is %d ahead of the last decrypted: "
            .. "out of the window of %d", count, ahead, COUNT_WINDOW)
    end
    -- The keys of the counts ahead, kept until the decryptor moves: packets that are tried
    -- and rejected (forged, damaged) cost no key change twice.
    local keys, session = dec.keys, dec.session
    if dec.keys_from ~= session then dec.keys_from, dec.keys_made = session, 0 end
    for k = dec.keys_made + 1, ahead do
        keys[k] = change_key(dec.start, k == 1 and session or keys[k - 1], dec.bits)
        dec.keys_made = k
    end
    dec.pending, dec.pending_count = ahead, count
    return crypto.rc4_crypt(crypto.rc4_reset(scratch, keys[ahead]), ciphertext)
end

local function commit_stateless(dec, ahead)
    local recent, keys = dec.recent, dec.keys
    for k = 1, ahead do
        dec.count = dec.count and (dec.count + 1) % COUNT_SPACE or 0
        recent[dec.count] = keys[k]
        recent[(dec.count - COUNT_WINDOW - 1) % COUNT_SPACE] = nil
    end
    if ahead > 1 then -- a jump: drop keys now more than 256 counts behind
        for c in pairs(recent) do
            if (dec.count - c) % COUNT_SPACE > COUNT_WINDOW then recent[c] = nil end
        end
    end
    dec.session, dec.key_changes = recent[dec.count], dec.key_changes + ahead
end

local function mppe_stateful(dec, count, flushed, ciphertext)
    local ahead = mppe_ahead(dec, count)
    if ahead == 0 or ahead > COUNT_SPACE / 2 then
        return nil, "repeated or late packet in stateful mode: its keystream is gone"
    end
    local flag = count % 256 == 255
    if not (flag or flushed) then
        if ahead > 1 then
            return nil, "packets lost before it: waiting for a flushed or flag packet"
        end
        -- The keystream runs on: the decryptor's own RC4 moves, undone if rejected.
        dec.pending = { count = count, used = #ciphertext }
        return crypto.rc4_crypt(dec.rc4, ciphertext)
    end
    local last = dec.count or -1
    -- Key changes of the flag packets skipped on the way, then this packet's own.
    local changes = floor((last + ahead) / 256) - floor((last + 1) / 256)
    if flag or dec.rekey_on_flush then changes = changes + 1 end
    local session = dec.session
    for _ = 1, changes do session = change_key(dec.start, session, dec.bits) end
    dec.pending = { count = count, used = #ciphertext, session = session, changes = changes }
    return crypto.rc4_crypt(crypto.rc4_reset(dec.spare, session), ciphertext)
end

local function commit_stateful(dec, pending)
    if pending.session then -- RC4 started afresh in the spare state: it becomes the one
        dec.rc4, dec.spare = dec.spare, dec.rc4
        dec.session, dec.key_changes = pending.session, dec.key_changes + pending.changes
        dec.used = pending.used
    else
        dec.used = dec.used + pending.used
    end
    dec.count = pending.count
end

-- Tries one MPPE packet: header as its 2 octets (a longer string: the first 2) or as the
-- 16-bit number; ciphertext after it. Returns the plaintext (inner protocol field, 1 or 2
-- octets, then information) or nil and why not. Packets must come in capture order, each
-- tried one committed or rejected before the next.
local function mppe_try(dec, header, ciphertext)
    dec.pending = nil
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

-- The packet tried last decrypted to a PPP frame: the decryptor moves on past it.
local function mppe_commit(dec)
    local pending = dec.pending
    dec.pending = nil
    if not pending then return end
    if dec.stateless then
        commit_stateless(dec, pending)
    else
        commit_stateful(dec, pending)
    end
end

-- The packet tried last is no PPP frame: the decryptor stays as it was. A stateful packet
-- in the running keystream moved RC4, which starts again and skips what it had used.
local function mppe_reject(dec)
    local pending = dec.pending
    dec.pending = nil
    if not pending then return end
    if dec.stateless then
        -- A long loss may still go on from a count out of the window.
        if pending > COUNT_WINDOW then dec.stray = dec.pending_count end
    elseif not pending.session then
        crypto.rc4_reset(dec.rc4, dec.session)
        if dec.used > 0 then crypto.rc4_crypt(dec.rc4, string.rep("\0", dec.used)) end
    end
end

-- Decrypts and commits, whatever the plaintext (for callers that judge it themselves).
local function mppe_decrypt(dec, header, ciphertext)
    local plaintext, why = mppe_try(dec, header, ciphertext)
    if plaintext then mppe_commit(dec) end
    return plaintext, why
end

return {
    link = function(modules) crypto = modules.crypto end,
    nt_password_hash = nt_password_hash, challenge_hash = challenge_hash,
    nt_response = nt_response, authenticator_response = authenticator_response,
    master_key = master_key, start_keys = start_keys, reduce_key = reduce_key,
    initial_session_key = initial_session_key, change_key = change_key, new = mppe_new,
    try = mppe_try, commit = mppe_commit, reject = mppe_reject, decrypt = mppe_decrypt,
    COUNT_SPACE = COUNT_SPACE, COUNT_WINDOW = COUNT_WINDOW,
}
