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
//	version 2: body is an engine.Order in the protobuf wire format (nested
//	           messages for routes and attempts), with the field numbers
//	           listed in ordercodec.go; zero values are omitted and unknown
//	           field numbers are skipped. Only order records use it.
//
// Which versions are written: order records ('o') are written as version 2;
// funding and merchant records as version 1. Readers accept both versions for
// orders, so a data directory written before version 2 existed still loads,
// and a directory holds a mix of both until each old order is rewritten (an
// order that is never written again keeps its version 1 record). Version 2
// was added for speed: JSON encoding and decoding of orders was about 9% of
// the engine's CPU. Its field numbers are part of this format: never
// renumbered or reused, new fields take new numbers. There is no way back: a
// binary from before version 2 reports version 2 records as ErrCorrupt, so a
// node that has run with version 2 cannot be rolled back to such a binary.
//
// encodeRecord/decodeRecord (codec.go) and encodeOrder/decodeOrder
// (ordercodec.go) are the only functions that know the body formats;
// decodeRecord dispatches on the version byte, so a later version adds a
// version number and a decode case. JSON records stay readable with a plain
// Pebble tool; version 2 records can be read with protoc --decode_raw after
// dropping the version byte. A value that is empty, has an unknown version,
// or does not decode (a version 2 record read as anything but an order
// included) is reported as ErrCorrupt.
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
