"""The Lua scripts of `RedisLimitState`: each runs atomically inside Redis, one round trip per call.

Reservations and settlements are operations of one script, `BATCH`: the batcher sends those that
share a pipeline as one call of it, in order, and each counter is read once per call (HGETALL and
the parsing of its buckets were most of a reservation's cost in Redis, and concurrent requests of one
plan share their counters). Each operation gets its own reply, or its own error. One alone in its
pipeline runs as `RESERVE` or `ADJUST`: the same Lua functions, writing at once.

A counter is a hash `bucket index -> amount` (the same buckets as `MemoryLimitState`), its key's
expiry the latest `expires_at` charged (PEXPIREAT; none for an unbounded period). Amounts and bucket
names are passed to Redis as the caller's strings, never through a Lua number: Lua formats numbers
with 14 significant digits, and nano-USD spend has more; a value the script computes itself (a clamp,
a merge) is written with '%.0f', exact up to 2**53. Sums are Lua doubles, exact below 2**53 (a $9M
budget in nano-USD), and every bucket and window total is kept within [0, MAX_AMOUNT] (`bounds`), so
a reply never overflows Redis's int64 conversion.

Per counter, a reserve runs two commands (HGETALL, once per batch call, and HINCRBY) when its bucket
is already held and its expiry is the bucket's (the limiter's), else three (HGETALL, HINCRBY or HSET,
PEXPIREAT or PERSIST; HDELs when a new bucket pushes old ones out); a settlement two: HGETALL (unless
read already) and HINCRBY for a counter whose window total it returns (a budget with alert
thresholds) or that the call has read, else HEXISTS and HINCRBY (the counter is not read); none for a
delta of 0. A reservation adds one marker key, `#hold:<ticket>`
(one SET NX at reserve, one DEL at settle): it tells a script that ran after its caller gave up
from one that never ran (`CANCEL`), and makes a settlement sent twice count once.
"""

from __future__ import annotations

from tfy_gateway.gateway.limits.bounds import MAX_AMOUNT

# Shared helpers: read a counter once per call into a Lua table (index -> amount, index -> field, and
# whether the key exists: a hash with no field does not). The scripts keep that table in step with
# what they write, so a counter is read once per call and never read back (each redis.call costs
# Redis about half a microsecond more than the command itself). A bucket that exists is changed in
# that table only (`put`) and written once, with its final value, by `flush` at the end of the call:
# one HSET per counter however many operations of a batch added to it.
_LOAD = (
    f"local MAX = {MAX_AMOUNT}\n"
    + """
-- Globals read once: in Redis's Lua a global costs ~220 instructions a read, a local nothing.
local KEYS, ARGV, redis, tonumber, pairs, ipairs, next = KEYS, ARGV, redis, tonumber, pairs, ipairs, next
-- A number the call was given as text, converted once per call (bucket indexes, spans, limits and
-- amounts recur across a batch's operations, and tonumber costs ~1,600 instructions)
local numbers = {}
local function num(text)
  local value = numbers[text]
  if value == nil then
    value = tonumber(text)
    if value ~= nil then numbers[text] = value end
  end
  return value
end
-- Every bucket and window total stays within [0, MAX] (`bounds`): amounts are clamped on the way in,
-- and a value computed here is written with all its digits ('%.0f': exact up to MAX).
local function clamp(x)
  if x == nil or x ~= x or x < 0 then return 0 end
  if x > MAX then return MAX end
  return x
end
local function digits(x) return string.format('%.0f', x) end
local cache = {}
local function load(key)
  local c = cache[key]
  if c == nil then
    local flat = redis.call('HGETALL', key)
    local amounts, names = {}, {}
    -- stray: the buckets whose stored value is out of range (written before the bounds), or false
    -- for none: the next write replaces such a value, never adds to it
    c = {amounts = amounts, names = names, exists = #flat > 0, stray = false}
    for i = 1, #flat, 2 do
      local name = flat[i]
      local index, stored = num(name), tonumber(flat[i + 1])
      names[index] = name
      if stored ~= nil and stored >= 0 and stored <= MAX then  -- false for NaN
        amounts[index] = stored
      else
        amounts[index] = clamp(stored)
        if not c.stray then c.stray = {} end
        c.stray[index] = true
      end
    end
    cache[key] = c
  end
  return c
end
local function window(c, floor)
  local total = 0
  for index, amount in pairs(c.amounts) do
    if index > floor then total = total + amount end
  end
  return clamp(total)
end
"""
)

