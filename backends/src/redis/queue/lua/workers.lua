-- The worker registry of one queue: K_WORKERS, a hash of worker id -> "seen|expires|report"
-- (times in ms by this server's clock, the report JSON as the client wrote it), and
-- K_WORKERS_DUE, a zset of worker id -> expiry that finds expired entries without reading
-- the hash. ARGV: action, then per action:
--   beat:   id, report, ttl ms  -> 'OK'
--   list:                       -> the live entries' values
--   forget: id                  -> 'OK'
-- Every call first deletes up to 100 expired entries; a beat writes one field and one member,
-- so its cost does not grow with the number of workers.
local action = ARGV[1]
local now = now_ms()

local function prune()
  local gone = redis.call('ZRANGEBYSCORE', K_WORKERS_DUE, '-inf', str(now), 'LIMIT', 0, 100)
  if #gone > 0 then
    redis.call('HDEL', K_WORKERS, unpack(gone))
    redis.call('ZREM', K_WORKERS_DUE, unpack(gone))
  end
end

-- Whether a stored value has expired (or cannot be read).
local function expired(value)
  local expires = whole(string.match(value, '^%d+|(%d+)|'), 0, LATEST)
  return not expires or expires <= now
end

if action == 'beat' then
  local ttl = whole(ARGV[4], 1, 86400000)
  if not ttl or not ARGV[2] or ARGV[2] == '' or not ARGV[3] then
    return redis.error_reply('beat: malformed arguments')
  end
  prune()
  redis.call('HSET', K_WORKERS, ARGV[2], str(now) .. '|' .. str(now + ttl) .. '|' .. ARGV[3])
  redis.call('ZADD', K_WORKERS_DUE, str(now + ttl), ARGV[2])
  return 'OK'
elseif action == 'list' then
  prune()
  local out = {}
  local all = redis.call('HGETALL', K_WORKERS)
  for i = 2, #all, 2 do
    if not expired(all[i]) then out[#out + 1] = all[i] end
  end
  return out
elseif action == 'forget' then
  if not ARGV[2] or ARGV[2] == '' then return redis.error_reply('forget: malformed arguments') end
  prune()
  redis.call('HDEL', K_WORKERS, ARGV[2])
  redis.call('ZREM', K_WORKERS_DUE, ARGV[2])
  return 'OK'
end
return redis.error_reply('unknown action ' .. tostring(action))
