-- Release a hold, and wake the next waiter.
-- KEYS[1] holder, KEYS[2] queue, KEYS[3] released (a marker of this release, for repeats)
-- ARGV[1] "<owner>:<token>", ARGV[2] channel, ARGV[3] how long to keep the marker (ms)
-- Returns 1 if released (now or by an earlier send of this same call), 0 if that hold was
-- no longer the lock's.
local holder, queue, released = KEYS[1], KEYS[2], KEYS[3]
if redis.call('GET', holder) ~= ARGV[1] then
  -- redis-py may send the same call again after a timeout: the first one released it.
  if redis.call('GET', released) == ARGV[1] then
    return 1
  end
  return 0
end
redis.call('DEL', holder)
redis.call('SET', released, ARGV[1], 'PX', ARGV[3])
local head = redis.call('LINDEX', queue, 0)
if head then
  redis.call('PUBLISH', ARGV[2], head)
end
return 1
