-- Shared by every script of the Redis queue. Every key is declared in KEYS, in this order,
-- and all carry the queue's hash tag, so a script runs on one shard of a Cluster.
--
-- Discipline: a script reads and checks everything it needs before its first write, and no
-- read raises (stored values are parsed with checks, JSON with pcall), so Redis never keeps
-- half of a script's writes. An entry that cannot be read is dead-lettered with the reason,
-- or, when not even its spec can be read, removed with the reason logged and answered.
local K_PENDING = {KEYS[1], KEYS[2], KEYS[3], KEYS[4]} -- zset per priority (critical first): id -> run_at ms
local K_RUNNING = KEYS[5]    -- zset: id -> lease expiry ms
local K_DEAD = KEYS[6]       -- zset: id -> death sequence number
local K_DEAD_LEX = KEYS[7]   -- zset, score 0: "type\0seq\0id", dead jobs by type in death order
local K_COMPLETED = KEYS[8]  -- zset: id -> completion ms (jobs that hold a unique key)
local K_UNIQUE = KEYS[9]     -- hash: unique key -> id
local K_PAYLOAD = KEYS[10]   -- hash: id -> payload JSON (read by the client only)
local K_SPEC = KEYS[11]      -- hash: id -> {"t": type, "r": rank, "m": max attempts, "u": unique key}
local K_META = KEYS[12]      -- hash: id -> "state|attempts|run_at|enqueued|rank|max|unique?|lease"
local K_ERRORS = KEYS[13]    -- hash: id -> JSON array of {attempt, at, message}
local K_SEQ = KEYS[14]       -- counter: death order (lease ids are made by the client)
local K_MARKER = KEYS[15]    -- list: wakes idle workers blocked on BLPOP
local K_WORKERS = KEYS[16]   -- hash: worker id -> "seen ms|expires ms|report JSON" (workers.lua)
local K_WORKERS_DUE = KEYS[17] -- zset: worker id -> expiry ms
-- States in meta: p(ending), r(unning), c(ompleted), d(ead).

-- The latest time kept, 9999-12-31T23:59:59.999Z in ms (exact in a double); see core's bounds.
local LATEST = 253402300799999

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function str(n)
  return string.format('%d', n)
end

-- A whole number in [lo, hi] from a string, or nil.
local function whole(s, lo, hi)
  local n = tonumber(s)
  if not n or n ~= math.floor(n) or n < lo or n > hi then return nil end
  return n
end

local function encode(m)
  return m.state .. '|' .. str(m.attempts) .. '|' .. str(m.run_at) .. '|' .. str(m.enqueued) ..
    '|' .. str(m.rank) .. '|' .. str(m.max) .. '|' .. (m.unique and '1' or '0') .. '|' .. m.lease
end

local function shorten(raw)
  if #raw > 80 then return string.sub(raw, 1, 80) .. '...' end
  return raw
end

-- The job's mutable state; nil and 'missing' when it does not exist, nil and a reason when
-- it cannot be read.
local function meta_of(id)
  local raw = redis.call('HGET', K_META, id)
  if not raw then return nil, 'missing' end
  local s, a, run, enq, r, max, u, lease =
    string.match(raw, '^([prcd])|(%d+)|(%d+)|(%d+)|([0-3])|(%d+)|([01])|(.*)$')
  local m = s and {state = s, attempts = whole(a, 0, 1e15), run_at = whole(run, 0, LATEST),
    enqueued = whole(enq, 0, LATEST), rank = tonumber(r), max = whole(max, 1, 1e15),
    unique = (u == '1'), lease = lease}
  if not m or not (m.attempts and m.run_at and m.enqueued and m.max) then
    return nil, 'unreadable meta `' .. shorten(raw) .. '`'
  end
  return m, nil
end

local function save(id, m)
  local raw = encode(m)
  redis.call('HSET', K_META, id, raw)
  return raw
end

-- What the job is (type, rank, max attempts, unique key); nil and a reason when it is
-- missing or cannot be read.
local function spec_of(id)
  local raw = redis.call('HGET', K_SPEC, id)
  if not raw then return nil, 'missing spec' end
  local ok, s = pcall(cjson.decode, raw)
  if not ok or type(s) ~= 'table' or type(s.t) ~= 'string' or s.t == '' or
      not whole(s.r, 0, 3) or not whole(s.m, 1, 1e15) or
      (s.u ~= nil and type(s.u) ~= 'string') then
    return nil, 'unreadable spec `' .. shorten(raw) .. '`'
  end
  return s, nil
end

-- A job's meta and spec, or what cannot be read: m, spec, reason (reason nil when all is well).
local function load(id)
  local m, why = meta_of(id)
  local spec, spec_why = spec_of(id)
  if not m then return nil, spec, (why == 'missing') and 'missing meta' or why end
  if not spec then return m, nil, spec_why end
  return m, spec, nil
end

-- Wakes up to n idle workers; the list is capped so unclaimed wakes never pile up.
local function wake(n)
  if n <= 0 then return end
  for _ = 1, math.min(n, 16) do
    redis.call('RPUSH', K_MARKER, '1')
  end
  redis.call('LTRIM', K_MARKER, -64, -1)
end

local function make_pending(id, m, run_at)
  m.state, m.run_at, m.lease = 'p', run_at, ''
  save(id, m)
  redis.call('ZADD', K_PENDING[m.rank + 1], run_at, id)
end

local function dead_member(job_type, seq, id)
  return job_type .. '\0' .. string.format('%020d', seq) .. '\0' .. id
end

