-- uses: _common _condition
-- Notify ARGV[3] waiters ('all': every one). ARGV[4] kind, ARGV[5] value.
-- Returns {1, how many were notified} or {-2, kind, value}.
local mismatch = disagree(ARGV[4], ARGV[5])
if mismatch then
  return mismatch
end
pass_on_unclaimed()
local n = ARGV[3]
if n == 'all' then
  n = redis.call('LLEN', queue)
else
  n = tonumber(n)
end
return {1, notify_next(n)}
