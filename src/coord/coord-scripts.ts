/** Redis's clock in ms, the one clock of every instance (the scripts' first lines). */
export const NOW_LUA = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`;

/**
 * Renews leases: KEYS are lease sets, ARGV 1 the TTL ms, ARGV 1+i the lease id in KEYS[i]. A lease
 * that is gone (it expired while Redis was unreachable, or a restart lost it) is added back, since its
 * request is still running; the reply counts those.
 */
export const RENEW_LUA = `${NOW_LUA}
local ttl = tonumber(ARGV[1])
local restored = 0
for i = 1, #KEYS do
  restored = restored + redis.call('ZADD', KEYS[i], now + ttl, ARGV[i + 1])
  if redis.call('PTTL', KEYS[i]) < ttl then redis.call('PEXPIRE', KEYS[i], ttl) end
end
return restored
`;

/**
 * Releases leases: KEYS are lease sets, ARGV 1 the freed channel, ARGV 2 its message ('' = none),
 * ARGV 2+i the lease id in KEYS[i]. Replies with how many were still held.
 */
export const RELEASE_LUA = `
local removed = 0
for i = 1, #KEYS do
  removed = removed + redis.call('ZREM', KEYS[i], ARGV[i + 2])
end
if ARGV[2] ~= '' then redis.call('PUBLISH', ARGV[1], ARGV[2]) end
return removed
`;

/**
 * Reads load without changing anything: KEYS are pairs (lease set, last start) per account.
 * Replies {inFlight, lastStartMs, inFlight, lastStartMs, ...}.
 */
export const LOAD_LUA = `${NOW_LUA}
local out = {}
for i = 1, #KEYS, 2 do
  out[#out + 1] = redis.call('ZCOUNT', KEYS[i], '(' .. now, '+inf')
  local last = redis.call('GET', KEYS[i + 1])
  out[#out + 1] = last and tonumber(last) or 0
end
return out
`;

/**
 * Records an attempt's verdict on an account: KEYS 1 its health hash, 2 the cooldown index; ARGV 1
 * account id, 2 verdict (success | rate_limited | auth | failure), 3 the wait the upstream asked for
 * (ms), 4 the refused token's fingerprint, 5 the rate-limit cap ms, 6 backoff base ms, 7 backoff max
 * ms, 8 how long health outlives its cooldown (ms). Replies with the cooldown's end (0 after a success).
 */
export const REPORT_LUA = `${NOW_LUA}
if ARGV[2] == 'success' then
  redis.call('DEL', KEYS[1])
  redis.call('ZREM', KEYS[2], ARGV[1])
  return 0
end
local capMs = tonumber(ARGV[5])
local cause, untilMs, capped, fp = ARGV[2], now, '0', ''
if cause == 'rate_limited' then
  local asked = tonumber(ARGV[3])
  if asked > capMs then capped = '1' end
  untilMs = now + math.min(asked, capMs)
elseif cause == 'auth' then
  untilMs = now + capMs
  fp = ARGV[4]
else
  cause = 'upstream_failure'
  local fails = redis.call('HINCRBY', KEYS[1], 'fails', 1)
  local exponent = math.min(math.max(0, fails - 1), 30)
  untilMs = now + math.min(tonumber(ARGV[6]) * 2 ^ exponent, tonumber(ARGV[7]))
end
redis.call('HSET', KEYS[1], 'cause', cause, 'until', untilMs, 'capped', capped, 'fp', fp)
redis.call('PEXPIRE', KEYS[1], untilMs - now + tonumber(ARGV[8]))
redis.call('ZADD', KEYS[2], untilMs, ARGV[1])
local left = math.max(1, untilMs - now)
if redis.call('PTTL', KEYS[2]) < left then redis.call('PEXPIRE', KEYS[2], left) end
return untilMs
`;

/**
 * Ends an account's cooldown and forgets its failures (operator action): KEYS 1 its health hash, 2 the
 * cooldown index; ARGV 1 account id, 2 the freed channel, 3 its message. Replies 1 when it had one.
 */
export const CLEAR_LUA = `
local had = redis.call('HEXISTS', KEYS[1], 'cause')
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('PUBLISH', ARGV[2], ARGV[3])
return had
`;
