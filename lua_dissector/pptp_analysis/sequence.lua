--[[
pptp-analysis: sequence analysis of a GRE flow (contract 5), a module of the plugin (loaded by
pptp.lua with require; it registers nothing and does nothing when run on its own). The same
rules as the harness's ground truth: lost = numbers never seen, duplicate, out of order
(arrived after a higher one), within an acceptance window of the highest number; a number
far outside it is a stray counted apart, unless the next packet continues from it: then the
flow restarted there (a reconnect that reuses the Call ID, a peer's reboot).
]]

local SEQ_MOD = 4294967296
local SEQ_HALF = 2147483648
-- Numbers further than this from the highest seen (either way) are out of the window: a
-- stray moves nothing. After RESTART_IDLE seconds of silence, only a number ahead within the
-- window is taken as the flow going on.
local SEQ_WINDOW = 4096
local RESTART_IDLE = 60
-- Sequence numbers remembered per call direction: at least the window behind the highest,
-- so that every number the window accepts is recognised when it comes again.
local SEEN_LIMIT = 8192
local GAP_LIMIT = 64 -- open gaps per direction that late packets are matched against
local LISTED_NUMBERS = 12 -- sequence numbers listed by name in a loss report

-- Numbers between the first and the highest seen in the current episode that never arrived.
local function episode_lost(dir)
    return (dir.highest - dir.first) % SEQ_MOD + 1 - dir.unique
end

-- The flow restarted at ``seq`` (the stray of frame ``frame``): what was lost so far stays
-- counted, the stray now belongs to the new episode, whose numbers start afresh.
local function restart(dir, seq, frame)
    dir.lost_before = dir.lost_before + episode_lost(dir)
    dir.out_of_window = dir.out_of_window - 1
    dir.restarts = dir.restarts + 1
    dir.first, dir.highest, dir.unique = seq, seq, 1
    dir.ring, dir.gaps = nil, nil
    return { seq = seq, frame = frame }
end

-- Sequence analysis of one flow (the same rules as the harness's ground truth) for a packet
-- of frame ``number`` captured at ``now`` (seconds): nil for a packet in order, else "lost"
-- and the gap it opened, "duplicate", "out_of_order", or "out_of_window" and the highest
-- number then; a third value, where the flow restarted at this packet, says where. The
-- numbers seen are remembered in a ring of SEEN_LIMIT slots (slot = number mod SEEN_LIMIT):
-- bounded memory, no rebuilding, and every number within the window behind the highest is
-- recognised when it comes again. A gap remembers which of its numbers arrived later.
local function observe_sequence(dir, seq, number, now)
    local highest = dir.highest
    local last_time = dir.last_time
    dir.last_time = now
    if not highest then
        dir.first, dir.highest, dir.unique = seq, seq, 1
        return nil
    end
    local ahead = (seq - highest) % SEQ_MOD
    local restarted
    local stray = dir.stray
    if stray then
        dir.stray = nil
        local from_stray = (seq - stray) % SEQ_MOD
        if from_stray > 0 and from_stray <= SEQ_WINDOW then
            restarted = restart(dir, stray, dir.stray_frame)
            highest, ahead = stray, from_stray
        end
    end
    -- Ahead within the window (the common case) is never a stray.
    if (ahead == 0 or ahead > SEQ_WINDOW) and not restarted
        and ((highest - seq) % SEQ_MOD > SEQ_WINDOW
            or (last_time and now - last_time >= RESTART_IDLE)) then
        dir.out_of_window = dir.out_of_window + 1
        dir.stray, dir.stray_frame = seq, number
        return "out_of_window", highest
    end
    -- Made at the first number out of line: until then the numbers seen are those from
    -- dir.first to the highest, each once and in order, and the ring would hold just the
    -- last SEEN_LIMIT of them (a flow without loss never needs one).
    local ring = dir.ring
    if not ring then
        local run = (highest - dir.first) % SEQ_MOD + 1
        if run > SEEN_LIMIT then run = SEEN_LIMIT end
        if (highest - seq) % SEQ_MOD < run then
            dir.duplicates = dir.duplicates + 1
            return "duplicate", nil, restarted
        end
        if ahead == 1 then
            dir.unique = dir.unique + 1
            dir.highest = seq
            return nil, nil, restarted
        end
        ring = {}
        for back = run - 1, 0, -1 do
            local number_seen = (highest - back) % SEQ_MOD
            ring[number_seen % SEEN_LIMIT] = number_seen
        end
        dir.ring = ring
    end
    local slot = seq % SEEN_LIMIT
    if ring[slot] == seq then
        dir.duplicates = dir.duplicates + 1
        return "duplicate", nil, restarted
    end
    ring[slot] = seq
    dir.unique = dir.unique + 1
    if ahead > 0 and ahead < SEQ_HALF then
        local from = (highest + 1) % SEQ_MOD
        dir.highest = seq
        if ahead == 1 then return nil, nil, restarted end
        local gap = { frame = number, from = from, count = ahead - 1, late = {} }
        local gaps = dir.gaps or {}
        if #gaps >= GAP_LIMIT then table.remove(gaps, 1) end
        gaps[#gaps + 1] = gap
        dir.gaps = gaps
        return "lost", gap, restarted
    end
    dir.out_of_order = dir.out_of_order + 1
    -- Behind the first number seen: the numbers start here.
    if (dir.first - seq) % SEQ_MOD < SEQ_HALF then dir.first = seq end
    local gaps = dir.gaps
    if gaps then
        for i = #gaps, 1, -1 do
            local gap = gaps[i]
            if (seq - gap.from) % SEQ_MOD < gap.count then
                gap.late[#gap.late + 1] = seq
                break
            end
        end
    end
    return "out_of_order", nil, restarted
end

-- Numbers never seen: of the earlier episodes, and between the first and the highest of the
-- current one.
local function numbers_lost(dir)
    if not dir or not dir.first then return 0 end
    return dir.lost_before + episode_lost(dir)
end

-- Sequence numbers from ``base`` on as a short list: "17, 20-24, 31" (at most
-- LISTED_NUMBERS named), in serial order across the wrap.
local function number_list(numbers, base)
    table.sort(numbers, function(a, b) return (a - base) % SEQ_MOD < (b - base) % SEQ_MOD end)
    local parts, i = {}, 1
    while i <= #numbers and #parts < LISTED_NUMBERS do
        local j = i
        while j < #numbers and numbers[j + 1] == (numbers[j] + 1) % SEQ_MOD do j = j + 1 end
        parts[#parts + 1] = j > i and (numbers[i] .. "-" .. numbers[j]) or tostring(numbers[i])
        i = j + 1
    end
    if i <= #numbers then parts[#parts + 1] = "..." end
    return table.concat(parts, ", ")
end

-- What a loss was at its gap: on two passes, which numbers arrived later and which never.
local function loss_text(gap, visited)
    if not visited then return gap.count .. " sequence number(s) skipped" end
    local late = #gap.late
    if late == gap.count then
        return string.format("%d skipped: all arrived later, out of order", gap.count)
    end
    local seen, missing = {}, {}
    for _, seq in ipairs(gap.late) do seen[seq] = true end
    for i = 0, gap.count - 1 do
        local seq = (gap.from + i) % SEQ_MOD
        if not seen[seq] then
            missing[#missing + 1] = seq
            if #missing > LISTED_NUMBERS then break end
        end
    end
    if late == 0 then
        return string.format("%d lost (seq %s): none arrived later", gap.count,
            number_list(missing, gap.from))
    end
    return string.format("%d skipped: %d arrived later, %d lost (seq %s)", gap.count, late,
        gap.count - late, number_list(missing, gap.from))
end

return {
    SEQ_MOD = SEQ_MOD, SEQ_HALF = SEQ_HALF, SEQ_WINDOW = SEQ_WINDOW,
    observe = observe_sequence,
    numbers_lost = numbers_lost, loss_text = loss_text,
}
