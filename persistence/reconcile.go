package persistence

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"

	"topup/engine"
)

// Diff is one difference between the Redis ledger and the order log plus
// funding records (which are the truth).
type Diff struct {
	UID string `json:"uid"`
	// Kind: balance, balance_missing, charge_missing, charge_amount,
	// refund_missing, refund_unexpected, charge_orphan, idem_missing,
	// idem_mismatch, funding_missing, funding_amount, funding_orphan.
	Kind   string `json:"kind"`
	ID     string `json:"id,omitempty"` // order id or funding id
	Want   int64  `json:"want"`
	Got    int64  `json:"got"`
	Fixed  bool   `json:"fixed"`
	Detail string `json:"detail,omitempty"`
}

// MerchantReport is the reconcile result of one merchant.
type MerchantReport struct {
	UID      string `json:"uid"`
	Funded   int64  `json:"funded"`
	Charged  int64  `json:"charged"`
	Refunded int64  `json:"refunded"`
	// Expected is funded − charged + refunded: the balance the log implies.
	Expected int64 `json:"expected"`
	// Balance is Redis' balance; Trusted is false if it was missing.
	Balance int64  `json:"balance"`
	Trusted bool   `json:"trusted"`
	Orders  int    `json:"orders"`
	Diffs   []Diff `json:"diffs"`
}

// ReconcileReport is what Reconcile found (and fixed).
type ReconcileReport struct {
	Node      uint16           `json:"node"`
	Fix       bool             `json:"fix"`
	Merchants []MerchantReport `json:"merchants"`
	// Differences counts every Diff; Fixed those repaired.
	Differences int `json:"differences"`
	Fixed       int `json:"fixed"`
}

// ErrReconcileRace is returned when the balance kept changing under a fix.
var ErrReconcileRace = errors.New("persistence: balance changed during reconcile; run it again on a quiet node")

// luaCASBalance sets the balance only if it still has the value the
// reconcile read (ARGV[1], "" for missing).
const luaCASBalance = `
local cur = redis.call('GET', KEYS[1])
if (cur or '') ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2])
return 1`

// Reconcile compares the Redis ledger with the order log and the funding
// records of this node for every merchant the log knows, and with fix set
// repairs Redis: missing idempotency keys, charge, refund and funding marks
// are re-created, charges Redis holds for this node's orders that the log
// does not have are refunded, and the balance is set to funded − charged +
// refunded. The balance is set with a compare-and-set against the value
// read before the log was scanned, so a concurrent change makes the fix
// fail (ErrReconcileRace) instead of losing it; run it on a quiet node.
//
// It assumes this node's log holds every order and funding of its
// merchants (one node, or merchants served by one node): charges of other
// nodes' orders are reported and stop the balance fix.
func Reconcile(ctx context.Context, log *Log, l *Ledger, fix bool) (ReconcileReport, error) {
	rep := ReconcileReport{Node: log.Node(), Fix: fix}
	// Charges whose order never reached the log (a crash between charge and
	// log) are in this node's pending set: undo them first, so the balance
	// read below is the one the compare-and-set protects.
	abandoned := map[string]Diff{}
	if fix {
		pending, err := l.Pending(ctx)
		if err != nil {
			return rep, err
		}
		for _, p := range pending {
			if _, ok, err := log.GetOrder(p.ID); err != nil {
				return rep, err
			} else if ok {
				continue
			}
			refunded, err := l.AbandonAccept(ctx, p.UID, p.OrderNo, p.ID, 0)
			if err != nil && !errors.Is(err, ErrUntrusted) {
				return rep, err
			}
			abandoned[p.ID.String()] = Diff{UID: p.UID, Kind: "charge_orphan", ID: p.ID.String(), Fixed: err == nil,
				Detail: fmt.Sprintf("charged in Redis, never logged: refunded=%v, order_no %s freed", refunded, p.OrderNo)}
		}
	}
	merchants, err := log.Merchants()
	if err != nil {
		return rep, err
	}
	byUID := map[string][]*engine.Order{}
	for _, m := range merchants {
		byUID[m.UID] = nil
	}
	err = log.ScanOrders(func(o *engine.Order) error {
		c := *o
		byUID[o.UID] = append(byUID[o.UID], &c)
		return nil
	})
	if err != nil {
		return rep, err
	}
	uids := make([]string, 0, len(byUID))
	for uid := range byUID {
		uids = append(uids, uid)
	}
	sort.Strings(uids)
	for _, uid := range uids {
		mr, err := reconcileMerchant(ctx, log, l, uid, byUID[uid], fix)
		if err != nil {
			return rep, err
		}
		for _, d := range abandoned {
			if d.UID == uid {
				mr.Diffs = append(mr.Diffs, d)
			}
		}
		for _, d := range mr.Diffs {
			rep.Differences++
			if d.Fixed {
				rep.Fixed++
			}
		}
		rep.Merchants = append(rep.Merchants, mr)
	}
	return rep, nil
}

