package persistence

import (
	"fmt"
	"slices"

	"google.golang.org/protobuf/encoding/protowire"

	"topup/engine"
)

// Version 2 order records: the body is an engine.Order in the protobuf wire
// format, written and read by hand with protowire (no generated code, no
// reflection). See doc.go for the record layout.
//
// Field numbers. ON-DISK FORMAT: a number, once given, keeps its field and
// its wire type forever. Never renumber, never reuse a number (not even of a
// field removed later); a new field takes the next free number. A reader
// skips numbers it does not know, so records of a newer writer still load.
//
//	Order (top-level message)           Route (message)
//	   1 ID            uint64 varint       1 Channel       string
//	   2 UID           string              2 Kind          string
//	   3 OrderNo       string              3 Code          string
//	   4 OrderType     int64 varint        4 CostPermille  int64 varint
//	   5 Carrier       int64 varint        5 Priority      int64 varint
//	   6 Phone         string              6 Weight        int64 varint
//	   7 FaceValue     int64 varint
//	   8 Charge        int64 varint     Attempt (message)
//	   9 NotifyURL     string              1 N             int64 varint
//	  10 FieldsHash    string              2 Route         Route message
//	  11 CreatedAt     int64 varint        3 State         uint8 varint
//	  12 UpdatedAt     int64 varint        4 Detail        string
//	  13 Deadline      int64 varint        5 SentAt        int64 varint
//	  14 State         uint8 varint        6 DoneAt        int64 varint
//	  15 Routes        repeated Route      7 Ref           string
//	  16 Attempts      repeated Attempt    8 Cost          int64 varint
//	  17 Status        int64 varint
//	  18 Reason        string
//	  19 Refunded      bool varint (1)
//	  20 Notify        uint8 varint
//	  21 NotifyAttempts int64 varint
//	  22 NotifyError   string
//	  23 HeldAt        int64 varint
//	  24 Resolution    string
//	  25 Anomalies     repeated string
//	  26 RoutesEmpty   bool varint (1): Routes is empty but not nil
//
// Encoding rules: signed integers (int, int64, Fen) are protobuf int64, the
// two's complement as a varint (a negative value takes 10 bytes); ID is a
// uint64 varint; the uint8 enums (State, AttemptState, NotifyState) are
// varints that must fit in 8 bits; bools are varint 1. Strings are written
// as their bytes, unvalidated. A field holding its zero value is not written,
// except elements of repeated fields: every route, attempt and anomaly is
// written, even a zero one, in slice order. A zero Attempt.Route is omitted.
//
// nil versus empty: a decoded Order equals what the version 1 (JSON) round
// trip gives. Attempts and Anomalies are nil when they have no element (JSON
// omits them when empty). Routes is nil when it has no element, unless field
// 26 is set: JSON writes an empty non-nil Routes as [] and reads it back as an
// empty non-nil slice, and engine.PlanRoutes does return such a slice when it
// drops every route. One difference: strings keep their bytes, where JSON
// replaces invalid UTF-8 with U+FFFD.
//
// Readers: a known field number with an unexpected wire type, or a value out
// of its Go type's range, is ErrCorrupt (numbers never change type, so it is
// damage, not a newer writer). A scalar field that appears more than once
// takes its last value; an Attempt.Route that appears more than once is
// merged, as protobuf does.
const (
	ordID             protowire.Number = 1
	ordUID            protowire.Number = 2
	ordOrderNo        protowire.Number = 3
	ordOrderType      protowire.Number = 4
	ordCarrier        protowire.Number = 5
	ordPhone          protowire.Number = 6
	ordFaceValue      protowire.Number = 7
	ordCharge         protowire.Number = 8
	ordNotifyURL      protowire.Number = 9
	ordFieldsHash     protowire.Number = 10
	ordCreatedAt      protowire.Number = 11
	ordUpdatedAt      protowire.Number = 12
	ordDeadline       protowire.Number = 13
	ordState          protowire.Number = 14
	ordRoutes         protowire.Number = 15
	ordAttempts       protowire.Number = 16
	ordStatus         protowire.Number = 17
	ordReason         protowire.Number = 18
	ordRefunded       protowire.Number = 19
	ordNotify         protowire.Number = 20
	ordNotifyAttempts protowire.Number = 21
	ordNotifyError    protowire.Number = 22
	ordHeldAt         protowire.Number = 23
	ordResolution     protowire.Number = 24
	ordAnomalies      protowire.Number = 25
	ordRoutesEmpty    protowire.Number = 26

	rtChannel      protowire.Number = 1
	rtKind         protowire.Number = 2
	rtCode         protowire.Number = 3
	rtCostPermille protowire.Number = 4
	rtPriority     protowire.Number = 5
	rtWeight       protowire.Number = 6

	attN      protowire.Number = 1
	attRoute  protowire.Number = 2
	attState  protowire.Number = 3
	attDetail protowire.Number = 4
	attSentAt protowire.Number = 5
	attDoneAt protowire.Number = 6
	attRef    protowire.Number = 7
	attCost   protowire.Number = 8
)

