package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"fraudwatch/detector/kafkaio"
)

func cmdProduce(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("produce", flag.ContinueOnError)
	fs.SetOutput(stderr)
	brokers := fs.String("brokers", envOr("FRAUDWATCH_KAFKA_BROKERS", "localhost:9092"), "comma-separated `host:port` list (env FRAUDWATCH_KAFKA_BROKERS)")
	topic := fs.String("topic", envOr("FRAUDWATCH_INBOUND_TOPIC", "whatsapp.inbound"), "topic to write to (env FRAUDWATCH_INBOUND_TOPIC)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: fraudwatch produce [--brokers B] [--topic T] FILE|-\n\nWrites each non-empty line of a JSON Lines file as one record, keyed by its \"from\" number, with acks=all.\nLines are sent as they are, malformed ones included (they show up in the dead-letter topic).\n\nFlags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return exitError{2}
	}
	in := io.Reader(os.Stdin)
	if name := fs.Arg(0); name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return err
		}
		defer f.Close()
		in = f
	}
	p, err := kafkaio.NewProducer(kafkaio.WriterConfig{Connection: kafkaio.Connection{Brokers: strings.Split(*brokers, ",")}, Topic: *topic})
	if err != nil {
		return err
	}
	defer p.Close()
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64*1024), maxLineBytes)
	var batch [][]byte
	sent := 0
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		if err := p.Produce(ctx, batch...); err != nil {
			return fmt.Errorf("after %d records: %w", sent, err)
		}
		sent += len(batch)
		batch = batch[:0]
		return nil
	}
	lines := 0
	for sc.Scan() {
		lines++
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		batch = append(batch, append([]byte(nil), line...))
		if len(batch) == 500 {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := sc.Err(); err != nil {
		// What was read before the bad line still goes out, so that the
		// count in the error is what the topic holds.
		if ferr := flush(); ferr != nil {
			return ferr
		}
		if errors.Is(err, bufio.ErrTooLong) {
			err = fmt.Errorf("longer than %d bytes", maxLineBytes)
		}
		return fmt.Errorf("line %d: %w; %d records produced before it", lines+1, err, sent)
	}
	if err := flush(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "produced %d records to %s\n", sent, *topic)
	return nil
}

func envOr(name, def string) string {
	if v, ok := os.LookupEnv(name); ok && v != "" {
		return v
	}
	return def
}
