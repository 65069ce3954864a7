-- Renew leases in one call: set each hold's deadline (never add to it) if it is still live.
-- KEYS[2i-1], KEYS[2i] the holders zset and grants hash of hold i; ARGV[i] its owner;
-- ARGV[#ARGV] the lease (ms). Returns a list of 1 (renewed) or 0 (lost), in hold order.
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local lease = tonumber(ARGV[#ARGV])
local result = {}
for i = 1, #KEYS / 2 do
  local holders, grants, owner = KEYS[2 * i - 1], KEYS[2 * i], ARGV[i]
  local deadline = tonumber(redis.call('ZSCORE', holders, owner))
  if deadline and deadline > now then
    redis.call('ZADD', holders, 'XX', now + lease, owner)
    for _, key in ipairs({holders, grants}) do
      if redis.call('PTTL', key) < lease then
        redis.call('PEXPIRE', key, lease)
      end
    end
    result[i] = 1
  else
    result[i] = 0
  end
end
return result
