-- Signals (Event, CountdownLatch), used after _common.lua: open or not, and who waits.
--   KEYS[1] meta     hash kind, value (a latch's count to start from), state (an event:
--                    '1' when set; a latch: the count left)
--   KEYS[2] waiters  zset waiter id -> deadline of its registration (ms); a waiter renews
--                    it each time it asks again
-- Wake-up (see _common.lua): 'e <id>', the signal opened.
local meta, waiters = KEYS[1], KEYS[2]

local function open_of(kind, value, state)
  if kind == 'event' then
    return state == '1'
  end
  return tonumber(state or value or '0') <= 0
end

local function is_open()
  local known = redis.call('HMGET', meta, 'kind', 'value', 'state')
  return open_of(known[1], known[2], known[3])
end

-- Wake every registered waiter whose registration is live, and count the opening (for a
-- waiter whose wake-up is lost); returns how many were woken.
local function open_now()
  redis.call('HINCRBY', meta, 'openings', 1)
  local woken = redis.call('ZRANGEBYSCORE', waiters, '(' .. now, '+inf')
  for _, id in ipairs(woken) do
    notify(id, 'e ')
  end
  redis.call('DEL', waiters)
  return #woken
end
