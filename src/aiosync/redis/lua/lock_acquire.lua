-- Acquire an exclusive lock, first come first served, or join its queue.
-- KEYS[1] holder  (string "<owner>:<token>", expires with the lease)
-- KEYS[2] queue   (list of waiting owners, FIFO)
-- KEYS[3] alive   (hash owner -> deadline, ms of server time, of each waiting owner)
-- KEYS[4] token   (fencing counter, never expires)
-- ARGV[1] owner, ARGV[2] lease ms, ARGV[3] how long a queued owner stays queued unless
-- it renews (ms), ARGV[4] "1" to queue if the lock is not free, "0" only to try
-- Returns {1, token} when granted, {0, ms} when queued (or not granted): ms is how long the
-- caller may wait for a wake-up before it must try again (the holder's remaining lease).
local holder, queue, alive, counter = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local owner, lease, stay, enqueue = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
-- redis-py may send the same call again after a timeout: a repeat returns what the first
-- call got.
local held = redis.call('GET', holder)
if held and string.sub(held, 1, #owner + 1) == owner .. ':' then
  return {1, tonumber(string.sub(held, #owner + 2))}
end
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)

-- Waiters that stopped renewing (their process died) leave from the head.
local head = redis.call('LINDEX', queue, 0)
while head do
  local deadline = tonumber(redis.call('HGET', alive, head))
  if deadline and deadline > now then break end
  redis.call('LPOP', queue)
  redis.call('HDEL', alive, head)
  head = redis.call('LINDEX', queue, 0)
end

if not held and (not head or head == owner) then
  if head == owner then
    redis.call('LPOP', queue)
    redis.call('HDEL', alive, owner)
  end
  if redis.call('EXISTS', counter) == 0 then
    -- Lost with the data (a restart without persistence): restart from the server's
    -- clock in microseconds, above every token handed out before at under 1M per second.
    redis.call('SET', counter, string.format('%d%06d', tonumber(time[1]), tonumber(time[2])))
  end
  -- Tokens stay below 2^53, so Lua's numbers hold them exactly; '%d', not '..', which
  -- would print a large one as 1.7e+15.
  local token = redis.call('INCR', counter)
  redis.call('SET', holder, owner .. ':' .. string.format('%d', token), 'PX', lease)
  return {1, token}
end

if enqueue == '1' then
  if redis.call('HEXISTS', alive, owner) == 0 then
    redis.call('RPUSH', queue, owner)
  end
  redis.call('HSET', alive, owner, now + stay)
end
return {0, redis.call('PTTL', holder)}
