package persistence

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"github.com/cockroachdb/pebble/v2/vfs"

	"topup/engine"
)

// ErrLogFailed reports that the order log can no longer be trusted to be
// durable: a synced write failed (Pebble treats that as fatal), or Pebble
// found corruption. Every later call of the Log returns it; the node must stop
// taking orders and be restarted.
var ErrLogFailed = errors.New("persistence: order log failed")

// DefaultIDBlock is how many sequence numbers NewID reserves at a time when
// LogOptions.IDBlock is zero.
const DefaultIDBlock = 10000

// LogOptions tunes OpenLog. The zero value is usable.
type LogOptions struct {
	// FS is the file system Pebble runs on; nil means vfs.Default. Tests
	// pass vfs.NewCrashableMem() or an errorfs wrapper.
	FS vfs.FS
	// CacheSize is Pebble's block cache in bytes (default 64 MiB).
	CacheSize int64
	// IDBlock is how many sequence numbers are reserved (with one synced
	// write) at a time; 0 means DefaultIDBlock. A crash wastes at most one
	// block.
	IDBlock uint64
	// Logger receives Pebble's warnings and errors; nil means
	// slog.Default(). Pebble's informational messages are logged at debug.
	Logger *slog.Logger
}

// Log is the node's order log in Pebble: orders, the (uid, order_no) index,
// the live-order index, funding records, merchants and the id sequence. It
// is the truth from which the Redis ledger can be rebuilt. Every write is
// committed with pebble.Sync before the call returns. A Log is safe for
// concurrent use.
//
// Failure: Pebble reports a failed WAL write or sync by calling its logger's
// Fatalf on the committing goroutine (the commit pipeline cannot continue).
// Our logger turns that call into a panic that the write method recovers, so
// the caller gets an error wrapping ErrLogFailed instead of a process exit,
// and every later call fails the same way.
type Log struct {
	db      *pebble.DB
	node    uint16
	idBlock uint64
	logger  *slog.Logger

	failure atomic.Pointer[error]

	idMu     sync.Mutex
	nextSeq  uint64 // next sequence number to hand out
	limitSeq uint64 // last reserved (and synced) sequence number

	// fundMu makes PutFunding's read-then-write atomic; fundings are rare.
	fundMu sync.Mutex

	// unsafeNoSync commits without Sync. Only the power-loss test's
	// negative control sets it, to prove that test can fail.
	unsafeNoSync bool
}

// OpenLog opens (creating if needed) the order log of node in dir.
func OpenLog(dir string, node uint16, o LogOptions) (l *Log, err error) {
	if node > engine.MaxNode {
		return nil, fmt.Errorf("persistence: node %d above the maximum %d", node, engine.MaxNode)
	}
	l = &Log{node: node, idBlock: o.IDBlock, logger: o.Logger}
	if l.idBlock == 0 {
		l.idBlock = DefaultIDBlock
	}
	if l.logger == nil {
		l.logger = slog.Default()
	}
	if o.CacheSize == 0 {
		o.CacheSize = 64 << 20
	}
	opts := &pebble.Options{
		FS:                 o.FS,
		CacheSize:          o.CacheSize,
		FormatMajorVersion: pebble.FormatNewest,
		Logger:             pebbleLogger{l.logger},
		EventListener:      l.eventListener(),
		// Order records are rewritten several times in their first seconds:
		// a larger memtable lets most versions die before a flush.
		MemTableSize:                32 << 20,
		MemTableStopWritesThreshold: 4,
	}
	// Most order_no lookups are for order numbers never seen (new orders):
	// bloom filters answer those without reading data blocks.
	for i := range opts.Levels {
		opts.Levels[i].FilterPolicy = bloom.FilterPolicy(10)
	}
	defer func() {
		if r := recover(); r != nil {
			f, ok := r.(pebbleFatal)
			if !ok {
				panic(r)
			}
			l, err = nil, fmt.Errorf("persistence: open log %s: %w: %s", dir, ErrLogFailed, f.msg)
		}
	}()
	db, err := pebble.Open(dir, opts)
	if err != nil {
		return nil, fmt.Errorf("persistence: open log %s: %w", dir, err)
	}
	l.db = db
	hw, err := l.readSeq()
	if err != nil {
		_ = db.Close()
		return nil, err
	}
	l.limitSeq = hw
	l.nextSeq = hw + 1
	return l, nil
}