// encodeOrder appends the version 2 record of o (version byte and body) to
// dst and returns the extended slice. It grows dst at most once.
func encodeOrder(dst []byte, o *engine.Order) []byte {
	dst = slices.Grow(dst, 1+orderSize(o))
	dst = append(dst, recordV2Order)
	dst = appendUint(dst, ordID, uint64(o.ID))
	dst = appendString(dst, ordUID, o.UID)
	dst = appendString(dst, ordOrderNo, o.OrderNo)
	dst = appendInt(dst, ordOrderType, int64(o.OrderType))
	dst = appendInt(dst, ordCarrier, int64(o.Carrier))
	dst = appendString(dst, ordPhone, o.Phone)
	dst = appendInt(dst, ordFaceValue, int64(o.FaceValue))
	dst = appendInt(dst, ordCharge, int64(o.Charge))
	dst = appendString(dst, ordNotifyURL, o.NotifyURL)
	dst = appendString(dst, ordFieldsHash, o.FieldsHash)
	dst = appendInt(dst, ordCreatedAt, o.CreatedAt)
	dst = appendInt(dst, ordUpdatedAt, o.UpdatedAt)
	dst = appendInt(dst, ordDeadline, o.Deadline)
	dst = appendUint(dst, ordState, uint64(o.State))
	for i := range o.Routes {
		dst = appendTag(dst, ordRoutes, protowire.BytesType)
		at := len(dst)
		dst = appendRoute(append(dst, 0), &o.Routes[i])
		dst = patchLength(dst, at)
	}
	for i := range o.Attempts {
		dst = appendTag(dst, ordAttempts, protowire.BytesType)
		at := len(dst)
		dst = appendAttempt(append(dst, 0), &o.Attempts[i])
		dst = patchLength(dst, at)
	}
	dst = appendInt(dst, ordStatus, int64(o.Status))
	dst = appendString(dst, ordReason, o.Reason)
	dst = appendBool(dst, ordRefunded, o.Refunded)
	dst = appendUint(dst, ordNotify, uint64(o.Notify))
	dst = appendInt(dst, ordNotifyAttempts, int64(o.NotifyAttempts))
	dst = appendString(dst, ordNotifyError, o.NotifyError)
	dst = appendInt(dst, ordHeldAt, o.HeldAt)
	dst = appendString(dst, ordResolution, o.Resolution)
	for _, s := range o.Anomalies {
		dst = appendTag(dst, ordAnomalies, protowire.BytesType)
		dst = appendVarint(dst, uint64(len(s)))
		dst = append(dst, s...)
	}
	dst = appendBool(dst, ordRoutesEmpty, o.Routes != nil && len(o.Routes) == 0)
	return dst
}

