-- Queue inbound messages for annotation in batches, atomically (one round trip): each one
-- not a duplicate is journalled and marked, and its journal entry id joins the open batch,
-- the batch whose task still waits in the queue; when there is none (a worker took it, or
-- it is full), a new batch starts with its task.
-- KEYS[1] the queue list, KEYS[2] the journal hash, KEYS[3] its activity sorted set,
-- KEYS[4] the open batch (hash: id, n), KEYS[5] the new batch's entry list,
-- KEYS[5+i] message i's dedupe key (i from 1).
-- ARGV[1] duplicate window (s), ARGV[2] now (epoch s), ARGV[3] the new batch's task (as
-- kombu's Redis transport stores it), ARGV[4] the new batch's id, ARGV[5] most entries in a
-- batch, ARGV[6] seconds a batch's list is kept, ARGV[7] seconds the open batch stays open,
-- ARGV[8] the prefix of batch list keys; then per message i (from 0): ARGV[9+3i] receipt
-- time (the mark's value), ARGV[10+3i] journal entry id, ARGV[11+3i] journal entry (JSON).
-- Returns a list: 1 queued, 0 duplicate, per message. As in intake.lua, a mark is written
-- only in the call that queues its message.
local out = {}
local new = {}
local n = #KEYS - 5
for i = 0, n - 1 do
  local dedupe = KEYS[6 + i]
  local at = 9 + 3 * i
  if redis.call('EXISTS', dedupe) == 1 then
    out[i + 1] = 0
  else
    redis.call('HSET', KEYS[2], ARGV[at + 1], ARGV[at + 2])
    redis.call('ZADD', KEYS[3], ARGV[2], ARGV[at + 1])
    redis.call('SET', dedupe, ARGV[at], 'EX', ARGV[1])
    new[#new + 1] = ARGV[at + 1]
    out[i + 1] = 1
  end
end
if #new > 0 then
  local open = redis.call('HMGET', KEYS[4], 'id', 'n')
  if open[1] and open[2] and tonumber(open[2]) + #new <= tonumber(ARGV[5]) then
    redis.call('RPUSH', ARGV[8] .. open[1], unpack(new))
    redis.call('HINCRBY', KEYS[4], 'n', #new)
  else
    redis.call('RPUSH', KEYS[5], unpack(new))
    redis.call('EXPIRE', KEYS[5], ARGV[6])
    redis.call('LPUSH', KEYS[1], ARGV[3])
    redis.call('HSET', KEYS[4], 'id', ARGV[4], 'n', #new)
    redis.call('EXPIRE', KEYS[4], ARGV[7])
  end
end
return out
