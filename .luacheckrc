-- Wireshark's Lua API, as the plugin sees it. `make lint` checks against Lua 5.2 (Wireshark 4.0)
-- and again with --std lua54 (current releases).
std = "lua52"
max_line_length = 100
read_globals = {
    "base", "ByteArray", "Column", "DESEGMENT_ONE_MORE_SEGMENT", "Dir", "Dissector",
    "DissectorTable", "expert", "Field",
    "frametype", "get_version", "gui_enabled", "Listener", "MENU_STAT_UNSORTED", "NSTime", "Pref", "Proto",
    "ProtoExpert", "ProtoField", "register_menu", "register_stat_cmd_arg", "retap_packets",
    "set_plugin_info", "TextWindow", "TreeItem", "Tvb", "TvbRange",
}