// patchLength completes a nested message: dst[at] is a one-byte placeholder
// for its length and the message runs to the end of dst. A length of 128 or
// more needs a longer varint, so the message moves up to make room.
func patchLength(dst []byte, at int) []byte {
	n := len(dst) - at - 1
	if n < 0x80 {
		dst[at] = byte(n)
		return dst
	}
	k := protowire.SizeVarint(uint64(n))
	dst = append(dst, make([]byte, k-1)...)
	copy(dst[at+k:], dst[at+1:at+1+n])
	protowire.AppendVarint(dst[at:at], uint64(n))
	return dst
}

// orderSize is the length of the body encodeOrder writes for o.
func orderSize(o *engine.Order) int {
	n := sizeUint(ordID, uint64(o.ID)) +
		sizeString(ordUID, o.UID) +
		sizeString(ordOrderNo, o.OrderNo) +
		sizeInt(ordOrderType, int64(o.OrderType)) +
		sizeInt(ordCarrier, int64(o.Carrier)) +
		sizeString(ordPhone, o.Phone) +
		sizeInt(ordFaceValue, int64(o.FaceValue)) +
		sizeInt(ordCharge, int64(o.Charge)) +
		sizeString(ordNotifyURL, o.NotifyURL) +
		sizeString(ordFieldsHash, o.FieldsHash) +
		sizeInt(ordCreatedAt, o.CreatedAt) +
		sizeInt(ordUpdatedAt, o.UpdatedAt) +
		sizeInt(ordDeadline, o.Deadline) +
		sizeUint(ordState, uint64(o.State)) +
		sizeInt(ordStatus, int64(o.Status)) +
		sizeString(ordReason, o.Reason) +
		sizeBool(ordRefunded, o.Refunded) +
		sizeUint(ordNotify, uint64(o.Notify)) +
		sizeInt(ordNotifyAttempts, int64(o.NotifyAttempts)) +
		sizeString(ordNotifyError, o.NotifyError) +
		sizeInt(ordHeldAt, o.HeldAt) +
		sizeString(ordResolution, o.Resolution) +
		sizeBool(ordRoutesEmpty, o.Routes != nil && len(o.Routes) == 0)
	for i := range o.Routes {
		n += protowire.SizeTag(ordRoutes) + protowire.SizeBytes(routeSize(&o.Routes[i]))
	}
	for i := range o.Attempts {
		n += protowire.SizeTag(ordAttempts) + protowire.SizeBytes(attemptSize(&o.Attempts[i]))
	}
	for _, s := range o.Anomalies {
		n += protowire.SizeTag(ordAnomalies) + protowire.SizeBytes(len(s))
	}
	return n
}

func appendRoute(dst []byte, r *engine.Route) []byte {
	dst = appendString(dst, rtChannel, r.Channel)
	dst = appendString(dst, rtKind, r.Kind)
	dst = appendString(dst, rtCode, r.Code)
	dst = appendInt(dst, rtCostPermille, r.CostPermille)
	dst = appendInt(dst, rtPriority, int64(r.Priority))
	return appendInt(dst, rtWeight, int64(r.Weight))
}

func routeSize(r *engine.Route) int {
	return sizeString(rtChannel, r.Channel) +
		sizeString(rtKind, r.Kind) +
		sizeString(rtCode, r.Code) +
		sizeInt(rtCostPermille, r.CostPermille) +
		sizeInt(rtPriority, int64(r.Priority)) +
		sizeInt(rtWeight, int64(r.Weight))
}

