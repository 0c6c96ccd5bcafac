-- ARGV: retention ms, then 8 per job: id, payload, spec JSON, rank, max attempts, run_at ms
-- ('' = now + delay), delay ms, unique key ('' = none). Answers per job 'C'..id, or
-- 'D'..id of the job that holds the work already: one with the same id (a retried enqueue
-- changes nothing), or a live job with the same unique key. Writes each hash once for the
-- whole batch, after every argument has been checked.
local retention = whole(ARGV[1], 0, LATEST)
if not retention or (#ARGV - 1) % 8 ~= 0 then
  return redis.error_reply('enqueue: malformed arguments')
end
local now = now_ms()
local jobs = {}
for i = 2, #ARGV, 8 do
  local job = {id = ARGV[i], payload = ARGV[i + 1], spec = ARGV[i + 2],
    rank = whole(ARGV[i + 3], 0, 3), max = whole(ARGV[i + 4], 1, 1e15),
    delay = whole(ARGV[i + 6], 0, LATEST), unique = ARGV[i + 7]}
  if ARGV[i + 5] ~= '' then
    job.run_at = whole(ARGV[i + 5], 0, LATEST)
  elseif job.delay then
    job.run_at = math.min(now + job.delay, LATEST)
  end
  if job.id == '' or not job.rank or not job.max or not job.run_at then
    return redis.error_reply('enqueue: malformed job ' .. tostring(job.id))
  end
  jobs[#jobs + 1] = job
end

-- Forget completed jobs whose retention has passed: at least as many as this call may add,
-- so a steady stream of unique jobs cannot grow the completed set without bound.
local expired = redis.call('ZRANGEBYSCORE', K_COMPLETED, '-inf', now - retention,
  'LIMIT', 0, 100 + #jobs)
for _, id in ipairs(expired) do forget(id, (spec_of(id))) end

-- The job holding unique key `key`, or nil when it is free: no job, or a completed one whose
-- retention has passed (forgotten now, whether or not the sweep above reached it).
local function holder(key)
  local id = redis.call('HGET', K_UNIQUE, key)
  if not id then return nil end
  local m = meta_of(id)
  if not m then return nil end
  if m.state == 'c' then
    local done = tonumber(redis.call('ZSCORE', K_COMPLETED, id))
    if not done or done <= now - retention then
      forget(id, (spec_of(id)))
      return nil
    end
  end
  return id
end

local out, ready = {}, 0
local payloads, specs, metas, uniques = {}, {}, {}, {}
local pending = {{}, {}, {}, {}}
local claimed, seen = {}, {}
for _, job in ipairs(jobs) do
  local existing = false
  if seen[job.id] or redis.call('HEXISTS', K_META, job.id) == 1 then
    existing = job.id
  elseif job.unique ~= '' then
    existing = claimed[job.unique] or holder(job.unique)
  end
  if existing then
    out[#out + 1] = 'D' .. existing
  else
    local m = {state = 'p', attempts = 0, run_at = job.run_at, enqueued = now, rank = job.rank,
      max = job.max, unique = job.unique ~= '', lease = ''}
    local n = #payloads
    payloads[n + 1], payloads[n + 2] = job.id, job.payload
    specs[n + 1], specs[n + 2] = job.id, job.spec
    metas[n + 1], metas[n + 2] = job.id, encode(m)
    local p = pending[job.rank + 1]
    p[#p + 1], p[#p + 2] = job.run_at, job.id
    seen[job.id] = true
    if job.unique ~= '' then
      claimed[job.unique] = job.id
      uniques[#uniques + 1], uniques[#uniques + 2] = job.unique, job.id
    end
    if job.run_at <= now then ready = ready + 1 end
    out[#out + 1] = 'C' .. job.id
  end
end
if #payloads > 0 then
  redis.call('HSET', K_PAYLOAD, unpack(payloads))
  redis.call('HSET', K_SPEC, unpack(specs))
  redis.call('HSET', K_META, unpack(metas))
end
if #uniques > 0 then redis.call('HSET', K_UNIQUE, unpack(uniques)) end
for rank = 1, 4 do
  if #pending[rank] > 0 then redis.call('ZADD', K_PENDING[rank], unpack(pending[rank])) end
end
wake(ready)
return out
