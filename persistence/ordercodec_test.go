package persistence

import (
	"bytes"
	"errors"
	"math"
	"math/rand/v2"
	"reflect"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"google.golang.org/protobuf/encoding/protowire"

	"topup/engine"
)

// codecStrings are the strings randomOrder draws from: empty, ASCII, CJK,
// emoji, JSON-escaped characters, a NUL, and long enough for a two-byte
// length prefix.
var codecStrings = []string{
	"", "", "a", "m1", "13800138000", "http://example.test/cb?a=1&b=2",
	"充值成功", "渠道-b", "emoji 🚀💸", `quote " back \ slash`, "tab\tnl\n",
	"nul\x00byte", "<html>&amp;</html>", strings.Repeat("长", 50), strings.Repeat("x", 300),
}

func randString(r *rand.Rand) string { return codecStrings[r.IntN(len(codecStrings))] }

// randInt64 favours zero, small values and the extremes.
func randInt64(r *rand.Rand) int64 {
	switch r.IntN(6) {
	case 0:
		return 0
	case 1:
		return r.Int64N(200) - 100
	case 2:
		return math.MaxInt64 - r.Int64N(3)
	case 3:
		return math.MinInt64 + r.Int64N(3)
	case 4:
		return 1_700_000_000_000 + r.Int64N(1e9)
	default:
		return int64(r.Uint64())
	}
}

func randRoute(r *rand.Rand) engine.Route {
	if r.IntN(8) == 0 {
		return engine.Route{}
	}
	return engine.Route{Channel: randString(r), Kind: randString(r), Code: randString(r),
		CostPermille: randInt64(r), Priority: int(randInt64(r)), Weight: int(randInt64(r))}
}

// randomOrder builds an order with every field drawn at random. Its empty
// Attempts and Anomalies are nil (as after a JSON round trip); its empty
// Routes is nil or empty non-nil.
func randomOrder(r *rand.Rand) *engine.Order {
	ids := []uint64{0, 1, uint64(engine.MakeID(testNode, 1)), uint64(engine.MakeID(engine.MaxNode, 99_999_999_999_999)), math.MaxUint64, r.Uint64()}
	o := &engine.Order{
		ID: engine.ID(ids[r.IntN(len(ids))]), UID: randString(r), OrderNo: randString(r),
		OrderType: int(randInt64(r)), Carrier: int(randInt64(r)), Phone: randString(r),
		FaceValue: engine.Fen(randInt64(r)), Charge: engine.Fen(randInt64(r)),
		NotifyURL: randString(r), FieldsHash: randString(r),
		CreatedAt: randInt64(r), UpdatedAt: randInt64(r), Deadline: randInt64(r),
		State: engine.State(r.UintN(256)), Status: int(randInt64(r)), Reason: randString(r),
		Refunded: r.IntN(2) == 0, Notify: engine.NotifyState(r.UintN(256)),
		NotifyAttempts: int(randInt64(r)), NotifyError: randString(r),
		HeldAt: randInt64(r), Resolution: randString(r),
	}
	switch n := r.IntN(5); n {
	case 4:
		o.Routes = []engine.Route{}
	default:
		for range n {
			o.Routes = append(o.Routes, randRoute(r))
		}
	}
	for range r.IntN(4) {
		o.Attempts = append(o.Attempts, engine.Attempt{N: int(randInt64(r)), Route: randRoute(r),
			State: engine.AttemptState(r.UintN(256)), Detail: randString(r), SentAt: randInt64(r),
			DoneAt: randInt64(r), Ref: randString(r), Cost: engine.Fen(randInt64(r))})
	}
	for range r.IntN(4) {
		o.Anomalies = append(o.Anomalies, randString(r))
	}
	return o
}

