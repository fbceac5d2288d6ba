--[[
pptp-analysis: the MPPE credentials file (a module of the plugin, loaded by pptp.lua with
require; it registers nothing and does nothing when run on its own).

One credential per line: PASSWORD, USER:PASSWORD, nthash:HEX32 or USER:nthash:HEX32; a line
starting with "#" is a comment (docs/decryption.md). A password is hashed at once and its
text dropped; nothing read is ever shown, logged or kept but the NT hash.
]]

local crypto, mppe -- pptp_analysis.crypto and .mppe, given by link()

-- The credentials of ``path`` as { { user = lower-case name or nil, hash = NT hash }, ... }
-- (nil for no file named), and why the file or a line of it cannot be used; the lines that
-- can are used all the same. A user's name is compared without case, as Windows does.
local function parse(path)
    if path == "" then return nil end
    local file = io.open(path, "r")
    if not file then return nil, "cannot open the MPPE credentials file " .. path end
    local list, problem, number = {}, nil, 0
    for line in file:lines() do
        number = number + 1
        line = line:gsub("\r$", "")
        if line:find("%S") and not line:match("^%s*#") then
            local user, rest = line:match("^([^:]*):(.*)$")
            local hex
            if user and user:lower() == "nthash" then
                user, hex = nil, rest
            elseif rest and rest:sub(1, 7):lower() == "nthash:" then
                hex = rest:sub(8)
            end
            local hash
            if hex then
                hex = hex:match("^%s*(.-)%s*$")
                hash = #hex == 32 and crypto.from_hex(hex)
                if not hash then
                    problem = problem or string.format("line %d of the MPPE credentials file "
                        .. "%s cannot be used: an NT hash is 32 hexadecimal digits", number, path)
                end
            else
                hash = mppe.nt_password_hash(rest or line)
                if not rest then user = nil end
            end
            if hash then
                list[#list + 1] = { user = user ~= "" and user and user:lower() or nil,
                    hash = hash }
            end
        end
    end
    file:close()
    return list, problem
end

-- ``parse``, where a folder or a device (which opens as a file and fails only when read) is a
-- file that cannot be read, not a Lua error.
local function read(path)
    local ok, list, problem = pcall(parse, path)
    if not ok then return nil, "cannot read the MPPE credentials file " .. path end
    return list, problem
end

return {
    link = function(modules) crypto, mppe = modules.crypto, modules.mppe end,
    read = read,
}
