-- uses: _common _signals
-- Is the signal open? If not, and ARGV[3] is '1', register waiter ARGV[1] for ARGV[2] ms
-- (atomically: an opening after this call wakes it). ARGV[4] kind, ARGV[5] value.
-- ARGV[6] the openings counted when this waiter first asked ('' on its first call): if
-- there were more since, it was opened while it waited (then maybe closed again: an event
-- set and cleared while the wake-up was lost), which counts.
-- Returns {1} open, {0, openings} not (yet), {-2, kind, value} when the name is something
-- else.
local mismatch = disagree(ARGV[4], ARGV[5])
if mismatch then
  return mismatch
end
local openings = tonumber(redis.call('HGET', meta, 'openings') or '0')
if is_open() or (ARGV[6] ~= '' and openings > tonumber(ARGV[6])) then
  return {1}
end
if ARGV[3] == '1' then
  local stay = tonumber(ARGV[2])
  redis.call('ZREMRANGEBYSCORE', waiters, '-inf', now)
  redis.call('ZADD', waiters, now + stay, ARGV[1])
  extend(waiters, stay)
end
return {0, openings}
