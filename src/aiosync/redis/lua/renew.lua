-- Renew leases in one call: set each hold's TTL (never add to it) if it is still ours.
-- KEYS[i] a holder key; ARGV[i] the "<owner>:<token>" it must hold; ARGV[#KEYS + 1] lease ms
-- Returns a list of 1 (renewed) or 0 (lost) in KEYS order.
local lease = tonumber(ARGV[#KEYS + 1])
local result = {}
for i, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[i] then
    redis.call('PEXPIRE', key, lease)
    result[i] = 1
  else
    result[i] = 0
  end
end
return result
