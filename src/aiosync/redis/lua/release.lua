-- uses: _common _permits
-- Release the caller's hold and serve the queue. Safe to repeat.
-- ARGV[3] ms to remember the released owner (so that a repeat still answers 1)
-- Returns 1 if released (now or by an earlier send of this call), 0 if the hold was lost.
expire_holders()
if redis.call('HEXISTS', grants, caller) == 1 then
  drop_holder(caller)
  forget_later(caller, tonumber(ARGV[3]))
  serve_queue(0)
  return 1
end
if redis.call('ZSCORE', gone, caller) then
  return 1
end
return 0
