package acme

import (
	"io"
	"log/slog"

	legolog "github.com/go-acme/lego/v5/log"
)

// SetLogger sends lego's log (progress of orders and challenges; no keys)
// to l, or discards it when l is nil. lego has one logger per process, so
// this affects every issuer.
func SetLogger(l *slog.Logger) {
	if l == nil {
		l = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	legolog.SetDefault(l)
}
