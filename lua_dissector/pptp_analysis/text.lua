--[[
pptp-analysis: text a peer sent, made fit to show (a module of the plugin, loaded by pptp.lua
with require; it registers nothing and does nothing when run on its own).
]]

-- The second octet's range for each first octet of a well-formed UTF-8 sequence (RFC 3629:
-- no overlong forms, no surrogates, nothing above U+10FFFF), and the sequence's length.
local UTF8_LEADS = {}
for lead = 0xC2, 0xDF do UTF8_LEADS[lead] = { 2, 0x80, 0xBF } end
for lead = 0xE0, 0xEF do UTF8_LEADS[lead] = { 3, 0x80, 0xBF } end
UTF8_LEADS[0xE0], UTF8_LEADS[0xED] = { 3, 0xA0, 0xBF }, { 3, 0x80, 0x9F }
for lead = 0xF1, 0xF3 do UTF8_LEADS[lead] = { 4, 0x80, 0xBF } end
UTF8_LEADS[0xF0], UTF8_LEADS[0xF4] = { 4, 0x90, 0xBF }, { 4, 0x80, 0x8F }

-- A name a peer sent (raw octets) as text for the tree, expert messages and reports:
-- printable ASCII (a DOMAIN\user name's backslash too) and well-formed UTF-8 as they are,
-- any other octet as \xNN, so that Wireshark and tshark's output (JSON above all) stay
-- valid UTF-8.
local function display_name(raw)
    if not raw:find("[^\32-\126]") then return raw end
    local out, at, size = {}, 1, #raw
    while at <= size do
        local octet = raw:byte(at)
        local lead = UTF8_LEADS[octet]
        local length = 1
        if lead and at + lead[1] - 1 <= size then
            local second = raw:byte(at + 1)
            length = second >= lead[2] and second <= lead[3] and lead[1] or 1
            for k = at + 2, at + length - 1 do
                local follow = raw:byte(k)
                if follow < 0x80 or follow > 0xBF then length = 1 end
            end
        end
        if length > 1 then
            out[#out + 1] = raw:sub(at, at + length - 1)
        elseif octet >= 32 and octet <= 126 then
            out[#out + 1] = string.char(octet)
        else
            out[#out + 1] = string.format("\\x%02x", octet)
        end
        at = at + length
    end
    return table.concat(out)
end

return { display_name = display_name }
