-- Queue many inbound messages as one annotate batch task, atomically (one round trip):
-- each one not a duplicate is journalled and marked, and the task lists their entries.
-- KEYS[1] the queue list, KEYS[2] the journal hash, KEYS[3] its activity sorted set,
-- KEYS[3+i] message i's dedupe key.
-- ARGV[1] duplicate window (s), ARGV[2] now (epoch s), ARGV[3] envelope prefix,
-- ARGV[4] envelope suffix, ARGV[5] body prefix, ARGV[6] body suffix (worker.celery_app.
-- BatchEnvelope); then per message i (from 0): ARGV[7+4i] receipt time (the mark's value),
-- ARGV[8+4i] journal entry id, ARGV[9+4i] journal entry (JSON), ARGV[10+4i] the entry id
-- as a JSON string (for the task's body).
-- Returns a list: 1 queued, 0 duplicate, per message. As in intake.lua, a mark is
-- written only in the call that queues its message.
local out = {}
local parts = {}
local n = #KEYS - 3
for i = 0, n - 1 do
  local dedupe = KEYS[4 + i]
  local at = 7 + 4 * i
  if redis.call('EXISTS', dedupe) == 1 then
    out[i + 1] = 0
  else
    redis.call('HSET', KEYS[2], ARGV[at + 1], ARGV[at + 2])
    redis.call('ZADD', KEYS[3], ARGV[2], ARGV[at + 1])
    redis.call('SET', dedupe, ARGV[at], 'EX', ARGV[1])
    parts[#parts + 1] = ARGV[at + 3]
    out[i + 1] = 1
  end
end
if #parts > 0 then
  local body = ARGV[5] .. table.concat(parts, ', ') .. ARGV[6]
  redis.call('LPUSH', KEYS[1], ARGV[3] .. cjson.encode(body) .. ARGV[4])
end
return out
