-- Prepended to every script (see the ``-- uses:`` line at the top of each).

-- Server time in ms, read once: keys expire by the time the script started anyway.
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)

-- Wake-ups go to the session of the waiter ``id`` ('<session>:...'), on the channel
-- 'aiosync:wake:<session>' that session listens on; ``what`` says why.
local function notify(id, what)
  redis.call('PUBLISH', 'aiosync:wake:' .. string.match(id, '^[^:]+'), what .. id)
end

-- Keep ``key`` at least ``ms`` more (PEXPIRE GT would never set a first TTL).
local function extend(key, ms)
  if redis.call('PTTL', key) < ms then
    redis.call('PEXPIRE', key, ms)
  end
end

-- The first call on a name records what it is in the name's meta hash (KEYS[1]): kind and
-- value; a call that says otherwise gets {-2, kind, value} (the caller raises ValueError).
-- Returns nil if they agree.
local function disagree(kind, value)
  local known = redis.call('HMGET', KEYS[1], 'kind', 'value')
  if not known[1] then
    redis.call('HSET', KEYS[1], 'kind', kind, 'value', value)
  elseif known[1] ~= kind or known[2] ~= value then
    return {-2, known[1], known[2] or ''}
  end
  return nil
end
