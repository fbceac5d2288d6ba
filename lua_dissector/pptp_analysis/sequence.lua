--[[
pptp-analysis: sequence analysis of a GRE flow (contract 5), a module of the plugin (loaded by
pptp.lua with require; it registers nothing and does nothing when run on its own). The same
rules as the harness's ground truth: lost = numbers never seen, duplicate, out of order
(arrived after a higher one).
]]

local SEQ_MOD = 4294967296
local SEQ_HALF = 2147483648
local SEEN_LIMIT = 8192 -- sequence numbers remembered per call direction
local GAP_LIMIT = 64 -- open gaps per direction that late packets are matched against
local LISTED_NUMBERS = 12 -- sequence numbers listed by name in a loss report

-- Sequence analysis of one flow (the same rules as the harness's ground truth): nil for a
-- packet in order, else "lost" and the gap it opened, "duplicate" or "out_of_order". The
-- numbers seen are remembered in a ring of SEEN_LIMIT slots (slot = number mod SEEN_LIMIT):
-- bounded memory, no rebuilding, and every number within the last SEEN_LIMIT is recognised
-- when it comes again. A gap remembers which of its numbers arrived later, out of order.
local function observe_sequence(dir, seq, number)
    local highest = dir.highest
    if not highest then
        dir.first, dir.highest, dir.unique = seq, seq, 1
        return nil
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
            return "duplicate"
        end
        if (seq - highest) % SEQ_MOD == 1 then
            dir.unique = dir.unique + 1
            dir.highest = seq
            return nil
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
        return "duplicate"
    end
    ring[slot] = seq
    dir.unique = dir.unique + 1
    local ahead = (seq - dir.highest) % SEQ_MOD
    if ahead > 0 and ahead < SEQ_HALF then
        local from = (dir.highest + 1) % SEQ_MOD
        dir.highest = seq
        if ahead == 1 then return nil end
        local gap = { frame = number, from = from, count = ahead - 1, late = {} }
        local gaps = dir.gaps or {}
        if #gaps >= GAP_LIMIT then table.remove(gaps, 1) end
        gaps[#gaps + 1] = gap
        dir.gaps = gaps
        return "lost", gap
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
    return "out_of_order"
end

-- Numbers between the first and the highest seen that never arrived.
local function numbers_lost(dir)
    if not dir or not dir.first then return 0 end
    return (dir.highest - dir.first) % SEQ_MOD + 1 - dir.unique
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
    SEQ_MOD = SEQ_MOD, SEQ_HALF = SEQ_HALF, observe = observe_sequence,
    numbers_lost = numbers_lost, loss_text = loss_text,
}
