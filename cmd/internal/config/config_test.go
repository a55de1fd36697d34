package config

import (
	"strings"
	"testing"
)

func TestExampleConfigIsValid(t *testing.T) {
	c, err := Load("../../../config/example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	ps := c.EngineProducts()
	if len(ps) != 2 || ps[0].Routes[0].Kind != "sockmod" || ps[0].Routes[0].Code != "0" || ps[1].Routes[0].Code != "5" {
		t.Fatalf("products %+v", ps)
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	_, err := Parse([]byte(`
node: {id: 0, data_dir: ""}
admin_api: {token: "x"}
merchants:
  - {uid: "a b", md5key: "k", price_permille: 0}
channels:
  - {name: c, kind: juhe2, timeout: 0s, max_inflight: 0}
products:
  - {order_type: 9, carriers: [7], face_values: [-1], routes: [{channel: nope}]}
notify: {attempts: 1}
`))
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"node.id", "node.data_dir", "admin_api.token", "merchants[0].uid", "merchants[0].md5key",
		"merchants[0].price_permille", "channels[0].kind", "channels[0].timeout", "channels[0].max_inflight",
		"products[0].order_type", "products[0].carriers", "face_values", "no such channel", "notify.attempts"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %q:\n%v", want, err)
		}
	}
}

func TestUnknownFieldIsAnError(t *testing.T) {
	if _, err := Parse([]byte("node: {id: 1, data_dir: x, colour: red}\nadmin_api: {token: 12345678}\n")); err == nil || !strings.Contains(err.Error(), "colour") {
		t.Fatalf("unknown field accepted: %v", err)
	}
}
