// Package persistence holds the two stores of the top-up engine: the order
// log in Pebble, which is the truth, and the ledger in Redis, which is fast
// and shared by every node.
//
// # The order log (Pebble)
//
// One Pebble database per node. Every state change of an order is one batch
// committed with pebble.Sync before the runtime acts on it (DESIGN rule "Log
// before acting"). Concurrent synced commits are grouped by Pebble's commit
// pipeline into one WAL fsync, so writers are never serialized here.
//
// Key layout. ON-DISK FORMAT: the prefixes, separators and integer encodings
// below are a stable format; changing any of them needs a migration.
//
//	key                                   value
//	+-----+----------------------+        +-----------------------------------+
//	| 'o' | id (8 bytes, BE)     |   ->   | record(engine.Order)              |  every order
//	+-----+----------------------+        +-----------------------------------+
//	| 'x' | uid | 0x00 | order_no|   ->   | id (8 bytes, BE)                  |  (uid, order_no) index; never expires
//	+-----+----------------------+        +-----------------------------------+
//	| 'l' | id (8 bytes, BE)     |   ->   | live summary (see live.go)        |  live index: !Order.Finished()
//	+-----+----------------------+        +-----------------------------------+
//	| 'f' | uid | 0x00 | fund_id |   ->   | record(Funding)                   |  funding records, once per id
//	+-----+----------------------+        +-----------------------------------+
//	| 'm' | uid                  |   ->   | record(engine.Merchant)           |  merchants
//	+-----+----------------------+        +-----------------------------------+
//	| 's' |                           ->   | high-water mark (8 bytes, BE)     |  id sequence
//	+-----+                               +-----------------------------------+
//
// Ids are big-endian so that key order is id order: a scan of 'o' or 'l'
// visits orders oldest first within a node. uid, order_no and funding ids
// must not contain 0x00 (it separates them); the writers refuse such keys.
//
// The 'x' entry is rewritten with every PutOrder of the order (same value),
// so it exists as soon as the order's first record does. The 'l' entry is set
// by PutOrder while the order is not Finished and deleted in the same batch
// that records it Finished, so start-up only reads live orders; its value
// summarises the order (state, current attempt) so that start-up can set the
// timers of orders waiting on a supplier without decoding them.
//
// The high-water mark 's' is the largest sequence number reserved so far. A
// process reserves IDBlock sequence numbers at a time, syncing the new mark
// before it hands out any id of the block; after a restart it starts above
// the mark. Ids therefore never repeat, and a crash leaves at most a gap.
//
// Record encoding. ON-DISK FORMAT:
//
//	+---------+--------------------------------+
//	| version | body                           |
//	| 1 byte  | (rest of the value)            |
//	+---------+--------------------------------+
//
//	version 1: body is the JSON encoding of the Go struct (engine.Order,
//	           engine.Merchant, Funding) using its json tags.
//
// JSON keeps records readable with a plain Pebble tool; encodeRecord and
// decodeRecord are the only functions that know the body format, so a later
// version (a binary body, say) adds a version number and a decode case. A
// value that is empty, has an unknown version, or does not decode is reported
// as ErrCorrupt.
//
// # The ledger (Redis)
//
// Balances, idempotency keys, charges, refunds and ledger entries. Every
// change is one Lua script, run with EVALSHA, that is idempotent per platform
// order id or funding id, so a replay after a crash or a retried network call
// changes nothing twice. Keys of one merchant share the hash tag {uid}:
//
//	bal:{uid}               string  balance in fen; MISSING = untrusted (Redis lost
//	                                 or never initialised): charges are refused
//	idem:{uid}:<order_no>   string  "<id>|<fields_hash>" of the first order with the number
//	chg:{uid}               hash    id -> amount charged
//	ref:{uid}               hash    id -> amount refunded
//	fund:{uid}              hash    funding id -> amount
//	led:{uid}               list    ledger entries, newest first, at most LedgerMax:
//	                                 {"seq":n,"kind":"fund|charge|refund","id":"..","amount":n,"balance":n,"at":ms}
//	ledseq:{uid}            string  last ledger entry seq
//	tot:{uid}               hash    income (sum of fundings), expenditure (charges - refunds)
//	pend:<node>             zset    id -> accept time (ms): charged, maybe not yet in the node's log
//	pendo:<node>            hash    id -> "<uid>\x00<order_no>" for the same ids
//
// pend:<node> and pendo:<node> are written by the same script as the charge
// and so lie outside the merchant's hash slot: the ledger needs one Redis
// server (or a proxy that allows multi-slot scripts), not Redis Cluster.
package persistence
