-- uses: _common _signals
-- Waiter ARGV[1] stops waiting (timeout, cancellation).
redis.call('ZREM', waiters, ARGV[1])
return 1
