/**
 * The Lua script behind the Redis window store. A key's window is one packed string: a header with the
 * time of the last alert of each of its patterns, then its events sorted by time, each a 6-byte time
 * (ms, big-endian), a length byte and the entity. A call reads every key of its batch with one `MGET`
 * and writes each key it changed once, at its end, with `SET … PX`: a failed login costs one Redis
 * command per key and a share of the batch's read, instead of the five or more per key a sorted set
 * with a separate marker hash needs.
 *
 * A script is generated per configuration (windows, retention and cap are Lua constants) and takes a
 * batch of events: the store sends the failures that arrive together in one EVALSHA. The arithmetic is
 * that of `window.ts` (`evaluateWindow`, `shouldAlert`); keep the two in step.
 * @module
 */
import { createHash } from 'node:crypto';
import type { WindowSpec } from './window.ts';

/** One key group of a script: a key per event, and the windows evaluated on it. */
export interface ScriptGroup {
  windows: readonly WindowSpec[];
  retentionMs: number;
}

/** A generated script and the ioredis command name it is registered under (derived from its SHA-1). */
export interface GeneratedScript {
  name: string;
  lua: string;
}

/** The longest entity a window keeps (its length is one byte); longer ones are cut. */
export const MAX_ENTITY_BYTES = 255;

function luaNumber(x: number, what: string): string {
  if (!Number.isFinite(x)) throw new RangeError(`${what} must be a finite number`);
  return String(x);
}

/** A Lua string literal of raw bytes. */
function luaBytes(bytes: readonly number[]): string {
  return `"${bytes.map((b) => `\\${String(b).padStart(3, '0')}`).join('')}"`;
}

// Shared helpers, defined once per call. A value starts with a byte giving the number of alert times
// that follow (one per window of its group), then the events. Every Lua operation here costs 0.1–0.2 µs
// and every redis.call 2–4 µs of Redis' single thread (measured), so a batch's reads are one call and a
// key's write one call; a key this event creates takes no tables, an existing key one pass over its events.
// `parse` reads an existing value into alert times `al`, scores `sc`, entities `en` and byte offsets
// `of`, inserts the new event (when recording) at `k` and finds `a`, the first event inside the
// retention. The window functions return count, firstSeenMs, releaseMs for the windows of length W
// that contain `at` and start at an event — in order (no event after `at`) only the trailing window
// `(at − W, at]`, which holds every other candidate; out of order a two-pointer sweep over the starts.
const PRELUDE = `
local rec = ARGV[1] == '1'
local upk, pk, sub, byte = struct.unpack, struct.pack, string.sub, string.byte
local out, on = {}, 0
local at
-- Every key of the batch read at once. cur: a key's value as this call's earlier events left it (a key
-- may come back within a batch); dirty: the keys to write back, in first-written order; ttl: theirs.
local got = #KEYS > 0 and redis.call('MGET', unpack(KEYS)) or {}
local cur, dirty, nd, ttl = {}, {}, 0, {}
local function put(key, v, ret)
  if cur[key] == nil then nd = nd + 1; dirty[nd] = key end
  cur[key] = v
  ttl[key] = ret
end

local function parse(v, hw, ret, e)
  -- After a change of configuration the header holds other windows: its alert times are dropped.
  local al, h, p = {}, upk('B', v, 1)
  for w = 1, h do al[w], p = upk('>I6', v, p) end
  if h ~= hw then
    for w = 1, hw do al[w] = 0 end
  end
  local sc, en, of, n, len = {}, {}, {}, 0, #v
  while p <= len do
    n = n + 1
    of[n] = p
    sc[n], en[n], p = upk('>I6Bc0', v, p)
  end
  of[n + 1] = len + 1
  local lo, a = at - ret, 1
  while a <= n and sc[a] < lo do a = a + 1 end
  local k = n + 1
  if rec then
    while k > a and sc[k - 1] > at do k = k - 1 end
    table.insert(sc, k, at)
    table.insert(en, k, e)
    n = n + 1
  end
  return al, sc, en, of, n, a, k
end

-- The 6-byte big-endian time at byte p of v.
local function score(v, p)
  local b1, b2, b3, b4, b5, b6 = byte(v, p, p + 5)
  return ((((b1 * 256 + b2) * 256 + b3) * 256 + b4) * 256 + b5) * 256 + b6
end

-- The events kept after recording, as bytes: positions a..n of the new list, the new one (r) at k.
local function body(v, of, n, a, k, r)
  local s = ''
  if a < k then s = sub(v, of[a], of[k] - 1) end
  if a <= k then s = s .. r end
  local j = a - 1
  if j < k then j = k end
  if j <= n - 1 then s = s .. sub(v, of[j], -1) end
  return s
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

local function distinct(en, sc, n, a, inorder, win, thr)
  local best, bi = 0, 0
  local cnt, d = {}, 0
  local l, j = a, a
  for i = a, n do
    local s = sc[i]
    if s > at then break end
    if s > at - win then
      while l < i do
        if l < j then
          local e = en[l]
          local k = cnt[e] - 1
          cnt[e] = k
          if k == 0 then d = d - 1 end
        end
        l = l + 1
      end
      if j < i then j = i end
      local lim = s + win
      while j <= n and sc[j] < lim do
        local e = en[j]
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
    local x = en[i]
    if not seen[x] then
      seen[x] = true
      c = c + 1
      if c == thr then return best, sc[bi], sc[i] + win end
    end
  end
  return best, sc[bi], 0
end

-- Appends one window's outcome: its count, and only when over the threshold (the reply is most of a
-- call's cost) firstSeenMs, releaseMs and alert (1 when one is due, see shouldAlert; its time is
-- stamped in the header).
local function emit(al, w, c, f, r, win, thr)
  if c < thr then
    out[on + 1] = c
    on = on + 1
    return
  end
  local alert = 0
  if rec then
    local last = al[w]
    if last == 0 or at >= last + win or at < last - win then
      al[w] = at
      alert = 1
    end
  end
  out[on + 1], out[on + 2], out[on + 3], out[on + 4] = c, f, r, alert
  on = on + 4
end
`;

