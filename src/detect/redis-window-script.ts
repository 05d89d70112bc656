/**
 * The Lua scripts behind the Redis window store: one EVALSHA per failed login. A script is generated
 * per configuration (the window specs, retention and cap are baked in as constants), so a call carries
 * only the event: its time, a unique suffix and one entity per key. The arithmetic is that of
 * `window.ts` (`evaluateWindow`, `shouldAlert`); keep the two in step.
 * @module
 */
import { createHash } from 'node:crypto';
import type { WindowSpec } from './window.ts';

/** One key group of a script: a sorted set of events, its alert markers and the windows evaluated on it. */
export interface ScriptGroup {
  windows: readonly WindowSpec[];
  retentionMs: number;
}

/** A generated script and the ioredis command name it is registered under (derived from its SHA-1). */
export interface GeneratedScript {
  name: string;
  lua: string;
  numberOfKeys: number;
}

function luaNumber(x: number, what: string): string {
  if (!Number.isFinite(x)) throw new RangeError(`${what} must be a finite number`);
  return String(x);
}

/** A Lua string literal for any text (every byte escaped, so nothing can break out of it). */
function luaString(s: string): string {
  return `"${[...Buffer.from(s, 'utf8')].map((b) => `\\${b.toString().padStart(3, '0')}`).join('')}"`;
}

// Shared helpers. `load` adds the event, trims the set (retention, then cap: one ZREMRANGEBYRANK at
// most; a key it has just created is neither read nor trimmed) and returns the raw reply, the scores and the index of the first live entry. The window
// functions return count, firstSeenMs, releaseMs for the windows of length W that contain `at` and start
// at an event — in order (no event after `at`) only the trailing window `(at − W, at]`, which holds every
// other candidate; out of order a two-pointer sweep over the starts (O(n), not O(n²)).
const PRELUDE = `
local at = tonumber(ARGV[1])
local rec = ARGV[2] == '1'
local uniq = ARGV[3]
local find, sub = string.find, string.sub

local function load(key, entity, ret, cap)
  if rec then
    local member = entity .. '|' .. uniq
    redis.call('ZADD', key, at, member)
    -- Every key gets its expiry in the call that creates it, so "had no expiry" means "did not exist":
    -- the set holds only this event and needs no read. (PEXPIRE NX needs Redis 7; on older servers
    -- pcall returns an error and the full path below runs.)
    if redis.pcall('PEXPIRE', key, ret, 'NX') == 1 then return { member, '' }, { at }, 1, 1, true end
  end
  local raw = redis.call('ZRANGE', key, 0, -1, 'WITHSCORES')
  local n = #raw / 2
  local sc = {}
  for i = 1, n do sc[i] = tonumber(raw[2 * i]) end
  local drop = 0
  local lo = at - ret
  while drop < n and sc[drop + 1] < lo do drop = drop + 1 end
  if rec then
    if n - drop > cap then drop = n - cap end
    if drop > 0 then redis.call('ZREMRANGEBYRANK', key, 0, drop - 1) end
    redis.call('PEXPIRE', key, ret)
  end
  return raw, sc, n, drop + 1, n == 0 or sc[n] <= at
end

local function entity(raw, i)
  local m = raw[2 * i - 1]
  local bar = find(m, '|', 1, true)
  if bar then return sub(m, 1, bar - 1) end
  return m
end

local function count(sc, n, a, inorder, win, thr)
  local best, bi = 0, 0
  local j = a
  for i = a, n do
    local s = sc[i]
    if s > at then break end
    if s > at - win then
      if j < i then j = i end
      local e = s + win
      while j <= n and sc[j] < e do j = j + 1 end
      if j - i > best then best = j - i; bi = i end
      if inorder then break end
    end
  end
  if bi == 0 then return 0, 0, 0 end
  if best < thr then return best, sc[bi], 0 end
  return best, sc[bi], sc[bi + best - thr] + win
end

local function distinct(raw, sc, n, a, inorder, win, thr)
  local best, bi = 0, 0
  local cnt, ent, d = {}, {}, 0
  local l, j = a, a
  for i = a, n do
    local s = sc[i]
    if s > at then break end
    if s > at - win then
      while l < i do
        if l < j then
          local e = ent[l]
          local k = cnt[e] - 1
          cnt[e] = k
          if k == 0 then d = d - 1 end
        end
        l = l + 1
      end
      if j < i then j = i end
      local lim = s + win
      while j <= n and sc[j] < lim do
        local e = entity(raw, j)
        ent[j] = e
        local k = (cnt[e] or 0) + 1
        cnt[e] = k
        if k == 1 then d = d + 1 end
        j = j + 1
      end
      if d > best then best = d; bi = i end
      if inorder then break end
    end
  end
  if bi == 0 then return 0, 0, 0 end
  if best < thr then return best, sc[bi], 0 end
  -- An entity contributes its latest event in the window; walking back, the thr-th entity met is
  -- the (best - thr + 1)-th oldest contributor, whose expiry releases the key.
  local e = sc[bi] + win
  local k = bi
  while k < n and sc[k + 1] < e do k = k + 1 end
  local seen, c = {}, 0
  for i = k, bi, -1 do
    local x = ent[i] or entity(raw, i)
    if not seen[x] then
      seen[x] = true
      c = c + 1
      if c == thr then return best, sc[bi], sc[i] + win end
    end
  end
  return best, sc[bi], 0
end

local function alert(mkey, field, win, ret)
  local last = tonumber(redis.call('HGET', mkey, field))
  if last == nil or at >= last + win or at < last - win then
    redis.call('HSET', mkey, field, string.format('%d', at))
    redis.call('PEXPIRE', mkey, ret)
    return 1
  end
  return 0
end
`;

/**
 * Generates the script for a sequence of key groups. KEYS: per group g, the sorted set and its marker
 * hash; ARGV: at, record ('1'/'0'), uniq, then one entity per group. Returns per window: count,
 * firstSeenMs, releaseMs, alert (1/0).
 */
export function generateWindowScript(groups: readonly ScriptGroup[], cap: number): GeneratedScript {
  const body: string[] = [PRELUDE];
  const out: string[] = [];
  groups.forEach((g, gi) => {
    const ret = luaNumber(g.retentionMs, 'retentionMs');
    body.push(
      `local raw${gi}, sc${gi}, n${gi}, a${gi}, io${gi} = load(KEYS[${2 * gi + 1}], ARGV[${4 + gi}], ${ret}, ${luaNumber(cap, 'cap')})`,
    );
    g.windows.forEach((w, wi) => {
      const v = `${gi}_${wi}`;
      const win = luaNumber(w.windowMs, 'windowMs');
      const thr = luaNumber(w.threshold, 'threshold');
      body.push(
        w.mode === 'count'
          ? `local c${v}, f${v}, r${v} = count(sc${gi}, n${gi}, a${gi}, io${gi}, ${win}, ${thr})`
          : `local c${v}, f${v}, r${v} = distinct(raw${gi}, sc${gi}, n${gi}, a${gi}, io${gi}, ${win}, ${thr})`,
        `local al${v} = 0`,
        `if rec and c${v} >= ${thr} then al${v} = alert(KEYS[${2 * gi + 2}], ${luaString(w.field)}, ${win}, ${ret}) end`,
      );
      out.push(`c${v}`, `f${v}`, `r${v}`, `al${v}`);
    });
  });
  body.push(`return { ${out.join(', ')} }`);
  const lua = body.join('\n');
  const sha = createHash('sha1').update(lua).digest('hex');
  return { name: `tgWindow${sha.slice(0, 16)}`, lua, numberOfKeys: 2 * groups.length };
}