// benchOrder is a typical order late in its life: three routes, two
// attempts, succeeded and notified.
func benchOrder() *engine.Order {
	o := testOrder(engine.MakeID(testNode, 123_456), "ORD-20240101-000042")
	o.FieldsHash = "9f86d081884c7d659a2feaa0c55ad015"
	o.Deadline = o.CreatedAt + 600_000
	o.UpdatedAt = o.CreatedAt + 42_000
	o.Routes = []engine.Route{
		{Channel: "juhe", Kind: "juhe", Code: "p100", CostPermille: 980, Priority: 1, Weight: 3},
		{Channel: "socket-a", Kind: "socket", Code: "100", CostPermille: 985, Priority: 1, Weight: 1},
		{Channel: "http-b", Kind: "http", Code: "CM100", CostPermille: 990, Priority: 2},
	}
	o.Attempts = []engine.Attempt{
		{N: 1, Route: o.Routes[0], State: engine.AttemptFailed, Detail: "渠道维护", SentAt: o.CreatedAt + 10, DoneAt: o.CreatedAt + 900},
		{N: 2, Route: o.Routes[1], State: engine.AttemptSucceeded, SentAt: o.CreatedAt + 950, DoneAt: o.CreatedAt + 41_000, Ref: "S2024010100001234", Cost: 9850},
	}
	o.State, o.Status, o.Notify, o.NotifyAttempts = engine.StateSucceeded, engine.StatusSuccess, engine.NotifyDelivered, 1
	return o
}

// jsonRoundTrip is what a version 1 record of o decodes to.
func jsonRoundTrip(t testing.TB, o *engine.Order) engine.Order {
	t.Helper()
	rec, err := encodeRecord(o)
	if err != nil {
		t.Fatal(err)
	}
	var got engine.Order
	if err := decodeRecord(rec, &got); err != nil {
		t.Fatal(err)
	}
	return got
}

func TestOrderCodecRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	seenEmptyRoutes, seenNilRoutes := false, false
	for i := range 5000 {
		o := randomOrder(r)
		seenEmptyRoutes = seenEmptyRoutes || (o.Routes != nil && len(o.Routes) == 0)
		seenNilRoutes = seenNilRoutes || o.Routes == nil
		rec := encodeOrder(nil, o)
		if len(rec) != 1+orderSize(o) || rec[0] != recordV2Order {
			t.Fatalf("order %d: record of %d bytes (version %d), orderSize says 1+%d", i, len(rec), rec[0], orderSize(o))
		}
		var got engine.Order
		if err := decodeOrder(rec, &got); err != nil {
			t.Fatalf("order %d: %v", i, err)
		}
		if !reflect.DeepEqual(&got, o) {
			t.Fatalf("order %d: round trip\n got %#v\nwant %#v", i, got, *o)
		}
		// The same order through a version 1 record decodes to the same value.
		if fromJSON := jsonRoundTrip(t, o); !reflect.DeepEqual(fromJSON, got) {
			t.Fatalf("order %d: V1 and V2 differ\n  V1 %#v\n  V2 %#v", i, fromJSON, got)
		}
		// decodeRecord dispatches on the version byte.
		var viaRecord engine.Order
		if err := decodeRecord(rec, &viaRecord); err != nil || !reflect.DeepEqual(viaRecord, got) {
			t.Fatalf("order %d: decodeRecord: %v", i, err)
		}
	}
	if !seenEmptyRoutes || !seenNilRoutes {
		t.Fatal("generator did not cover nil and empty Routes")
	}
}

// TestOrderCodecEmptySlices: empty non-nil Attempts and Anomalies come back
// nil, as JSON gives them; Routes keeps nil versus empty, as JSON does.
func TestOrderCodecEmptySlices(t *testing.T) {
	for _, o := range []*engine.Order{
		{ID: 1},
		{ID: 1, Routes: []engine.Route{}, Attempts: []engine.Attempt{}, Anomalies: []string{}},
		{ID: 1, Routes: []engine.Route{{}}, Attempts: []engine.Attempt{{}}, Anomalies: []string{""}},
	} {
		var got engine.Order
		if err := decodeOrder(encodeOrder(nil, o), &got); err != nil {
			t.Fatal(err)
		}
		if want := jsonRoundTrip(t, o); !reflect.DeepEqual(got, want) {
			t.Fatalf("V2 %#v\nV1 %#v", got, want)
		}
		if (got.Routes == nil) != (o.Routes == nil) {
			t.Fatalf("Routes nil=%v, want nil=%v", got.Routes == nil, o.Routes == nil)
		}
	}
}

