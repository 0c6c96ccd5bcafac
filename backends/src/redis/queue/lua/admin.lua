-- Reads and bounded maintenance. ARGV: action, then per action:
--   recover: limit                       -> done, remaining, then notes (entries removed)
--   get:     ids...                      -> a row per id that exists
--   peek:                                -> now, next run ms or '', then per priority:
--                                           ready, oldest ready run_at or '', pending;
--                                           then running, dead, completed
--   dead:    type or '', offset, limit   -> total, then rows, oldest death first
--   requeue: id                          -> 'OK' | 'N'
--   requeue_type: type, limit            -> done, remaining
--   purge:   type or '', limit           -> done, remaining
--   drop:    force 0/1, limit            -> done, remaining | 'C', live leases
--   list:    state, type or '', after ms or '', after id, limit
--                                        -> next ms or '', next id, then per job its score
--                                           (lease expiry or run time) and its row
local action = ARGV[1]
local now = now_ms()

-- Dead job ids, oldest death first, and (for one type) their members in the type index.
local function dead_ids(job_type, offset, limit)
  if job_type == '' then
    return redis.call('ZRANGE', K_DEAD, offset, offset + limit - 1), {}
  end
  local members = redis.call('ZRANGEBYLEX', K_DEAD_LEX, '[' .. job_type .. '\0',
    '(' .. job_type .. '\1', 'LIMIT', offset, limit)
  local ids = {}
  for i, member in ipairs(members) do
    ids[i] = string.match(member, '%z([^%z]*)$') or ''
  end
  return ids, members
end

local function dead_count(job_type)
  if job_type == '' then return redis.call('ZCARD', K_DEAD) end
  return redis.call('ZLEXCOUNT', K_DEAD_LEX, '[' .. job_type .. '\0', '(' .. job_type .. '\1')
end

