-- uses: _common _permits
-- Acquire ``weight`` permits (the last part of the owner id), first come first served, or
-- join the queue. Also the waiter's heartbeat: each call renews its place. Safe to repeat.
-- ARGV[3] lease ms, ARGV[4] how long a queued owner keeps its place unless it calls again
-- (ms), ARGV[5] '1' to queue if not granted, '0' only to try, ARGV[6] kind, ARGV[7] permits
-- ARGV[8] ms to remember a withdrawn owner
-- Returns {1, token} when granted; {0, ms} when not: ms until the first lease runs out
-- (-1: none held); {-1, 0} when this owner was abandoned already; {-2, kind, permits} when
-- the name belongs to a different primitive.
local lease, stay, enqueue = tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5]
local kind, permits = ARGV[6], ARGV[7]

local mismatch = disagree(kind, permits)
if mismatch then
  return mismatch
end
if redis.call('ZSCORE', gone, caller) then
  return {-1, 0}
end
expire_holders()

-- Granted already: a repeat of this call, or a hand-off to confirm.
local token = redis.call('HGET', grants, caller)
if token then
  redis.call('ZADD', holders, 'XX', now + lease, caller)
  extend(holders, lease)
  extend(grants, lease)
  return {1, tonumber(token)}
end

local mine = serve_queue(lease)
if mine then
  return {1, mine}
end
if redis.call('LLEN', queue) == 0
    and used() + weight_of(caller) <= tonumber(redis.call('HGET', meta, 'value')) then
  return {1, grant(caller, lease)}
end

if enqueue == '1' then
  if redis.call('HEXISTS', alive, caller) == 0 then
    redis.call('RPUSH', queue, caller)
  end
  redis.call('HSET', alive, caller, now + stay)
  extend(queue, stay)
  extend(alive, stay)
end
local first = redis.call('ZRANGE', holders, 0, 0, 'WITHSCORES')
if first[2] then
  return {0, tonumber(first[2]) - now}
end
return {0, -1}
