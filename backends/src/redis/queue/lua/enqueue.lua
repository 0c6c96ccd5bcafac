-- ARGV: retention ms, then 8 per job: id, payload, spec JSON, rank, max attempts, run_at ms
-- ('' = now + delay), delay ms, unique key ('' = none). Answers per job 'C'..id or
-- 'D'..existing id. Writes each hash once for the whole batch.
local now = now_ms()
local expired = redis.call('ZRANGEBYSCORE', K_COMPLETED, '-inf', now - tonumber(ARGV[1]), 'LIMIT', 0, 100)
for _, id in ipairs(expired) do
  local m = meta_of(id)
  if m then forget(id, m) else redis.call('ZREM', K_COMPLETED, id) end
end
local out, ready = {}, 0
local payloads, specs, metas, uniques = {}, {}, {}, {}
local pending = {{}, {}, {}, {}}
local claimed = {}
for i = 2, #ARGV, 8 do
  local id, unique = ARGV[i], ARGV[i + 7]
  local existing = false
  if unique ~= '' then
    existing = claimed[unique] or redis.call('HGET', K_UNIQUE, unique)
    if existing and not claimed[unique] and redis.call('HEXISTS', K_META, existing) == 0 then
      existing = false
    end
  end
  if existing then
    out[#out + 1] = 'D' .. existing
  else
    local run_at = now + tonumber(ARGV[i + 6])
    if ARGV[i + 5] ~= '' then run_at = tonumber(ARGV[i + 5]) end
    local rank = tonumber(ARGV[i + 3])
    local m = {state = 'p', attempts = 0, run_at = run_at, enqueued = now, rank = rank,
      max = tonumber(ARGV[i + 4]), unique = unique ~= '', lease = ''}
    local n = #payloads
    payloads[n + 1], payloads[n + 2] = id, ARGV[i + 1]
    specs[n + 1], specs[n + 2] = id, ARGV[i + 2]
    metas[n + 1], metas[n + 2] = id, encode(m)
    local p = pending[rank + 1]
    p[#p + 1], p[#p + 2] = run_at, id
    if unique ~= '' then
      claimed[unique] = id
      uniques[#uniques + 1], uniques[#uniques + 2] = unique, id
    end
    if run_at <= now then ready = ready + 1 end
    out[#out + 1] = 'C' .. id
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