func TestEncodeOrderAppends(t *testing.T) {
	o := benchOrder()
	rec := encodeOrder(nil, o)
	buf := encodeOrder([]byte("prefix"), o)
	if !bytes.HasPrefix(buf, []byte("prefix")) || !bytes.Equal(buf[len("prefix"):], rec) {
		t.Fatalf("encodeOrder into a non-empty dst: %q", buf)
	}
	if raceEnabled() {
		t.Skip("allocation counts differ under the race detector")
	}
	dst := make([]byte, 0, 1024)
	if n := testing.AllocsPerRun(100, func() { dst = encodeOrder(dst[:0], o) }); n != 0 {
		t.Errorf("encode into a large enough buffer: %v allocs, want 0", n)
	}
	if n := testing.AllocsPerRun(100, func() { dst = encodeOrder(nil, o) }); n != 1 {
		t.Errorf("encode into nil: %v allocs, want 1", n)
	}
	// Nested messages of 128 bytes or more (two-byte lengths) still fit the
	// buffer encodeOrder sizes up front.
	long := benchOrder()
	long.Routes[1].Code = strings.Repeat("长", 100)
	long.Attempts[0].Detail = strings.Repeat("d", 200)
	long.Attempts[1].Route = long.Routes[1]
	if n := testing.AllocsPerRun(100, func() { dst = encodeOrder(nil, long) }); n != 1 {
		t.Errorf("encode long order into nil: %v allocs, want 1", n)
	}
	if len(dst) != 1+orderSize(long) {
		t.Errorf("long order: %d bytes, orderSize says 1+%d", len(dst), orderSize(long))
	}
	var got engine.Order
	if err := decodeOrder(dst, &got); err != nil || !reflect.DeepEqual(&got, long) {
		t.Errorf("long order round trip: %v", err)
	}
}

// TestDecodeOrderAllocs: one allocation per non-empty string and one per
// non-empty slice.
func TestDecodeOrderAllocs(t *testing.T) {
	if raceEnabled() {
		t.Skip("allocation counts differ under the race detector")
	}
	o := benchOrder()
	rec := encodeOrder(nil, o)
	want := 0
	str := func(ss ...string) {
		for _, s := range ss {
			if s != "" {
				want++
			}
		}
	}
	str(o.UID, o.OrderNo, o.Phone, o.NotifyURL, o.FieldsHash, o.Reason, o.NotifyError, o.Resolution)
	str(o.Anomalies...)
	for _, r := range o.Routes {
		str(r.Channel, r.Kind, r.Code)
	}
	for _, a := range o.Attempts {
		str(a.Route.Channel, a.Route.Kind, a.Route.Code, a.Detail, a.Ref)
	}
	for _, n := range []int{len(o.Routes), len(o.Attempts), len(o.Anomalies)} {
		if n > 0 {
			want++
		}
	}
	var got engine.Order
	n := testing.AllocsPerRun(100, func() {
		if err := decodeOrder(rec, &got); err != nil {
			t.Fatal(err)
		}
	})
	if int(n) != want {
		t.Errorf("decode: %v allocs, want %d", n, want)
	}
}

// raceEnabled reports whether the test binary was built with -race.
func raceEnabled() bool {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range bi.Settings {
		if s.Key == "-race" {
			return s.Value == "true"
		}
	}
	return false
}

