-- Queue one inbound message unless it is a duplicate, atomically (one round trip),
-- and journal it until its outcome is stored (worker/journal.py).
-- KEYS[1] dedupe key (radflag:dedupe:MSH-3|MSH-4|MSH-10), KEYS[2] the queue list,
-- KEYS[3] the journal hash, KEYS[4] the journal's activity sorted set.
-- ARGV[1] the task as kombu's Redis transport stores it, ARGV[2] duplicate window (s),
-- ARGV[3] receipt time (the dedupe key's value, for people reading Redis),
-- ARGV[4] journal entry id, ARGV[5] journal entry (JSON), ARGV[6] now (epoch s).
-- Returns 1 when queued, 0 for a duplicate. The mark is written with the LPUSH,
-- never without it, so a failed queueing never makes a resend look like a duplicate.
if redis.call('EXISTS', KEYS[1]) == 1 then
  return 0
end
redis.call('LPUSH', KEYS[2], ARGV[1])
redis.call('HSET', KEYS[3], ARGV[4], ARGV[5])
redis.call('ZADD', KEYS[4], ARGV[6], ARGV[4])
redis.call('SET', KEYS[1], ARGV[3], 'EX', ARGV[2])
return 1
