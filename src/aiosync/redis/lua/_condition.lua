-- A condition's waiters, used after _common.lua:
--   KEYS[1] meta      hash kind, value
--   KEYS[2] queue     list of waiting waiters, in arrival order
--   KEYS[3] alive     hash waiter -> deadline of its registration (ms); renewed as it asks
--   KEYS[4] notified  zset waiter -> end of its claim (ms): notified, not yet confirmed
-- ARGV[1] the caller's waiter id (or ''), ARGV[2] the claim window (ms).
-- Wake-up (see _common.lua): 'e <waiter>', notified.
local meta, queue, alive, notified = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local claim_ms = tonumber(ARGV[2])

-- Notify up to ``n`` live waiters, first come first served; returns how many.
local function notify_next(n)
  local count = 0
  while count < n do
    local waiter = redis.call('LPOP', queue)
    if not waiter then
      break
    end
    local deadline = tonumber(redis.call('HGET', alive, waiter) or '0')
    redis.call('HDEL', alive, waiter)
    if deadline > now then
      redis.call('ZADD', notified, now + claim_ms, waiter)
      extend(notified, claim_ms)
      notify(waiter, 'e ')
      count = count + 1
    end
  end
  return count
end

-- A notification not confirmed within its claim (the waiter died) passes on.
local function pass_on_unclaimed()
  local unclaimed = redis.call('ZRANGEBYSCORE', notified, '-inf', now)
  if #unclaimed > 0 then
    redis.call('ZREMRANGEBYSCORE', notified, '-inf', now)
    notify_next(#unclaimed)
  end
end
