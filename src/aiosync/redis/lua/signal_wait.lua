-- uses: _common _signals
-- Is the signal open? If not, and ARGV[3] is '1', register waiter ARGV[1] for ARGV[2] ms
-- (atomically: an opening after this call wakes it). ARGV[4] kind, ARGV[5] value.
-- Returns {1} open, {0} not (yet), {-2, kind, value} when the name is something else.
local mismatch = disagree(ARGV[4], ARGV[5])
if mismatch then
  return mismatch
end
if is_open() then
  return {1}
end
if ARGV[3] == '1' then
  local stay = tonumber(ARGV[2])
  redis.call('ZREMRANGEBYSCORE', waiters, '-inf', now)
  redis.call('ZADD', waiters, now + stay, ARGV[1])
  extend(waiters, stay)
end
return {0}
