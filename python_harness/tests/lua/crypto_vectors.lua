--[[
The plugin's crypto and MPPE modules on their own, in a plain Lua interpreter, against the
published vectors: RFC 1320 (MD4), FIPS 180 (SHA-1), FIPS 46 (DES), RFC 2759 §9 (MS-CHAPv2),
RFC 3079 §3.5 (MPPE keys). Run by test_crypto_lua.py as `luaX.Y crypto_vectors.lua FOLDER`,
FOLDER holding pptp_analysis/; prints one line per failure and exits 1 if any.
]]

local folder = assert(arg[1], "usage: crypto_vectors.lua PLUGIN_FOLDER")
package.path = folder .. "/?.lua;" .. package.path
local crypto = require("pptp_analysis.crypto")
local mppe = require("pptp_analysis.mppe")
mppe.link({ crypto = crypto })

local failures, checks = 0, 0
local function hex(s) return crypto.to_hex(s) end
local function h(text) return assert(crypto.from_hex(text), text) end
local function check(name, got, expected)
    checks = checks + 1
    if got ~= expected then
        failures = failures + 1
        print(string.format("FAIL %s: got %s, expected %s", name, hex(tostring(got)),
            hex(tostring(expected))))
    end
end

-- RFC 1320 §A.5 and FIPS 180's examples.
check("md4('')", crypto.md4(""), h("31d6cfe0d16ae931b73c59d7e0c089c0"))
check("md4(abc)", crypto.md4("abc"), h("a448017aaf21d8525fc10ae87aa6729d"))
check("md4(message digest)", crypto.md4("message digest"), h("d9130a8164549fe818874806e1c7014b"))
check("md4(80 digits)", crypto.md4(string.rep("1234567890", 8)),
    h("e33b4ddc9c38f2199c3e7b164fcc0536"))
check("sha1(abc)", crypto.sha1("abc"), h("a9993e364706816aba3e25717850c26c9cd0d89d"))
check("sha1(fox)", crypto.sha1("The quick brown fox jumps over the lazy dog"),
    h("2fd4e1c67a2d28fced849ee1bb76e7391b93eb12"))
