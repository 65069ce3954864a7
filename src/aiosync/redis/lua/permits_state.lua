-- uses: _common
-- What a primitive looks like now, without changing it.
-- Returns {permits, live holders of weight 1, live holders of larger weight, queue length,
-- kind}.
local light, heavy = 0, 0
for _, owner in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '(' .. now, '+inf')) do
  if tonumber(string.match(owner, ':(%d+)$')) == 1 then
    light = light + 1
  else
    heavy = heavy + 1
  end
end
local known = redis.call('HMGET', KEYS[1], 'kind', 'value')
return {tonumber(known[2] or '0'), light, heavy, redis.call('LLEN', KEYS[4]), known[1] or ''}
