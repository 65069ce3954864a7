-- uses: _common
-- GCRA on the server's clock, in microseconds: reserve ARGV[1] units on the virtual
-- schedule, due ``interval`` (ARGV[2], us) apart, up to ``burst`` (ARGV[3]) ahead of it.
-- ARGV[4] the most the caller will wait (us), or -1; ARGV[5] kind, ARGV[6] value.
-- KEYS[1] meta: 'state' is the theoretical arrival time (us): when the schedule is free.
-- Returns {1, wait us, reservation end} (granted now if wait is '0', else the units are
-- reserved and due in that long); {0} if they would not be due within the caller's wait
-- (nothing reserved); {-2, kind, value}.
local mismatch = disagree(ARGV[5], ARGV[6])
if mismatch then
  return mismatch
end
local units, interval, burst = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local patience = tonumber(ARGV[4])
local now_us = tonumber(time[1]) * 1000000 + tonumber(time[2])
local tat = math.max(tonumber(redis.call('HGET', KEYS[1], 'state') or '0'), now_us)
local due = tat + (units - burst) * interval
local wait = math.max(due - now_us, 0)
if patience >= 0 and wait > patience then
  return {0}
end
local reserved = string.format('%.3f', tat + units * interval)
redis.call('HSET', KEYS[1], 'state', reserved)
return {1, string.format('%.3f', wait), reserved}