// withUnknown appends fields of every wire type under numbers no version
// uses.
func withUnknown(b []byte) []byte {
	b = protowire.AppendTag(b, 1000, protowire.VarintType)
	b = protowire.AppendVarint(b, math.MaxUint64)
	b = protowire.AppendTag(b, 1001, protowire.BytesType)
	b = protowire.AppendString(b, "from a newer writer")
	b = protowire.AppendTag(b, 1002, protowire.Fixed32Type)
	b = protowire.AppendFixed32(b, 7)
	b = protowire.AppendTag(b, 1003, protowire.Fixed64Type)
	b = protowire.AppendFixed64(b, 8)
	b = protowire.AppendTag(b, protowire.MaxValidNumber, protowire.StartGroupType)
	b = protowire.AppendTag(b, 1, protowire.VarintType)
	b = protowire.AppendVarint(b, 1)
	return protowire.AppendTag(b, protowire.MaxValidNumber, protowire.EndGroupType)
}

func TestDecodeOrderSkipsUnknownFields(t *testing.T) {
	o := benchOrder()
	// Unknown fields first, in the middle and last of the order, and inside
	// nested routes and attempts.
	rec := []byte{recordV2Order}
	rec = withUnknown(rec)
	rec = append(rec, encodeOrder(nil, &engine.Order{ID: o.ID, UID: o.UID})[1:]...)
	rec = withUnknown(rec)
	rest := *o
	rest.ID, rest.UID = 0, ""
	routes, attempts := rest.Routes, rest.Attempts
	rest.Routes, rest.Attempts = nil, nil
	for i := range routes {
		msg := withUnknown(appendRoute(nil, &routes[i]))
		rec = protowire.AppendTag(rec, ordRoutes, protowire.BytesType)
		rec = protowire.AppendBytes(rec, msg)
	}
	for i := range attempts {
		msg := withUnknown(appendAttempt(nil, &attempts[i]))
		rec = protowire.AppendTag(rec, ordAttempts, protowire.BytesType)
		rec = protowire.AppendBytes(rec, msg)
	}
	rec = append(rec, encodeOrder(nil, &rest)[1:]...)
	rec = withUnknown(rec)

	var got engine.Order
	if err := decodeOrder(rec, &got); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&got, o) {
		t.Fatalf("with unknown fields\n got %#v\nwant %#v", got, *o)
	}
}

func TestDecodeOrderCorrupt(t *testing.T) {
	good := encodeOrder(nil, benchOrder())
	tag := func(num protowire.Number, typ protowire.Type) []byte {
		return protowire.AppendTag([]byte{recordV2Order}, num, typ)
	}
	cases := map[string][]byte{
		"empty":              {},
		"version 1":          {recordV1JSON, 0x08, 0x01},
		"version 3":          {3},
		"truncated tag":      {recordV2Order, 0x80},
		"field number 0":     {recordV2Order, 0x00, 0x01},
		"truncated varint":   append(tag(ordID, protowire.VarintType), 0xff),
		"varint overflow":    append(tag(ordID, protowire.VarintType), bytes.Repeat([]byte{0xff}, 10)...),
		"truncated string":   append(tag(ordUID, protowire.BytesType), 5, 'a'),
		"huge length":        append(tag(ordUID, protowire.BytesType), 0xff, 0xff, 0xff, 0xff, 0x0f),
		"string as varint":   append(tag(ordUID, protowire.VarintType), 1),
		"id as bytes":        append(tag(ordID, protowire.BytesType), 0),
		"id as fixed64":      append(tag(ordID, protowire.Fixed64Type), 1, 2, 3, 4, 5, 6, 7, 8),
		"route as varint":    append(tag(ordRoutes, protowire.VarintType), 1),
		"anomaly as varint":  append(tag(ordAnomalies, protowire.VarintType), 1),
		"state 256":          protowire.AppendVarint(tag(ordState, protowire.VarintType), 256),
		"notify 1<<40":       protowire.AppendVarint(tag(ordNotify, protowire.VarintType), 1<<40),
		"stray end group":    tag(1000, protowire.EndGroupType),
		"unclosed group":     tag(1000, protowire.StartGroupType),
		"reserved wire type": append(tag(1000, 6), 0),
		"bad route":          protowire.AppendBytes(tag(ordRoutes, protowire.BytesType), []byte{0x0a, 9}),
		"bad attempt route":  protowire.AppendBytes(tag(ordAttempts, protowire.BytesType), []byte{0x12, 2, 0x20, 0x80}),
		"attempt state 300":  protowire.AppendBytes(tag(ordAttempts, protowire.BytesType), protowire.AppendVarint([]byte{0x18}, 300)),
		"good then garbage":  append(append([]byte(nil), good...), 0xff),
	}
	for name, b := range cases {
		var o engine.Order
		if err := decodeOrder(b, &o); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: err %v, want ErrCorrupt", name, err)
		}
	}
	// A version 2 record read as another record kind.
	var m engine.Merchant
	if err := decodeRecord(good, &m); !errors.Is(err, ErrCorrupt) {
		t.Errorf("V2 record as merchant: err %v, want ErrCorrupt", err)
	}
	// Every truncation either fails with ErrCorrupt or (cut at a field
	// boundary) decodes.
	for i := range len(good) {
		var o engine.Order
		if err := decodeOrder(good[:i], &o); err != nil && !errors.Is(err, ErrCorrupt) {
			t.Fatalf("truncated at %d: %v", i, err)
		}
	}
}

