-- A barrier, used after _common.lua:
--   KEYS[1] meta     hash kind, value (parties), round (rounds ended: trips and resets),
--                    broken ('1' until reset)
--   KEYS[2] queue    list of the parties waiting in this round, in arrival order
--   KEYS[3] alive    hash party -> deadline of its lease (ms); it renews it by asking again
--   KEYS[4] indices  hash party -> arrival index, of the last round that tripped (for a
--                    party whose wake-up was lost)
-- Wake-ups (see _common.lua): 'e<index> <party>' the barrier tripped, 'x <party>' it broke.
local meta, queue, alive, indices = KEYS[1], KEYS[2], KEYS[3], KEYS[4]

local function current_round()
  return tonumber(redis.call('HGET', meta, 'round') or '0')
end

local function is_broken()
  return redis.call('HGET', meta, 'broken') == '1'
end

-- End the round: tell every waiting party (``what``), forget them, count the round.
local function end_round(what)
  for _, party in ipairs(redis.call('LRANGE', queue, 0, -1)) do
    notify(party, what)
  end
  redis.call('DEL', queue, alive)
  redis.call('HINCRBY', meta, 'round', 1)
end

local function break_barrier()
  redis.call('HSET', meta, 'broken', '1')
  end_round('x ')
end

-- A waiting party whose lease ran out (its process died or stalled) breaks the barrier.
-- Returns the ms until the first live lease runs out (-1: nobody waits), or nil if broken.
local function check_leases()
  local first = -1
  for _, deadline in ipairs(redis.call('HVALS', alive)) do
    local left = tonumber(deadline) - now
    if left <= 0 then
      break_barrier()
      return nil
    end
    if first < 0 or left < first then
      first = left
    end
  end
  return first
end
