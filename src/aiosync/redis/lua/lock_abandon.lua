-- An acquisition is given up (timeout, cancellation, a call whose outcome is unknown):
-- whatever it got is undone. If it holds the lock, release it; if it waits, leave the
-- queue. Either way, wake the next waiter if the lock is free for it.
-- KEYS[1] holder, KEYS[2] queue, KEYS[3] alive; ARGV[1] owner, ARGV[2] channel
local holder, queue, alive, owner = KEYS[1], KEYS[2], KEYS[3], ARGV[1]
local held = redis.call('GET', holder)
if held and string.sub(held, 1, #owner + 1) == owner .. ':' then
  redis.call('DEL', holder)
end
redis.call('LREM', queue, 1, owner)
redis.call('HDEL', alive, owner)
if redis.call('EXISTS', holder) == 0 then
  local head = redis.call('LINDEX', queue, 0)
  if head then
    redis.call('PUBLISH', ARGV[2], head)
  end
end
return 1