-- Where native operators compile, SHA-1 is written out at load: it must agree with the loop
-- (5.2's) on every length around the padding's block boundaries and over several blocks.
for length = 0, 200 do
    local text = string.rep("\171", length)
    check("sha1 length " .. length, crypto.sha1(text), crypto._sha1_loop(text))
end
check("sha1(two blocks)",
    crypto.sha1("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
    h("84983e441c3bd26ebaae4aa1f95129e5e54670f1"))

-- FIPS 46's worked example; RFC 2759 §9.3's 7-octet keys spread with odd parity.
check("des", crypto.des_encrypt(h("133457799BBCDFF1"), h("0123456789ABCDEF")),
    h("85E813540F0AB405"))
check("des_key 1", crypto.des_key(h("FC156AF7EDCD6C")), h("FD0B5B5E7F6E34D9"))
check("des_key 2", crypto.des_key(h("0EDDE3337D427F")), h("0E6E796737EA08FE"))

-- RC4: the classic test vectors, and a long input (several chunks) against a plain
-- octet-at-a-time RC4 written here.
local function rc4(key, text) return crypto.rc4_crypt(crypto.rc4_new(key), text) end
check("rc4 Key", rc4("Key", "Plaintext"), h("BBF316E8D940AF0AD3"))
check("rc4 Wiki", rc4("Wiki", "pedia"), h("1021BF0420"))
check("rc4 Secret", rc4("Secret", "Attack at dawn"), h("45A01F645FC35B383552544B9BF5"))
local function xor(a, b)
    local result, bit = 0, 1
    while a > 0 or b > 0 do
        if a % 2 ~= b % 2 then result = result + bit end
        a, b, bit = (a - a % 2) / 2, (b - b % 2) / 2, bit * 2
    end
    return result
end
local function reference_rc4(key, text)
    local S, i, j = {}, 0, 0
    for n = 0, 255 do S[n] = n end
    for n = 0, 255 do
        j = (j + S[n] + key:byte(n % #key + 1)) % 256
        S[n], S[j] = S[j], S[n]
    end
    local out = {}
    j = 0
    for n = 1, #text do
        i = (i + 1) % 256
        j = (j + S[i]) % 256
        S[i], S[j] = S[j], S[i]
        out[n] = string.char(xor(text:byte(n), S[(S[i] + S[j]) % 256]))
    end
    return table.concat(out)
end
local long = {}
for n = 1, 10000 do long[n] = string.char((n * 7) % 256) end
long = table.concat(long)
local key16 = h("405CB2247A7956E6E211007AE27B22D4")
check("rc4 long", rc4(key16, long), reference_rc4(key16, long))
local stream = crypto.rc4_new(key16)
check("rc4 resumes", crypto.rc4_crypt(stream, long:sub(1, 5000))
    .. crypto.rc4_crypt(stream, long:sub(5001)), reference_rc4(key16, long))

-- RFC 2759 §9.2.
local USER, PASSWORD = "User", "clientPass"
local AUTH_CHALLENGE = h("5B5D7C7D7B3F2F3E3C2C602132262628")
local PEER_CHALLENGE = h("21402324255E262A28295F2B3A337C7E")
local NT_RESPONSE = h("82309ECD8D708B5EA08FAA3981CD83544233114A3D85D6DF")
local PASSWORD_HASH = h("44EBBA8D5312B8D611474411F56989AE")
check("utf16le", crypto.utf16le(PASSWORD), h("63006C00690065006E0074005000610073007300"))
check("nt_password_hash", mppe.nt_password_hash(PASSWORD), PASSWORD_HASH)
check("challenge_hash", mppe.challenge_hash(PEER_CHALLENGE, AUTH_CHALLENGE, USER),
    h("D02E4386BCE91226"))
check("nt_response", mppe.nt_response(AUTH_CHALLENGE, PEER_CHALLENGE, USER, PASSWORD_HASH),
    NT_RESPONSE)
check("domain user", mppe.challenge_hash(PEER_CHALLENGE, AUTH_CHALLENGE, "BIGCO\\User"),
    h("D02E4386BCE91226"))
check("password hash hash", crypto.md4(PASSWORD_HASH), h("41C00C584BD2D91C4017A2A12FA59F3F"))
check("authenticator_response", mppe.authenticator_response(PASSWORD_HASH, NT_RESPONSE,
    PEER_CHALLENGE, AUTH_CHALLENGE, USER), "S=407A5589115FD0D6209F510FE9C04566932CDA56")

-- RFC 3079 §3.5.1-3.5.3: the server's send direction at each key length. (The RFC prints the
-- 56-bit sample message ending in 58; RC4 under its printed key ends in B8.)
local master = mppe.master_key(crypto.md4(PASSWORD_HASH), NT_RESPONSE)
check("master_key", master, h("FDECE3717A8C838CB388E527AE3CDD31"))
local SAMPLES = {
    [40] = { "8B7CDC149B993A1B", "D1269EC49FA62E3E", "929137917E5803D668D75898" },
    [56] = { "8B7CDC149B993A1B", "D15C00C49FA62E3E", "3F106833FA448DA842BC57B8" },
    [128] = { "8B7CDC149B993A1BA118CB153F56DCCB", "405CB2247A7956E6E211007AE27B22D4",
        "81848317DF68846272FB5ABE" },
}
for _, bits in ipairs({ 40, 56, 128 }) do
    local start, session, message = h(SAMPLES[bits][1]), h(SAMPLES[bits][2]), h(SAMPLES[bits][3])
    local server_send = mppe.start_keys(master, bits, true)
    check(bits .. "-bit start key", server_send, start)
    check(bits .. "-bit session key", mppe.initial_session_key(start, bits), session)
    check(bits .. "-bit sample", rc4(session, "test message"), message)
    -- The first packet of a stateless decryptor is encrypted under the first changed key.
    local decryptor = mppe.new(start, bits, true)
    local key = mppe.change_key(start, session, bits)
    local packet = rc4(key, "\033\069payload")
    check(bits .. "-bit stateless decrypt", mppe.decrypt(decryptor, 0x9000, packet),
        "\033\069payload")
end

print(string.format("%s: %d checks, %d failed, RC4 %s", _VERSION, checks, failures,
    crypto.rc4_implementation))
os.exit(failures == 0 and 0 or 1)