func (l *Log) readSeq() (uint64, error) {
	v, closer, err := l.db.Get(seqKey())
	if errors.Is(err, pebble.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("persistence: read id sequence: %w", err)
	}
	defer closer.Close()
	hw, err := decodeUint64(v)
	if err != nil {
		return 0, fmt.Errorf("persistence: id sequence: %w", err)
	}
	return hw, nil
}

// Close closes the log. Writes in flight must have returned.
func (l *Log) Close() (err error) {
	defer l.recoverFatal(&err)
	if err := l.db.Close(); err != nil {
		return fmt.Errorf("persistence: close log: %w", err)
	}
	return nil
}

// Node is the node whose ids this log hands out.
func (l *Log) Node() uint16 { return l.node }

// Err returns nil while the log is healthy, and an error wrapping
// ErrLogFailed once a write has failed or corruption was found.
func (l *Log) Err() error {
	if p := l.failure.Load(); p != nil {
		return *p
	}
	return nil
}

// fail records the first failure and returns the failure in force.
func (l *Log) fail(msg string) error {
	err := fmt.Errorf("%w: %s", ErrLogFailed, msg)
	if l.failure.CompareAndSwap(nil, &err) {
		l.logger.Error("persistence: order log failed", "err", msg)
	}
	return l.Err()
}

// recoverFatal turns a pebbleFatal panic on this goroutine into an error.
// It must be deferred directly.
func (l *Log) recoverFatal(err *error) {
	if r := recover(); r != nil {
		f, ok := r.(pebbleFatal)
		if !ok {
			panic(r)
		}
		*err = l.fail(f.msg)
	}
}

// commit commits b with Sync.
func (l *Log) commit(b *pebble.Batch) (err error) {
	if err := l.Err(); err != nil {
		return err
	}
	defer l.recoverFatal(&err)
	if l.unsafeNoSync {
		return b.Commit(pebble.NoSync)
	}
	return b.Commit(pebble.Sync)
}

// NewID returns a platform order id never returned before by this node,
// across restarts and crashes. Ids increase strictly within a process.
func (l *Log) NewID() (engine.ID, error) {
	l.idMu.Lock()
	defer l.idMu.Unlock()
	if l.nextSeq > l.limitSeq {
		if err := l.reserveLocked(); err != nil {
			return 0, err
		}
	}
	seq := l.nextSeq
	l.nextSeq++
	return engine.MakeID(l.node, seq), nil
}

// reserveLocked reserves the next block of sequence numbers and syncs its
// high-water mark. l.idMu must be held.
func (l *Log) reserveLocked() error {
	limit := l.limitSeq + l.idBlock
	if id := engine.MakeID(l.node, limit); id.Node() != l.node || id.Seq() != limit {
		return fmt.Errorf("persistence: id sequence of node %d exhausted", l.node)
	}
	b := l.db.NewBatch()
	defer b.Close()
	if err := b.Set(seqKey(), encodeUint64(limit), nil); err != nil {
		return fmt.Errorf("persistence: reserve ids: %w", err)
	}
	if err := l.commit(b); err != nil {
		return fmt.Errorf("persistence: reserve ids: %w", err)
	}
	l.limitSeq = limit
	return nil
}