local function make_dead(id, m, job_type)
  local seq = redis.call('INCR', K_SEQ)
  m.state, m.lease = 'd', ''
  save(id, m)
  redis.call('ZADD', K_DEAD, seq, id)
  redis.call('ZADD', K_DEAD_LEX, 0, dead_member(job_type, seq, id))
end

-- Takes a dead job out of both dead-letter indexes.
local function unmake_dead(id, job_type)
  local seq = redis.call('ZSCORE', K_DEAD, id)
  if seq then
    redis.call('ZREM', K_DEAD, id)
    if job_type then
      redis.call('ZREM', K_DEAD_LEX, dead_member(job_type, tonumber(seq), id))
    end
  end
end

local function record_error(id, attempt, now, message)
  local entry = cjson.encode({attempt = attempt, at = now, message = message})
  local errors = redis.call('HGET', K_ERRORS, id)
  if not errors or string.sub(errors, 1, 1) ~= '[' or string.sub(errors, -1) ~= ']' then
    errors = '[' .. entry .. ']'
  elseif errors == '[]' then
    errors = '[' .. entry .. ']'
  else
    errors = string.sub(errors, 1, -2) .. ',' .. entry .. ']'
  end
  redis.call('HSET', K_ERRORS, id, errors)
end

-- Deletes every trace of a job and frees its unique key (spec may be nil when unreadable).
local function forget(id, spec)
  local key = spec and spec.u
  if key and redis.call('HGET', K_UNIQUE, key) == id then
    redis.call('HDEL', K_UNIQUE, key)
  end
  redis.call('ZREM', K_COMPLETED, id)
  redis.call('HDEL', K_PAYLOAD, id)
  redis.call('HDEL', K_SPEC, id)
  redis.call('HDEL', K_META, id)
  redis.call('HDEL', K_ERRORS, id)
end

-- Deals with a job that cannot be read: dead-lettered with the reason when its spec can be
-- read, otherwise removed from every index with the reason logged. Answers a note for the
-- client's log, or nil.
local function quarantine(id, spec, reason, now)
  for rank = 1, 4 do redis.call('ZREM', K_PENDING[rank], id) end
  redis.call('ZREM', K_RUNNING, id)
  if spec then
    unmake_dead(id, spec.t)
    record_error(id, 0, now, 'dead-lettered by the queue: ' .. reason)
    local m = {state = 'd', attempts = 0, run_at = now, enqueued = now, rank = spec.r,
      max = spec.m, unique = spec.u ~= nil, lease = ''}
    make_dead(id, m, spec.t)
    return nil
  end
  unmake_dead(id, nil)
  forget(id, nil)
  local note = 'removed job ' .. id .. ', nothing about it can be read: ' .. reason
  redis.log(redis.LOG_WARNING, 'stack queue ' .. K_META .. ': ' .. note)
  return note
end

-- The meta of a job that lease_id still holds, or nil and the refusal code. A job whose meta
-- cannot be read is refused as a conflict; recovery dead-letters it when its lease lapses.
local function held(id, lease_id)
  local m, why = meta_of(id)
  if not m then return nil, (why == 'missing') and 'N' or 'C' end
  if m.state ~= 'r' or m.lease ~= lease_id then return nil, 'C' end
  return m, nil
end

-- Reads up to limit lapsed leases: entries {id, expiry, m, spec, bad}. Writes nothing.
local function lapsed(now, limit)
  local flat = redis.call('ZRANGEBYSCORE', K_RUNNING, '-inf', now, 'WITHSCORES', 'LIMIT', 0, limit)
  local entries = {}
  for i = 1, #flat, 2 do
    local e = {id = flat[i], expiry = flat[i + 1]}
    e.m, e.spec, e.bad = load(e.id)
    if not e.bad and e.m.state ~= 'r' then
      e.bad = 'in the running set but in state ' .. e.m.state
    end
    entries[#entries + 1] = e
  end
  return entries
end

-- Hands back the lapsed leases read by lapsed() that are not leased again (e.leased): ready
-- again in their old place (their run time, so FIFO holds), or dead after their last attempt.
-- Answers how many, and adds notes for removed entries.
local function recover_entries(entries, now, notes)
  local done, ready = 0, 0
  for _, e in ipairs(entries) do
    if e.bad then
      local note = quarantine(e.id, e.spec, e.bad, now)
      if note then notes[#notes + 1] = note end
    else
      record_error(e.id, e.m.attempts, now, 'lease expired at ' .. str(tonumber(e.expiry) or 0) ..
        ' ms since the epoch (worker lost or too slow)')
      if not e.leased then
        redis.call('ZREM', K_RUNNING, e.id)
        if e.m.attempts >= e.m.max then
          make_dead(e.id, e.m, e.spec.t)
        else
          make_pending(e.id, e.m, e.m.run_at)
          ready = ready + 1
        end
      end
    end
    done = done + 1
  end
  wake(ready)
  return done
end

-- When the queue holds no job at all, its stale wake-ups and its death counter go too (death
-- order matters only among dead jobs), so an idle queue leaves no key behind: Redis deletes
-- an emptied hash or sorted set by itself.
local function tidy()
  if redis.call('EXISTS', K_META) == 0 then redis.call('DEL', K_MARKER, K_SEQ) end
end

-- One job as the client decodes it: id, payload, spec, meta, errors.
local function push_row(out, id, meta)
  out[#out + 1] = id
  out[#out + 1] = redis.call('HGET', K_PAYLOAD, id) or ''
  out[#out + 1] = redis.call('HGET', K_SPEC, id) or ''
  out[#out + 1] = meta or redis.call('HGET', K_META, id) or ''
  out[#out + 1] = redis.call('HGET', K_ERRORS, id) or ''
end
