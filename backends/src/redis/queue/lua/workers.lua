-- The worker registry of one queue: K_WORKERS, a hash of worker id -> "seen|expires|report"
-- (times in ms by this server's clock, the report JSON as the client wrote it). ARGV: action,
-- then per action:
--   beat:   id, report, ttl ms  -> 'OK'
--   list:                       -> the live entries' values
--   forget: id                  -> 'OK'
-- Every call first deletes the entries that expired (one entry per live worker pool).
local action = ARGV[1]
local now = now_ms()

local function expired(value)
  local expires = whole(string.match(value, '^%d+|(%d+)|'), 0, LATEST)
  return not expires or expires <= now
end

-- Prunes expired entries; answers the live values.
local function live()
  local out, gone = {}, {}
  local all = redis.call('HGETALL', K_WORKERS)
  for i = 1, #all, 2 do
    if expired(all[i + 1]) then gone[#gone + 1] = all[i] else out[#out + 1] = all[i + 1] end
  end
  if #gone > 0 then redis.call('HDEL', K_WORKERS, unpack(gone)) end
  return out
end

if action == 'beat' then
  local ttl = whole(ARGV[4], 1, 86400000)
  if not ttl or not ARGV[2] or ARGV[2] == '' or not ARGV[3] then
    return redis.error_reply('beat: malformed arguments')
  end
  live()
  redis.call('HSET', K_WORKERS, ARGV[2], str(now) .. '|' .. str(now + ttl) .. '|' .. ARGV[3])
  return 'OK'
elseif action == 'list' then
  return live()
elseif action == 'forget' then
  live()
  if ARGV[2] then redis.call('HDEL', K_WORKERS, ARGV[2]) end
  return 'OK'
end
return redis.error_reply('unknown action ' .. tostring(action))
