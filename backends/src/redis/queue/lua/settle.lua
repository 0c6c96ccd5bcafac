-- Finishes leases. ARGV: action, then per action:
--   complete: pairs of (id, lease id)                        -> per pair 'OK' | 'N' | 'C'
--   extend:   lease ms, then pairs                           -> per pair expiry ms | 'N' | 'C'
--   release:  one pair                                       -> 'OK' | 'N' | 'C'
--   fail:     id, lease id, message, retryable 0/1, backoff ms -> 'R'..run_at | 'D' | 'N' | 'C'
local action = ARGV[1]
local now = now_ms()
local out = {}
if action == 'complete' then
  for i = 2, #ARGV, 2 do
    local id = ARGV[i]
    local refused = check_lease(id, ARGV[i + 1])
    if refused then
      out[#out + 1] = refused
    else
      end_lease(id)
      local spec = spec_of(id)
      if spec.u then
        redis.call('HSET', K_STATE, id, 'completed')
        redis.call('ZADD', K_COMPLETED, now, id)
      else
        forget(id, spec)
      end
      out[#out + 1] = 'OK'
    end
  end
elseif action == 'extend' then
  local expiry = now + tonumber(ARGV[2])
  for i = 3, #ARGV, 2 do
    local id = ARGV[i]
    local refused = check_lease(id, ARGV[i + 1])
    if refused then
      out[#out + 1] = refused
    else
      redis.call('ZADD', K_RUNNING, expiry, id)
      out[#out + 1] = str(expiry)
    end
  end
elseif action == 'release' then
  local id = ARGV[2]
  local refused = check_lease(id, ARGV[3])
  if refused then return {refused} end
  end_lease(id)
  redis.call('HINCRBY', K_ATTEMPTS, id, -1)
  make_pending(id, spec_of(id), now)
  wake(1)
  out[1] = 'OK'
elseif action == 'fail' then
  local id = ARGV[2]
  local refused = check_lease(id, ARGV[3])
  if refused then return {refused} end
  end_lease(id)
  local spec = spec_of(id)
  local attempts = tonumber(redis.call('HGET', K_ATTEMPTS, id))
  record_error(id, attempts, now, ARGV[4])
  if ARGV[5] == '1' and attempts < spec.m then
    local run_at = now + tonumber(ARGV[6])
    make_pending(id, spec, run_at)
    wake(1)
    out[1] = 'R' .. str(run_at)
  else
    make_dead(id, spec)
    out[1] = 'D'
  end
end
return out
