package daemon

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"testing"
)

// adminCall sends one admin request and returns the status and JSON body.
func adminCall(t *testing.T, n *Node, method, path, token string, body any) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, "http://"+n.AdminAddr()+path, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// TestAdminAPI: the token is required, funding is idempotent per funding id
// (a replay funds once, another amount under the same id is a conflict that
// changes nothing), and bad requests get stable error codes.
func TestAdminAPI(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	n, _, _ := startTestNode(t)
	fund := map[string]any{"amount": 5000, "funding_id": "f-1"}
	for _, tok := range []string{"", "wrong-token"} {
		if st, body := adminCall(t, n, "POST", "/admin/merchants/m1/fund", tok, fund); st != 401 || body["error"] != "unauthorized" {
			t.Fatalf("token %q: %d %v", tok, st, body)
		}
	}
	if st, body := adminCall(t, n, "POST", "/admin/merchants/m1/fund", "admin-token", fund); st != 200 || body["applied"] != true || body["balance"] != 5000.0 {
		t.Fatalf("fund: %d %v", st, body)
	}
	if st, body := adminCall(t, n, "POST", "/admin/merchants/m1/fund", "admin-token", fund); st != 200 || body["applied"] != false || body["balance"] != 5000.0 {
		t.Fatalf("replayed fund: %d %v", st, body)
	}
	if st, body := adminCall(t, n, "POST", "/admin/merchants/m1/fund", "admin-token", map[string]any{"amount": 7000, "funding_id": "f-1"}); st != 409 || body["error"] != "conflict" {
		t.Fatalf("same id, other amount: %d %v", st, body)
	}
	for _, bad := range []map[string]any{{"amount": 0, "funding_id": "x"}, {"amount": 10}, {"amount": -5, "funding_id": "y"}} {
		if st, body := adminCall(t, n, "POST", "/admin/merchants/m1/fund", "admin-token", bad); st != 400 || body["error"] != "bad_request" {
			t.Fatalf("bad fund %v: %d %v", bad, st, body)
		}
	}
	if st, _ := adminCall(t, n, "POST", "/admin/merchants/nobody/fund", "admin-token", fund); st != 404 {
		t.Fatalf("unknown merchant: %d", st)
	}
	if st, body := adminCall(t, n, "GET", "/admin/merchants/m1", "admin-token", nil); st != 200 || body["balance"] != 5000.0 || body["trusted"] != true {
		t.Fatalf("merchant: %d %v", st, body)
	}
	if st, body := adminCall(t, n, "GET", "/admin/merchants/m1/ledger?n=5", "admin-token", nil); st != 200 || len(body["entries"].([]any)) != 1 {
		t.Fatalf("ledger: %d %v", st, body)
	}
	if st, body := adminCall(t, n, "GET", "/admin/orders/12x", "admin-token", nil); st != 400 || body["error"] != "bad_request" {
		t.Fatalf("bad order id: %d %v", st, body)
	}
	if st, _ := adminCall(t, n, "GET", "/admin/orders/300000000000001", "admin-token", nil); st != 404 {
		t.Fatalf("unknown order: %d", st)
	}
	if st, body := adminCall(t, n, "POST", "/admin/orders/100000000000001/resolve", "admin-token", map[string]any{"result": "maybe"}); st != 400 {
		t.Fatalf("bad resolve: %d %v", st, body)
	}
	resp, err := http.Get("http://" + n.AdminAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, name := range []string{"topup_order_actors", "topup_submissions_inflight", "topup_orders_waiting", "topup_channel_breaker", "topup_recovery_seconds"} {
		if !bytes.Contains(metrics, []byte(name)) {
			t.Errorf("/metrics lacks %s", name)
		}
	}
}
