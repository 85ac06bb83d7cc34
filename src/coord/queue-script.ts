import { ACCOUNT_LUA } from './admit-script.js';
import { NOW_LUA } from './coord-scripts.js';

/**
 * Lua shared by the queue scripts. KEYS 1..4 are the waiting key's ticket order, ticket leases,
 * ticket accounts, and the set of keys with tickets; the including script defines `now` and `ttl`.
 * Another key's queue is reached by name, `<queue prefix><key id>:order|:leases|:accounts` (the
 * names coord-keys.ts builds): which keys wait is only known inside the script.
 */
const QUEUE_LUA = `
local function dropTicket(order, leases, accounts, ticket)
  redis.call('ZREM', order, ticket)
  redis.call('ZREM', leases, ticket)
  redis.call('HDEL', accounts, ticket)
end

-- The oldest live ticket of a key: its id, order and expiry. Dead heads (their holder stopped
-- renewing, or a restart lost the lease) are dropped on the way; nil when none is left.
local function liveHead(order, leases, accounts)
  while true do
    local first = redis.call('ZRANGE', order, 0, 0, 'WITHSCORES')
    if #first == 0 then return nil end
    local expiry = tonumber(redis.call('ZSCORE', leases, first[1]))
    if expiry and expiry > now then return first[1], tonumber(first[2]), expiry end
    dropTicket(order, leases, accounts, first[1])
  end
end

-- Joins (idempotent): a ticket not in the order yet (new, or lost to a restart) goes to the back, a
-- known one only has its expiry moved on.
local function register(ticket, keyId, accountsJson, sequenceKey, memoryMs)
  if not redis.call('ZSCORE', KEYS[1], ticket) then
    redis.call('ZADD', KEYS[1], redis.call('INCR', sequenceKey), ticket)
    redis.call('HSET', KEYS[3], ticket, accountsJson)
    redis.call('SADD', KEYS[4], keyId)
  end
  redis.call('ZADD', KEYS[2], now + ttl, ticket)
  for i = 1, 4 do redis.call('PEXPIRE', KEYS[i], memoryMs) end
end
`;

/**
 * Puts a waiter's ticket in its key's queue. KEYS: 1 order, 2 ticket leases, 3 ticket accounts,
 * 4 waiting keys, 5 the sequence. ARGV: 1 lease TTL ms, 2 ticket id, 3 key id, 4 the ticket's
 * account ids (JSON array), 5 how long idle queue keys are kept (ms). Replies 1.
 */
export const JOIN_LUA = `${NOW_LUA}local ttl = tonumber(ARGV[1])
${QUEUE_LUA}
register(ARGV[2], ARGV[3], ARGV[4], KEYS[5], tonumber(ARGV[5]))
return 1
`;

/**
 * A waiter's take in the shared order. Refuses, taking nothing, unless its ticket is the oldest
 * live one of its key (FIFO within a key on every instance; an instance's waiter stands in the
 * place of its instance's oldest ticket, since that instance orders its own waiters), and takes only a free account that no
 * other key's head with an older turn could use (a key's turn is its last grant: the key served
 * longest ago goes first; never served = 0; a tie goes to the older head). A head whose accounts
 * are all cooling or full competes for nothing. An admission removes the ticket, sets the key's
 * turn, and announces the accounts still free (a waiter refused on them may take them now).
 *
 * KEYS: 1 order, 2 ticket leases, 3 ticket accounts, 4 waiting keys, 5 turns, 6 the sequence,
 * 7 the cooldown index, then three per candidate (lease set, last start, health hash).
 * ARGV: 1 lease TTL ms, 2 account lease id, 3 ticket id, 4 key id, 5 the ticket's account ids
 * (JSON), 6 the queue key prefix, 7 probe hold ms, 8 how long a last start is kept (ms), 9 how long
 * health outlives its cooldown (ms), 10 how long idle queue keys are kept (ms), 11 the freed channel,
 * 12 the prefix of this instance's ticket ids, then three per candidate: account id, cap, token
 * fingerprint.
 *
 * Replies: {'not_your_turn', nowMs, untilMs (when the blocking ticket lapses unless renewed)}
 *        | the admission script's 'none' and 'admitted' replies (keyTaken 0).
 */
