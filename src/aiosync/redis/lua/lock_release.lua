-- Release a hold, and wake the next waiter.
-- KEYS[1] holder, KEYS[2] queue, KEYS[3] alive; ARGV[1] "<owner>:<token>", ARGV[2] channel
-- Returns 1 if released, 0 if that hold was not (or no longer) the lock's.
local holder, queue, alive = KEYS[1], KEYS[2], KEYS[3]
if redis.call('GET', holder) ~= ARGV[1] then
  return 0
end
redis.call('DEL', holder)
local head = redis.call('LINDEX', queue, 0)
if head then
  redis.call('PUBLISH', ARGV[2], head)
end
return 1
