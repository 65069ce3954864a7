-- uses: _common _signals
-- Count ARGV[1] events down; at zero, wake every waiter. ARGV[2] kind, ARGV[3] value.
-- Returns {1, count left}, {-3, count} if that would go below zero (nothing changes), or
-- {-2, kind, value}.
local mismatch = disagree(ARGV[2], ARGV[3])
if mismatch then
  return mismatch
end
local n = tonumber(ARGV[1])
local count = tonumber(redis.call('HGET', meta, 'state') or redis.call('HGET', meta, 'value'))
if n > count then
  return {-3, count}
end
count = count - n
redis.call('HSET', meta, 'state', count)
if count == 0 then
  open_now()
end
return {1, count}
