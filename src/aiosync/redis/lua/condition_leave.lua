-- uses: _common _condition
-- Waiter ARGV[1] is done: ARGV[3] 'confirm' (woken: its notification is used) or 'leave'
-- (timed out, cancelled: a notification it had passes on to the next waiter).
if redis.call('ZREM', notified, ARGV[1]) == 1 then
  if ARGV[3] == 'leave' then
    notify_next(1)
  end
elseif redis.call('HDEL', alive, ARGV[1]) == 1 then
  redis.call('LREM', queue, 1, ARGV[1])
end
return 1
