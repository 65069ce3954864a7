-- The permits engine, used by acquire, release and abandon (after _common.lua): the state
-- of one named lock-like primitive, all keys under its hash tag (one cluster slot):
--   KEYS[1] meta     hash kind, value (permits), token (fencing counter); never expires
--   KEYS[2] holders  zset owner -> deadline of its lease (ms of server time)
--   KEYS[3] grants   hash owner -> token, and '#used' = the weight of all holders
--   KEYS[4] queue    list of waiting owners, first come first served
--   KEYS[5] alive    hash owner -> deadline of its place in the queue (renewed by re-checks)
--   KEYS[6] gone     zset owner -> when to forget it: owners released or abandoned, so that
--                    a late or repeated call of theirs (redis-py re-sends a call after a
--                    timeout) can neither take nor queue anything again
-- ARGV[1] the caller's owner id, ARGV[2] the hand-off claim window (ms).
-- An owner id is '<session>:<acquisition>:<weight>'. Wake-ups (see _common.lua):
-- 'g<token>,<ms> <owner>' (granted for ms: confirm it) and 'n<ms> <owner>' (you are next:
-- re-check in ms, when the claim of the waiter granted before you ends, in case it never
-- confirms).
local meta, holders, grants, queue, alive, gone = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local caller, claim_ms = ARGV[1], tonumber(ARGV[2])
local function weight_of(owner)
  return tonumber(string.match(owner, ':(%d+)$'))
end

local function used()
  return tonumber(redis.call('HGET', grants, '#used') or '0')
end

local function drop_holder(owner)
  if redis.call('ZREM', holders, owner) == 1 then
    redis.call('HDEL', grants, owner)
    redis.call('HINCRBY', grants, '#used', -weight_of(owner))
  end
end

local function expire_holders()
  for _, owner in ipairs(redis.call('ZRANGEBYSCORE', holders, '-inf', now)) do
    drop_holder(owner)
  end
  if redis.call('EXISTS', holders) == 0 then
    -- Nothing held, so nothing in use, even if the holders went without us (deleted by
    -- hand, evicted).
    redis.call('DEL', grants)
  end
end

local function forget_later(owner, ms)
  redis.call('ZREMRANGEBYSCORE', gone, '-inf', now)
  redis.call('ZADD', gone, now + ms, owner)
  extend(gone, ms)
end

local function leave_queue(owner)
  if redis.call('HDEL', alive, owner) == 1 then
    redis.call('LREM', queue, 1, owner)
  end
end

local function grant(owner, ms)
  if redis.call('HEXISTS', meta, 'token') == 0 then
    -- Lost with the data (a restart without persistence): restart from the server's
    -- clock in microseconds, above every token handed out before at under 1M per second.
    redis.call('HSET', meta, 'token', string.format('%d%06d', tonumber(time[1]), tonumber(time[2])))
  end
  -- Tokens stay below 2^53, so Lua's numbers hold them exactly.
  local token = redis.call('HINCRBY', meta, 'token', 1)
  redis.call('ZADD', holders, now + ms, owner)
  redis.call('HSET', grants, owner, token)
  redis.call('HINCRBY', grants, '#used', weight_of(owner))
  extend(holders, ms)
  extend(grants, ms)
  return token
end

-- Grant, in queue order, every waiter at the head that fits; a waiter whose place was not
-- renewed in time (its process died) is dropped. Others are granted for the claim window
-- and told so; the caller, if served, for ``caller_lease`` ms. Returns the caller's token.
local function serve_queue(caller_lease)
  local capacity = tonumber(redis.call('HGET', meta, 'value') or '0')
  local in_use, mine, claimed = used(), nil, nil
  local head = redis.call('LINDEX', queue, 0)
  while head do
    local place = tonumber(redis.call('HGET', alive, head) or '0')
    if place > now then
      local weight = weight_of(head)
      if in_use + weight > capacity then
        break
      end
      in_use = in_use + weight
      if head == caller then
        mine = grant(head, caller_lease)
      else
        -- No longer than its place would have lasted: a dead waiter costs no more here
        -- than it would have at the head of the queue.
        claimed = math.min(claim_ms, place - now)
        notify(head, 'g' .. string.format('%d', grant(head, claimed)) .. ',' .. claimed .. ' ')
      end
    end
    redis.call('LPOP', queue)
    redis.call('HDEL', alive, head)
    head = redis.call('LINDEX', queue, 0)
  end
  if claimed and head then
    notify(head, 'n' .. claimed .. ' ')
  end
  return mine
end