-- Reads dead jobs before any write: readable ones to act on, and the rest.
local function read_dead(ids, members)
  local good, bad = {}, {}
  for i, id in ipairs(ids) do
    local m, spec, why = load(id)
    if not why and m.state ~= 'd' then why = 'in the dead letters but in state ' .. m.state end
    local e = {id = id, m = m, spec = spec, bad = why, member = members[i]}
    if why then bad[#bad + 1] = e else good[#good + 1] = e end
  end
  return good, bad
end

local function requeue(e)
  unmake_dead(e.id, e.spec.t)
  e.m.attempts = 0
  make_pending(e.id, e.m, now)
end


-- Jobs of one state after (after_at, after_id), by score then id, at most limit; reads only.
-- Each sorted set is read in chunks, at most LIST_BUDGET entries per set per call: under a
-- type filter a page may be short, and its cursor then says how far the call looked.
local LIST_BUDGET = 2000

local function before(a, b)
  return a.score < b.score or (a.score == b.score and a.id < b.id)
end

local function list_jobs(keys, lo, hi, job_type, after, limit)
  local found_all, bound = {}, nil
  for _, key in ipairs(keys) do
    local found, examined, offset, cut = 0, 0, 0, nil
    while not cut do
      local chunk = redis.call('ZRANGEBYSCORE', key, lo, hi, 'WITHSCORES', 'LIMIT', offset, 100)
      offset = offset + #chunk / 2
      for i = 1, #chunk, 2 do
        local e = {id = chunk[i], score = tonumber(chunk[i + 1])}
        examined = examined + 1
        if not (after and not before(after, e)) then
          local spec = (job_type ~= '') and spec_of(e.id)
          if job_type == '' or (spec and spec.t == job_type) then
            found = found + 1
            found_all[#found_all + 1] = e
          end
        end
        if found >= limit or examined >= LIST_BUDGET then
          cut = e
          break
        end
      end
      if #chunk < 200 then break end
    end
    if cut and (not bound or before(cut, bound)) then bound = cut end
  end
  table.sort(found_all, before)
  local out, taken, last = {'', ''}, 0, nil
  for _, e in ipairs(found_all) do
    if taken >= limit or (bound and before(bound, e)) then break end
    taken, last = taken + 1, e
    out[#out + 1] = str(e.score)
    push_row(out, e.id)
  end
  local next_at = (taken >= limit) and last or bound
  if next_at then out[1], out[2] = str(next_at.score), next_at.id end
  return out
end

if action == 'recover' then
  local limit = whole(ARGV[2], 1, 100000)
  if not limit then return redis.error_reply('recover: malformed limit') end
  local notes = {}
  local done = recover_entries(lapsed(now, limit), now, notes)
  local out = {str(done), str(redis.call('ZCOUNT', K_RUNNING, '-inf', now))}
  for _, note in ipairs(notes) do out[#out + 1] = note end
  return out
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
  out[#out + 1] = str(redis.call('ZCARD', K_COMPLETED))
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
  local spec, why = spec_of(ARGV[2])
  if not spec then return redis.error_reply('requeue: job ' .. ARGV[2] .. ' has ' .. why) end
  requeue({id = ARGV[2], m = m, spec = spec})
  wake(1)
  return {'OK'}
elseif action == 'requeue_type' then
  local limit = whole(ARGV[3], 1, 100000)
  if ARGV[2] == '' or not limit then return redis.error_reply('requeue_type: malformed arguments') end
  local good, bad = read_dead(dead_ids(ARGV[2], 0, limit))
  -- An unreadable dead job is filed again with the reason (or removed): never requeued as is.
  for _, e in ipairs(bad) do
    if e.member then redis.call('ZREM', K_DEAD_LEX, e.member) end
    quarantine(e.id, e.spec, e.bad, now)
  end
  for _, e in ipairs(good) do requeue(e) end
  wake(#good)
  return {str(#good), str(dead_count(ARGV[2]))}
elseif action == 'purge' then
  local limit = whole(ARGV[3], 1, 100000)
  if not limit then return redis.error_reply('purge: malformed limit') end
  local ids, members = dead_ids(ARGV[2], 0, limit)
  local specs = {}
  for i, id in ipairs(ids) do specs[i] = spec_of(id) or false end
  for i, id in ipairs(ids) do
    local spec = specs[i] or nil
    if members[i] then redis.call('ZREM', K_DEAD_LEX, members[i]) end
    unmake_dead(id, spec and spec.t)
    forget(id, spec)
  end
  tidy()
  return {str(#ids), str(dead_count(ARGV[2]))}
elseif action == 'drop' then
  local limit = whole(ARGV[3], 1, 100000)
  if not limit or (ARGV[2] ~= '0' and ARGV[2] ~= '1') then
    return redis.error_reply('drop: malformed arguments')
  end
  -- Only live leases refuse (expiry after now); a lapsed one's worker is gone.
  local running = redis.call('ZCOUNT', K_RUNNING, '(' .. now, '+inf')
  if ARGV[2] == '0' and running > 0 then return {'C', str(running)} end
  local indexes = {K_PENDING[1], K_PENDING[2], K_PENDING[3], K_PENDING[4], K_RUNNING, K_DEAD,
    K_COMPLETED}
  -- Read: up to limit jobs, index by index, with their specs (for the unique key and type).
  local picked = {}
  for _, key in ipairs(indexes) do
    local want = limit - #picked
    if want <= 0 then break end
    for _, id in ipairs(redis.call('ZRANGE', key, 0, want - 1)) do
      picked[#picked + 1] = {id = id, key = key, spec = spec_of(id) or false}
    end
  end
  -- Write: every trace of each.
  for _, e in ipairs(picked) do
    local spec = e.spec or nil
    if e.key == K_DEAD then
      unmake_dead(e.id, spec and spec.t)
    else
      redis.call('ZREM', e.key, e.id)
    end
    forget(e.id, spec)
  end
  local left = 0
  for _, key in ipairs(indexes) do left = left + redis.call('ZCARD', key) end
  if left > 0 then return {str(#picked), str(left)} end
  -- No job is left in any index: what remains of the other keys (entries of unreadable
  -- jobs) goes too, at most the rest of limit entries per call.
  local budget = limit - #picked
  for _, key in ipairs({K_DEAD_LEX, K_UNIQUE, K_META, K_SPEC, K_PAYLOAD, K_ERRORS}) do
    local sorted = key == K_DEAD_LEX
    local size = sorted and redis.call('ZCARD', key) or redis.call('HLEN', key)
    if size > 0 and size <= budget then
      redis.call('DEL', key)
      budget, size = budget - size, 0
    elseif size > 0 and budget > 0 then
      local members = {}
      if sorted then
        members = redis.call('ZRANGE', key, 0, budget - 1)
        if #members > 0 then redis.call('ZREM', key, unpack(members)) end
      else
        local cursor = '0'
        repeat
          local page = redis.call('HSCAN', key, cursor, 'COUNT', budget)
          cursor = page[1]
          for i = 1, #page[2], 2 do
            if #members < budget then members[#members + 1] = page[2][i] end
          end
        until cursor == '0' or #members >= budget
        if #members > 0 then redis.call('HDEL', key, unpack(members)) end
      end
      budget, size = budget - #members, size - #members
    end
    left = left + size
  end
  if left == 0 then redis.call('DEL', K_MARKER, K_SEQ, K_WORKERS, K_WORKERS_DUE) end
  return {str(#picked), str(left)}
elseif action == 'list' then
  local state, job_type, limit = ARGV[2], ARGV[3], whole(ARGV[6], 1, 1000)
  local after_at = whole(ARGV[4], 0, LATEST)
  local after = after_at and {score = after_at, id = ARGV[5]}
  if not limit or not job_type then return redis.error_reply('list: malformed arguments') end
  local lo = after_at or 0
  if state == 'running' then
    return list_jobs({K_RUNNING}, str(lo), '+inf', job_type, after, limit)
  elseif state == 'scheduled' then
    return list_jobs(K_PENDING, str(math.max(lo, now + 1)), '+inf', job_type, after, limit)
  elseif state == 'ready' then
    return list_jobs(K_PENDING, str(lo), str(now), job_type, after, limit)
  end
  return redis.error_reply('list: unknown state ' .. tostring(state))
end
return redis.error_reply('unknown action ' .. tostring(action))