/**
 * The common case, without tables beyond one set of entities per distinct window: recording an event
 * that is not older than any stored one (so each window is the trailing one, `(at − W, at]`), on a key
 * written with this group's windows. One pass over the stored events counts, per window, those inside
 * it (for a distinct window, their entities) and finds the first event still within the retention; a
 * window at or over its threshold takes a second pass for its release time, and its alert time is read
 * from (and, when an alert is due, written to) the header. The value is written back as its header, the
 * events from the retention on and the new one. A key at its cap (every key an attack keeps busy) stays
 * on this path: the oldest kept event is counted last, and not at all when the new one pushes it out.
 * A late event, a value over the cap or another header leaves `fast` false and takes the general path,
 * which computes the same outcomes.
 */
function fastPath(
  windows: readonly (WindowSpec & { win: string; thr: string })[],
  hw: number,
  ret: string,
  capLua: string,
): string[] {
  // Four locals per window: past a few windows Lua's limit of 200 locals comes near; use the general path.
  if (windows.length > 8) return ['      local fast = false'];
  const hl = 1 + 6 * hw;
  // A count window with a threshold of 2 to 9 keeps the times of the last thr − 1 stored events kept
  // (other than the oldest, fp) in registers g<i>_1 (newest) … g<i>_<thr − 1>, shifted per event.
  const held = (w: WindowSpec): number =>
    w.mode === 'count' && w.threshold >= 2 && w.threshold <= 9 ? w.threshold - 1 : 0;
  const registers = (i: number, m: number): string[] => Array.from({ length: m }, (_, j) => `g${i}_${j + 1}`);
  // Counts a stored event (time `t`, bytes `a` to `b` - 1) in the windows that hold it. Events are met
  // oldest first, except the `oldest` kept one, counted last (or not at all): its time replaces f.
  const countEvent = (t: string, a: string, b: string, pad: string, oldest = false): string[] => {
    const out: string[] = [];
    if (windows.some((w) => w.mode === 'distinct')) out.push(`${pad}local x`);
    windows.forEach((w, i) => {
      out.push(`${pad}if ${t} > at - ${w.win} then`);
      out.push(oldest ? `${pad}  f${i} = ${t}` : `${pad}  if not f${i} then f${i} = ${t} end`);
      if (w.mode === 'count') out.push(`${pad}  c${i} = c${i} + 1`);
      else
        out.push(
          `${pad}  if not x then x = sub(v, ${a} + 7, ${b} - 1) end`,
          `${pad}  if x ~= e then`,
          `${pad}    if not s${i} then s${i} = {} end`,
          `${pad}    if not s${i}[x] then s${i}[x] = true; c${i} = c${i} + 1 end`,
          `${pad}  end`,
        );
      out.push(`${pad}end`);
    });
    return out;
  };
  const lines: string[] = [
    '      local fast = false',
    `      if rec and v and byte(v, 1) == ${hw} then`,
    `        local p, len, cut, lo, n, last = ${hl + 1}, #v, ${hl + 1}, at - ${ret}, 0, 0`,
    // The oldest event still within the retention: its position, time and end.
    '        local fp, fs, fq',
  ];
  // Every window counts the new event (or entity) already.
  // f: the time of the first stored event inside the window (nil: none, the new event is the first).
  windows.forEach((w, i) => {
    lines.push(`        local c${i}, f${i} = 1, nil`);
    if (w.mode === 'distinct') lines.push(`        local s${i}`);
    const m = held(w);
    if (m > 0) lines.push(`        local ${registers(i, m).join(', ')}`);
  });
  lines.push(
    '        while p <= len do',
    '          local b1, b2, b3, b4, b5, b6, l = byte(v, p, p + 6)',
    '          local s = ((((b1 * 256 + b2) * 256 + b3) * 256 + b4) * 256 + b5) * 256 + b6',
    '          local q = p + 7 + l',
    '          if s < lo then',
    '            cut = q',
    '          elseif not fp then',
    '            fp, fs, fq, n, last = p, s, q, 1, s',
    '          else',
    '            n = n + 1',
    '            last = s',
  );
  windows.forEach((w, i) => {
    const m = held(w);
    if (m === 0) return;
    const g = registers(i, m);
    lines.push(
      `            ${g.slice().reverse().join(', ')} = ${[...g.slice(0, -1).reverse(), 's'].join(', ')}`,
    );
  });
  lines.push(...countEvent('s', 'p', 'q', '            '));
  lines.push(
    '          end',
    '          p = q',
    '        end',
    // At the cap (a stored value never holds more), the new event pushes the oldest kept one out;
    // otherwise that one counts like the others. A value over the cap (a larger cap before) takes the
    // general path.
    `        if last <= at and n <= ${capLua} then`,
    '          fast = true',
    '          if fp then',
    `            if n + 1 > ${capLua} then cut = fq else`,
    ...countEvent('fs', 'fp', 'fq', '              ', true),
    '            end',
    '          end',
    '          local alerted = false',
  );
  // A window below its threshold reports its count. One at or over it also reports the first event's
  // time, when it falls below again (release) and whether an alert is due; a second pass over the
  // stored events, only then, finds the release (see count() and distinct() of the general path).
  windows.forEach((w, i) => {
    const slot = 2 + 6 * i; // the window's alert time in the header
    lines.push(
      `          local t${i} = nil`,
      `          if c${i} < ${w.thr} then`,
      `            out[on + 1] = c${i}`,
      '            on = on + 1',
      '          else',
      '            local rl',
    );
    if (w.mode === 'count') {
      // The (c − thr + 1)-th event of the window, oldest first; the new event is the c-th. That is the
      // (thr − 1)-th newest stored event kept (the window is a suffix of them): a register when the
      // threshold is small, else a second pass.
      const m = held(w);
      if (m > 0)
        lines.push(
          `            if n - 1 >= ${m} then rl = g${i}_${m} + ${w.win} else rl = fs + ${w.win} end`,
        );
      else
        lines.push(
          `            local k = c${i} - ${w.thr} + 1`,
          `            if k == c${i} then rl = at + ${w.win} else`,
          `              local q2, j = cut, 0`,
          '              while q2 <= len do',
          '                local s = score(v, q2)',
          `                if s > at - ${w.win} then`,
          '                  j = j + 1',
          `                  if j == k then rl = s + ${w.win}; break end`,
          '                end',
          '                q2 = q2 + 7 + byte(v, q2 + 6)',
          '              end',
          '            end',
        );
    } else {
      // Walking back from the new event, the thr-th distinct entity met releases the window.
      lines.push(
        `            if ${w.thr} <= 1 then rl = at + ${w.win} else`,
        `              local wo, m, q2 = {}, 0, cut`,
        '              while q2 <= len do',
        `                if score(v, q2) > at - ${w.win} then m = m + 1; wo[m] = q2 end`,
        '                q2 = q2 + 7 + byte(v, q2 + 6)',
        '              end',
        '              local seen, d = { [e] = true }, 1',
        '              for y = m, 1, -1 do',
        '                local p3 = wo[y]',
        '                local ent = sub(v, p3 + 7, p3 + 6 + byte(v, p3 + 6))',
        '                if not seen[ent] then',
        '                  seen[ent] = true',
        '                  d = d + 1',
        `                  if d == ${w.thr} then rl = score(v, p3) + ${w.win}; break end`,
        '                end',
        '              end',
        '            end',
      );
    }
    lines.push(
      `            local lastAlert, alert = score(v, ${slot}), 0`,
      `            if lastAlert == 0 or at >= lastAlert + ${w.win} or at < lastAlert - ${w.win} then`,
      `              alert, t${i}, alerted = 1, at, true`,
      '            end',
      `            out[on + 1], out[on + 2], out[on + 3], out[on + 4] = c${i}, f${i} or at, rl or 0, alert`,
      '            on = on + 4',
      '          end',
    );
  });
  const header = windows.map((_, i) => `t${i} or score(v, ${2 + 6 * i})`).join(', ');
  // The stored value is kept as it is (no copy of its header) unless events expired or an alert was stamped.
  const hdr =
    hw === 0
      ? `sub(v, 1, ${hl})`
      : `(alerted and pk('>B${'I6'.repeat(hw)}', ${hw}, ${header}) or sub(v, 1, ${hl}))`;
  lines.push(
    '          local kept = v',
    `          if alerted or cut ~= ${hl + 1} then kept = ${hdr} .. sub(v, cut) end`,
    `          put(key, kept .. r, '${ret}')`,
    '        end',
    '      end',
  );
  return lines;
}

