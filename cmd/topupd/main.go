// Command topupd is the top-up order engine daemon.
//
//	topupd -config config/example.yaml
package main

import (
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"topup/cmd/internal/config"
	"topup/cmd/internal/daemon"
)

func main() {
	path := flag.String("config", "config/example.yaml", "YAML configuration file")
	check := flag.Bool("check", false, "validate the configuration and exit")
	flag.Parse()
	cfg, err := config.Load(*path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	if *check {
		fmt.Println("configuration ok")
		return
	}
	logger := newLogger(cfg.Log)
	node, err := daemon.Start(cfg, logger)
	if err != nil {
		logger.Error("start failed", "err", err)
		os.Exit(1)
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	s := <-sig
	logger.Info("shutting down", "signal", s.String())
	node.Close()
}

func newLogger(c config.Log) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(c.Level))
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts))
}
