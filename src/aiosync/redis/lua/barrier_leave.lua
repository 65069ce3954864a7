-- uses: _common _barrier
-- Party ARGV[1] leaves: cancelled while the barrier fills ('leave'), or its wait timed out
-- in round ARGV[3] ('break': that breaks the round, if it is still the current one).
-- ARGV[2] 'leave' or 'break'.
if redis.call('HDEL', alive, ARGV[1]) == 1 then
  redis.call('LREM', queue, 1, ARGV[1])
end
if ARGV[2] == 'break' and tostring(current_round()) == ARGV[3] and not is_broken() then
  break_barrier()
end
return 1
