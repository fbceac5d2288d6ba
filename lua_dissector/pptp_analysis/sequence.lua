--[[
pptp-analysis: sequence analysis of a GRE flow (contract 5), a module of the plugin (loaded by
pptp.lua with require; it registers nothing and does nothing when run on its own). The same
rules as the harness's ground truth: lost = numbers never seen, duplicate, out of order (arrived
after a higher one). One packet alone is not trusted: the figures count only the numbers missing
between confirmed ones (a number in a run of three seen close together, or of two from the
flow's first), and the acceptance window follows the highest confirmed number; a number far
outside it is a stray counted apart, unless the next packet continues just after it: then the
flow restarted there (a reconnect that reuses the Call ID, a peer's reboot).
]]

local SEQ_MOD = 4294967296
local SEQ_HALF = 2147483648
-- Numbers further than this from the highest confirmed number (either way) are out of the
-- window: a stray moves nothing. After RESTART_IDLE seconds of silence, only a number ahead
-- within the window is taken as the flow going on.
local SEQ_WINDOW = 3000
local RESTART_IDLE = 60
-- A number is confirmed in a run of SEQ_RUN numbers seen, each at most SEQ_CONFIRM from the
-- next (RFC 3550 A.1 asks for packets in sequence before it believes a source; two altered
-- copies can land close together, three rarely do), or of two where one is the first number
-- of the episode (the flow starts there: no loss counts before it). A new number's run gains
-- members at most SEQ_REACH from it: any farther already ran with two others and was
-- confirmed then.
local SEQ_CONFIRM = 2
local SEQ_RUN = 3
local SEQ_REACH = (SEQ_RUN - 1) * SEQ_CONFIRM
-- A number at most this far ahead of a stray makes it a restart, if it comes before the flow
-- goes on (a number new to it within the window) and within RESTART_PROBATION packets.
local RESTART_STEP = 16
local RESTART_PROBATION = 8
-- Sequence numbers remembered per call direction: more than the window either side of the
-- highest confirmed and the neighbours that confirm its edges, so that every number the
-- window accepts is recognised when it comes again.
local SEEN_LIMIT = 8192
local GAP_LIMIT = 64 -- open gaps per direction that late packets are matched against
local LISTED_NUMBERS = 12 -- sequence numbers listed by name in a loss report

-- The confirmed numbers of the current episode are those from dir.low_confirmed to the
-- highest seen less dir.confirmed_lag (both nil while none is, and without a ring: then the
-- numbers seen run from dir.first to the highest without a hole, all confirmed once there are
-- two); dir.missing counts those between them never seen. A packet in order after the highest
-- confirmed moves none of these.

-- Numbers never seen: of the earlier episodes, and between the confirmed ones of this one.
local function numbers_lost(dir)
    if not dir or not dir.first then return 0 end
    return dir.lost_before + dir.missing
end

-- Whether the current episode has a confirmed number: without a ring its numbers run from
-- dir.first to the highest without a hole.
local function is_confirmed(dir)
    if not dir.highest then return false end
    if dir.ring then return dir.confirmed_lag ~= nil end
    return dir.highest ~= dir.first
end

-- A new episode from ``seq``: nothing in it confirmed yet.
local function new_episode(dir, seq)
    dir.first, dir.highest, dir.start = seq, seq, seq
    dir.ring, dir.gaps = nil, nil
    dir.low_confirmed, dir.confirmed_lag, dir.missing = nil, nil, 0
end

-- Whether the numbers ``gap`` skipped count in the losses of ``dir``, its flow: the number
-- that opened it lies between the confirmed edges.
local function far_end_confirmed(dir, gap)
    local low, lag = dir.low_confirmed, dir.confirmed_lag
    if not (low and lag) then return false end
    local far = (gap.from + gap.count) % SEQ_MOD
    return (far - low) % SEQ_MOD <= (dir.highest - lag - low) % SEQ_MOD
end

-- Whether the numbers a gap skipped count as lost: as the flow stands, or as its episode
-- ended (nil where that episode ended with the gap no longer held).
local function gap_counted(gap)
    if gap.counted ~= nil then return gap.counted end
    if gap.dir.ring ~= gap.ring then return nil end
    return far_end_confirmed(gap.dir, gap)
end

-- The flow restarted at ``seq`` (the stray of frame ``frame``): what was lost so far stays
-- counted, the stray now belongs to the new episode, whose numbers start afresh. The gaps
-- still held keep whether their episode counted them.
local function restart(dir, seq, frame)
    for _, gap in ipairs(dir.gaps or {}) do gap.counted = far_end_confirmed(dir, gap) end
    dir.lost_before = numbers_lost(dir)
    dir.out_of_window = dir.out_of_window - 1
    dir.restarts = dir.restarts + 1
    new_episode(dir, seq)
    return { seq = seq, frame = frame }
end

-- How many of the ``count`` numbers from ``from`` on the ring does not hold.
local function unseen_in(ring, from, count)
    local unseen = count
    for step = 0, count - 1 do
        local number = (from + step) % SEQ_MOD
        if ring[number % SEEN_LIMIT] == number then unseen = unseen - 1 end
    end
    return unseen
end

-- ``seq`` (seen) is confirmed: the confirmed edges ``low`` and ``high`` (nil while none)
-- move out to it, and ``missing`` grows by the numbers never seen an edge passed over.
local function confirm(ring, seq, low, high, missing)
    if not high then return seq, seq, missing end
    local up = (seq - high) % SEQ_MOD
    if up > 0 and up < SEQ_HALF then
        missing = missing + unseen_in(ring, high + 1, up)
        high = seq
    end
    local down = (low - seq) % SEQ_MOD
    if down > 0 and down < SEQ_HALF then
        missing = missing + unseen_in(ring, seq, down)
        low = seq
    end
    return low, high, missing
end

-- The farthest number of the run through ``seq`` (seen) one ``way`` (-1 down, 1 up), and how
-- many numbers it has that way; the walk stops past SEQ_REACH.
local function run_edge(ring, seq, way)
    local edge, members = seq, 0
    while (way * (edge - seq)) % SEQ_MOD <= SEQ_REACH do
        local next_member
        for distance = 1, SEQ_CONFIRM do
            local near = (edge + way * distance) % SEQ_MOD
            if ring[near % SEEN_LIMIT] == near then
                next_member = near
                break
            end
        end
        if not next_member then break end
        edge, members = next_member, members + 1
    end
    return edge, members
end

-- Confirms the run through ``seq`` (just added to the ring) if it has SEQ_RUN numbers, or
-- two with ``start``, the episode's first (numbers ahead of the highest, where ``forward`` seq
-- is the highest now, were never seen): the confirmed edges and the numbers missing between
-- them, as they become.
local function confirm_near(ring, seq, forward, start, low, high, missing)
    local below, members_below = run_edge(ring, seq, -1)
    local above, members_above = seq, 0
    if not forward then above, members_above = run_edge(ring, seq, 1) end
    local needed = (below == start or above == start) and SEQ_RUN - 1 or SEQ_RUN
    -- Losses count from the episode's first number on: a run behind it (a copy that landed
    -- there, or the end of what came before a capture begun mid-flow) moves no edge below it.
    local behind_start = (start - above) % SEQ_MOD
    if 1 + members_below + members_above >= needed
        and not (behind_start > 0 and behind_start < SEQ_HALF) then
        local under = (start - below) % SEQ_MOD
        if under > 0 and under < SEQ_HALF then below = start end
        low, high, missing = confirm(ring, below, low, high, missing)
        low, high, missing = confirm(ring, above, low, high, missing)
    end
    return low, high, missing
