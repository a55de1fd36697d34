// Command topupctl is the operations CLI of the top-up engine. It talks to
// a node's admin API (bearer token) and has two helpers for trying the
// engine by hand: push a signed order, and print operator callbacks.
package main

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

const usage = `topupctl — operate a top-up engine node through its admin API.

Admin commands (flags -admin URL, -token T; or env TOPUP_ADMIN, TOPUP_TOKEN):
  topupctl fund UID AMOUNT_FEN FUNDING_ID [NOTE]   fund a merchant (replaying FUNDING_ID funds once)
  topupctl merchant UID                           balance, totals, trust
  topupctl ledger UID [N]                         latest ledger entries
  topupctl order ID                               an order by platform id
  topupctl order UID ORDER_NO                     an order by operator order number
  topupctl held                                   orders awaiting a decision (uncertain)
  topupctl resolve ID success|failed WHO WHY      decide an uncertain order
  topupctl reconcile [--fix]                      compare Redis with the order log and funding records;
                                                  --fix repairs Redis (orders are refused while it runs)

Trying the engine by hand:
  topupctl push -api URL -uid UID -key KEY -order-no N -phone P -face FEN [-type 1 -carrier 1] -notify URL
  topupctl sink -listen 127.0.0.1:9099            print operator callbacks, answer "ok"
`

func main() {
	fs := flag.NewFlagSet("topupctl", flag.ExitOnError)
	fs.Usage = func() { fmt.Fprint(os.Stderr, usage) }
	admin := fs.String("admin", envOr("TOPUP_ADMIN", "http://127.0.0.1:8089"), "admin API base URL")
	token := fs.String("token", os.Getenv("TOPUP_TOKEN"), "admin bearer token")
	fix := fs.Bool("fix", false, "reconcile: repair Redis")
	if len(os.Args) < 2 {
		fs.Usage()
		os.Exit(2)
	}
	cmd, rest := os.Args[1], os.Args[2:]
	switch cmd {
	case "push":
		os.Exit(push(rest))
	case "sink":
		os.Exit(sink(rest))
	case "-h", "--help", "help":
		fs.Usage()
		return
	}
	_ = fs.Parse(rest)
	args := fs.Args()
	c := client{base: strings.TrimRight(*admin, "/"), token: *token}
	var err error
	switch {
	case cmd == "fund" && (len(args) == 3 || len(args) == 4):
		amount, perr := strconv.ParseInt(args[1], 10, 64)
		if perr != nil {
			die("amount must be an integer number of fen")
		}
		body := map[string]any{"amount": amount, "funding_id": args[2], "by": "topupctl"}
		if len(args) == 4 {
			body["note"] = args[3]
		}
		err = c.do("POST", "/admin/merchants/"+url.PathEscape(args[0])+"/fund", body)
	case cmd == "merchant" && len(args) == 1:
		err = c.do("GET", "/admin/merchants/"+url.PathEscape(args[0]), nil)
	case cmd == "ledger" && (len(args) == 1 || len(args) == 2):
		q := ""
		if len(args) == 2 {
			q = "?n=" + url.QueryEscape(args[1])
		}
		err = c.do("GET", "/admin/merchants/"+url.PathEscape(args[0])+"/ledger"+q, nil)
	case cmd == "order" && len(args) == 1:
		err = c.do("GET", "/admin/orders/"+url.PathEscape(args[0]), nil)
	case cmd == "order" && len(args) == 2:
		err = c.do("GET", "/admin/orders?uid="+url.QueryEscape(args[0])+"&order_no="+url.QueryEscape(args[1]), nil)
	case cmd == "reconcile" && len(args) == 0 && *fix:
		err = c.do("POST", "/admin/reconcile?fix=1", nil)
	case cmd == "reconcile" && len(args) == 0:
		err = c.do("GET", "/admin/reconcile", nil)
	case cmd == "held" && len(args) == 0:
		err = c.do("GET", "/admin/orders/held", nil)
	case cmd == "resolve" && len(args) == 4:
		err = c.do("POST", "/admin/orders/"+url.PathEscape(args[0])+"/resolve",
			map[string]string{"result": args[1], "by": args[2], "why": args[3]})
	default:
		fs.Usage()
		os.Exit(2)
	}
	if err != nil {
		die(err.Error())
	}
}

type client struct{ base, token string }

// do sends one admin request and prints the JSON reply; a non-2xx reply is an error.
func (c client) do(method, path string, body any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return err
	}
	var pretty bytes.Buffer
	if json.Indent(&pretty, out, "", "  ") == nil {
		out = pretty.Bytes()
	}
	fmt.Println(string(out))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("admin API answered %s", resp.Status)
	}
	return nil
}

func push(args []string) int {
	fs := flag.NewFlagSet("push", flag.ExitOnError)
	api := fs.String("api", "http://127.0.0.1:8088", "operator API base URL")
	uid := fs.String("uid", "3928857", "operator uid")
	key := fs.String("key", "", "operator md5key")
	orderNo := fs.String("order-no", "", "operator order number (default: a timestamp)")
	phone := fs.String("phone", "13800138000", "phone number")
	face := fs.Int("face", 1000, "face value in fen")
	typ := fs.Int("type", 1, "order_type (1 credit, 2 data, 3 card, 4 direct)")
	carrier := fs.Int("carrier", 1, "mobile_type (1 mobile, 2 unicom, 3 telecom)")
	notify := fs.String("notify", "http://127.0.0.1:9099/notify", "notify_url")
	_ = fs.Parse(args)
	if *key == "" {
		die("push: -key is required")
	}
	if *orderNo == "" {
		*orderNo = time.Now().Format("20060102150405.000000")
		*orderNo = strings.ReplaceAll(*orderNo, ".", "")
	}
	sum := md5.Sum([]byte(*uid + *orderNo + *phone + strconv.Itoa(*face) + *key))
	form := url.Values{"uid": {*uid}, "order_no": {*orderNo}, "order_type": {strconv.Itoa(*typ)},
		"mobile_type": {strconv.Itoa(*carrier)}, "phone_number": {*phone}, "face_value": {strconv.Itoa(*face)},
		"notify_url": {*notify}, "sign": {hex.EncodeToString(sum[:])}}
	resp, err := http.PostForm(strings.TrimRight(*api, "/")+"/1/api/oper/order", form)
	if err != nil {
		die(err.Error())
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	fmt.Printf("order_no=%s → %s\n", *orderNo, b)
	return 0
}

func sink(args []string) int {
	fs := flag.NewFlagSet("sink", flag.ExitOnError)
	listen := fs.String("listen", "127.0.0.1:9099", "listen address")
	_ = fs.Parse(args)
	fmt.Printf("printing operator callbacks received on http://%s/ (Ctrl-C to stop)\n", *listen)
	err := http.ListenAndServe(*listen, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(io.LimitReader(r.Body, 1<<16))
		fmt.Printf("%s %s %s\n", time.Now().Format(time.TimeOnly), r.URL.Path, b)
		fmt.Fprint(w, "ok")
	}))
	die(err.Error())
	return 1
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func die(msg string) {
	fmt.Fprintln(os.Stderr, "topupctl:", msg)
	os.Exit(1)
}
