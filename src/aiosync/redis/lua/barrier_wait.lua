-- uses: _common _barrier
-- Party ARGV[1] arrives (ARGV[3] = '') or asks again (ARGV[3] = the round it arrived in).
-- ARGV[2] its lease (ms); ARGV[4] '1' to wait if the barrier does not trip now, '0' only
-- to trip it; ARGV[5] kind, ARGV[6] value (parties).
-- Returns {1, index} passed; {0, round, ms until the first lease runs out} waiting (or,
-- with ARGV[4] '0', not tripped and not waiting); {-4} broken (or reset while waiting);
-- {-2, kind, value}.
local mismatch = disagree(ARGV[5], ARGV[6])
if mismatch then
  return mismatch
end
local party, lease, arrived = ARGV[1], tonumber(ARGV[2]), ARGV[3]
local round = current_round()

if arrived ~= '' then
  if tonumber(arrived) < round then
    local index = redis.call('HGET', indices, party)
    if index then
      return {1, tonumber(index)}
    end
    return {-4}
  end
  if is_broken() or redis.call('HEXISTS', alive, party) == 0 then
    return {-4}
  end
  redis.call('HSET', alive, party, now + lease)
  local first = check_leases()
  if not first then
    return {-4}
  end
  return {0, round, first}
end

if is_broken() or not check_leases() then
  return {-4}
end
local parties = tonumber(redis.call('HGET', meta, 'value'))
local waiting = redis.call('LRANGE', queue, 0, -1)
if #waiting + 1 >= parties then
  redis.call('DEL', indices)
  for i, other in ipairs(waiting) do
    redis.call('HSET', indices, other, i - 1)
    notify(other, 'e' .. (i - 1) .. ' ')
  end
  extend(indices, 60000)
  redis.call('DEL', queue, alive)
  redis.call('HINCRBY', meta, 'round', 1)
  return {1, parties - 1}
end
if ARGV[4] == '1' then
  redis.call('RPUSH', queue, party)
  redis.call('HSET', alive, party, now + lease)
end
local first = check_leases()
return {0, round, first}