/**
 * Generates the script for a sequence of key groups. KEYS: per event, one key per group. ARGV: record
 * ('1'/'0'), then per event its time and one entity per group. Returns, per event and window in order,
 * the count, followed — only when it reaches the window's threshold — by firstSeenMs, releaseMs and
 * alert (1/0).
 */
export function generateWindowScript(groups: readonly ScriptGroup[], cap: number): GeneratedScript {
  const g = groups.length;
  const capLua = luaNumber(cap, 'cap');
  const body: string[] = [
    PRELUDE,
    `for ev = 0, #KEYS / ${g} - 1 do`,
    `  at = tonumber(ARGV[2 + ev * ${g + 1}])`,
  ];
  groups.forEach((grp, gi) => {
    const ret = luaNumber(grp.retentionMs, 'retentionMs');
    const hw = grp.windows.length;
    if (hw > 255) throw new RangeError('a key group holds at most 255 windows');
    const windows = grp.windows.map((w) => {
      if (!(w.threshold >= 1)) throw new RangeError('threshold must be at least 1');
      return { ...w, win: luaNumber(w.windowMs, 'windowMs'), thr: luaNumber(w.threshold, 'threshold') };
    });
    const zero = luaBytes([hw, ...new Array<number>(6 * hw).fill(0)]);
    // A key this event creates holds only it: each window counts 1, and trips only at threshold 1.
    const freshOut = windows.map((w) => (w.threshold <= 1 ? `1, at, at + ${w.win}, 1` : '1'));
    const freshAlerts = windows.map((w) => (w.threshold <= 1 ? 'at' : '0'));
    body.push(
      '  do',
      `    local key = KEYS[ev * ${g} + ${gi + 1}]`,
      `    local e = ARGV[3 + ev * ${g + 1} + ${gi}]`,
      `    if #e > ${MAX_ENTITY_BYTES} then e = sub(e, 1, ${MAX_ENTITY_BYTES}) end`,
      "    local r = pk('>I6B', at, #e) .. e",
      // The value as this call's earlier events left it, else as read (false: no such key).
      '    local v = cur[key]',
      `    if v == nil then v = got[ev * ${g} + ${gi + 1}] end`,
      '    if not v then v = nil end',
      '    if not v and rec then',
      ...freshOut.map((values) => {
        const n = values.split(',').length;
        return `      out[on + 1]${n > 1 ? ', out[on + 2], out[on + 3], out[on + 4]' : ''} = ${values}\n      on = on + ${n}`;
      }),
      windows.some((w) => w.threshold <= 1)
        ? `      put(key, pk('>B${'I6'.repeat(hw)}', ${hw}, ${freshAlerts.join(', ')}) .. r, '${ret}')`
        : `      put(key, ${zero} .. r, '${ret}')`,
      '    else',
      ...fastPath(windows, hw, ret, capLua),
      '      if not fast then',
      `      local al, sc, en, of, n, a, k = parse(v or ${zero}, ${hw}, ${ret}, e)`,
      `      if n - a + 1 > ${capLua} then a = n - ${capLua} + 1 end`,
      '      local inorder = n == 0 or sc[n] <= at',
    );
    windows.forEach((w, wi) => {
      body.push(
        w.mode === 'count'
          ? `      local c, f, rl = count(sc, n, a, inorder, ${w.win}, ${w.thr})`
          : `      local c, f, rl = distinct(en, sc, n, a, inorder, ${w.win}, ${w.thr})`,
        `      emit(al, ${wi + 1}, c, f, rl, ${w.win}, ${w.thr})`,
      );
    });
    body.push(
      '      if rec then',
      `        local hdr = ${hw === 0 ? zero : `pk('>B${'I6'.repeat(hw)}', ${hw}, unpack(al))`}`,
      `        put(key, hdr .. body(v, of, n, a, k, r), '${ret}')`,
      '      end',
      '      end',
      '    end',
      '  end',
    );
  });
  body.push(
    'end',
    'for i = 1, nd do',
    '  local key = dirty[i]',
    "  redis.call('SET', key, cur[key], 'PX', ttl[key])",
    'end',
    'return out',
  );
  const lua = body.join('\n');
  const sha = createHash('sha1').update(lua).digest('hex');
  return { name: `tgWindow${sha.slice(0, 16)}`, lua };
}
