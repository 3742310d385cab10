-- A worker starts an annotate batch: close it if it is the open one (the listener then
-- starts a new batch), and return its journal entry ids. Atomic, so an entry is either
-- in what this returns or in a later batch, never in neither.
-- KEYS[1] the open batch (hash: id, n), KEYS[2] the batch's entry list; ARGV[1] its id.
if redis.call('HGET', KEYS[1], 'id') == ARGV[1] then
  redis.call('DEL', KEYS[1])
end
return redis.call('LRANGE', KEYS[2], 0, -1)
