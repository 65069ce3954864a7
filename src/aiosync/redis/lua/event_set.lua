-- uses: _common _signals
-- Set (ARGV[1] '1') or clear ('0') the event; setting wakes every waiter.
-- ARGV[2] kind, ARGV[3] value. Returns {1, waiters woken} or {-2, kind, value}.
local mismatch = disagree(ARGV[2], ARGV[3])
if mismatch then
  return mismatch
end
redis.call('HSET', meta, 'state', ARGV[1])
if ARGV[1] == '1' then
  return {1, open_now()}
end
return {1, 0}