# `put(key, c, bucket, value)`: `value` (within [0, MAX]) into bucket `bucket`, which counter `key`
# holds. In a batch call it is written by `flush`, once per counter at the end of the call; a script
# running one operation writes it at once (the deferral costs more than it saves for one).
_DEFERRED = """
local function put(key, c, bucket, value)
  c.amounts[bucket] = value
  if c.stray then c.stray[bucket] = nil end  -- a stray value is replaced whole
  if not c.dirty then c.dirty = {} end
  c.dirty[bucket] = true
end
-- every bucket `put` since the last flush, with all its digits: one HSET per counter
local function flush()
  for key, c in pairs(cache) do
    if c.dirty then
      local fields = {}
      for bucket in pairs(c.dirty) do
        fields[#fields + 1] = c.names[bucket]
        fields[#fields + 1] = digits(c.amounts[bucket])
      end
      c.dirty = nil
      if #fields > 0 then redis.call('HSET', key, unpack(fields)) end
    end
  end
end
"""

_IMMEDIATE = """
local function put(key, c, bucket, value)
  c.amounts[bucket] = value
  if c.stray then c.stray[bucket] = nil end  -- a stray value is replaced whole
  redis.call('HSET', key, c.names[bucket], digits(value))
end
"""

# Add a delta (the caller's string) to a bucket still held, within [0, MAX] (`put`).
# Both are exact: integers below 2**53, and a sum past MAX clamps to MAX whatever its rounding.
_DELTA = """
local function add(key, c, bucket, raw)
  local delta = num(raw) or 0
  local current = c.amounts[bucket]
  if delta == 0 or current == nil then return end
  put(key, c, bucket, clamp(current + delta))
end
"""

_RESERVE = """
-- A reservation (kind 'r'): its nk keys from KEYS[k + 1], its na arguments from ARGV[a0 + 1].
-- KEYS: one counter per charge (n), then the reservation's hold marker when it has a time to live.
-- ARGV: 5 per counter: bucket, span, limit ('' = none), enforce ('1'/'0'), expires_at in ms ('inf' =
-- never): the same for every request of a plan within one sub-bucket. Then the request's own: the
-- marker's time to live in ms ('' = no marker); '1' when each counter's expiry is a function of its
-- bucket (the limiter's: a bucket stops counting at a fixed time), so a bucket already held needs no
-- new expiry, '' for any expiries; the n amounts; the n needs.
-- Kind 'R': the counters' keys and their 5 arguments each are an earlier reservation's of the same
-- call: its keys are the marker alone (if any), its arguments that reservation's offsets in KEYS and
-- in ARGV, then its own.
-- Returns {admitted, used[], refused[] (0-based), frees[] (false = none), oldest[] (false = empty)};
-- admitted -1, holding nothing, when the marker is already there: its caller gave up and cancelled
-- it before this script got to run.
local function reserve(k, nk, a0, na, kind)
local n, keys, static, own  -- the counters; where their keys, their arguments and the request's own are
if kind == 'r' then
  n = (na - 2) / 7
  keys, static, own = k, a0, a0 + 5 * n
else
  n = (na - 4) / 2
  keys, static, own = num(ARGV[a0 + 1]), num(ARGV[a0 + 2]), a0 + 2
end
local marker = nil
if ARGV[own + 1] ~= '' then
  marker = KEYS[k + nk]
  if not redis.call('SET', marker, 'held', 'NX', 'PX', ARGV[own + 1]) then return {-1, {}, {}, {}, {}} end
end
local fixed = ARGV[own + 2] == '1'
local used, refused, frees, oldest = {}, {}, {}, {}
local buckets, floors = {}, {}
local admitted = 1
for i = 1, n do
  local a = static + (i - 1) * 5
  local bucket = num(ARGV[a + 1])
  local floor = bucket - num(ARGV[a + 2])
  buckets[i], floors[i] = bucket, floor
  local c = load(KEYS[keys + i])
  -- the window's total and its oldest bucket holding something, in one pass
  local held, found = 0, false
  for index, amount in pairs(c.amounts) do
    if index > floor then
      held = held + amount
      if amount ~= 0 and (found == false or index < found) then found = index end
    end
  end
  if held > MAX then held = MAX end
  used[i] = held
  oldest[i] = found
  if ARGV[a + 3] ~= '' then
    local limit, need = num(ARGV[a + 3]), num(ARGV[own + 2 + n + i])
    if held + need > limit then
      refused[#refused + 1] = i - 1
      local free = false
      if need <= limit then
        local excess = held + need - limit
        local indexes = {}
        for index in pairs(c.amounts) do
          if index > floor then indexes[#indexes + 1] = index end
        end
        table.sort(indexes)
        local freed = 0
        for _, index in ipairs(indexes) do
          freed = freed + c.amounts[index]
          if freed >= excess then
            free = index
            break
          end
        end
      end
      frees[#frees + 1] = free
      if ARGV[a + 4] == '1' then admitted = 0 end
    end
  end
end
local function first(c, floor)
  local found = false
  for index, held in pairs(c.amounts) do
    if held ~= 0 and index > floor and (found == false or index < found) then found = index end
  end
  return found
end
local seen = {}
for i = 1, n do
  local key = KEYS[keys + i]
  local c = cache[key]
  local raw = ARGV[own + 2 + i]
  local given = num(raw)
  local amount = clamp(given)
  if admitted == 1 and amount ~= 0 then
    local a = static + (i - 1) * 5
    local bucket, floor = buckets[i], floors[i]
    local existed = c.exists
    local current = c.amounts[bucket]
    if current ~= nil then
      put(key, c, bucket, clamp(current + amount))
    else
      c.amounts[bucket] = amount
      c.names[bucket] = ARGV[a + 1]
      redis.call('HSET', key, ARGV[a + 1], amount == given and raw or digits(amount))
      local stale = {}
      for index, name in pairs(c.names) do
        if index <= floor then stale[#stale + 1] = index end
      end
      for _, index in ipairs(stale) do
        redis.call('HDEL', key, c.names[index])
        c.amounts[index] = nil
        c.names[index] = nil
        if c.dirty then c.dirty[index] = nil end
      end
    end
    c.exists = next(c.names) ~= nil
    local expires = ARGV[a + 5]
    if current ~= nil and fixed then
      -- the bucket was held: its expiry, the same as this one, was set when it was first charged
    elseif expires == 'inf' then
      redis.call('PERSIST', key)
    elseif existed then
      redis.call('PEXPIREAT', key, expires, 'GT')  -- a key without expiry counts as later
    else
      redis.call('PEXPIREAT', key, expires)
    end
    -- the oldest bucket holding something, now: this one if it is older (stale ones never counted)
    local total = c.amounts[bucket]
    if total ~= 0 and (oldest[i] == false or bucket < oldest[i]) then
      oldest[i] = bucket
    elseif total == 0 and oldest[i] == bucket then
      oldest[i] = first(c, floor)
    end
  end
  -- a counter under two positions: the later one reads it after the earlier ones' amounts
  if seen[key] then oldest[i] = first(c, floors[i]) end
  seen[key] = true
end
if marker and admitted == 0 then redis.call('DEL', marker) end  -- refused: nothing held
return {admitted, used, refused, frees, oldest}
end
"""