end

-- Sequence analysis of one flow (the same rules as the harness's ground truth) for a packet
-- of frame ``number`` captured at ``now`` (seconds): nil for a packet in order, else "lost"
-- and the gap it opened (against the highest seen), "duplicate", "out_of_order", or
-- "out_of_window" and the window's reference in words; a third value, where the flow
-- restarted at this packet, says where. The numbers seen are remembered in a ring of
-- SEEN_LIMIT slots (slot = number mod SEEN_LIMIT): bounded memory, no rebuilding. The count of
-- numbers missing between the confirmed edges is kept as they move, never counted afresh. A
-- gap remembers which of its numbers arrived later.
local function observe_in_flow(dir, seq, number, now)
    local highest = dir.highest
    local last_time = dir.last_time
    local count = (dir.sequenced or 0) + 1
    dir.last_time, dir.sequenced = now, count
    if not highest then
        new_episode(dir, seq)
        return nil
    end
    local restarted
    local strays = dir.strays
    if strays then
        -- The newest stray still on probation that this number continues from.
        for i = #strays, 1, -1 do
            local stray = strays[i]
            local from_stray = (seq - stray.seq) % SEQ_MOD
            if count - stray.packet <= RESTART_PROBATION and from_stray > 0
                and from_stray <= RESTART_STEP then
                dir.strays = nil
                restarted = restart(dir, stray.seq, stray.frame)
                highest = stray.seq
                break
            end
        end
    end
    local ahead = (seq - highest) % SEQ_MOD
    local ring = dir.ring
    local lag = ring and dir.confirmed_lag
    if not restarted then
        -- The window is measured from the highest confirmed number (the highest seen while
        -- none is); ahead within it (the common case) is never a stray.
        local reference, from_reference = highest, ahead
        if lag and lag ~= 0 then
            reference = (highest - lag) % SEQ_MOD
            from_reference = (seq - reference) % SEQ_MOD
        end
        if (from_reference == 0 or from_reference > SEQ_WINDOW)
            and ((reference - seq) % SEQ_MOD > SEQ_WINDOW
                or (last_time and now - last_time >= RESTART_IDLE)) then
            dir.out_of_window = dir.out_of_window + 1
            strays = dir.strays or {}
            if #strays >= RESTART_PROBATION then table.remove(strays, 1) end
            strays[#strays + 1] = { seq = seq, frame = number, packet = count }
            dir.strays = strays
            local confirmed = is_confirmed(dir) and "highest confirmed " or "highest "
            return "out_of_window", confirmed .. reference
        end
    end
    -- Made at the first number out of line: until then the numbers seen are those from
    -- dir.first to the highest, each once and in order, and the ring would hold just the last
    -- SEEN_LIMIT of them (a flow without loss never needs one).
    if not ring then
        local run = (highest - dir.first) % SEQ_MOD + 1
        local held = run > SEEN_LIMIT and SEEN_LIMIT or run
        if (highest - seq) % SEQ_MOD < held then
            dir.duplicates = dir.duplicates + 1
            return "duplicate", nil, restarted
        end
        if ahead == 1 then
            dir.highest = seq
            return nil, nil, restarted
        end
        ring = {}
        for back = held - 1, 0, -1 do
            local number_seen = (highest - back) % SEQ_MOD
            ring[number_seen % SEEN_LIMIT] = number_seen
        end
        dir.ring = ring
        if run > 1 then
            lag = 0
            dir.low_confirmed, dir.confirmed_lag = dir.first, lag
        end
    end
    local slot = seq % SEEN_LIMIT
    if ring[slot] == seq then
        dir.duplicates = dir.duplicates + 1
        return "duplicate", nil, restarted
    end
    ring[slot] = seq
    if ahead == 1 and lag == 0 then
        -- In order after the highest confirmed: it is the highest confirmed now (its run goes
        -- on, the numbers ahead were never seen), none missing between.
        dir.highest = seq
        return nil, nil, restarted
    end
    local forward = ahead > 0 and ahead < SEQ_HALF
    local low, high, missing = nil, nil, dir.missing
    local deep_inside = false
    if lag then
        low, high = dir.low_confirmed, (highest - lag) % SEQ_MOD
        local offset, span = (seq - low) % SEQ_MOD, (high - low) % SEQ_MOD
        if offset <= span then
            missing = missing - 1
            -- Its run's new members are inside too: no edge would move.
            deep_inside = offset >= SEQ_REACH and span - offset >= SEQ_REACH
        end
    end
    if not deep_inside then
        low, high, missing = confirm_near(ring, seq, forward, dir.start, low, high, missing)
    end
    if forward then highest = seq end
    dir.low_confirmed, dir.missing = low, missing
    dir.confirmed_lag = high and (highest - high) % SEQ_MOD
    if forward then
        local from = (highest - ahead + 1) % SEQ_MOD
        dir.highest = seq
        if ahead == 1 then return nil, nil, restarted end
        local gap = { frame = number, from = from, count = ahead - 1, late = {}, dir = dir,
            ring = ring }
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

-- Sequence numbers from ``base`` on as a short list: "17, 20-24, 31" (at most
-- LISTED_NUMBERS named), in serial order across the wrap; "..." where more than those are
-- meant (``more``: the list itself stops short).
local function number_list(numbers, base, more)
    table.sort(numbers, function(a, b) return (a - base) % SEQ_MOD < (b - base) % SEQ_MOD end)
    local parts, i = {}, 1
    while i <= #numbers and #parts < LISTED_NUMBERS do
        local j = i
        while j < #numbers and numbers[j + 1] == (numbers[j] + 1) % SEQ_MOD do j = j + 1 end
        parts[#parts + 1] = j > i and (numbers[i] .. "-" .. numbers[j]) or tostring(numbers[i])
        i = j + 1
    end
    if i <= #numbers or more then parts[#parts + 1] = "..." end
    return table.concat(parts, ", ")
end

-- What a loss was at its gap: on two passes, which numbers arrived later and which never,
-- or that the number which skipped them was never confirmed (no loss counted); and whether
-- that was so.
local function loss_text(gap, visited)
    if not visited then return gap.count .. " sequence number(s) skipped" end
    local late = #gap.late
    if late == gap.count then
        return string.format("%d skipped: all arrived later, out of order", gap.count)
    end
    if gap_counted(gap) == false then
        return string.format("%d skipped by sequence number %d, which no number near it "
            .. "confirms (a damaged or forged copy?): not counted as lost", gap.count,
            (gap.from + gap.count) % SEQ_MOD), "unconfirmed"
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
    local listed = number_list(missing, gap.from, #missing < gap.count - late)
    if late == 0 then
        return string.format("%d lost (seq %s): none arrived later", gap.count, listed)
    end
    return string.format("%d skipped: %d arrived later, %d lost (seq %s)", gap.count, late,
        gap.count - late, listed)
end

-- As observe_in_flow; a number new to the flow within the window (it went on) ends the
-- probation of every stray before it.
local function observe_sequence(dir, seq, number, now)
    local verdict, detail, restarted = observe_in_flow(dir, seq, number, now)
    if dir.strays and verdict ~= "out_of_window" and verdict ~= "duplicate" then
        dir.strays = nil
    end
    return verdict, detail, restarted
end

return {
    SEQ_MOD = SEQ_MOD, SEQ_HALF = SEQ_HALF, SEQ_WINDOW = SEQ_WINDOW,
    observe = observe_sequence, is_confirmed = is_confirmed,
    numbers_lost = numbers_lost, loss_text = loss_text,
}
