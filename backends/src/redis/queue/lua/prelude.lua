-- Shared by every script of the Redis queue. Every key is declared in KEYS, in this order,
-- and all carry the queue's hash tag, so a script runs on one shard of a Cluster.
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
local K_SEQ = KEYS[14]       -- counter: death order and lease ids
local K_MARKER = KEYS[15]    -- list: wakes idle workers blocked on BLPOP
-- States in meta: p(ending), r(unning), c(ompleted), d(ead).

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function str(n)
  return string.format('%d', n)
end

local function encode(m)
  return m.state .. '|' .. str(m.attempts) .. '|' .. str(m.run_at) .. '|' .. str(m.enqueued) ..
    '|' .. str(m.rank) .. '|' .. str(m.max) .. '|' .. (m.unique and '1' or '0') .. '|' .. m.lease
end

-- The job's mutable state, or nil when it does not exist.
local function meta_of(id)
  local raw = redis.call('HGET', K_META, id)
  if not raw then return nil end
  local s, a, run, enq, r, max, u, lease =
    string.match(raw, '^(%a)|(%d+)|(%d+)|(%d+)|(%d)|(%d+)|(%d)|(.*)$')
  return {state = s, attempts = tonumber(a), run_at = tonumber(run), enqueued = tonumber(enq),
    rank = tonumber(r), max = tonumber(max), unique = (u == '1'), lease = lease}
end

local function save(id, m)
  local raw = encode(m)
  redis.call('HSET', K_META, id, raw)
  return raw
end

local function spec_of(id)
  return cjson.decode(redis.call('HGET', K_SPEC, id))
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

local function make_dead(id, m)
  local seq = redis.call('INCR', K_SEQ)
  m.state, m.lease = 'd', ''
  save(id, m)
  redis.call('ZADD', K_DEAD, seq, id)
  redis.call('ZADD', K_DEAD_LEX, 0, dead_member(spec_of(id).t, seq, id))
end

-- Takes a dead job out of both dead-letter indexes.
local function unmake_dead(id)
  local seq = redis.call('ZSCORE', K_DEAD, id)
  if seq then
    redis.call('ZREM', K_DEAD, id)
    redis.call('ZREM', K_DEAD_LEX, dead_member(spec_of(id).t, tonumber(seq), id))
  end
end

local function record_error(id, attempt, now, message)
  local entry = cjson.encode({attempt = attempt, at = now, message = message})
  local errors = redis.call('HGET', K_ERRORS, id)
  if not errors then
    errors = '[' .. entry .. ']'
  else
    errors = string.sub(errors, 1, -2) .. ',' .. entry .. ']'
  end
  redis.call('HSET', K_ERRORS, id, errors)
end

-- Deletes every trace of a job and frees its unique key.
local function forget(id, m)
  if m.unique then
    local key = spec_of(id).u
    if key and redis.call('HGET', K_UNIQUE, key) == id then
      redis.call('HDEL', K_UNIQUE, key)
    end
    redis.call('ZREM', K_COMPLETED, id)
  end
  redis.call('HDEL', K_PAYLOAD, id)
  redis.call('HDEL', K_SPEC, id)
  redis.call('HDEL', K_META, id)
  redis.call('HDEL', K_ERRORS, id)
end

-- The meta of a job that lease_id still holds, or nil and the refusal code.
local function held(id, lease_id)
  local m = meta_of(id)
  if not m then return nil, 'N' end
  if m.state ~= 'r' or m.lease ~= lease_id then return nil, 'C' end
  return m, nil
end

-- Hands back up to limit lapsed leases: ready now, or dead after their last attempt.
local function recover(now, limit)
  local ids = redis.call('ZRANGEBYSCORE', K_RUNNING, '-inf', now, 'WITHSCORES', 'LIMIT', 0, limit)
  local done = 0
  for i = 1, #ids, 2 do
    local id, expiry = ids[i], tonumber(ids[i + 1])
    redis.call('ZREM', K_RUNNING, id)
    local m = meta_of(id)
    if m then
      record_error(id, m.attempts, now, 'lease expired at ' .. str(expiry) ..
        ' ms since the epoch (worker lost or too slow)')
      if m.attempts >= m.max then
        make_dead(id, m)
      else
        make_pending(id, m, now)
      end
      done = done + 1
    end
  end
  if done > 0 then wake(done) end
  return done
end

-- One job as the client decodes it: id, payload, spec, meta, errors.
local function push_row(out, id, meta)
  out[#out + 1] = id
  out[#out + 1] = redis.call('HGET', K_PAYLOAD, id) or ''
  out[#out + 1] = redis.call('HGET', K_SPEC, id) or ''
  out[#out + 1] = meta or redis.call('HGET', K_META, id) or ''
  out[#out + 1] = redis.call('HGET', K_ERRORS, id) or ''
end