_ADJUST = """-- Add a delta to a bucket still held without reading the counter (HEXISTS, HINCRBY): what a
-- settlement needs when nothing asks for the window's total. HINCRBY's reply tells what the bucket
-- held before (reply - delta), so a value out of range is still replaced, never added to, as `add`
-- does; a value HINCRBY cannot take (not an integer, past int64) is read and replaced whole; a huge
-- delta, or a counter this script has read already, takes `add`'s way.
local function bump(key, bucket, name, raw)
  local delta = num(raw)
  if cache[key] ~= nil or delta == nil or delta < -MAX or delta > MAX then
    add(key, load(key), bucket, raw)
    return
  end
  if delta == 0 or redis.call('HEXISTS', key, name) == 0 then return end
  local reply = redis.pcall('HINCRBY', key, name, raw)
  if type(reply) == 'table' then  -- the stored value is replaced whole, as a stray one
    local c = load(key)
    if not c.stray then c.stray = {} end
    c.stray[bucket] = true
    add(key, c, bucket, raw)
    return
  end
  local before = reply - delta
  if reply < 0 or reply > MAX or before < 0 or before > MAX then
    redis.call('HSET', key, name, digits(clamp(clamp(before) + delta)))
  end
end
-- A settlement, its keys and arguments at offsets k and a0 as a reservation's.
-- KEYS: one counter per adjustment, then the reservation's hold marker when ARGV[1] is '1'.
-- ARGV[1]: '1' with a marker, '' without. Then 3 per adjustment: bucket, span ('' = its total is not
-- wanted: the counter is not read), delta.
-- With a marker, the deltas apply only if it was there, and it is deleted: a settlement sent again
-- (its first reply was lost) changes nothing. (A settled reservation was admitted, so its marker is
-- never a cancelled one's tombstone.)
-- A bucket no longer held is left alone; a bucket stays within [0, MAX]. Returns the window totals
-- of the adjustments with a span, in order.
local function adjust(k, nk, a0)
local n = nk
local apply = true
if ARGV[a0 + 1] ~= '' then
  apply = redis.call('DEL', KEYS[k + n]) == 1
  n = n - 1
end
local totals = {}
for i = 1, n do
  local a = a0 + 1 + (i - 1) * 3
  local key, name, span = KEYS[k + i], ARGV[a + 1], ARGV[a + 2]
  local bucket = num(name)
  if span == '' then
    if apply then bump(key, bucket, name, ARGV[a + 3]) end
  else
    local c = load(key)
    if apply then add(key, c, bucket, ARGV[a + 3]) end
    totals[#totals + 1] = window(c, bucket - num(span))
  end
end
return totals
end
"""

