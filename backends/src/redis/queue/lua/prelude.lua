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
local K_ENQUEUED = KEYS[12]  -- hash: id -> enqueued ms
local K_STATE = KEYS[13]     -- hash: id -> pending | running | completed | dead
local K_ATTEMPTS = KEYS[14]  -- hash: id -> attempts started
local K_RUN_AT = KEYS[15]    -- hash: id -> run_at ms
local K_LEASE = KEYS[16]     -- hash: id -> current lease id (while running)
local K_ERRORS = KEYS[17]    -- hash: id -> JSON array of {attempt, at, message}
local K_SEQ = KEYS[18]       -- counter: death order and lease ids
local K_MARKER = KEYS[19]    -- list: wakes idle workers blocked on BLPOP

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function str(n)
  return string.format('%d', n)
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

local function make_pending(id, spec, run_at)
  redis.call('HSET', K_STATE, id, 'pending')
  redis.call('HSET', K_RUN_AT, id, str(run_at))
  redis.call('ZADD', K_PENDING[spec.r + 1], run_at, id)
end

local function dead_member(spec, seq, id)
  return spec.t .. '\0' .. string.format('%020d', seq) .. '\0' .. id
end

local function make_dead(id, spec)
  local seq = redis.call('INCR', K_SEQ)
  redis.call('HSET', K_STATE, id, 'dead')
  redis.call('ZADD', K_DEAD, seq, id)
  redis.call('ZADD', K_DEAD_LEX, 0, dead_member(spec, seq, id))
end

-- Takes a dead job out of both dead-letter indexes.
local function unmake_dead(id, spec)
  local seq = redis.call('ZSCORE', K_DEAD, id)
  if seq then
    redis.call('ZREM', K_DEAD, id)
    redis.call('ZREM', K_DEAD_LEX, dead_member(spec, tonumber(seq), id))
  end
end

local function record_error(id, attempt, now, message)
  local entry = cjson.encode({attempt = attempt, at = now, message = message})
  local errors = redis.call('HGET', K_ERRORS, id)
  if not errors or errors == '[]' then
    errors = '[' .. entry .. ']'
  else
    errors = string.sub(errors, 1, -2) .. ',' .. entry .. ']'
  end
  redis.call('HSET', K_ERRORS, id, errors)
end

-- Deletes every trace of a job and frees its unique key.
local function forget(id, spec)
  if spec.u and redis.call('HGET', K_UNIQUE, spec.u) == id then
    redis.call('HDEL', K_UNIQUE, spec.u)
  end
  redis.call('ZREM', K_COMPLETED, id)
  for _, key in ipairs({K_PAYLOAD, K_SPEC, K_ENQUEUED, K_STATE, K_ATTEMPTS, K_RUN_AT, K_LEASE, K_ERRORS}) do
    redis.call('HDEL', key, id)
  end
end

-- Checks that lease_id still holds job id: nil when it does, else the error reply.
local function check_lease(id, lease_id)
  if redis.call('HEXISTS', K_STATE, id) == 0 then return 'N' end
  if redis.call('HGET', K_LEASE, id) ~= lease_id then return 'C' end
  return nil
end

-- Ends the lease of a job whose lease check passed.
local function end_lease(id)
  redis.call('ZREM', K_RUNNING, id)
  redis.call('HDEL', K_LEASE, id)
end

-- Hands back up to limit lapsed leases: ready now, or dead after their last attempt.
local function recover(now, limit)
  local ids = redis.call('ZRANGEBYSCORE', K_RUNNING, '-inf', now, 'WITHSCORES', 'LIMIT', 0, limit)
  local done = 0
  for i = 1, #ids, 2 do
    local id, expiry = ids[i], tonumber(ids[i + 1])
    end_lease(id)
    local spec = spec_of(id)
    local attempts = tonumber(redis.call('HGET', K_ATTEMPTS, id))
    record_error(id, attempts, now, 'lease expired at ' .. str(expiry) ..
      ' ms since the epoch (worker lost or too slow)')
    if attempts >= spec.m then
      make_dead(id, spec)
    else
      make_pending(id, spec, now)
    end
    done = done + 1
  end
  if done > 0 then wake(done) end
  return done
end

-- One job as the client decodes it: id, payload, spec, enqueued, state, attempts, run_at,
-- errors, lease id.
local function push_row(out, id)
  local fields = {K_PAYLOAD, K_SPEC, K_ENQUEUED, K_STATE, K_ATTEMPTS, K_RUN_AT, K_ERRORS, K_LEASE}
  out[#out + 1] = id
  for _, key in ipairs(fields) do
    out[#out + 1] = redis.call('HGET', key, id) or ''
  end
end