// putOrderV1 writes o the way PutOrder did before version 2 records.
func putOrderV1(t *testing.T, l *Log, o *engine.Order) {
	t.Helper()
	rec, err := encodeRecord(o)
	if err != nil {
		t.Fatal(err)
	}
	b := l.db.NewBatch()
	defer b.Close()
	for _, kv := range [][2][]byte{
		{orderKey(o.ID), rec},
		{orderNoKey(o.UID, o.OrderNo), encodeUint64(uint64(o.ID))},
		{liveKey(o.ID), encodeLiveSummary(o)},
	} {
		if err := b.Set(kv[0], kv[1], nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Commit(pebble.Sync); err != nil {
		t.Fatal(err)
	}
}

// TestLogReadsV1Orders: a data directory whose orders were written as
// version 1 (JSON) loads after the switch to version 2, and an order keeps
// loading once its next write turns its record into version 2.
func TestLogReadsV1Orders(t *testing.T) {
	dir := t.TempDir()
	old := benchOrder()
	old.State, old.Notify = engine.StatePlaced, engine.NotifyNone
	old.Anomalies = []string{"late result of attempt 1: success"}
	noRoutes := testOrder(engine.MakeID(testNode, 2), "no-routes")
	noRoutes.Routes = []engine.Route{} // what PlanRoutes gives when it drops every route

	l := openLog(t, dir, LogOptions{})
	putOrderV1(t, l, old)
	putOrderV1(t, l, noRoutes)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}

	l = openLog(t, dir, LogOptions{})
	defer l.Close()
	check := func(stage string, wantVersion byte) {
		t.Helper()
		for _, want := range []*engine.Order{old, noRoutes} {
			raw, closer, err := l.db.Get(orderKey(want.ID))
			if err != nil {
				t.Fatal(err)
			}
			version := raw[0]
			closer.Close()
			if version != wantVersion {
				t.Fatalf("%s: order %s stored as version %d, want %d", stage, want.ID, version, wantVersion)
			}
			got, ok, err := l.GetOrder(want.ID)
			if err != nil || !ok {
				t.Fatalf("%s: get %s: ok=%v err=%v", stage, want.ID, ok, err)
			}
			if !reflect.DeepEqual(&got, want) {
				t.Fatalf("%s: get %s\n got %#v\nwant %#v", stage, want.ID, got, *want)
			}
			if id, ok, err := l.LookupOrderNo(want.UID, want.OrderNo); err != nil || !ok || id != want.ID {
				t.Fatalf("%s: lookup %s: %v %v %v", stage, want.OrderNo, id, ok, err)
			}
		}
		var scanned, live []engine.Order
		if err := l.ScanOrders(func(o *engine.Order) error { scanned = append(scanned, *o); return nil }); err != nil {
			t.Fatalf("%s: scan: %v", stage, err)
		}
		if err := l.ScanLive(func(o *engine.Order) error { live = append(live, *o); return nil }); err != nil {
			t.Fatalf("%s: scan live: %v", stage, err)
		}
		for _, got := range [][]engine.Order{scanned, live} {
			if len(got) != 2 || !reflect.DeepEqual(&got[0], noRoutes) || !reflect.DeepEqual(&got[1], old) {
				t.Fatalf("%s: scans gave %#v", stage, got)
			}
		}
	}
	check("as written by V1", recordV1JSON)

	for _, o := range []*engine.Order{old, noRoutes} {
		o.UpdatedAt++
		if err := l.PutOrder(o); err != nil {
			t.Fatal(err)
		}
	}
	check("rewritten", recordV2Order)
}

func FuzzDecodeOrder(f *testing.F) {
	r := rand.New(rand.NewPCG(3, 4))
	f.Add(encodeOrder(nil, benchOrder()))
	f.Add(encodeOrder(nil, &engine.Order{}))
	f.Add(encodeOrder(nil, &engine.Order{Routes: []engine.Route{}}))
	f.Add(withUnknown(encodeOrder(nil, testOrder(1, "fz"))))
	for range 16 {
		f.Add(encodeOrder(nil, randomOrder(r)))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var o engine.Order
		if err := decodeOrder(b, &o); err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error does not wrap ErrCorrupt: %v", err)
			}
			return
		}
		enc := encodeOrder(nil, &o)
		var again engine.Order
		if err := decodeOrder(enc, &again); err != nil {
			t.Fatalf("re-encoded order does not decode: %v", err)
		}
		if !reflect.DeepEqual(again, o) {
			t.Fatalf("re-encoded order differs\n got %#v\nwant %#v", again, o)
		}
		if enc2 := encodeOrder(nil, &again); !bytes.Equal(enc2, enc) {
			t.Fatalf("encoding is not stable: %x then %x", enc, enc2)
		}
	})
}