// PutOrder writes the order durably in one synced batch: its record, its
// (uid, order_no) index entry, and its live index entry, set while the order
// is not Finished and deleted once it is. Concurrent calls are grouped into
// shared WAL syncs by Pebble.
func (l *Log) PutOrder(o *engine.Order) error {
	if o.ID == 0 {
		return errors.New("persistence: put order: zero id")
	}
	if err := checkKeyPart("uid", o.UID); err != nil {
		return fmt.Errorf("persistence: put order %s: %w", o.ID, err)
	}
	if err := checkKeyPart("order_no", o.OrderNo); err != nil {
		return fmt.Errorf("persistence: put order %s: %w", o.ID, err)
	}
	rec := encodeOrder(nil, o)
	b := l.db.NewBatch()
	defer b.Close()
	err := b.Set(orderKey(o.ID), rec, nil)
	if err == nil {
		err = b.Set(orderNoKey(o.UID, o.OrderNo), encodeUint64(uint64(o.ID)), nil)
	}
	if err == nil {
		if o.Finished() {
			err = b.Delete(liveKey(o.ID), nil)
		} else {
			err = b.Set(liveKey(o.ID), encodeLiveSummary(o), nil)
		}
	}
	if err == nil {
		err = l.commit(b)
	}
	if err != nil {
		return fmt.Errorf("persistence: put order %s: %w", o.ID, err)
	}
	return nil
}

// GetOrder reads an order; ok is false if the log has no such order.
func (l *Log) GetOrder(id engine.ID) (o engine.Order, ok bool, err error) {
	if err := l.Err(); err != nil {
		return o, false, err
	}
	ok, err = getRecord(l.db, orderKey(id), &o)
	if err != nil {
		return engine.Order{}, false, fmt.Errorf("persistence: get order %s: %w", id, err)
	}
	if ok && o.ID != id {
		return engine.Order{}, false, fmt.Errorf("persistence: get order %s: %w: record holds id %s", id, ErrCorrupt, o.ID)
	}
	return o, ok, nil
}

// reader is what getRecord reads from: the DB or a snapshot.
type reader interface {
	Get(key []byte) ([]byte, io.Closer, error)
}

// getRecord reads and decodes the record at key; ok is false if absent.
func getRecord(r reader, key []byte, v any) (ok bool, err error) {
	val, closer, err := r.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer closer.Close()
	if err := decodeRecord(val, v); err != nil {
		return false, err
	}
	return true, nil
}

// LookupOrderNo finds the id of the order a merchant sent with orderNo. The
// index never expires.
func (l *Log) LookupOrderNo(uid, orderNo string) (engine.ID, bool, error) {
	if err := l.Err(); err != nil {
		return 0, false, err
	}
	val, closer, err := l.db.Get(orderNoKey(uid, orderNo))
	if errors.Is(err, pebble.ErrNotFound) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("persistence: lookup order_no %s/%s: %w", uid, orderNo, err)
	}
	defer closer.Close()
	id, err := decodeUint64(val)
	if err != nil {
		return 0, false, fmt.Errorf("persistence: lookup order_no %s/%s: %w", uid, orderNo, err)
	}
	return engine.ID(id), true, nil
}

// ScanLive calls fn for every order that is not Finished, in id order, as of
// one consistent snapshot. It stops at and returns the first error of fn.
func (l *Log) ScanLive(fn func(o *engine.Order) error) error {
	snap := l.db.NewSnapshot()
	defer snap.Close()
	return l.scanIn(snap, "live orders", []byte{prefixLive}, func(k, _ []byte) error {
		id, err := keyID(k)
		if err != nil {
			return err
		}
		var o engine.Order
		found, err := getRecord(snap, orderKey(id), &o)
		if err != nil {
			return fmt.Errorf("persistence: scan live orders: order %s: %w", id, err)
		}
		if !found || o.ID != id {
			return fmt.Errorf("persistence: scan live orders: %w: live entry %s without its order", ErrCorrupt, id)
		}
		return fn(&o)
	})
}

