--[[
pptp-analysis: the cryptographic primitives MPPE decryption needs (a module of the plugin,
loaded by pptp.lua with require; it registers nothing and does nothing when run on its own).

MD4 (RFC 1320), SHA-1 (FIPS 180), RC4, one-block DES (FIPS 46-3) and UTF-16LE, on Lua strings
of raw octets. One source for Lua 5.2 (Wireshark 4.0) and 5.3+ (Wireshark 4.4 and later):
bitwise operators would not parse on 5.2, so the hot loops are built at load time from source
text with load(): with native operators where they compile, else with bit32 (SHA-1, MD4) or
a 64K-entry XOR table (RC4, faster than a bit32 call per octet). RC4 is libgcrypt's where
Wireshark's Lua offers it (4.6: GcryptCipher).
]]

local byte, char, concat = string.byte, string.char, table.concat
local unpack = table.unpack or rawget(_G, "unpack")
local floor = math.floor
local native = load("return function(a, b) return a ~ b end") ~= nil
local bit32_library = rawget(_G, "bit32")
local CHUNK = 4096 -- octets per string.byte/string.char call: well inside the C stack limit
local TWO32 = 4294967296

-- 32-bit operations as functions: native operators compiled from text on 5.3+, bit32 on 5.2.
local band, bor, bxor, bnot, rol
if native then
    band, bor, bxor, bnot, rol = load([[
        return function(a, b) return a & b end,
            function(a, b) return a | b end,
            function(a, b) return a ~ b end,
            function(a) return ~a & 0xFFFFFFFF end,
            function(a, n) return ((a << n) | (a >> (32 - n))) & 0xFFFFFFFF end
    ]])()
elseif bit32_library then
    band, bor, bxor, bnot, rol = bit32_library.band, bit32_library.bor, bit32_library.bxor,
        bit32_library.bnot, bit32_library.lrotate
else
    error("pptp_analysis.crypto needs Lua 5.3+ or the bit32 library")
end

local function to_hex(s)
    return (s:gsub(".", function(c) return string.format("%02X", byte(c)) end))
end

-- Octets from hex digits (spaces allowed); nil if not hex or odd.
local function from_hex(text)
    local digits = text:gsub("%s", "")
    if #digits % 2 == 1 or digits:find("[^%x]") then return nil end
    return (digits:gsub("..", function(pair) return char(tonumber(pair, 16)) end))
end

-- The octets of s as a table of numbers (1-based), read in chunks.
local function octets(s)
    local n = #s
    if n <= CHUNK then return { byte(s, 1, n) } end
    local t = {}
    for from = 1, n, CHUNK do
        local part = { byte(s, from, math.min(from + CHUNK - 1, n)) }
        for k = 1, #part do t[from + k - 1] = part[k] end
    end
    return t
end

