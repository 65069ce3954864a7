-- uses: _common
-- A reservation given up before it was due (cancelled): if nothing was reserved after it,
-- take it off the schedule. ARGV[1] the reservation's end, ARGV[2] its length (us).
-- Returns 1 if refunded, 0 if later reservations keep it (its units are forfeited).
if redis.call('HGET', KEYS[1], 'state') == ARGV[1] then
  redis.call('HSET', KEYS[1], 'state', string.format('%.3f', tonumber(ARGV[1]) - tonumber(ARGV[2])))
  return 1
end
return 0
