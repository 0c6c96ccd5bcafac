-- Finishes leases. ARGV: action, then per action:
--   complete: pairs of (id, lease id)                        -> per pair 'OK' | 'N' | 'C'
--   extend:   lease ms, then pairs                           -> per pair expiry ms | 'N' | 'C'
--   release:  one pair                                       -> 'OK' | 'N' | 'C'
--   fail:     id, lease id, message, retryable 0/1, backoff ms -> 'R'..run_at | 'D' | 'N' | 'C'
local action = ARGV[1]
local now = now_ms()
local out = {}
if action == 'complete' then
  local finished, forgotten = {}, {}
  for i = 2, #ARGV, 2 do
    local id = ARGV[i]
    local m, refused = held(id, ARGV[i + 1])
    if finished[id] then refused = 'C' end
    if refused then
      out[#out + 1] = refused
    else
      finished[id] = true
      finished[#finished + 1] = id
      if m.unique then
        m.state, m.lease = 'c', ''
        save(id, m)
        redis.call('ZADD', K_COMPLETED, now, id)
      else
        forgotten[#forgotten + 1] = id
      end
      out[#out + 1] = 'OK'
    end
  end
  if #finished > 0 then redis.call('ZREM', K_RUNNING, unpack(finished)) end
  if #forgotten > 0 then
    for _, key in ipairs({K_PAYLOAD, K_SPEC, K_META, K_ERRORS}) do
      redis.call('HDEL', key, unpack(forgotten))
    end
    tidy()
  end
elseif action == 'extend' then
  local lease_ms = whole(ARGV[2], 1, LATEST)
  if not lease_ms then return redis.error_reply('extend: malformed lease') end
  local expiry = math.min(now + lease_ms, LATEST)
  local running = {}
  for i = 3, #ARGV, 2 do
    local id = ARGV[i]
    local _, refused = held(id, ARGV[i + 1])
    if refused then
      out[#out + 1] = refused
    else
      running[#running + 1], running[#running + 2] = expiry, id
      out[#out + 1] = str(expiry)
    end
  end
  if #running > 0 then redis.call('ZADD', K_RUNNING, unpack(running)) end
elseif action == 'release' then
  local id = ARGV[2]
  local m, refused = held(id, ARGV[3])
  if refused then return {refused} end
  redis.call('ZREM', K_RUNNING, id)
  m.attempts = m.attempts - 1
  -- Back to its old place: its run time has passed, so it is ready at once, FIFO kept.
  make_pending(id, m, m.run_at)
  wake(1)
  out[1] = 'OK'
elseif action == 'fail' then
  local id = ARGV[2]
  local m, refused = held(id, ARGV[3])
  if refused then return {refused} end
  local backoff = whole(ARGV[6], 0, LATEST)
  if not backoff then return redis.error_reply('fail: malformed backoff') end
  local retry = ARGV[5] == '1' and m.attempts < m.max
  local spec, why = spec_of(id)
  if not retry and not spec then
    -- Checked before any write: a dead letter is filed under its type.
    return redis.error_reply('fail: job ' .. id .. ' has ' .. why)
  end
  redis.call('ZREM', K_RUNNING, id)
  record_error(id, m.attempts, now, ARGV[4])
  if retry then
    local run_at = math.min(now + backoff, LATEST)
    make_pending(id, m, run_at)
    wake(1)
    out[1] = 'R' .. str(run_at)
  else
    make_dead(id, m, spec.t)
    out[1] = 'D'
  end
end
return out
