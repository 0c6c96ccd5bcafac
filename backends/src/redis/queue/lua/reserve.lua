-- ARGV: max, lease ms, how many lapsed leases to recover first. Answers the lease expiry,
-- then one row (see push_row) per leased job, most urgent first, FIFO within a priority.
local max, lease_ms = tonumber(ARGV[1]), tonumber(ARGV[2])
local now = now_ms()
recover(now, tonumber(ARGV[3]))
local expiry = now + lease_ms
local out = {str(expiry)}
local taken = 0
local running = {}
for rank = 1, 4 do
  if taken >= max then break end
  local ids = redis.call('ZRANGEBYSCORE', K_PENDING[rank], '-inf', now, 'LIMIT', 0, max - taken)
  if #ids > 0 then
    -- The due jobs taken are the lowest-scored ones: remove them by rank in one call.
    redis.call('ZREMRANGEBYRANK', K_PENDING[rank], 0, #ids - 1)
    -- Lease ids come from a counter that never goes back: unique for the queue's life.
    local last = redis.call('INCRBY', K_SEQ, #ids)
    for i, id in ipairs(ids) do
      local m = meta_of(id)
      m.state, m.attempts = 'r', m.attempts + 1
      m.lease = string.format('00000000-0000-4000-8000-%012x', last - #ids + i)
      push_row(out, id, save(id, m))
      running[#running + 1], running[#running + 2] = expiry, id
    end
    taken = taken + #ids
  end
end
if #running > 0 then redis.call('ZADD', K_RUNNING, unpack(running)) end
return out
