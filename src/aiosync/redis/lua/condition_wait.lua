-- uses: _common _condition
-- Waiter ARGV[1] registers (ARGV[4] 'register') or asks again ('check'), for ARGV[3] ms.
-- ARGV[5] kind, ARGV[6] value.
-- Returns {0} waiting, {1} notified (its wake-up may have been lost), {-1} its
-- registration had run out (it stalled): it counts as woken; {-2, kind, value}.
local mismatch = disagree(ARGV[5], ARGV[6])
if mismatch then
  return mismatch
end
local waiter, stay = ARGV[1], tonumber(ARGV[3])
pass_on_unclaimed()
if ARGV[4] == 'register' then
  redis.call('RPUSH', queue, waiter)
elseif redis.call('ZSCORE', notified, waiter) then
  return {1}
elseif redis.call('HEXISTS', alive, waiter) == 0 then
  return {-1}
end
redis.call('HSET', alive, waiter, now + stay)
extend(queue, stay)
extend(alive, stay)
return {0}
