-- ARGV: max, lease ms, how many lapsed leases to recover first. Answers the lease expiry,
-- then one row (see push_row) per leased job, most urgent first, FIFO within a priority.
local max, lease_ms = tonumber(ARGV[1]), tonumber(ARGV[2])
local now = now_ms()
recover(now, tonumber(ARGV[3]))
local expiry = now + lease_ms
local out = {str(expiry)}
local taken = 0
for rank = 1, 4 do
  if taken >= max then break end
  local ids = redis.call('ZRANGEBYSCORE', K_PENDING[rank], '-inf', now, 'LIMIT', 0, max - taken)
  for _, id in ipairs(ids) do
    taken = taken + 1
    redis.call('ZREM', K_PENDING[rank], id)
    redis.call('HINCRBY', K_ATTEMPTS, id, 1)
    redis.call('HSET', K_STATE, id, 'running')
    -- Lease ids come from a counter that never goes back: unique for the queue's life.
    local n = redis.call('INCR', K_SEQ)
    redis.call('HSET', K_LEASE, id, string.format('00000000-0000-4000-8000-%012x', n))
    redis.call('ZADD', K_RUNNING, expiry, id)
    push_row(out, id)
  end
end
return out
