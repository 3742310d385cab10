-- Queue a journalled task again, unless it was settled or showed activity meanwhile.
-- KEYS[1] journal hash, KEYS[2] journal activity sorted set, KEYS[3] the queue list.
-- ARGV[1] entry id, ARGV[2] the activity time the reconciler saw, ARGV[3] the task
-- as kombu's Redis transport stores it, ARGV[4] now (epoch s).
-- Returns 1 when queued again, 0 when the entry is gone or was touched since.
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then
  return 0
end
local since = redis.call('ZSCORE', KEYS[2], ARGV[1])
if since and tonumber(since) > tonumber(ARGV[2]) then
  return 0
end
redis.call('LPUSH', KEYS[3], ARGV[3])
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[1])
return 1