func appendAttempt(dst []byte, a *engine.Attempt) []byte {
	dst = appendInt(dst, attN, int64(a.N))
	if a.Route != (engine.Route{}) {
		dst = appendTag(dst, attRoute, protowire.BytesType)
		at := len(dst)
		dst = appendRoute(append(dst, 0), &a.Route)
		dst = patchLength(dst, at)
	}
	dst = appendUint(dst, attState, uint64(a.State))
	dst = appendString(dst, attDetail, a.Detail)
	dst = appendInt(dst, attSentAt, a.SentAt)
	dst = appendInt(dst, attDoneAt, a.DoneAt)
	dst = appendString(dst, attRef, a.Ref)
	return appendInt(dst, attCost, int64(a.Cost))
}

func attemptSize(a *engine.Attempt) int {
	n := sizeInt(attN, int64(a.N)) +
		sizeUint(attState, uint64(a.State)) +
		sizeString(attDetail, a.Detail) +
		sizeInt(attSentAt, a.SentAt) +
		sizeInt(attDoneAt, a.DoneAt) +
		sizeString(attRef, a.Ref) +
		sizeInt(attCost, int64(a.Cost))
	if a.Route != (engine.Route{}) {
		n += protowire.SizeTag(attRoute) + protowire.SizeBytes(routeSize(&a.Route))
	}
	return n
}

// Field writers and their sizes; a zero value is not written.

// appendVarint is protowire.AppendVarint with the common one-byte case
// (every tag of fields 1 to 15, most lengths) inlined.
func appendVarint(dst []byte, v uint64) []byte {
	if v < 0x80 {
		return append(dst, byte(v))
	}
	return protowire.AppendVarint(dst, v)
}

func appendTag(dst []byte, num protowire.Number, typ protowire.Type) []byte {
	return appendVarint(dst, protowire.EncodeTag(num, typ))
}

func appendUint(dst []byte, num protowire.Number, v uint64) []byte {
	if v == 0 {
		return dst
	}
	return appendVarint(appendTag(dst, num, protowire.VarintType), v)
}

func sizeUint(num protowire.Number, v uint64) int {
	if v == 0 {
		return 0
	}
	return protowire.SizeTag(num) + protowire.SizeVarint(v)
}

func appendInt(dst []byte, num protowire.Number, v int64) []byte {
	return appendUint(dst, num, uint64(v))
}

func sizeInt(num protowire.Number, v int64) int { return sizeUint(num, uint64(v)) }

func appendBool(dst []byte, num protowire.Number, v bool) []byte {
	if !v {
		return dst
	}
	return appendUint(dst, num, 1)
}

func sizeBool(num protowire.Number, v bool) int {
	if !v {
		return 0
	}
	return sizeUint(num, 1)
}

func appendString(dst []byte, num protowire.Number, s string) []byte {
	if s == "" {
		return dst
	}
	dst = appendVarint(appendTag(dst, num, protowire.BytesType), uint64(len(s)))
	return append(dst, s...)
}

func sizeString(num protowire.Number, s string) int {
	if s == "" {
		return 0
	}
	return protowire.SizeTag(num) + protowire.SizeBytes(len(s))
}

