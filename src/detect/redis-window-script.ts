/**
 * The Lua script behind the Redis window store: one EVALSHA per failed login. It mirrors
 * `window.ts` line for line; keep the two in step.
 * @module
 */

/** Lua source (registered with ioredis `defineCommand`, so it runs as EVALSHA with an EVAL fallback). */
export const WINDOW_SCRIPT = `
-- Trailguard detection: one call per failed login (EVALSHA). Mirrors src/detect/window.ts.
-- KEYS: per group g, KEYS[2g-1] = sorted set of events (score = event time ms, member = entity|uniq),
--       KEYS[2g] = alert markers (hash: pattern field -> event time of the last alert).
-- ARGV: at, record (1/0), uniq, cap, groups, then per group: entity, retentionMs, nWindows,
--       then per window: mode ('c' count | 'd' distinct), windowMs, threshold, field.
-- Returns per window: count, firstSeenMs, releaseMs, alert (1/0).
local at = tonumber(ARGV[1])
local record = ARGV[2] == '1'
local uniq = ARGV[3]
local cap = tonumber(ARGV[4])
local groups = tonumber(ARGV[5])
local p = 6
local out = {}
for g = 1, groups do
  local key = KEYS[2 * g - 1]
  local mkey = KEYS[2 * g]
  local entity = ARGV[p]
  local retention = tonumber(ARGV[p + 1])
  local nw = tonumber(ARGV[p + 2])
  p = p + 3
  local wins = {}
  local maxw = 0
  for w = 1, nw do
    local spec = { ARGV[p], tonumber(ARGV[p + 1]), tonumber(ARGV[p + 2]), ARGV[p + 3] }
    p = p + 4
    wins[w] = spec
    if spec[2] > maxw then maxw = spec[2] end
  end
  if record then
    redis.call('ZREMRANGEBYSCORE', key, '-inf', '(' .. string.format('%d', at - retention))
    redis.call('ZADD', key, at, entity .. '|' .. uniq)
    redis.call('ZREMRANGEBYRANK', key, 0, -(cap + 1))
    redis.call('PEXPIRE', key, retention)
  end
  local raw = redis.call('ZRANGEBYSCORE', key, '(' .. string.format('%d', at - maxw),
    '(' .. string.format('%d', at + maxw), 'WITHSCORES')
  local n = #raw / 2
  local scores, ents = {}, {}
  for i = 1, n do
    local m = raw[2 * i - 1]
    local bar = string.find(m, '|', 1, true)
    ents[i] = bar and string.sub(m, 1, bar - 1) or m
    scores[i] = tonumber(raw[2 * i])
  end
  local inorder = n == 0 or scores[n] <= at
  for w = 1, nw do
    local mode, win, thr, field = wins[w][1], wins[w][2], wins[w][3], wins[w][4]
    local best, besti = 0, 0
    for i = 1, n do
      local s = scores[i]
      if s > at then break end
      if s > at - win then
        local e = s + win
        local c = 0
        local seen = {}
        local j = i
        while j <= n and scores[j] < e do
          if mode == 'd' then
            if not seen[ents[j]] then seen[ents[j]] = true; c = c + 1 end
          else
            c = c + 1
          end
          j = j + 1
        end
        if c > best then best = c; besti = i end
        if inorder then break end
      end
    end
    local first, release, alert = 0, 0, 0
    if besti > 0 then first = scores[besti] end
    if besti > 0 and best >= thr then
      local e = scores[besti] + win
      local latest, order = {}, {}
      local j = besti
      while j <= n and scores[j] < e do
        local id = (mode == 'd') and ents[j] or j
        if latest[id] == nil then order[#order + 1] = id end
        latest[id] = scores[j]
        j = j + 1
      end
      local times = {}
      for k = 1, #order do times[k] = latest[order[k]] end
      table.sort(times)
      release = times[best - thr + 1] + win
      if record then
        local last = tonumber(redis.call('HGET', mkey, field))
        if last == nil or at >= last + win or at < last - win then
          redis.call('HSET', mkey, field, string.format('%d', at))
          redis.call('PEXPIRE', mkey, retention)
          alert = 1
        end
      end
    end
    out[#out + 1] = best
    out[#out + 1] = first
    out[#out + 1] = release
    out[#out + 1] = alert
  end
end
return out
`;