// BenchmarkOrderCodec compares the two record versions of an order on a
// typical order (benchOrder), through the functions the log calls.
func BenchmarkOrderCodec(b *testing.B) {
	o := benchOrder()
	v1, err := encodeRecord(o)
	if err != nil {
		b.Fatal(err)
	}
	v2 := encodeOrder(nil, o)
	b.Logf("record size: JSON %d bytes, V2 %d bytes", len(v1), len(v2))
	var sink []byte
	b.Run("JSON/encode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			sink, _ = encodeRecord(o)
		}
	})
	b.Run("V2/encode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			sink = encodeOrder(nil, o)
		}
	})
	b.Run("V2/encode-reuse", func(b *testing.B) {
		b.ReportAllocs()
		buf := make([]byte, 0, 1024)
		for b.Loop() {
			buf = encodeOrder(buf[:0], o)
		}
		sink = buf
	})
	_ = sink
	var got engine.Order
	b.Run("JSON/decode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			got = engine.Order{}
			if err := decodeRecord(v1, &got); err != nil {
				b.Fatal(err)
			}
		}
		if !reflect.DeepEqual(&got, o) {
			b.Fatal("decoded order differs")
		}
	})
	b.Run("V2/decode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := decodeRecord(v2, &got); err != nil {
				b.Fatal(err)
			}
		}
		if !reflect.DeepEqual(&got, o) {
			b.Fatal("decoded order differs")
		}
	})
}
