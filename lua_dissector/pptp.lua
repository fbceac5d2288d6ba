--[[
pptp-analysis: PPTP (RFC 2637) control and enhanced-GRE analysis for Wireshark.

Dissects:
  pptp_ctrl  PPTP control messages on TCP 1723 (any port through the heuristic or Decode As),
             reassembled across TCP segments, with request/reply links and a state machine;
  pptp_gre   enhanced GRE (IP protocol 47, version 1): header, the call each packet belongs to,
             sequence analysis per call and direction, MPPE header and decryption, security
             posture. Other GRE versions go on to Wireshark's own "gre" dissector untouched;
             the PPP payload goes to the dissector Wireshark's GRE uses for protocol 0x880B.

This file is the plugin's entry: its protocols, preferences and registration. The work is done
by the modules in pptp_analysis/ beside it (docs/wireshark.md), found with require.

Load:   `make install` (the folder, for all users as root, else for you), or
        tshark -X lua_script:lua_dissector/pptp.lua -r capture.pcap
Stats:  tshark -q -z pptp,calls -r capture.pcap  (Statistics > PPTP Calls in the GUI)
Try it: `make demo` writes and decodes a sample session.

Runs on Lua 5.2 (Wireshark 4.0) and later: no bitwise operators, only arithmetic.
]]

-- One copy at a time: a second copy of the plugin (installed for all users and for the user,
-- or given with -X lua_script as well) says which copy is in use and stops, before it
-- registers anything twice. The first copy leaves its file's name in package.loaded.
local THIS_FILE = debug.getinfo(1, "S").source:gsub("^@", "")
local LOADED_KEY = "pptp_analysis"
local CTRL_TITLE = "PPTP Control (pptp-analysis)"
local GRE_TITLE = "Enhanced GRE for PPTP (pptp-analysis)"

-- One line on standard error, where Wireshark's own log goes (Wireshark 4.0's Lua has no
-- logging function, and report_failure would open a dialog).
local function second_copy(in_use)
    io.stderr:write(string.format("pptp-analysis: %s is in use; the copy at %s stops\n",
        in_use, THIS_FILE))
end

local in_use = package.loaded[LOADED_KEY]
if in_use then
    second_copy("the plugin at " .. (type(in_use) == "table" and in_use.file or "?"))
    return
end
-- A copy of a release before this one leaves no name, but holds the protocols' names.
local made_ctrl, pptp_ctrl = pcall(Proto, "pptp_ctrl", CTRL_TITLE)
if not made_ctrl then
    second_copy("an earlier release of the plugin, from another file,")
    return
end
local pptp_gre = Proto("pptp_gre", GRE_TITLE)
package.loaded[LOADED_KEY] = { file = THIS_FILE }

set_plugin_info({
    version = "0.1.0",
    description = "PPTP control and enhanced-GRE analysis",
    repository = "pptp-analysis",
})

----------------------------------------------------------------------------------------------
-- The modules, from this copy's folder: it goes first on require's path while they load, so
-- that another plugin's folder cannot lend a module of the same name.
----------------------------------------------------------------------------------------------
local MODULES = { "protocol", "text", "crypto", "mppe", "credentials", "fields", "state",
    "sequence", "calls", "control", "ppp", "decryption", "gre", "report" }
local plugin = {}
do
    local folder = THIS_FILE:match("^(.*)[/\\]") or "."
    local saved_path = package.path
    package.path = folder .. "/?.lua;" .. saved_path
    for _, name in ipairs(MODULES) do plugin[name] = require("pptp_analysis." .. name) end
    package.path = saved_path
end

----------------------------------------------------------------------------------------------
-- Settings
----------------------------------------------------------------------------------------------
local default_settings = {
    ports = "1723",
    reassemble = true,
    heuristic = true,
    sequence_analysis = true,
    gre_grace = 10,
    credentials_file = "",
}
local settings = {}
for key, value in pairs(default_settings) do settings[key] = value end
settings.disabled = {} -- which of ours are disabled (pptp_ctrl, pptp_gre): read at every init

pptp_ctrl.prefs.ports = Pref.range("TCP ports", default_settings.ports,
    "TCP ports of the PPTP control connection", 65535)
pptp_ctrl.prefs.reassemble = Pref.bool("Reassemble messages spanning TCP segments",
    default_settings.reassemble, "Needs TCP's \"Allow subdissector to reassemble\" too")
pptp_ctrl.prefs.heuristic = Pref.bool("Find PPTP on other ports", default_settings.heuristic,
    "Recognize control messages by their magic cookie on any TCP port")
pptp_gre.prefs.sequence_analysis = Pref.bool("Analyze GRE sequence numbers",
    default_settings.sequence_analysis, "Flag lost, duplicate and out-of-order GRE packets")
