-- ARGV: retention ms, then 7 per job: id, payload, spec JSON, rank, run_at ms ('' = now +
-- delay), delay ms, unique key ('' = none). Answers per job 'C'..id or 'D'..existing id.
local now = now_ms()
local expired = redis.call('ZRANGEBYSCORE', K_COMPLETED, '-inf', now - tonumber(ARGV[1]), 'LIMIT', 0, 100)
for _, id in ipairs(expired) do
  forget(id, spec_of(id))
end
local out, ready = {}, 0
for i = 2, #ARGV, 7 do
  local id, unique = ARGV[i], ARGV[i + 6]
  local existing = false
  if unique ~= '' then
    existing = redis.call('HGET', K_UNIQUE, unique)
    if existing and redis.call('HEXISTS', K_STATE, existing) == 0 then existing = false end
  end
  if existing then
    out[#out + 1] = 'D' .. existing
  else
    local run_at = now + tonumber(ARGV[i + 5])
    if ARGV[i + 4] ~= '' then run_at = tonumber(ARGV[i + 4]) end
    redis.call('HSET', K_PAYLOAD, id, ARGV[i + 1])
    redis.call('HSET', K_SPEC, id, ARGV[i + 2])
    redis.call('HSET', K_ENQUEUED, id, str(now))
    redis.call('HSET', K_ATTEMPTS, id, 0)
    if unique ~= '' then redis.call('HSET', K_UNIQUE, unique, id) end
    make_pending(id, {r = tonumber(ARGV[i + 3])}, run_at)
    if run_at <= now then ready = ready + 1 end
    out[#out + 1] = 'C' .. id
  end
end
wake(ready)
return out