// decodeOrder decodes a version 2 record (version byte and body) into *o,
// which it first resets. Any malformed input is an error wrapping ErrCorrupt;
// fields of unknown number are skipped.
func decodeOrder(b []byte, o *engine.Order) error {
	if len(b) == 0 || b[0] != recordV2Order {
		return fmt.Errorf("%w: not an order record (version 2)", ErrCorrupt)
	}
	*o = engine.Order{}
	b = b[1:]
	routesEmpty := false
	for len(b) > 0 {
		at := b
		f, n := nextField(b)
		if n < 0 {
			return orderFieldError(f.num, protowire.ParseError(n))
		}
		b = b[n:]
		var err error
		switch f.num {
		case ordID:
			var v uint64
			v, err = f.varint()
			o.ID = engine.ID(v)
		case ordUID:
			o.UID, err = f.string()
		case ordOrderNo:
			o.OrderNo, err = f.string()
		case ordOrderType:
			o.OrderType, err = integer[int](&f)
		case ordCarrier:
			o.Carrier, err = integer[int](&f)
		case ordPhone:
			o.Phone, err = f.string()
		case ordFaceValue:
			o.FaceValue, err = integer[engine.Fen](&f)
		case ordCharge:
			o.Charge, err = integer[engine.Fen](&f)
		case ordNotifyURL:
			o.NotifyURL, err = f.string()
		case ordFieldsHash:
			o.FieldsHash, err = f.string()
		case ordCreatedAt:
			o.CreatedAt, err = integer[int64](&f)
		case ordUpdatedAt:
			o.UpdatedAt, err = integer[int64](&f)
		case ordDeadline:
			o.Deadline, err = integer[int64](&f)
		case ordState:
			o.State, err = enum[engine.State](&f)
		case ordRoutes:
			if err = f.want(protowire.BytesType); err != nil {
				break
			}
			if o.Routes == nil {
				o.Routes = make([]engine.Route, 0, countRun(at, f.num))
			}
			o.Routes = append(o.Routes, engine.Route{})
			err = decodeRoute(f.b, &o.Routes[len(o.Routes)-1])
		case ordAttempts:
			if err = f.want(protowire.BytesType); err != nil {
				break
			}
			if o.Attempts == nil {
				o.Attempts = make([]engine.Attempt, 0, countRun(at, f.num))
			}
			o.Attempts = append(o.Attempts, engine.Attempt{})
			err = decodeAttempt(f.b, &o.Attempts[len(o.Attempts)-1])
		case ordStatus:
			o.Status, err = integer[int](&f)
		case ordReason:
			o.Reason, err = f.string()
		case ordRefunded:
			o.Refunded, err = f.bool()
		case ordNotify:
			o.Notify, err = enum[engine.NotifyState](&f)
		case ordNotifyAttempts:
			o.NotifyAttempts, err = integer[int](&f)
		case ordNotifyError:
			o.NotifyError, err = f.string()
		case ordHeldAt:
			o.HeldAt, err = integer[int64](&f)
		case ordResolution:
			o.Resolution, err = f.string()
		case ordAnomalies:
			var s string
			if s, err = f.string(); err != nil {
				break
			}
			if o.Anomalies == nil {
				o.Anomalies = make([]string, 0, countRun(at, f.num))
			}
			o.Anomalies = append(o.Anomalies, s)
		case ordRoutesEmpty:
			routesEmpty, err = f.bool()
		}
		if err != nil {
			return orderFieldError(f.num, err)
		}
	}
	if routesEmpty && o.Routes == nil {
		o.Routes = []engine.Route{}
	}
	return nil
}

// decodeRoute decodes a Route message into *r, over what *r already holds.
// Its errors are wrapped in ErrCorrupt by decodeOrder.
func decodeRoute(b []byte, r *engine.Route) error {
	for len(b) > 0 {
		f, n := nextField(b)
		if n < 0 {
			return fmt.Errorf("route field %d: %v", f.num, protowire.ParseError(n))
		}
		b = b[n:]
		var err error
		switch f.num {
		case rtChannel:
			r.Channel, err = f.string()
		case rtKind:
			r.Kind, err = f.string()
		case rtCode:
			r.Code, err = f.string()
		case rtCostPermille:
			r.CostPermille, err = integer[int64](&f)
		case rtPriority:
			r.Priority, err = integer[int](&f)
		case rtWeight:
			r.Weight, err = integer[int](&f)
		}
		if err != nil {
			return fmt.Errorf("route field %d: %v", f.num, err)
		}
	}
	return nil
}

