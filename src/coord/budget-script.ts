import { NOW_LUA } from './coord-scripts.js';

/**
 * A key's budget in one period, shared by every instance (REDIS_URL). KEYS 1 is the period's hash:
 * `ui`, `ut`, `uc` the images, tokens and estimated cost (micro-USD) used in the period, seeded from
 * the database by the first instance that touches it and then added to by every request's end;
 * `ri`, `rt`, `rc` the sums of the reservations held; `r:<id>` each reservation's amounts ("i,t,c").
 * KEYS 2 is a sorted set of the reservation ids by expiry: one whose holder died lapses, and the next
 * script call takes it off the sums.
 */
// Amounts come off as 0 - n, never -n: Lua's -0 reaches Redis as "-0", which HINCRBY refuses.
const SWEEP_LAPSED_LUA = `
for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now)) do
  local amounts = redis.call('HGET', KEYS[1], 'r:' .. id)
  if amounts then
    local i, t, c = string.match(amounts, '^(%d+),(%d+),(%d+)$')
    redis.call('HINCRBY', KEYS[1], 'ri', 0 - tonumber(i))
    redis.call('HINCRBY', KEYS[1], 'rt', 0 - tonumber(t))
    redis.call('HINCRBY', KEYS[1], 'rc', 0 - tonumber(c))
    redis.call('HDEL', KEYS[1], 'r:' .. id)
  end
  redis.call('ZREM', KEYS[2], id)
end
`;

/**
 * Reserves a request's estimate against the key's budget, or refuses it; one atomic call. ARGV 1-3
 * the seed: used images, tokens, cost as the caller's database view has them. It starts a period's
 * hash, and raises a used figure below it: the database view is a floor of what was used, so usage
 * that never reached Redis (settled during an outage, or before a Redis restart) still counts once
 * it is in the database. 4-6 the limits (-1 = none), 7-9 the ask, 10 the reservation id,
 * 11 how long it holds without a release (ms), 12 how long the period's keys live (ms).
 * Replies {1} when held, {0, measure (1 images, 2 tokens, 3 cost), used (spent + reserved)} when refused.
 */
export const BUDGET_RESERVE_LUA = `${NOW_LUA}
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('HSET', KEYS[1], 'ui', ARGV[1], 'ut', ARGV[2], 'uc', ARGV[3], 'ri', 0, 'rt', 0, 'rc', 0)
else
  local used = redis.call('HMGET', KEYS[1], 'ui', 'ut', 'uc')
  local fields = {'ui', 'ut', 'uc'}
  for m = 1, 3 do
    if tonumber(ARGV[m]) > tonumber(used[m] or 0) then redis.call('HSET', KEYS[1], fields[m], ARGV[m]) end
  end
end
${SWEEP_LAPSED_LUA}
local v = redis.call('HMGET', KEYS[1], 'ui', 'ut', 'uc', 'ri', 'rt', 'rc')
for m = 1, 3 do
  local limit = tonumber(ARGV[3 + m])
  if limit >= 0 then
    local used = tonumber(v[m]) + tonumber(v[m + 3])
    local ask = tonumber(ARGV[6 + m])
    if used >= limit or (ask > 0 and used + ask > limit) then return {0, m, used} end
  end
end
redis.call('HINCRBY', KEYS[1], 'ri', ARGV[7])
redis.call('HINCRBY', KEYS[1], 'rt', ARGV[8])
redis.call('HINCRBY', KEYS[1], 'rc', ARGV[9])
redis.call('HSET', KEYS[1], 'r:' .. ARGV[10], ARGV[7] .. ',' .. ARGV[8] .. ',' .. ARGV[9])
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[11]), ARGV[10])
redis.call('PEXPIRE', KEYS[1], ARGV[12])
redis.call('PEXPIRE', KEYS[2], ARGV[12])
return {1}
`;

/**
 * Ends a reservation: takes it off the sums and adds what the request really used. ARGV 1 the
 * reservation id, 2-4 the images, tokens and cost used. Only a reservation still held is settled, so
 * a settle sent again (its first answer was lost) counts once. One that lapsed, or a period hash that
 * is gone (Redis restarted), is left alone: the next reservation seeds the used figures from the
 * database, which holds this usage once the instance flushes it. Replies 1 when it settled, 0 when
 * there was nothing to settle.
 */
export const BUDGET_SETTLE_LUA = `
redis.call('ZREM', KEYS[2], ARGV[1])
local amounts = redis.call('HGET', KEYS[1], 'r:' .. ARGV[1])
if not amounts then return 0 end
local i, t, c = string.match(amounts, '^(%d+),(%d+),(%d+)$')
redis.call('HINCRBY', KEYS[1], 'ri', 0 - tonumber(i))
redis.call('HINCRBY', KEYS[1], 'rt', 0 - tonumber(t))
redis.call('HINCRBY', KEYS[1], 'rc', 0 - tonumber(c))
redis.call('HDEL', KEYS[1], 'r:' .. ARGV[1])
redis.call('HINCRBY', KEYS[1], 'ui', ARGV[2])
redis.call('HINCRBY', KEYS[1], 'ut', ARGV[3])
redis.call('HINCRBY', KEYS[1], 'uc', ARGV[4])
return 1
`;
