// Package bench is the bench harness of the top-up engine: workloads that
// push orders through a real engine over loopback, measure it and check that
// it stayed correct.
//
// Each workload is a Config and a Run function: RunBurst (N orders as fast as
// the engine takes them), RunRate (a fixed arrival rate, latency from each
// order's intended send time), RunMixed (a sustained rate against suppliers
// with successes, failures, uncertain results, lost and slow callbacks),
// RunDuplicates (every order_no sent one to five times at once) and
// RunPending (a supplier that answers only after a long delay, to measure
// the engine's memory per waiting order).
//
// A workload either starts its own engine — a built topupd binary with a
// generated configuration, its own redis-server and sockmodsim supplier
// simulators, all on loopback, stopped at the end — or targets an engine
// already running, where it only funds its merchant and pushes orders. Either
// way it plays the operator with bench/opersim: a signing client, and a
// receiver that checks the sign of every callback. A tap in front of the
// receiver times each order's first callback.
//
// At the end every workload checks correctness, whatever its speed (see
// Result.Violations): each accepted order got exactly one terminal callback
// (identical redeliveries allowed, never two different ones), no order that
// was refused got one, and the merchant's balance is exactly what was funded
// minus the charge of every order called back with status 4. Orders a
// supplier leaves without a result (a lost callback, a partial recharge, an
// uncertain result with no follow-up) stay uncertain or placed forever; the
// harness resolves them "failed" through the admin API once the suppliers are
// idle and nothing has moved for Common.Quiet, as an engine operator would,
// and then expects their status 9 callback.
//
// The package owns no mutable globals.
package bench
