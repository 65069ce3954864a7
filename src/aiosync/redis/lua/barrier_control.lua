-- uses: _common _barrier
-- ARGV[1] 'abort': break the barrier until reset; 'reset': end the round, unbroken (its
-- waiting parties get BrokenBarrierError); 'state': {1, waiting, broken, round}.
-- ARGV[2] kind, ARGV[3] value.
local mismatch = disagree(ARGV[2], ARGV[3])
if mismatch then
  return mismatch
end
if ARGV[1] == 'abort' then
  break_barrier()
elseif ARGV[1] == 'reset' then
  redis.call('HSET', meta, 'broken', '0')
  end_round('x ')
else
  local broken = 0
  if is_broken() then
    broken = 1
  end
  return {1, redis.call('LLEN', queue), broken, current_round()}
end
return {1}
