-- uses: _common
-- Renew leases in one call: set each hold's deadline (never add to it) if it is still live.
-- KEYS[2i-1], KEYS[2i] the holders zset and grants hash of hold i; ARGV[i] its owner;
-- ARGV[#ARGV] the lease (ms). Returns a list of 1 (renewed) or 0 (lost), in hold order.
local lease = tonumber(ARGV[#ARGV])
local result = {}
for i = 1, #KEYS / 2 do
  local holders, grants, owner = KEYS[2 * i - 1], KEYS[2 * i], ARGV[i]
  local deadline = tonumber(redis.call('ZSCORE', holders, owner))
  if deadline and deadline > now then
    redis.call('ZADD', holders, 'XX', now + lease, owner)
    extend(holders, lease)
    extend(grants, lease)
    result[i] = 1
  else
    result[i] = 0
  end
end
return result
