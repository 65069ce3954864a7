-- uses: _common
-- {1, units that could be granted now, were nobody to come first} for the rate limiter whose
-- interval (us) and burst are ARGV[1], ARGV[2].
local now_us = tonumber(time[1]) * 1000000 + tonumber(time[2])
local tat = tonumber(redis.call('HGET', KEYS[1], 'state') or '0')
local interval, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
return {1, string.format('%.6f', math.min(burst, (now_us - tat) / interval + burst))}
