package main

import (
	"fmt"
	"log/slog"

	"github.com/lesismal/nbio/logging"
)

// nbioLogger sends the nbio engine's logs, which go to a process-wide
// logger of the nbio package, to the program's slog logger. Installed once
// by serve; nothing else in the program touches nbio's globals.
type nbioLogger struct{ l *slog.Logger }

func (n nbioLogger) SetLevel(int) {}
func (n nbioLogger) Debug(format string, v ...any) {
	n.l.Debug(fmt.Sprintf(format, v...), "component", "nbio")
}
func (n nbioLogger) Info(format string, v ...any) {
	n.l.Debug(fmt.Sprintf(format, v...), "component", "nbio")
}
func (n nbioLogger) Warn(format string, v ...any) {
	n.l.Warn(fmt.Sprintf(format, v...), "component", "nbio")
}
func (n nbioLogger) Error(format string, v ...any) {
	n.l.Error(fmt.Sprintf(format, v...), "component", "nbio")
}

func routeNbioLogs(l *slog.Logger) { logging.SetLogger(nbioLogger{l}) }
