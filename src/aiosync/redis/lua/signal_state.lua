-- uses: _common _signals
-- The signal now, without changing it: {1, open (1/0), state, waiters} or {-2, kind, value}.
-- ARGV[1] kind, ARGV[2] value.
local known = redis.call('HMGET', meta, 'kind', 'value', 'state')
if known[1] and (known[1] ~= ARGV[1] or known[2] ~= ARGV[2]) then
  return {-2, known[1], known[2] or ''}
end
local open = 0
if open_of(ARGV[1], ARGV[2], known[3]) then
  open = 1
end
return {1, open, known[3] or ARGV[2], redis.call('ZCOUNT', waiters, '(' .. now, '+inf')}