pptp_gre.prefs.gre_grace = Pref.uint("GRE grace period (seconds)", default_settings.gre_grace,
    "A connected call whose GRE from one side does not appear within this time is flagged "
        .. "as GRE (IP protocol 47) blocked that way")
pptp_gre.prefs.credentials_file = Pref.string("MPPE credentials file",
    default_settings.credentials_file, "A file of MS-CHAPv2 credentials to decrypt MPPE with, "
        .. "one per line: PASSWORD, USER:PASSWORD, nthash:HEX32 or USER:nthash:HEX32 (# starts "
        .. "a comment). Read, never written or shown; empty: no decryption")

----------------------------------------------------------------------------------------------
-- The collector, tuned per Lua version by `make bench` (the setting is the shared Lua state's,
-- so other Lua plugins get it too). Dissection makes garbage (ranges, tree items) at a high
-- rate while the state below lives long, and the default pause (200%) lets the heap double
-- between cycles.
-- Lua 5.2 (Wireshark 4.0): no pause and a fast step (the sessions capture: 1.25x -> 1.07x
-- the built-ins' memory, and less time).
-- Lua 5.4 (Wireshark 4.4 and later): the same settings make it run full cycles almost without
-- a break (60x slower); a short pause (120%) with the default step holds the heap as tightly
-- in less time than 5.4's defaults (pause 200: 1.23x the time on 4.6 with -Y) or its
-- generational mode (1.12x to 1.39x); 110% took 3 to 8% longer.
if _VERSION >= "Lua 5.4" then
    collectgarbage("incremental", 120, 200)
else
    collectgarbage("setpause", 100)
    collectgarbage("setstepmul", 1000)
end

----------------------------------------------------------------------------------------------
-- Fields and experts, then the modules linked to each other
----------------------------------------------------------------------------------------------
plugin.pptp_ctrl, plugin.pptp_gre = pptp_ctrl, pptp_gre
plugin.CTRL_TITLE, plugin.GRE_TITLE = CTRL_TITLE, GRE_TITLE
plugin.settings = settings

-- Wireshark's own GRE and PPTP dissectors, for GRE that is not PPTP's and for when ours are
-- disabled: by name where Wireshark registers them so (4.4 and later), else from a table
-- entry that still holds them (its description says whose it is). After Analyze > Reload Lua
-- Plugins the tables hold the previous load's dissectors, never to be called again.
local function wiresharks_own(name, description, entries)
    local found, handle = pcall(Dissector.get, name)
    if found and handle then return handle end
    for _, entry in ipairs(entries) do
        handle = DissectorTable.get(entry[1]):get_dissector(entry[2])
        if handle and tostring(handle) == description then return handle end
    end
end
plugin.wiresharks_gre = wiresharks_own("gre", "GRE", { { "ip.proto", 47 }, { "udp.port", 4754 } })
local wiresharks_pptp = wiresharks_own("pptp", "PPTP", { { "tcp.port", 1723 } })

plugin.fields.define(pptp_ctrl, pptp_gre, plugin.protocol)
for _, name in ipairs(MODULES) do
    if plugin[name].link then plugin[name].link(plugin) end
end
local state, calls, control = plugin.state, plugin.calls, plugin.control
local gre, decryption, report = plugin.gre, plugin.decryption, plugin.report
calls.set_pptp_ports(settings.ports)

pptp_ctrl.dissector = state.surfacing_errors(control.dissect)
pptp_gre.dissector = state.surfacing_errors(gre.dissect)

----------------------------------------------------------------------------------------------
-- Per-call summary: tshark -z pptp,calls and -z pptp,report, Statistics > PPTP Calls
----------------------------------------------------------------------------------------------
-- A tap that prints ``render()`` at the end. The run also watches TCP for closed control
-- connections (its own tap builds every tree anyway, so TCP's costs nothing more).
local function register_printing_tap(render)
    calls.watch_closes(true)
    local tap = Listener.new("frame", "pptp_gre || pptp_ctrl")
    function tap.draw()
        print(render())
    end
end

if register_stat_cmd_arg then
    register_stat_cmd_arg("pptp,calls", function() register_printing_tap(report.calls_table) end)
    register_stat_cmd_arg("pptp,report",
        function() register_printing_tap(report.calls_report) end)
end

-- Statistics > PPTP Calls. Wireshark's Qt interface lists Lua menu entries of the unsorted
-- statistics group; entries of MENU_STAT_GENERIC never appear (seen in Wireshark 4.0). The
-- packets are scanned again with TCP's tap, to see control connections close: once per
-- capture, and again only when packets came since (a live capture), as a scan of 100,000
-- packets takes seconds.
if gui_enabled and gui_enabled() then
    register_menu("PPTP Calls", function()
        local window = TextWindow.new("PPTP Calls")
        local capture = state.current
        if retap_packets and not calls.watching_closes()
            and capture.scanned_up_to ~= capture.last_frame then
            window:set("Scanning the capture for the control connections' TCP closes ...")
            calls.watch_closes(true)
            retap_packets()
            calls.watch_closes(false) -- the tap goes at the next packet dissected
            capture.scanned_up_to = capture.last_frame
        end
        window:set(report.calls_report())
    end, MENU_STAT_UNSORTED)
end

----------------------------------------------------------------------------------------------
-- Registration and preferences
----------------------------------------------------------------------------------------------
local tcp_port_table = DissectorTable.get("tcp.port")
local ip_proto_table = DissectorTable.get("ip.proto")

-- Disabling ours, however it is done, gives Wireshark's own dissectors back: a disabled Lua
-- protocol still holds its table entries, which would leave GRE as data and TCP 1723 to
-- other heuristics. Wireshark's Lua cannot ask whether a protocol is enabled, so init reads
-- the two places that say so: the disabled_protos file, where Analyze > Enabled Protocols
-- saves its choice (Wireshark then dissects again, calling init), and the command line of
-- tshark or Wireshark (--disable-protocol, --enable-protocol; ALL for every protocol), as the
-- system shows a process its own (Linux's /proc).
local OURS = { "pptp_ctrl", "pptp_gre" }

local function disabled_in_file(off)
    local path = Dir and Dir.personal_config_path and Dir.personal_config_path("disabled_protos")
    local file = path and io.open(path, "r")
    if not file then return end
    for line in file:lines() do
        local name = line:match("^%s*([%w_.]+)")
        if name then off[name] = true end
    end
    file:close()
end

-- The protocols an option names: "--disable-protocol X" or "--disable-protocol=X", X a
-- comma-separated list.
local function named_by(args, option, found)
    for i, arg in ipairs(args) do
        local names = arg:match("^" .. option:gsub("%-", "%%-") .. "=(.*)$")
            or (arg == option and args[i + 1])
        for name in (names or ""):gmatch("[^,%s]+") do
            if name:upper() == "ALL" then
                for _, ours in ipairs(OURS) do found[ours] = true end
            else
                found[name:lower()] = true
            end
        end
    end
end

local function disabled_on_command_line(off)
    local file = io.open("/proc/self/cmdline", "rb")
    if not file then return end
    local args = {}
    for arg in file:read("*a"):gmatch("([^\0]*)\0") do args[#args + 1] = arg end
    file:close()
    named_by(args, "--disable-protocol", off)
    local on = {}
    named_by(args, "--enable-protocol", on)
    for name in pairs(on) do off[name] = nil end
end

local function disabled_protocols()
    local off = {}
    disabled_in_file(off)
    disabled_on_command_line(off)
    return off
end

local function claim_tables()
    local off = disabled_protocols()
    settings.disabled = off
    if not off.pptp_gre then
        ip_proto_table:add(47, pptp_gre)
    elseif plugin.wiresharks_gre then
        ip_proto_table:add(47, plugin.wiresharks_gre)
    else
        ip_proto_table:remove(47, pptp_gre)
    end
    if off.pptp_ctrl then
        tcp_port_table:remove(settings.ports, pptp_ctrl)
        if wiresharks_pptp then tcp_port_table:add(1723, wiresharks_pptp) end
    else
        tcp_port_table:add(settings.ports, pptp_ctrl)
    end
end

function pptp_ctrl.init()
    state.reset()
    calls.reset()
    control.reset()
    claim_tables()
    decryption.load(settings.credentials_file) -- again at every capture: it may have changed
end

function pptp_ctrl.prefs_changed()
    tcp_port_table:remove(settings.ports, pptp_ctrl)
    settings.ports = pptp_ctrl.prefs.ports
    settings.reassemble = pptp_ctrl.prefs.reassemble
    settings.heuristic = pptp_ctrl.prefs.heuristic
    calls.set_pptp_ports(settings.ports)
    tcp_port_table:add(settings.ports, pptp_ctrl)
end

function pptp_gre.prefs_changed()
    settings.sequence_analysis = pptp_gre.prefs.sequence_analysis
    settings.gre_grace = pptp_gre.prefs.gre_grace
    settings.credentials_file = pptp_gre.prefs.credentials_file
end

tcp_port_table:add(settings.ports, pptp_ctrl)
ip_proto_table:add(47, pptp_gre)
pptp_ctrl:register_heuristic("tcp", control.heuristic)
