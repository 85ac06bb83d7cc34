import { NOW_LUA } from './coord-scripts.js';

/**
 * The admission script: plan and acquire in one atomic call, on Redis's clock (TIME), so every
 * instance sees one order of events and one time.
 *
 * KEYS: 1 the key's lease set, 2 the key's last start, 3 the cooldown index, then three per
 * candidate: its lease set, its last start, its health hash. Without a key gate, 1 and 2 are
 * placeholders (the index key, never touched).
 * ARGV: 1 lease TTL ms, 2 account lease id, 3 key lease id ('' = no key gate), 4 key max concurrency
 * (0 = none), 5 key min start interval ms (0 = none), 6 probe hold ms, 7 default retry-after ms,
 * 8 how long a last start is kept (ms), 9 how long health outlives its cooldown (ms), then three
 * per candidate: account id, cap, token fingerprint ('' = none).
 *
 * Replies: {'key_refused', reason, inFlight, retryAfterMs}
 *        | {'none', keyTaken 0|1, {blocked ids}, {{id, cause, untilMs}...}, nowMs, nextLapseMs (0 = none)}
 *        | {'admitted', accountId, keyTaken 0|1, nowMs, healthRecorded 0|1}
 */
export const ADMIT_LUA = `${NOW_LUA}local ttl = tonumber(ARGV[1])
local keyLeaseId = ARGV[3]
local keyMax = tonumber(ARGV[4])
local keyInterval = tonumber(ARGV[5])
local probeHold = tonumber(ARGV[6])
local healthMemory = tonumber(ARGV[9])
local FIXED = 9

local function num(v)
  if v then return tonumber(v) end
  return nil
end

local function extendTo(key, ms)
  local left = redis.call('PTTL', key)
  if left < ms then redis.call('PEXPIRE', key, ms) end
end

local function addLease(key, id)
  redis.call('ZADD', key, now + ttl, id)
  extendTo(key, ttl)
end

-- The key's gates first, with the in-process limiter's rules: concurrency reported first, and a
-- refusal leaves the interval clock where it was.
local keyTaken = 0
if keyLeaseId ~= '' then
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
  local inFlight = redis.call('ZCARD', KEYS[1])
  local last = num(redis.call('GET', KEYS[2]))
  local untilSlot = 0
  if keyInterval > 0 and last then untilSlot = last + keyInterval - now end
  if keyMax > 0 and inFlight >= keyMax then
    return {'key_refused', 'key_max_concurrency', inFlight, math.max(tonumber(ARGV[7]), untilSlot)}
  end
  if untilSlot > 0 then return {'key_refused', 'key_min_start_interval', inFlight, untilSlot} end
  addLease(KEYS[1], keyLeaseId)
  if keyInterval > 0 then redis.call('SET', KEYS[2], now, 'PX', keyInterval) end
  keyTaken = 1
end

-- The candidate with the lowest in-flight/cap, then the least recently started, then the first given.
local best, bestLoad, bestLast = 0, 0, 0
local blocked, cooling = {}, {}
-- The soonest a blocked account's place lapses if its holder stops renewing it (a killed process):
-- a lapse publishes nothing, so a waiting caller looks again then instead of polling.
local nextLapse = 0
for i = 1, (#ARGV - FIXED) / 3 do
  local a = FIXED + (i - 1) * 3
  local k = 3 + (i - 1) * 3
  local id, cap, fp = ARGV[a + 1], math.max(1, tonumber(ARGV[a + 2])), ARGV[a + 3]
  local h = redis.call('HMGET', KEYS[k + 3], 'cause', 'until', 'fp')
  local untilMs = num(h[2])
  -- A new access token ends an auth cooldown: the refused credentials were replaced.
  if h[1] and untilMs and now < untilMs and not (h[1] == 'auth' and fp ~= '' and fp ~= h[3]) then
    cooling[#cooling + 1] = {id, h[1], untilMs}
  else
    redis.call('ZREMRANGEBYSCORE', KEYS[k + 1], '-inf', now)
    local inFlight = redis.call('ZCARD', KEYS[k + 1])
    if inFlight >= cap then
      blocked[#blocked + 1] = id
      local first = redis.call('ZRANGE', KEYS[k + 1], 0, 0, 'WITHSCORES')
      local lapse = tonumber(first[2])
      if lapse and (nextLapse == 0 or lapse < nextLapse) then nextLapse = lapse end
    else
      local load = inFlight / cap
      local last = num(redis.call('GET', KEYS[k + 2])) or 0
      if best == 0 or load < bestLoad or (load == bestLoad and last < bestLast) then
        best, bestLoad, bestLast = i, load, last
      end
    end
  end
end
if best == 0 then return {'none', keyTaken, blocked, cooling, now, nextLapse} end

local k = 3 + (best - 1) * 3
local id = ARGV[FIXED + (best - 1) * 3 + 1]
addLease(KEYS[k + 1], ARGV[2])
redis.call('SET', KEYS[k + 2], now, 'PX', tonumber(ARGV[8]))
-- An ended cooldown: after a capped rate limit this admission is the one re-probe, and every other
-- instance sees the account cooling for the probe hold; any other kind is forgotten (the failure
-- count stays until an answer that is not a failure).
local h = redis.call('HMGET', KEYS[k + 3], 'cause', 'capped')
if h[1] == 'rate_limited' and h[2] == '1' then
  redis.call('HSET', KEYS[k + 3], 'until', now + probeHold, 'capped', '0')
  redis.call('PEXPIRE', KEYS[k + 3], probeHold + healthMemory)
  redis.call('ZADD', KEYS[3], now + probeHold, id)
  extendTo(KEYS[3], probeHold)
elseif h[1] then
  redis.call('HDEL', KEYS[k + 3], 'cause', 'until', 'capped', 'fp')
  redis.call('ZREM', KEYS[3], id)
end
-- Whether the account still has a health record (a failure count, a probe hold): only then does a
-- success need reporting, so a healthy account's answers cost no call.
return {'admitted', id, keyTaken, now, redis.call('EXISTS', KEYS[k + 3])}
`;