// ScanOrders calls fn for every order in the log, in id order. It stops at
// and returns the first error of fn.
func (l *Log) ScanOrders(fn func(o *engine.Order) error) error {
	return l.scan("orders", []byte{prefixOrder}, func(k, v []byte) error {
		var o engine.Order
		if err := decodeRecord(v, &o); err != nil {
			return err
		}
		return fn(&o)
	})
}

// scan calls fn with every key and value under prefix. Errors of fn are
// returned unwrapped.
func (l *Log) scan(what string, prefix []byte, fn func(k, v []byte) error) error {
	return l.scanIn(l.db, what, prefix, fn)
}

// scanIn is scan over r (the database or a snapshot of it).
func (l *Log) scanIn(r pebble.Reader, what string, prefix []byte, fn func(k, v []byte) error) error {
	if err := l.Err(); err != nil {
		return err
	}
	lower, upper := prefixBounds(prefix)
	it, err := r.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return fmt.Errorf("persistence: scan %s: %w", what, err)
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		v, err := it.ValueAndErr()
		if err != nil {
			return fmt.Errorf("persistence: scan %s: %w", what, err)
		}
		if err := fn(it.Key(), v); err != nil {
			if errors.Is(err, ErrCorrupt) {
				return fmt.Errorf("persistence: scan %s: key %q: %w", what, it.Key(), err)
			}
			return err
		}
	}
	if err := it.Error(); err != nil {
		return fmt.Errorf("persistence: scan %s: %w", what, err)
	}
	return nil
}

// Funding is one credit to a merchant's balance, recorded once per
// (UID, FundingID).
type Funding struct {
	UID       string     `json:"uid"`
	FundingID string     `json:"funding_id"`
	Amount    engine.Fen `json:"amount"`
	At        int64      `json:"at"` // unix ms
	By        string     `json:"by,omitempty"`
	Note      string     `json:"note,omitempty"`
}

// PutFunding records f durably unless a funding with the same (UID,
// FundingID) exists; then it returns that record with created false and
// changes nothing (the caller compares amounts). Amount must be positive.
func (l *Log) PutFunding(f Funding) (existing Funding, created bool, err error) {
	if err := checkKeyPart("uid", f.UID); err != nil {
		return Funding{}, false, fmt.Errorf("persistence: put funding: %w", err)
	}
	if err := checkKeyPart("funding id", f.FundingID); err != nil {
		return Funding{}, false, fmt.Errorf("persistence: put funding: %w", err)
	}
	if f.Amount <= 0 {
		return Funding{}, false, fmt.Errorf("persistence: put funding %s/%s: amount %d not positive", f.UID, f.FundingID, f.Amount)
	}
	if err := l.Err(); err != nil {
		return Funding{}, false, err
	}
	key := fundingKey(f.UID, f.FundingID)
	l.fundMu.Lock()
	defer l.fundMu.Unlock()
	found, err := getRecord(l.db, key, &existing)
	if err != nil {
		return Funding{}, false, fmt.Errorf("persistence: put funding %s/%s: %w", f.UID, f.FundingID, err)
	}
	if found {
		return existing, false, nil
	}
	if err := l.putRecord(key, f); err != nil {
		return Funding{}, false, fmt.Errorf("persistence: put funding %s/%s: %w", f.UID, f.FundingID, err)
	}
	return f, true, nil
}

// putRecord writes one record with Sync.
func (l *Log) putRecord(key []byte, v any) error {
	rec, err := encodeRecord(v)
	if err != nil {
		return err
	}
	b := l.db.NewBatch()
	defer b.Close()
	if err := b.Set(key, rec, nil); err != nil {
		return err
	}
	return l.commit(b)
}

