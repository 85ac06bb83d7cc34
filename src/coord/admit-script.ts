import { NOW_LUA } from './coord-scripts.js';

/**
 * Lua shared by the admission and queue-turn scripts: the scan of the candidates (cooling, at their
 * cap, or free with their load) and the take of one free account (its lease, its last start, its
 * re-probe). The including script defines `ttl`, `probeHold`, `lastStartMemory`, `healthMemory`,
 * `FIXED` (its fixed ARGV count: three per candidate follow, account id, cap, token fingerprint),
 * `KBASE` (the KEYS index before the candidates' three keys: lease set, last start, health hash) and
 * `COOLDOWNS` (the KEYS index of the cooldown index).
 */
export const ACCOUNT_LUA = `
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

-- Every candidate: cooling ({id, cause, untilMs}), at its cap (its id), or free ({i, id, load, last}).
-- nextLapse is the soonest a blocked account's place lapses if its holder stops renewing it (a killed
-- process): a lapse publishes nothing, so a waiting caller looks again then instead of polling.
local function scanCandidates()
  local free, blocked, cooling = {}, {}, {}
  local nextLapse = 0
  for i = 1, (#ARGV - FIXED) / 3 do
    local a = FIXED + (i - 1) * 3
    local k = KBASE + (i - 1) * 3
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
        free[#free + 1] = {i = i, id = id, load = inFlight / cap, last = num(redis.call('GET', KEYS[k + 2])) or 0}
      end
    end
  end
  return free, blocked, cooling, nextLapse
end

-- The free candidate with the lowest in-flight/cap, then the least recently started, then the first given.
local function pickBest(free)
  local best = nil
  for _, c in ipairs(free) do
    if best == nil or c.load < best.load or (c.load == best.load and c.last < best.last) then best = c end
  end
  return best
end

-- Takes free candidate c; returns 1 when the account still has a health record afterwards (a
-- failure count, a probe hold), 0 otherwise.
local function takeAccount(c, leaseId)
  local k = KBASE + (c.i - 1) * 3
  addLease(KEYS[k + 1], leaseId)
  redis.call('SET', KEYS[k + 2], now, 'PX', lastStartMemory)
  -- An ended cooldown: after a capped rate limit this admission is the one re-probe, and every other
  -- instance sees the account cooling for the probe hold; any other kind is forgotten (the failure
  -- count stays until an answer that is not a failure).
  local h = redis.call('HMGET', KEYS[k + 3], 'cause', 'capped')
  if h[1] == 'rate_limited' and h[2] == '1' then
    redis.call('HSET', KEYS[k + 3], 'until', now + probeHold, 'capped', '0')
    redis.call('PEXPIRE', KEYS[k + 3], probeHold + healthMemory)
    redis.call('ZADD', KEYS[COOLDOWNS], now + probeHold, c.id)
    extendTo(KEYS[COOLDOWNS], probeHold)
  elseif h[1] then
    redis.call('HDEL', KEYS[k + 3], 'cause', 'until', 'capped', 'fp')
    redis.call('ZREM', KEYS[COOLDOWNS], c.id)
  end
  return redis.call('EXISTS', KEYS[k + 3])
end
`;

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
 *        | {'admitted', accountId, keyTaken 0|1, nowMs, healthRecorded 0|1 (the account still has a health record)}
 */
export const ADMIT_LUA = `${NOW_LUA}local ttl = tonumber(ARGV[1])
local keyLeaseId = ARGV[3]
local keyMax = tonumber(ARGV[4])
local keyInterval = tonumber(ARGV[5])
local probeHold = tonumber(ARGV[6])
local lastStartMemory = tonumber(ARGV[8])
local healthMemory = tonumber(ARGV[9])
local FIXED, KBASE, COOLDOWNS = 9, 3, 3
${ACCOUNT_LUA}
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

local free, blocked, cooling, nextLapse = scanCandidates()
local best = pickBest(free)
if best == nil then return {'none', keyTaken, blocked, cooling, now, nextLapse} end
return {'admitted', best.id, keyTaken, now, takeAccount(best, ARGV[2])}
`;