func hashAll(ctx context.Context, rdb redis.UniversalClient, key string) (map[string]int64, error) {
	out := map[string]int64{}
	var cursor uint64
	for {
		kv, next, err := rdb.HScan(ctx, key, cursor, "", 1000).Result()
		if err != nil {
			return nil, fmt.Errorf("persistence: reading %s: %w", key, err)
		}
		for i := 0; i+1 < len(kv); i += 2 {
			v, err := strconv.ParseInt(kv[i+1], 10, 64)
			if err != nil {
				return nil, fmt.Errorf("persistence: %s[%s]=%q: %w", key, kv[i], kv[i+1], ErrCorrupt)
			}
			out[kv[i]] = v
		}
		if next == 0 {
			return out, nil
		}
		cursor = next
	}
}

func reconcileMerchant(ctx context.Context, log *Log, l *Ledger, uid string, orders []*engine.Order, fix bool) (MerchantReport, error) {
	mr := MerchantReport{UID: uid, Orders: len(orders), Diffs: []Diff{}}
	// The balance is read first: the compare-and-set below fails if
	// anything changed it while the log was read.
	raw, err := l.rdb.Get(ctx, balKey(uid)).Result()
	switch {
	case errors.Is(err, redis.Nil):
		raw = ""
	case err != nil:
		return mr, fmt.Errorf("persistence: reconcile %s: %w", uid, err)
	default:
		v, perr := strconv.ParseInt(raw, 10, 64)
		if perr != nil {
			return mr, fmt.Errorf("persistence: balance of %s is %q: %w", uid, raw, ErrCorrupt)
		}
		mr.Balance, mr.Trusted = v, true
	}
	chg, err := hashAll(ctx, l.rdb, chgKey(uid))
	if err != nil {
		return mr, err
	}
	ref, err := hashAll(ctx, l.rdb, refKey(uid))
	if err != nil {
		return mr, err
	}
	fund, err := hashAll(ctx, l.rdb, fundKey(uid))
	if err != nil {
		return mr, err
	}
	add := func(d Diff) *Diff {
		d.UID = uid
		mr.Diffs = append(mr.Diffs, d)
		return &mr.Diffs[len(mr.Diffs)-1]
	}
	// Fundings.
	logged := map[string]bool{}
	err = log.ScanFundings(uid, func(f Funding) error {
		logged[f.FundingID] = true
		mr.Funded += int64(f.Amount)
		got, ok := fund[f.FundingID]
		switch {
		case !ok:
			d := add(Diff{Kind: "funding_missing", ID: f.FundingID, Want: int64(f.Amount)})
			if fix {
				if err := l.RestoreFunding(ctx, uid, f.FundingID, f.Amount); err != nil {
					return err
				}
				d.Fixed = true
			}
		case got != int64(f.Amount):
			add(Diff{Kind: "funding_amount", ID: f.FundingID, Want: int64(f.Amount), Got: got, Detail: "funding records win; the mark is left as is"})
		}
		return nil
	})
	if err != nil {
		return mr, err
	}
	for id, amt := range fund {
		if !logged[id] {
			add(Diff{Kind: "funding_orphan", ID: id, Got: amt, Detail: "credited in Redis, no funding record: not counted"})
		}
	}
	// Orders.
	inLog := map[string]bool{}
	for _, o := range orders {
		ids := o.ID.String()
		inLog[ids] = true
		mr.Charged += int64(o.Charge)
		refunded := o.State == engine.StateFailed && o.Refunded
		if refunded {
			mr.Refunded += int64(o.Charge)
		}
		restore := false
		if got, ok := chg[ids]; !ok {
			add(Diff{Kind: "charge_missing", ID: ids, Want: int64(o.Charge)})
			restore = true
		} else if got != int64(o.Charge) {
			add(Diff{Kind: "charge_amount", ID: ids, Want: int64(o.Charge), Got: got, Detail: "the log's charge is used"})
		}
		if _, ok := ref[ids]; refunded && !ok {
			add(Diff{Kind: "refund_missing", ID: ids, Want: int64(o.Charge)})
			restore = true
		} else if !refunded && ok {
			add(Diff{Kind: "refund_unexpected", ID: ids, Got: ref[ids], Detail: "Redis refunded an order the log does not show refunded"})
		}
		idem, err := l.rdb.Get(ctx, idemKey(uid, o.OrderNo)).Result()
		switch {
		case errors.Is(err, redis.Nil):
			add(Diff{Kind: "idem_missing", ID: ids, Detail: "order_no " + o.OrderNo})
			restore = true
		case err != nil:
			return mr, fmt.Errorf("persistence: reconcile %s: %w", uid, err)
		case !strings.HasPrefix(idem, ids+"|"):
			add(Diff{Kind: "idem_mismatch", ID: ids, Detail: "order_no " + o.OrderNo + " maps to " + idem})
		}
		if restore && fix {
			if err := l.RestoreOrder(ctx, uid, o.OrderNo, o.ID, o.FieldsHash, o.Charge, refunded); err != nil {
				return mr, err
			}
			for i := range mr.Diffs {
				if d := &mr.Diffs[i]; d.ID == ids && (d.Kind == "charge_missing" || d.Kind == "refund_missing" || d.Kind == "idem_missing") {
					d.Fixed = true
				}
			}
		}
	}
	foreign := 0
	for ids, amt := range chg {
		if inLog[ids] {
			continue
		}
		id, err := engine.ParseID(ids)
		if err != nil || id.Node() != log.Node() {
			foreign++
			continue
		}
		if _, refunded := ref[ids]; refunded {
			continue // charged and refunded: nets to zero
		}
		// Not in the pending set (else it was undone above): report it;
		// the balance below does not count it.
		add(Diff{Kind: "charge_orphan", ID: ids, Got: amt, Detail: "charged in Redis, not in this node's log nor pending; refund it by hand if it is real"})
	}
	mr.Expected = mr.Funded - mr.Charged + mr.Refunded
	if foreign > 0 {
		add(Diff{Kind: "other_nodes", Got: int64(foreign), Detail: "charges of other nodes' orders: the balance is not checked"})
		return mr, nil
	}
	if !mr.Trusted || mr.Balance != mr.Expected {
		kind := "balance"
		if !mr.Trusted {
			kind = "balance_missing"
		}
		d := add(Diff{Kind: kind, Want: mr.Expected, Got: mr.Balance})
		if fix {
			ok, err := l.rdb.Eval(ctx, luaCASBalance, []string{balKey(uid)}, raw, mr.Expected).Int()
			if err != nil {
				return mr, fmt.Errorf("persistence: reconcile %s: %w", uid, err)
			}
			if ok != 1 {
				return mr, fmt.Errorf("%w (%s)", ErrReconcileRace, uid)
			}
			d.Fixed = true
		}
	}
	return mr, nil
}