-- A string from a table of octet numbers t[1..n].
local function chars(t, n)
    if n <= CHUNK then return char(unpack(t, 1, n)) end
    local parts = {}
    for from = 1, n, CHUNK do
        parts[#parts + 1] = char(unpack(t, from, math.min(from + CHUNK - 1, n)))
    end
    return concat(parts)
end

local function word_bytes_be(w)
    return floor(w / 16777216) % 256, floor(w / 65536) % 256,
        floor(w / 256) % 256, w % 256
end

-- Merkle-Damgard padding shared by MD4 (little-endian length) and SHA-1 (big-endian).
local function md_pad(s, big_endian)
    local bits = #s * 8
    local low, high = bits % TWO32, floor(bits / TWO32)
    local zeros = (55 - #s) % 64
    local l1, l2, l3, l4 = word_bytes_be(low)
    local h1, h2, h3, h4 = word_bytes_be(high)
    local head = s .. "\128" .. string.rep("\0", zeros)
    if big_endian then return head .. char(h1, h2, h3, h4, l1, l2, l3, l4) end
    return head .. char(l4, l3, l2, l1, h4, h3, h2, h1)
end

----------------------------------------------------------------------------------------------
-- MD4 (RFC 1320): used once per password, so written once with the operation functions.
----------------------------------------------------------------------------------------------
local MD4_ROUND2 = { 0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15 }
local MD4_ROUND3 = { 0, 8, 4, 12, 2, 10, 6, 14, 1, 9, 5, 13, 3, 11, 7, 15 }
local MD4_SHIFTS = { { 3, 7, 11, 19 }, { 3, 5, 9, 13 }, { 3, 9, 11, 15 } }

local function md4(s)
    local msg = md_pad(s, false)
    local h1, h2, h3, h4 = 0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476
    local x = {}
    for block = 1, #msg, 64 do
        for k = 0, 15 do
            local b1, b2, b3, b4 = byte(msg, block + 4 * k, block + 4 * k + 3)
            x[k] = ((b4 * 256 + b3) * 256 + b2) * 256 + b1
        end
        local st = { h1, h2, h3, h4 }
        -- Step n updates word (1 - n) mod 4 of the state: a, d, c, b, a, ...
        for n = 0, 47 do
            local round = floor(n / 16) + 1
            local at = (4 - n % 4) % 4 + 1
            local a, b = st[at], st[at % 4 + 1]
            local c, d = st[(at + 1) % 4 + 1], st[(at + 2) % 4 + 1]
            local f, k
            if round == 1 then
                f, k = bor(band(b, c), band(bnot(b), d)), x[n % 16]
            elseif round == 2 then
                f = bor(bor(band(b, c), band(b, d)), band(c, d))
                k = (x[MD4_ROUND2[n % 16 + 1]] + 0x5A827999) % TWO32
            else
                f, k = bxor(bxor(b, c), d), (x[MD4_ROUND3[n % 16 + 1]] + 0x6ED9EBA1) % TWO32
            end
            st[at] = rol((a + f + k) % TWO32, MD4_SHIFTS[round][n % 4 + 1])
        end
        h1, h2 = (h1 + st[1]) % TWO32, (h2 + st[2]) % TWO32
        h3, h4 = (h3 + st[3]) % TWO32, (h4 + st[4]) % TWO32
    end
    local out = {}
    for _, w in ipairs({ h1, h2, h3, h4 }) do
        local b1, b2, b3, b4 = word_bytes_be(w)
        out[#out + 1] = char(b4, b3, b2, b1)
    end
    return concat(out)
end

----------------------------------------------------------------------------------------------
-- SHA-1 (FIPS 180): once per packet in stateless MPPE, so its block function is built from
-- text with inline operators: "a & b" on 5.3+, "band(a, b)" with bit32 on 5.2. Macros
-- AND(x, y), OR(x, y), XOR(x, y), NOT(x), ROL(x, n) (n a number) are expanded before load().
----------------------------------------------------------------------------------------------
local SHA1_BLOCK = [[
local band, bor, bxor, bnot, rol = ...
return function(H, W)
    for t = 17, 80 do
        W[t] = ROL(XOR(XOR(XOR(W[t - 3], W[t - 8]), W[t - 14]), W[t - 16]), 1)
    end
    local a, b, c, d, e = H[1], H[2], H[3], H[4], H[5]
    for t = 1, 20 do
        local f = OR(AND(b, c), AND(NOT(b), d))
        local x = (ROL(a, 5) + f + e + 0x5A827999 + W[t]) % 4294967296
        a, b, c, d, e = x, a, ROL(b, 30), c, d
    end
    for t = 21, 40 do
        local f = XOR(XOR(b, c), d)
        local x = (ROL(a, 5) + f + e + 0x6ED9EBA1 + W[t]) % 4294967296
        a, b, c, d, e = x, a, ROL(b, 30), c, d
    end
    for t = 41, 60 do
        local f = OR(AND(b, c), AND(d, OR(b, c)))
        local x = (ROL(a, 5) + f + e + 0x8F1BBCDC + W[t]) % 4294967296
        a, b, c, d, e = x, a, ROL(b, 30), c, d
    end
    for t = 61, 80 do
        local f = XOR(XOR(b, c), d)
        local x = (ROL(a, 5) + f + e + 0xCA62C1D6 + W[t]) % 4294967296
        a, b, c, d, e = x, a, ROL(b, 30), c, d
    end
    H[1], H[2], H[3] = (H[1] + a) % 4294967296, (H[2] + b) % 4294967296, (H[3] + c) % 4294967296
    H[4], H[5] = (H[4] + d) % 4294967296, (H[5] + e) % 4294967296
end
]]

-- Arguments of a macro call (text inside its parentheses), split at top-level commas.
local function macro_args(text)
    local args, depth, from = {}, 0, 1
    for k = 1, #text do
        local ch = text:sub(k, k)
        if ch == "(" then
            depth = depth + 1
        elseif ch == ")" then
            depth = depth - 1
        elseif ch == "," and depth == 0 then
            args[#args + 1] = text:sub(from, k - 1):match("^%s*(.-)%s*$")
            from = k + 1
        end
    end
    args[#args + 1] = text:sub(from):match("^%s*(.-)%s*$")
    return args
end

local MACROS = {
    native = {
        AND = function(x, y) return "(" .. x .. " & " .. y .. ")" end,
        OR = function(x, y) return "(" .. x .. " | " .. y .. ")" end,
        XOR = function(x, y) return "(" .. x .. " ~ " .. y .. ")" end,
        NOT = function(x) return "(~" .. x .. " & 0xFFFFFFFF)" end,
        ROL = function(x, n)
            return "(((" .. x .. " << " .. n .. ") | (" .. x .. " >> " .. (32 - tonumber(n))
                .. ")) & 0xFFFFFFFF)"
        end,
    },
    functions = {
        AND = function(x, y) return "band(" .. x .. ", " .. y .. ")" end,
        OR = function(x, y) return "bor(" .. x .. ", " .. y .. ")" end,
        XOR = function(x, y) return "bxor(" .. x .. ", " .. y .. ")" end,
        NOT = function(x) return "bnot(" .. x .. ")" end,
        ROL = function(x, n) return "rol(" .. x .. ", " .. n .. ")" end,
    },
}

-- Expand the macros of a template. The macro call that starts last holds no other, so
-- expanding it first works from the inside out.
local function expand(template, use_operators)
    local forms, text = MACROS[use_operators and "native" or "functions"], template
    while true do
        local at, name, open
        local pos = 1
        while true do
            local s, e, word = text:find("%f[%w_](%u%u+)%(", pos)
            if not s then break end
            if forms[word] then at, name, open = s, word, e end
            pos = e
        end
        if not at then return text end
        local call = text:match("^%b()", open)
        local args = macro_args(call:sub(2, -2))
        text = text:sub(1, at - 1) .. forms[name](args[1], args[2]) .. text:sub(open + #call)
    end
end

local function compile(template, use_operators, ...)
    local chunk, err = load(expand(template, use_operators), "=pptp_analysis.crypto", "t")
    if not chunk then error(err) end
    return chunk(...)
end

local sha1_block = compile(SHA1_BLOCK, native, band, bor, bxor, bnot, rol)

-- SHA-1 where native operators compile (5.3+): the whole compression function written out
-- at load, 80 rounds with their message words as locals and the five working variables
-- renamed from round to round instead of moved, words read and the length written with
-- string.unpack/pack. Over twice the speed of the loop below, which 5.2 keeps; stateless
-- MPPE pays one SHA-1 per packet.
local function unrolled_sha1_source()
    local lines = {
        "local unpack_words, pack, rep = ...",
        "return function(s)",
        "    local n = #s",
        "    local msg = s .. '\\128' .. rep('\\0', (55 - n) % 64) .. pack('>I8', n * 8)",
        "    local h0, h1, h2, h3, h4 = 0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0",
        "    for block = 1, #msg, 64 do",
    }
    local words = {}
    for t = 1, 16 do words[t] = "w" .. t end
    lines[#lines + 1] = "        local " .. table.concat(words, ", ")
        .. " = unpack_words('>I4I4I4I4I4I4I4I4I4I4I4I4I4I4I4I4', msg, block)"
    local names = { "a", "b", "c", "d", "e" }
    lines[#lines + 1] = "        local a, b, c, d, e = h0, h1, h2, h3, h4"
    local FUNCTIONS = {
        "((%s & %s) | (~%s & %s))", "(%s ~ %s ~ %s)", "((%s & %s) | (%s & (%s | %s)))",
        "(%s ~ %s ~ %s)",
    }
    local CONSTANTS = { "0x5A827999", "0x6ED9EBA1", "0x8F1BBCDC", "0xCA62C1D6" }
    for t = 1, 80 do
        if t > 16 then
            lines[#lines + 1] = string.format("        local x%d = w%d ~ w%d ~ w%d ~ w%d", t,
                t - 3, t - 8, t - 14, t - 16)
            lines[#lines + 1] = string.format(
                "        local w%d = ((x%d << 1) | (x%d >> 31)) & 0xFFFFFFFF", t, t, t)
        end
        -- The variables playing a, b, c, d, e in round t.
        local r = {}
        for k = 1, 5 do r[k] = names[(k - t) % 5 + 1] end
        local stage = math.floor((t - 1) / 20) + 1
        local f
        if stage == 1 then
            f = string.format(FUNCTIONS[1], r[2], r[3], r[2], r[4])
        elseif stage == 3 then
            f = string.format(FUNCTIONS[3], r[2], r[3], r[4], r[2], r[3])
        else
            f = string.format(FUNCTIONS[stage], r[2], r[3], r[4])
        end
        lines[#lines + 1] = string.format(
            "        %s = (((%s << 5) | (%s >> 27)) + %s + %s + %s + w%d) & 0xFFFFFFFF",
            r[5], r[1], r[1], f, r[5], CONSTANTS[stage], t)
        lines[#lines + 1] = string.format("        %s = ((%s << 30) | (%s >> 2)) & 0xFFFFFFFF",
            r[2], r[2], r[2])
    end
    -- After 80 rounds (a multiple of 5) every variable plays its first part again.
    lines[#lines + 1] = "        h0, h1 = (h0 + a) & 0xFFFFFFFF, (h1 + b) & 0xFFFFFFFF"
    lines[#lines + 1] = "        h2, h3 = (h2 + c) & 0xFFFFFFFF, (h3 + d) & 0xFFFFFFFF"
    lines[#lines + 1] = "        h4 = (h4 + e) & 0xFFFFFFFF"
    lines[#lines + 1] = "    end"
    lines[#lines + 1] = "    return pack('>I4I4I4I4I4', h0, h1, h2, h3, h4)"
    lines[#lines + 1] = "end"
    return table.concat(lines, "\n")
end

local unrolled_sha1
if native then
    local chunk, err = load(unrolled_sha1_source(), "=pptp_analysis.crypto.sha1", "t")
    if not chunk then error(err) end
    unrolled_sha1 = chunk(rawget(string, "unpack"), rawget(string, "pack"), string.rep)
end

local function sha1_loop(s)
    local msg = md_pad(s, true)
    local H = { 0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0 }
    local W = {}
    for block = 1, #msg, 64 do
        local b = { byte(msg, block, block + 63) }
        for t = 1, 16 do
            local p = 4 * t - 3
            W[t] = ((b[p] * 256 + b[p + 1]) * 256 + b[p + 2]) * 256 + b[p + 3]
        end
        sha1_block(H, W)
    end
    local out = {}
    for k = 1, 5 do out[k] = char(word_bytes_be(H[k])) end
    return concat(out)
end
local sha1 = unrolled_sha1 or sha1_loop

----------------------------------------------------------------------------------------------
-- RC4: the hot path. The keystream loop is built from text with its XOR as "c ~ k" on 5.3+
-- and as a lookup in a 64K table on 5.2 (faster there than a bit32.bxor call). Indices into
-- S are 1-based and wrap by comparison: "%" on 5.2's floats costs more than a branch.
----------------------------------------------------------------------------------------------
local RC4_LOOP = [[
local byte, char, unpack, concat, xor_table, bxor, CHUNK = ...
return function(st, s)
    local S, i, j, out = st.S, st.i, st.j, st.out
    local n = #s
    local parts = n > CHUNK and {} or nil
    for from = 1, n, CHUNK do
        local to = from + CHUNK - 1
        if to > n then to = n end
        local input = { byte(s, from, to) }
        for p = 1, to - from + 1 do
            i = i + 1
            if i > 256 then i = 1 end
            local si = S[i]
            j = j + si
            if j > 256 then j = j - 256 end
            local sj = S[j]
            S[i], S[j] = sj, si
            local t = si + sj + 1
            if t > 256 then t = t - 256 end
            local c, k = input[p], S[t]
            out[p] = XOR_OCTET
        end
        if not parts then
            st.i, st.j = i, j
            return char(unpack(out, 1, n))
        end
        parts[#parts + 1] = char(unpack(out, 1, to - from + 1))
    end
    st.i, st.j = i, j
    return concat(parts or {})
end
]]
local RC4_XOR = { native = "c ~ k", table = "xor_table[c * 256 + k + 1]", bit32 = "bxor(c, k)" }

local xor_table_cache
local function xor_table()
    if not xor_table_cache then
        local t = {}
        for a = 0, 255 do
            for b = 0, 255 do t[a * 256 + b + 1] = bxor(a, b) end
        end
        xor_table_cache = t
    end
    return xor_table_cache
end

-- An RC4 keystream loop with a given XOR flavour ("native", "table" or "bit32").
local function rc4_loop(flavour)
    local text = RC4_LOOP:gsub("XOR_OCTET", RC4_XOR[flavour])
    local chunk, err = load(text, "=pptp_analysis.crypto.rc4", "t")
    if not chunk then error(err) end
    return chunk(byte, char, unpack, concat,
        flavour == "table" and xor_table() or nil, bxor, CHUNK)
end

-- Built on first use: the 64K-entry table costs memory a capture without credentials
-- should not pay.
local rc4_keystream

-- (Re)initializes a pure-Lua RC4 state with a key (the key-scheduling algorithm).
local function lua_rc4_reset(st, key)
    local S, kb, kl = st.S, { byte(key, 1, #key) }, #key
    for i = 1, 256 do S[i] = i - 1 end
    local j, at = 1, 1 -- 1-based j; at walks the key
    for i = 1, 256 do
        local si = S[i]
        j = j + si + kb[at]
        while j > 256 do j = j - 256 end
        at = at + 1
        if at > kl then at = 1 end
        S[i], S[j] = S[j], si
    end
    st.i, st.j = 1, 1 -- 1-based: i = j = 0
    return st
end

-- Wireshark 4.6 and later offer libgcrypt's RC4 (GcryptCipher), for keys of 5 octets or
-- more (every MPPE key has 8 or 16); older versions, and shorter keys, use the Lua loop.
local GcryptCipher = rawget(_G, "GcryptCipher")
local GCRY_ARCFOUR = rawget(_G, "GCRY_CIPHER_ARCFOUR")
local GCRY_STREAM = rawget(_G, "GCRY_CIPHER_MODE_STREAM")
local new_octets = GcryptCipher and GCRY_ARCFOUR and GCRY_STREAM and rawget(_G, "ByteArray")
local GCRYPT_MIN_KEY = 5

-- (Re)initializes an RC4 state with a key: libgcrypt's where it takes the key, else Lua's.
local function rc4_reset(st, key)
    if new_octets and #key >= GCRYPT_MIN_KEY then
        local cipher = st.cipher or GcryptCipher.open(GCRY_ARCFOUR, GCRY_STREAM, 0)
        cipher:setkey(new_octets.new(key, true))
        st.cipher = cipher
        return st
    end
    st.cipher = nil
    st.S, st.out = st.S or {}, st.out or {}
    return lua_rc4_reset(st, key)
end

local function rc4_new(key)
    return rc4_reset({}, key)
end

-- The next octets of the keystream XORed with ``s`` (encryption and decryption alike).
local function rc4_crypt(st, s)
    local cipher = st.cipher
    if cipher then
        local data = new_octets.new(s, true)
        cipher:decrypt(data)
        return data:raw()
    end
    rc4_keystream = rc4_keystream or rc4_loop(native and "native" or "table")
    return rc4_keystream(st, s)
end

----------------------------------------------------------------------------------------------
-- DES (FIPS 46-3), encryption of one block: only to check NT-Responses, a few per
-- handshake, so it works bit by bit on tables of 0/1 rather than fast.
----------------------------------------------------------------------------------------------
local DES_IP = {
    58, 50, 42, 34, 26, 18, 10, 2,
    60, 52, 44, 36, 28, 20, 12, 4,
    62, 54, 46, 38, 30, 22, 14, 6,
    64, 56, 48, 40, 32, 24, 16, 8,
    57, 49, 41, 33, 25, 17, 9, 1,
    59, 51, 43, 35, 27, 19, 11, 3,
    61, 53, 45, 37, 29, 21, 13, 5,
    63, 55, 47, 39, 31, 23, 15, 7,
}
local DES_E = {
    32, 1, 2, 3, 4, 5,
    4, 5, 6, 7, 8, 9,
    8, 9, 10, 11, 12, 13,
    12, 13, 14, 15, 16, 17,
    16, 17, 18, 19, 20, 21,
    20, 21, 22, 23, 24, 25,
    24, 25, 26, 27, 28, 29,
    28, 29, 30, 31, 32, 1,
}
local DES_P = {
    16, 7, 20, 21, 29, 12, 28, 17,
    1, 15, 23, 26, 5, 18, 31, 10,
    2, 8, 24, 14, 32, 27, 3, 9,
    19, 13, 30, 6, 22, 11, 4, 25,
}
local DES_PC1 = {
    57, 49, 41, 33, 25, 17, 9,
    1, 58, 50, 42, 34, 26, 18,
    10, 2, 59, 51, 43, 35, 27,
    19, 11, 3, 60, 52, 44, 36,
    63, 55, 47, 39, 31, 23, 15,
    7, 62, 54, 46, 38, 30, 22,
    14, 6, 61, 53, 45, 37, 29,
    21, 13, 5, 28, 20, 12, 4,
}
local DES_PC2 = {
    14, 17, 11, 24, 1, 5,
    3, 28, 15, 6, 21, 10,
    23, 19, 12, 4, 26, 8,
    16, 7, 27, 20, 13, 2,
    41, 52, 31, 37, 47, 55,
    30, 40, 51, 45, 33, 48,
    44, 49, 39, 56, 34, 53,
    46, 42, 50, 36, 29, 32,
}
local DES_SHIFTS = { 1, 1, 2, 2, 2, 2, 2, 2, 1, 2, 2, 2, 2, 2, 2, 1 }
local DES_S = { -- one row of 16 per line, four rows per box
    {
        14, 4, 13, 1, 2, 15, 11, 8, 3, 10, 6, 12, 5, 9, 0, 7,
        0, 15, 7, 4, 14, 2, 13, 1, 10, 6, 12, 11, 9, 5, 3, 8,
        4, 1, 14, 8, 13, 6, 2, 11, 15, 12, 9, 7, 3, 10, 5, 0,
        15, 12, 8, 2, 4, 9, 1, 7, 5, 11, 3, 14, 10, 0, 6, 13,
    },
    {
        15, 1, 8, 14, 6, 11, 3, 4, 9, 7, 2, 13, 12, 0, 5, 10,
        3, 13, 4, 7, 15, 2, 8, 14, 12, 0, 1, 10, 6, 9, 11, 5,
        0, 14, 7, 11, 10, 4, 13, 1, 5, 8, 12, 6, 9, 3, 2, 15,
        13, 8, 10, 1, 3, 15, 4, 2, 11, 6, 7, 12, 0, 5, 14, 9,
    },
    {
        10, 0, 9, 14, 6, 3, 15, 5, 1, 13, 12, 7, 11, 4, 2, 8,
        13, 7, 0, 9, 3, 4, 6, 10, 2, 8, 5, 14, 12, 11, 15, 1,
        13, 6, 4, 9, 8, 15, 3, 0, 11, 1, 2, 12, 5, 10, 14, 7,
        1, 10, 13, 0, 6, 9, 8, 7, 4, 15, 14, 3, 11, 5, 2, 12,
    },
    {
        7, 13, 14, 3, 0, 6, 9, 10, 1, 2, 8, 5, 11, 12, 4, 15,
        13, 8, 11, 5, 6, 15, 0, 3, 4, 7, 2, 12, 1, 10, 14, 9,
        10, 6, 9, 0, 12, 11, 7, 13, 15, 1, 3, 14, 5, 2, 8, 4,
        3, 15, 0, 6, 10, 1, 13, 8, 9, 4, 5, 11, 12, 7, 2, 14,
    },
    {
        2, 12, 4, 1, 7, 10, 11, 6, 8, 5, 3, 15, 13, 0, 14, 9,
        14, 11, 2, 12, 4, 7, 13, 1, 5, 0, 15, 10, 3, 9, 8, 6,
        4, 2, 1, 11, 10, 13, 7, 8, 15, 9, 12, 5, 6, 3, 0, 14,
        11, 8, 12, 7, 1, 14, 2, 13, 6, 15, 0, 9, 10, 4, 5, 3,
    },
    {
        12, 1, 10, 15, 9, 2, 6, 8, 0, 13, 3, 4, 14, 7, 5, 11,
        10, 15, 4, 2, 7, 12, 9, 5, 6, 1, 13, 14, 0, 11, 3, 8,
        9, 14, 15, 5, 2, 8, 12, 3, 7, 0, 4, 10, 1, 13, 11, 6,
        4, 3, 2, 12, 9, 5, 15, 10, 11, 14, 1, 7, 6, 0, 8, 13,
    },
    {
        4, 11, 2, 14, 15, 0, 8, 13, 3, 12, 9, 7, 5, 10, 6, 1,
        13, 0, 11, 7, 4, 9, 1, 10, 14, 3, 5, 12, 2, 15, 8, 6,
        1, 4, 11, 13, 12, 3, 7, 14, 10, 15, 6, 8, 0, 5, 9, 2,
        6, 11, 13, 8, 1, 4, 10, 7, 9, 5, 0, 15, 14, 2, 3, 12,
    },
    {
        13, 2, 8, 4, 6, 15, 11, 1, 10, 9, 3, 14, 5, 0, 12, 7,
        1, 15, 13, 8, 10, 3, 7, 4, 12, 5, 6, 11, 0, 14, 9, 2,
        7, 11, 4, 1, 9, 12, 14, 2, 0, 6, 10, 13, 15, 3, 5, 8,
        2, 1, 14, 7, 4, 10, 8, 13, 15, 12, 9, 0, 3, 5, 6, 11,
    },
}

local function bits_of(s)
    local out = {}
    for k = 1, #s do
        local v = byte(s, k)
        for b = 7, 0, -1 do
            out[#out + 1] = floor(v / 2 ^ b) % 2
        end
    end
    return out
end

local function permute(bits, table_)
    local out = {}
    for k = 1, #table_ do out[k] = bits[table_[k]] end
    return out
end

-- A 7-octet key spread to 8 octets, odd parity in each low bit (RFC 2759 §8.6 and §9.3).
local function des_key(key7)
    local bits, out = bits_of(key7), {}
    for k = 0, 7 do
        local v, ones = 0, 0
        for b = 1, 7 do
            local bit = bits[k * 7 + b]
            v, ones = v * 2 + bit, ones + bit
        end
        out[k + 1] = v * 2 + (ones + 1) % 2
    end
    return char(unpack(out, 1, 8))
end

-- DesEncrypt (RFC 2759 §8.6): one 8-octet block under a 7-octet key (or an 8-octet one).
local function des_encrypt(key, block)
    if #key == 7 then key = des_key(key) end
    local cd = permute(bits_of(key), DES_PC1)
    local subkeys = {}
    for round = 1, 16 do
        for _ = 1, DES_SHIFTS[round] do
            table.insert(cd, 28, table.remove(cd, 1))
            table.insert(cd, 56, table.remove(cd, 29))
        end
        subkeys[round] = permute(cd, DES_PC2)
    end
    local lr = permute(bits_of(block), DES_IP)
    local l, r = { unpack(lr, 1, 32) }, { unpack(lr, 33, 64) }
    for round = 1, 16 do
        local e, key_bits, f = permute(r, DES_E), subkeys[round], {}
        for box = 0, 7 do
            local x = {}
            for b = 1, 6 do x[b] = (e[box * 6 + b] + key_bits[box * 6 + b]) % 2 end
            local row, col = x[1] * 2 + x[6], x[2] * 8 + x[3] * 4 + x[4] * 2 + x[5]
            local v = DES_S[box + 1][row * 16 + col + 1]
            for b = 3, 0, -1 do f[#f + 1] = floor(v / 2 ^ b) % 2 end
        end
        f = permute(f, DES_P)
        local new_r = {}
        for b = 1, 32 do new_r[b] = (l[b] + f[b]) % 2 end
        l, r = r, new_r
    end
    local pre = {}
    for b = 1, 32 do pre[b], pre[b + 32] = r[b], l[b] end
    local out = {}
    for b = 1, 64 do out[DES_IP[b]] = pre[b] end -- the final permutation undoes IP
    local octets_out = {}
    for k = 0, 7 do
        local v = 0
        for b = 1, 8 do v = v * 2 + out[k * 8 + b] end
        octets_out[k + 1] = v
    end
    return char(unpack(octets_out, 1, 8))
end

-- UTF-8 text to UTF-16LE (surrogate pairs beyond the BMP); an octet that starts no valid
-- UTF-8 sequence stands for itself (Latin-1), so Latin-1 credential files work too.
local function utf16le(text)
    local out, at, n = {}, 1, #text
    local function unit(u) out[#out + 1] = char(u % 256, floor(u / 256)) end
    while at <= n do
        local c = byte(text, at)
        local size, cp = 1, c
        if c >= 0xC2 and c <= 0xF4 then
            size = c >= 0xF0 and 4 or c >= 0xE0 and 3 or 2
            cp = c % (2 ^ (7 - size))
            for k = 1, size - 1 do
                local cont = byte(text, at + k)
                if not cont or cont < 0x80 or cont > 0xBF then
                    size, cp = 1, c
                    break
                end
                cp = cp * 64 + cont % 64
            end
            if size > 1 and (cp < ({ 0, 0x80, 0x800, 0x10000 })[size] or cp > 0x10FFFF
                    or (cp >= 0xD800 and cp <= 0xDFFF)) then
                size, cp = 1, c
            end
        end
        if cp >= 0x10000 then
            cp = cp - 0x10000
            unit(0xD800 + floor(cp / 1024))
            unit(0xDC00 + cp % 1024)
        else
            unit(cp)
        end
        at = at + size
    end
    return concat(out)
end

return {
    to_hex = to_hex, from_hex = from_hex, md4 = md4, sha1 = sha1, rc4_new = rc4_new,
    rc4_reset = rc4_reset, rc4_crypt = rc4_crypt, des_key = des_key, des_encrypt = des_encrypt,
    utf16le = utf16le,
    -- Which RC4 runs: libgcrypt's ("gcrypt") or the Lua loop's.
    rc4_implementation = new_octets and "gcrypt" or "lua",
    -- for tests and measurements
    _rc4_loop = rc4_loop, _native = native, _octets = octets, _chars = chars,
    _sha1_loop = sha1_loop,
}
