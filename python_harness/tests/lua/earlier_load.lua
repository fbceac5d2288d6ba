--[[
Test fixture, not a plugin: what Analyze > Reload Lua Plugins leaves behind. When the plugin
loads again, IP protocol 47 and TCP port 1723 still hold the previous load's dissectors; loaded
before the plugin, this script puts there a dissector that fails on every packet, as a dead
load's does.
]]

local earlier = Proto("earlier_load", "A previous load of the plugin")

function earlier.dissector()
    error("the previous load's dissector was called")
end

DissectorTable.get("ip.proto"):add(47, earlier)
DissectorTable.get("tcp.port"):add(1723, earlier)
