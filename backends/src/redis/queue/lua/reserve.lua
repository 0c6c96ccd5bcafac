-- ARGV: max, lease ms, how many lapsed leases to recover first, the completed jobs' retention
-- ms, then max lease ids (random, made by the client). Answers the lease expiry, the number of notes and the notes (entries
-- removed because nothing about them could be read), then one row (see push_row) per leased
-- job, most urgent first, FIFO within a priority.
--
-- Reads and checks every entry it will touch first; only then writes. An entry it cannot
-- read is dead-lettered (or removed) and its neighbours are leased as usual.
local max = whole(ARGV[1], 1, 100000)
local lease_ms = whole(ARGV[2], 1, LATEST)
local recover_limit = whole(ARGV[3], 0, 100000)
local retention = whole(ARGV[4], 0, LATEST)
if not max or not lease_ms or not recover_limit or not retention or #ARGV < 4 + max then
  return redis.error_reply('reserve: malformed arguments')
end
local now = now_ms()
local expiry = now + lease_ms
if expiry > LATEST then expiry = LATEST end

-- Read: completed jobs past their retention (forgotten below, a bounded few per call, so an
-- idle queue's workers clear them), lapsed leases (their jobs compete for their old places),
-- then due pending jobs.
local expired = redis.call('ZRANGEBYSCORE', K_COMPLETED, '-inf', now - retention, 'LIMIT', 0, 100)
local expired_specs = {}
for i, id in ipairs(expired) do expired_specs[i] = spec_of(id) or false end
local lapsed_entries = lapsed(now, recover_limit)
local back = {{}, {}, {}, {}}
for _, e in ipairs(lapsed_entries) do
  if not e.bad and e.m.attempts < e.m.max then
    local list = back[e.m.rank + 1]
    e.score, e.from = e.m.run_at, 0
    list[#list + 1] = e
  end
end
local chosen, unreadable = {}, {}
for rank = 1, 4 do
  local want = max - #chosen
  if want <= 0 then break end
  local flat = redis.call('ZRANGEBYSCORE', K_PENDING[rank], '-inf', now, 'WITHSCORES', 'LIMIT', 0, want)
  local candidates = {}
  for i = 1, #flat, 2 do
    local e = {id = flat[i], score = tonumber(flat[i + 1]), from = rank}
    e.m, e.spec, e.bad = load(e.id)
    if not e.bad and e.m.state ~= 'p' then
      e.bad = 'in the pending set but in state ' .. e.m.state
    end
    if e.bad then
      unreadable[#unreadable + 1] = e
    else
      candidates[#candidates + 1] = e
    end
  end
  for _, e in ipairs(back[rank]) do candidates[#candidates + 1] = e end
  table.sort(candidates, function(a, b)
    if a.score ~= b.score then return a.score < b.score end
    return a.id < b.id
  end)
  for i = 1, math.min(#candidates, want) do
    candidates[i].leased = true
    chosen[#chosen + 1] = candidates[i]
  end
end

-- Write.
for i, id in ipairs(expired) do forget(id, expired_specs[i] or nil) end
local notes = {}
recover_entries(lapsed_entries, now, notes)
for _, e in ipairs(unreadable) do
  local note = quarantine(e.id, e.spec, e.bad, now)
  if note then notes[#notes + 1] = note end
end
local taken = {{}, {}, {}, {}}
local running, rows = {}, {}
for i, e in ipairs(chosen) do
  if e.from > 0 then
    local list = taken[e.from]
    list[#list + 1] = e.id
  end
  e.m.state, e.m.attempts, e.m.lease = 'r', e.m.attempts + 1, ARGV[4 + i]
  push_row(rows, e.id, save(e.id, e.m))
  running[#running + 1], running[#running + 2] = expiry, e.id
end
for rank = 1, 4 do
  if #taken[rank] > 0 then redis.call('ZREM', K_PENDING[rank], unpack(taken[rank])) end
end
if #running > 0 then redis.call('ZADD', K_RUNNING, unpack(running)) end
if #expired > 0 then tidy() end

local out = {str(expiry), str(#notes)}
for _, note in ipairs(notes) do out[#out + 1] = note end
for _, field in ipairs(rows) do out[#out + 1] = field end
return out
