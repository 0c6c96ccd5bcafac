-- Reads and bounded maintenance. ARGV: action, then per action:
--   recover: limit                       -> done, remaining
--   get:     ids...                      -> a row per id that exists
--   peek:                                -> now, next run ms or '', then per priority:
--                                           ready, oldest ready run_at or '', pending;
--                                           then running, dead
--   dead:    type or '', offset, limit   -> total, then rows, oldest death first
--   requeue: id                          -> 'OK' | 'N'
--   requeue_type: type, limit            -> done, remaining
--   purge:   type or '', limit           -> done, remaining
local action = ARGV[1]
local now = now_ms()

local function dead_ids(job_type, offset, limit)
  if job_type == '' then
    return redis.call('ZRANGE', K_DEAD, offset, offset + limit - 1)
  end
  local members = redis.call('ZRANGEBYLEX', K_DEAD_LEX, '[' .. job_type .. '\0',
    '(' .. job_type .. '\1', 'LIMIT', offset, limit)
  local ids = {}
  for i, member in ipairs(members) do
    ids[i] = string.match(member, '%z([^%z]*)$')
  end
  return ids
end

local function dead_count(job_type)
  if job_type == '' then return redis.call('ZCARD', K_DEAD) end
  return redis.call('ZLEXCOUNT', K_DEAD_LEX, '[' .. job_type .. '\0', '(' .. job_type .. '\1')
end

local function requeue(id)
  local m = meta_of(id)
  unmake_dead(id)
  m.attempts = 0
  make_pending(id, m, now)
end

if action == 'recover' then
  local done = recover(now, tonumber(ARGV[2]))
  return {str(done), str(redis.call('ZCOUNT', K_RUNNING, '-inf', now))}
elseif action == 'get' then
  local out = {}
  for i = 2, #ARGV do
    if redis.call('HEXISTS', K_META, ARGV[i]) == 1 then push_row(out, ARGV[i]) end
  end
  return out
elseif action == 'peek' then
  local next_at = false
  local out = {str(now), ''}
  local function earliest(key)
    local first = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
    if first[2] then
      local at = tonumber(first[2])
      if not next_at or at < next_at then next_at = at end
      return at
    end
    return nil
  end
  for rank = 1, 4 do
    local first = earliest(K_PENDING[rank])
    local ready = redis.call('ZCOUNT', K_PENDING[rank], '-inf', now)
    out[#out + 1] = str(ready)
    out[#out + 1] = (first and first <= now) and str(first) or ''
    out[#out + 1] = str(redis.call('ZCARD', K_PENDING[rank]))
  end
  -- A lapsing lease counts: its job becomes ready when it lapses.
  earliest(K_RUNNING)
  if next_at then out[2] = str(next_at) end
  out[#out + 1] = str(redis.call('ZCARD', K_RUNNING))
  out[#out + 1] = str(redis.call('ZCARD', K_DEAD))
  return out
elseif action == 'dead' then
  local out = {str(dead_count(ARGV[2]))}
  for _, id in ipairs(dead_ids(ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]))) do
    push_row(out, id)
  end
  return out
elseif action == 'requeue' then
  local m = meta_of(ARGV[2])
  if not m or m.state ~= 'd' then return {'N'} end
  requeue(ARGV[2])
  wake(1)
  return {'OK'}
elseif action == 'requeue_type' then
  local ids = dead_ids(ARGV[2], 0, tonumber(ARGV[3]))
  for _, id in ipairs(ids) do requeue(id) end
  wake(#ids)
  return {str(#ids), str(dead_count(ARGV[2]))}
elseif action == 'purge' then
  local ids = dead_ids(ARGV[2], 0, tonumber(ARGV[3]))
  for _, id in ipairs(ids) do
    unmake_dead(id)
    forget(id, meta_of(id))
  end
  return {str(#ids), str(dead_count(ARGV[2]))}
end
return redis.error_reply('unknown action ' .. tostring(action))