export const TAKE_TURN_LUA = `${NOW_LUA}local ttl = tonumber(ARGV[1])
local probeHold = tonumber(ARGV[7])
local lastStartMemory = tonumber(ARGV[8])
local healthMemory = tonumber(ARGV[9])
local FIXED, KBASE, COOLDOWNS = 12, 7, 7
${ACCOUNT_LUA}${QUEUE_LUA}
local ticket, keyId, prefix, holder = ARGV[3], ARGV[4], ARGV[6], ARGV[12]
register(ticket, keyId, ARGV[5], KEYS[6], tonumber(ARGV[10]))
liveHead(KEYS[1], KEYS[2], KEYS[3])
local mySeq = tonumber(redis.call('ZSCORE', KEYS[1], ticket))
-- The instance's oldest ticket of the key is its place: its own queue orders its waiters, so its
-- head stands in that place (one that joined late, after an outage, would otherwise wait behind
-- its own followers, which are never tried). Any other instance's live ticket before it goes first.
local stand, keySeq = ticket, mySeq
for _, t in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. mySeq)) do
  if stand ~= ticket then break end
  local expiry = tonumber(redis.call('ZSCORE', KEYS[2], t))
  if not (expiry and expiry > now) then
    dropTicket(KEYS[1], KEYS[2], KEYS[3], t)
  elseif string.sub(t, 1, #holder) == holder then
    stand = t
  else
    return {'not_your_turn', now, expiry}
  end
end
if stand ~= ticket then keySeq = tonumber(redis.call('ZSCORE', KEYS[1], stand)) end

local free, blocked, cooling, nextLapse = scanCandidates()
if #free == 0 then return {'none', 0, blocked, cooling, now, nextLapse} end
local isFree = {}
for _, c in ipairs(free) do isFree[c.id] = true end

-- Accounts an older turn's head could use are left to it.
local myTurn = tonumber(redis.call('HGET', KEYS[5], keyId)) or 0
local reserved, blockedUntil = {}, 0
for _, other in ipairs(redis.call('SMEMBERS', KEYS[4])) do
  if other ~= keyId then
    local o, l, a = prefix .. other .. ':order', prefix .. other .. ':leases', prefix .. other .. ':accounts'
    local h, seq, expiry = liveHead(o, l, a)
    local turn = tonumber(redis.call('HGET', KEYS[5], other)) or 0
    local wanted = h and redis.call('HGET', a, h)
    if not h then
      redis.call('SREM', KEYS[4], other)
    elseif wanted and (turn < myTurn or (turn == myTurn and seq < keySeq)) then
      for _, id in ipairs(cjson.decode(wanted)) do
        if isFree[id] and not reserved[id] then
          reserved[id] = true
          if blockedUntil == 0 or expiry < blockedUntil then blockedUntil = expiry end
        end
      end
    end
  end
end
local open = {}
for _, c in ipairs(free) do
  if not reserved[c.id] then open[#open + 1] = c end
end
if #open == 0 then return {'not_your_turn', now, blockedUntil} end

local best = pickBest(open)
local recorded = takeAccount(best, ARGV[2])
-- Served in its instance's oldest place: that place is the one used up, the older sibling keeps this one.
if stand ~= ticket then redis.call('ZADD', KEYS[1], mySeq, stand) end
dropTicket(KEYS[1], KEYS[2], KEYS[3], ticket)
if redis.call('ZCARD', KEYS[1]) == 0 then redis.call('SREM', KEYS[4], keyId) end
redis.call('HSET', KEYS[5], keyId, redis.call('INCR', KEYS[6]))
redis.call('PEXPIRE', KEYS[5], tonumber(ARGV[10]))
local rest = {}
for _, c in ipairs(free) do
  if c.id ~= best.id then rest[#rest + 1] = c.id end
end
if #rest > 0 and redis.call('SCARD', KEYS[4]) > 0 then redis.call('PUBLISH', ARGV[11], cjson.encode(rest)) end
return {'admitted', best.id, 0, now, recorded}
`;

/**
 * Takes a ticket out of its key's queue (the waiter left: time up, client gone). KEYS: 1 order,
 * 2 ticket leases, 3 ticket accounts, 4 waiting keys. ARGV: 1 ticket id, 2 key id, 3 the freed
 * channel. A head that leaves announces its accounts, since waiters it held back may take them now.
 * Replies 1 when the ticket was its key's head.
 */
export const LEAVE_LUA = `${NOW_LUA}
${QUEUE_LUA}
local head = liveHead(KEYS[1], KEYS[2], KEYS[3])
local wanted = redis.call('HGET', KEYS[3], ARGV[1])
dropTicket(KEYS[1], KEYS[2], KEYS[3], ARGV[1])
if redis.call('ZCARD', KEYS[1]) == 0 then redis.call('SREM', KEYS[4], ARGV[2]) end
if head ~= ARGV[1] then return 0 end
if wanted and redis.call('SCARD', KEYS[4]) > 0 then redis.call('PUBLISH', ARGV[3], wanted) end
return 1
`;