BATCH = (
    _LOAD
    + _DEFERRED
    + _DELTA
    + _RESERVE
    + _ADJUST
    + """
-- Reservations and settlements of concurrent requests, run in order in one call (what one pipeline
-- carries): each counter is read once for all of them (`cache`, kept in step with every write).
-- ARGV: per operation its kind ('r' or 'R' a reservation, 'a' a settlement), its number of keys and
-- of arguments, then its arguments; its keys follow the previous operation's in KEYS. Returns one reply
-- per operation; an operation that fails is an error in its place (what ran before it stays done,
-- as when a script fails alone), and the others run.
local replies = {}
local k, a, last = 0, 0, #ARGV
while a < last do
  local kind, nk, na = ARGV[a + 1], num(ARGV[a + 2]), num(ARGV[a + 3])
  local ok, reply = pcall(kind == 'a' and adjust or reserve, k, nk, a + 3, na, kind)
  if not ok then
    if type(reply) == 'table' and reply.err then reply = {err = reply.err} else reply = {err = tostring(reply)} end
  end
  replies[#replies + 1] = reply
  k, a = k + nk, a + 3 + na
end
flush()
return replies
"""
)

RESERVE = _LOAD + _IMMEDIATE + _RESERVE + "return reserve(0, #KEYS, 0, #ARGV, 'r')\n"
"""A reservation alone in its pipeline (kind 'r'), as an operation of `BATCH` would run it."""

ADJUST = _LOAD + _IMMEDIATE + _DELTA + _ADJUST + "return adjust(0, #KEYS, 0)\n"
"""A settlement alone in its pipeline, as an operation of `BATCH` would run it."""

CANCEL = (
    _LOAD
    + _DEFERRED
    + _DELTA
    + """
-- A reservation whose caller gave up after sending it (Redis did not answer in time). KEYS: its
-- counters, then its hold marker. ARGV[1]: a tombstone's time to live in ms; then 3 per counter:
-- bucket, span, delta (minus what was held). If the reservation ran ('held'), its holds are given
-- back and the marker deleted (returns 1); if it has not run yet, a tombstone makes it hold nothing
-- when it does (returns 0).
local n = #KEYS
local marker = KEYS[n]
local state = redis.call('GET', marker)
if state == 'held' then
  for i = 1, n - 1 do
    local a = 1 + (i - 1) * 3
    add(KEYS[i], load(KEYS[i]), tonumber(ARGV[a + 1]), ARGV[a + 3])
  end
  flush()
  redis.call('DEL', marker)
  return 1
end
if not state then redis.call('SET', marker, 'cancelled', 'PX', ARGV[1]) end
return 0
"""
)

READ = (
    _LOAD
    + """
-- KEYS: one counter per probe. ARGV, 2 per probe: bucket, span. Returns the window totals.
local totals = {}
for i = 1, #KEYS do
  totals[i] = window(load(KEYS[i]), tonumber(ARGV[(i - 1) * 2 + 1]) - tonumber(ARGV[(i - 1) * 2 + 2]))
end
return totals
"""
)

MERGE = (
    _LOAD
    + """
-- KEYS: counters counted locally while Redis was away. ARGV per key: expires_at ms ('inf'), the
-- number of buckets n, then n pairs bucket, amount. Adds the amounts (within [0, MAX]); the later
-- expiry wins.
local a = 1
for i = 1, #KEYS do
  local key, expires, n = KEYS[i], ARGV[a], tonumber(ARGV[a + 1])
  local c = load(key)
  local existed = c.exists
  a = a + 2
  for _ = 1, n do
    local index = tonumber(ARGV[a])
    local total = clamp((c.amounts[index] or 0) + clamp(tonumber(ARGV[a + 1])))
    redis.call('HSET', key, c.names[index] or ARGV[a], digits(total))
    c.amounts[index] = total
    c.names[index] = c.names[index] or ARGV[a]
    c.exists = true
    a = a + 2
  end
  if expires == 'inf' then
    redis.call('PERSIST', key)
  elseif existed then
    redis.call('PEXPIREAT', key, expires, 'GT')
  else
    redis.call('PEXPIREAT', key, expires)
  end
end
return #KEYS
"""
)
