// Command fraudwatch is the whole service in one binary: `run` consumes
// inbound WhatsApp events from Kafka and publishes alerts, `demo` runs the
// same path on in-process Kafka and Redis, `score` judges JSON Lines
// offline.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

const usage = `fraudwatch — fraud and impersonation detector for WhatsApp traffic to bank staff

Usage:
  fraudwatch run   [--config FILE]              the service: Kafka in, Redis reputation, alerts out
  fraudwatch demo  [--verbose]                  the fixtures through in-process Kafka and Redis
  fraudwatch score [flags] [FILE|-]             offline: JSON Lines in, one verdict per line out
  fraudwatch produce --brokers B --topic T FILE write JSON Lines events to a topic
  fraudwatch eval  --data FILE [flags]          precision/recall per file, category and rule on labelled rows
  fraudwatch train --data FILE --out PATH       learn the text model from labelled rows
  fraudwatch ingest [--config FILE]             WhatsApp Business Platform webhook → inbound topic
  fraudwatch triage [--config FILE]             SOC incidents, silences, verdicts: web console and API
  fraudwatch probe URL                          exit 0 when URL answers 200 (container healthchecks)
  fraudwatch bench [--embedded] [-n N] [--rate R] end-to-end load: rate, latency, outcomes

Run "fraudwatch COMMAND -h" for a command's flags. Configuration keys and
environment variables are listed in the README.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		// The first signal starts a graceful stop; a second one means the
		// operator will not wait. Nothing uncommitted is lost either way:
		// it is redelivered.
		<-ctx.Done()
		stop()
		again := make(chan os.Signal, 1)
		signal.Notify(again, os.Interrupt, syscall.SIGTERM)
		<-again
		fmt.Fprintln(os.Stderr, "fraudwatch: second signal, exiting without waiting")
		os.Exit(130)
	}()
	if len(os.Args) > 1 && os.Args[1] == "run" { // `run` reloads its rules on SIGHUP; other commands keep its default
		hup := make(chan os.Signal, 1)
		signal.Notify(hup, syscall.SIGHUP)
		ctx = withReloadRequests(ctx, hup)
	}
	code := dispatch(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// exitError carries a specific exit status out of a command.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

func dispatch(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch cmd, rest := args[0], args[1:]; cmd {
	case "run":
		err = cmdRun(ctx, rest, stderr)
	case "demo":
		err = cmdDemo(ctx, rest, stdout, stderr)
	case "score":
		err = cmdScore(ctx, rest, stdin, stdout, stderr)
	case "produce":
		err = cmdProduce(ctx, rest, stdout, stderr)
	case "eval":
		err = cmdEval(ctx, rest, stdout, stderr)
	case "train":
		err = cmdTrain(rest, stdout, stderr)
	case "ingest":
		err = cmdIngest(ctx, rest, stderr)
	case "triage":
		err = cmdTriage(ctx, rest, stderr)
	case "probe":
		err = cmdProbe(ctx, rest, stdout, stderr)
	case "bench":
		err = cmdBench(ctx, rest, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "fraudwatch: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
	var ee exitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.code
	case errors.Is(err, flag.ErrHelp):
		return 0
	default:
		fmt.Fprintf(stderr, "fraudwatch %s: %v\n", args[0], err)
		return 1
	}
}