// decodeAttempt decodes an Attempt message into *a, over what *a already
// holds. Its errors are wrapped in ErrCorrupt by decodeOrder.
func decodeAttempt(b []byte, a *engine.Attempt) error {
	for len(b) > 0 {
		f, n := nextField(b)
		if n < 0 {
			return fmt.Errorf("attempt field %d: %v", f.num, protowire.ParseError(n))
		}
		b = b[n:]
		var err error
		switch f.num {
		case attN:
			a.N, err = integer[int](&f)
		case attRoute:
			if err = f.want(protowire.BytesType); err == nil {
				err = decodeRoute(f.b, &a.Route)
			}
		case attState:
			a.State, err = enum[engine.AttemptState](&f)
		case attDetail:
			a.Detail, err = f.string()
		case attSentAt:
			a.SentAt, err = integer[int64](&f)
		case attDoneAt:
			a.DoneAt, err = integer[int64](&f)
		case attRef:
			a.Ref, err = f.string()
		case attCost:
			a.Cost, err = integer[engine.Fen](&f)
		}
		if err != nil {
			return fmt.Errorf("attempt field %d: %v", f.num, err)
		}
	}
	return nil
}

// field is one field of a message as read by nextField: its number, its wire
// type and, for a varint or length-delimited field, its value.
type field struct {
	num protowire.Number
	typ protowire.Type
	v   uint64 // VarintType
	b   []byte // BytesType
}

// nextField reads the field at the start of b and returns it with its total
// length (tag and value), or a negative length on malformed input (see
// protowire.ParseError). A field of another wire type is consumed whole.
func nextField(b []byte) (f field, n int) {
	num, typ, n := protowire.ConsumeTag(b)
	if n < 0 {
		return f, n
	}
	f.num, f.typ = num, typ
	var m int
	switch typ {
	case protowire.VarintType:
		f.v, m = protowire.ConsumeVarint(b[n:])
	case protowire.BytesType:
		f.b, m = protowire.ConsumeBytes(b[n:])
	default:
		m = protowire.ConsumeFieldValue(num, typ, b[n:])
	}
	if m < 0 {
		return f, m
	}
	return f, n + m
}

// countRun counts the consecutive length-delimited fields numbered num at
// the start of b: the elements of a repeated field as encodeOrder writes
// them, to size the slice once. It stops at anything else, malformed input
// included (the caller reports that when it gets there).
func countRun(b []byte, num protowire.Number) int {
	c := 0
	for len(b) > 0 {
		n2, typ, n := protowire.ConsumeTag(b)
		if n < 0 || n2 != num || typ != protowire.BytesType {
			break
		}
		m := protowire.ConsumeFieldValue(n2, typ, b[n:])
		if m < 0 {
			break
		}
		b = b[n+m:]
		c++
	}
	return c
}

func (f *field) want(typ protowire.Type) error {
	if f.typ != typ {
		return fmt.Errorf("wire type %d, want %d", f.typ, typ)
	}
	return nil
}

func (f *field) varint() (uint64, error) {
	return f.v, f.want(protowire.VarintType)
}

func (f *field) bool() (bool, error) {
	return f.v != 0, f.want(protowire.VarintType)
}

// string converts the value: the one allocation a non-empty string costs.
func (f *field) string() (string, error) {
	if err := f.want(protowire.BytesType); err != nil {
		return "", err
	}
	return string(f.b), nil
}

// integer reads a protobuf int64 into a signed integer type, refusing a
// value the type cannot hold.
func integer[T ~int | ~int64](f *field) (T, error) {
	if err := f.want(protowire.VarintType); err != nil {
		return 0, err
	}
	v := int64(f.v)
	if int64(T(v)) != v {
		return 0, fmt.Errorf("value %d out of range", v)
	}
	return T(v), nil
}

// enum reads a varint into one of the uint8 state types.
func enum[T ~uint8](f *field) (T, error) {
	if err := f.want(protowire.VarintType); err != nil {
		return 0, err
	}
	if f.v > 0xff {
		return 0, fmt.Errorf("value %d out of range", f.v)
	}
	return T(f.v), nil
}

func orderFieldError(num protowire.Number, err error) error {
	return fmt.Errorf("%w: order field %d: %v", ErrCorrupt, num, err)
}
