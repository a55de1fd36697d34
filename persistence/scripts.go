package persistence

// Lua scripts of the ledger. Each is atomic in Redis and idempotent per
// platform order id or funding id. Numbers are passed and stored as decimal
// strings; fmtInt renders a Lua number without an exponent (Redis' Lua is 5.1,
// whose tostring switches to exponent form at 1e14).

// luaPrelude is shared by the scripts that append a ledger entry.
const luaPrelude = `
local function fmtInt(n) return string.format('%d', n) end
-- push appends a ledger entry (newest first) and trims the list.
-- idjson is the id already encoded as a JSON string.
local function push(led, ledseq, max, kind, idjson, amount, bal, at)
  local seq = redis.call('INCR', ledseq)
  redis.call('LPUSH', led, '{"seq":' .. fmtInt(seq) .. ',"kind":"' .. kind .. '","id":' .. idjson ..
    ',"amount":' .. fmtInt(amount) .. ',"balance":' .. fmtInt(bal) .. ',"at":' .. at .. '}')
  redis.call('LTRIM', led, 0, tonumber(max) - 1)
end
`

// luaAccept charges an order once.
//
//	KEYS: bal idem chg led ledseq tot pend pendo
//	ARGV: id amount fields_hash now_ms ledger_max uid order_no
//	returns {code, "<id>|<hash>" or "", balance}; code as AcceptCode
const luaAccept = luaPrelude + `
local bal = redis.call('GET', KEYS[1])
if not bal then return {3, '', 0} end
local id = ARGV[1]
local idem = redis.call('GET', KEYS[2])
if redis.call('HEXISTS', KEYS[3], id) == 1 then
  return {0, idem or '', tonumber(bal)}
end
if idem then return {1, idem, tonumber(bal)} end
local amount = tonumber(ARGV[2])
if tonumber(bal) < amount then return {2, '', tonumber(bal)} end
local nb = redis.call('DECRBY', KEYS[1], ARGV[2])
local v = id .. '|' .. ARGV[3]
redis.call('SET', KEYS[2], v)
redis.call('HSET', KEYS[3], id, ARGV[2])
push(KEYS[4], KEYS[5], ARGV[5], 'charge', '"' .. id .. '"', amount, nb, ARGV[4])
redis.call('HINCRBY', KEYS[6], 'expenditure', ARGV[2])
redis.call('ZADD', KEYS[7], ARGV[4], id)
redis.call('HSET', KEYS[8], id, ARGV[6] .. '\0' .. ARGV[7])
return {0, v, nb}
`

// luaRefund returns an order's charge once.
//
//	KEYS: bal chg ref led ledseq tot
//	ARGV: id now_ms ledger_max
//	returns {applied (1/0, -1 = balance untrusted), balance}
const luaRefund = luaPrelude + `
local bal = redis.call('GET', KEYS[1])
if not bal then return {-1, 0} end
local id = ARGV[1]
local amt = redis.call('HGET', KEYS[2], id)
if not amt then return {0, tonumber(bal)} end
if redis.call('HSETNX', KEYS[3], id, amt) == 0 then return {0, tonumber(bal)} end
local nb = redis.call('INCRBY', KEYS[1], amt)
push(KEYS[4], KEYS[5], ARGV[3], 'refund', '"' .. id .. '"', tonumber(amt), nb, ARGV[2])
redis.call('HINCRBY', KEYS[6], 'expenditure', -tonumber(amt))
return {1, nb}
`

// luaAbandon undoes the acceptance of an order that never reached the log:
// refunds its charge once, frees its order_no if it still points at it, and
// drops it from the pending set.
//
//	KEYS: bal idem chg ref led ledseq tot pend pendo
//	ARGV: id now_ms ledger_max
//	returns 1 refunded, 0 nothing to refund, -1 balance untrusted (nothing changed)
const luaAbandon = luaPrelude + `
local id = ARGV[1]
local amt = redis.call('HGET', KEYS[3], id)
local refund = amt and redis.call('HEXISTS', KEYS[4], id) == 0
local applied = 0
if refund then
  if not redis.call('GET', KEYS[1]) then return -1 end
  redis.call('HSET', KEYS[4], id, amt)
  local nb = redis.call('INCRBY', KEYS[1], amt)
  push(KEYS[5], KEYS[6], ARGV[3], 'refund', '"' .. id .. '"', tonumber(amt), nb, ARGV[2])
  redis.call('HINCRBY', KEYS[7], 'expenditure', -tonumber(amt))
  applied = 1
end
local v = redis.call('GET', KEYS[2])
if v and string.sub(v, 1, #id + 1) == id .. '|' then redis.call('DEL', KEYS[2]) end
redis.call('ZREM', KEYS[8], id)
redis.call('HDEL', KEYS[9], id)
return applied
`

// luaFund credits a funding once.
//
//	KEYS: bal fund led ledseq tot
//	ARGV: funding_id amount now_ms ledger_max
//	returns {applied (1/0, -1 = balance untrusted), balance}
const luaFund = luaPrelude + `
local bal = redis.call('GET', KEYS[1])
if not bal then return {-1, 0} end
if redis.call('HSETNX', KEYS[2], ARGV[1], ARGV[2]) == 0 then return {0, tonumber(bal)} end
local nb = redis.call('INCRBY', KEYS[1], ARGV[2])
push(KEYS[3], KEYS[4], ARGV[4], 'fund', cjson.encode(ARGV[1]), tonumber(ARGV[2]), nb, ARGV[3])
redis.call('HINCRBY', KEYS[5], 'income', ARGV[2])
return {1, nb}
`

// luaRestoreOrder re-creates an order's idempotency key, charge and refund
// marks without touching the balance (reconcile after Redis loss).
//
//	KEYS: idem chg ref
//	ARGV: id fields_hash charged refunded(1/0)
const luaRestoreOrder = `
redis.call('SET', KEYS[1], ARGV[1] .. '|' .. ARGV[2], 'NX')
redis.call('HSETNX', KEYS[2], ARGV[1], ARGV[3])
if ARGV[4] == '1' then redis.call('HSETNX', KEYS[3], ARGV[1], ARGV[3]) end
return 1
`