// ScanFundings calls fn for every funding of uid, or of every merchant if uid
// is "", in key order. It stops at and returns the first error of fn.
func (l *Log) ScanFundings(uid string, fn func(f Funding) error) error {
	prefix := []byte{prefixFunding}
	if uid != "" {
		if err := checkKeyPart("uid", uid); err != nil {
			return fmt.Errorf("persistence: scan fundings: %w", err)
		}
		prefix = pairKey(prefixFunding, uid, "")
	}
	return l.scan("fundings", prefix, func(k, v []byte) error {
		var f Funding
		if err := decodeRecord(v, &f); err != nil {
			return err
		}
		return fn(f)
	})
}

// PutMerchant creates or replaces a merchant, durably.
func (l *Log) PutMerchant(m engine.Merchant) error {
	if err := checkKeyPart("uid", m.UID); err != nil {
		return fmt.Errorf("persistence: put merchant: %w", err)
	}
	if err := l.putRecord(merchantKey(m.UID), m); err != nil {
		return fmt.Errorf("persistence: put merchant %s: %w", m.UID, err)
	}
	return nil
}

// GetMerchant reads a merchant; ok is false if there is none with uid.
func (l *Log) GetMerchant(uid string) (m engine.Merchant, ok bool, err error) {
	if err := l.Err(); err != nil {
		return m, false, err
	}
	ok, err = getRecord(l.db, merchantKey(uid), &m)
	if err != nil {
		return engine.Merchant{}, false, fmt.Errorf("persistence: get merchant %s: %w", uid, err)
	}
	return m, ok, nil
}

// Merchants lists every merchant in uid order.
func (l *Log) Merchants() ([]engine.Merchant, error) {
	var out []engine.Merchant
	err := l.scan("merchants", []byte{prefixMerchant}, func(k, v []byte) error {
		var m engine.Merchant
		if err := decodeRecord(v, &m); err != nil {
			return err
		}
		out = append(out, m)
		return nil
	})
	return out, err
}

// pebbleFatal is the panic value pebbleLogger.Fatalf raises.
type pebbleFatal struct{ msg string }

func (f pebbleFatal) Error() string { return "pebble: fatal: " + f.msg }

// pebbleLogger routes Pebble's log lines to slog: informational lines at
// debug, errors at warn. Fatalf panics with pebbleFatal so that the Log can
// turn a fatal commit error into ErrLogFailed (see Log).
type pebbleLogger struct{ log *slog.Logger }

func (p pebbleLogger) Infof(format string, args ...any) {
	if p.log.Enabled(context.Background(), slog.LevelDebug) {
		p.log.Debug("pebble: " + fmt.Sprintf(format, args...))
	}
}

func (p pebbleLogger) Errorf(format string, args ...any) {
	p.log.Warn("pebble: " + fmt.Sprintf(format, args...))
}

// Fatalf does not log: the Log that recovers the panic records the failure
// once, and an unrecovered panic prints the message.
func (p pebbleLogger) Fatalf(format string, args ...any) {
	panic(pebbleFatal{msg: fmt.Sprintf(format, args...)})
}

// eventListener logs the Pebble events an operator should see and fails the
// log on corruption.
func (l *Log) eventListener() *pebble.EventListener {
	return &pebble.EventListener{
		BackgroundError: func(err error) {
			l.logger.Warn("persistence: pebble background error", "err", err)
		},
		DataCorruption: func(info pebble.DataCorruptionInfo) {
			l.fail("pebble: data corruption: " + info.String())
		},
		DiskSlow: func(info pebble.DiskSlowInfo) {
			l.logger.Warn("persistence: pebble disk slow", "path", info.Path, "duration", info.Duration)
		},
		WriteStallBegin: func(info pebble.WriteStallBeginInfo) {
			l.logger.Warn("persistence: pebble write stall", "reason", info.Reason)
		},
		WriteStallEnd: func() {
			l.logger.Info("persistence: pebble write stall ended")
		},
		LowDiskSpace: func(info pebble.LowDiskSpaceInfo) {
			l.logger.Warn("persistence: pebble low disk space", "info", info.String())
		},
	}
}
