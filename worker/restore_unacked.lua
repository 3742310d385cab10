-- Put one unacknowledged task back on its queue, if it is still unacknowledged as read.
-- KEYS[1] kombu's `unacked` hash, KEYS[2] its `unacked_index` sorted set, KEYS[3] the queue.
-- ARGV[1] delivery tag, ARGV[2] the hash value the caller read, ARGV[3] the task to queue.
-- Returns 1 when restored, 0 when the task was acknowledged or restored meanwhile.
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then
  return 0
end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('RPUSH', KEYS[3], ARGV[3])
return 1
