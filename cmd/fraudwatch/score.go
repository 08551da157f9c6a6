package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"fraudwatch/detector"
	"fraudwatch/models"
)

// maxLineBytes bounds one input line: the largest event (64 Ki characters
// of text, 4 bytes each) with room for the rest. score reports a longer
// line as bad and goes on; produce stops at it.
const maxLineBytes = 1 << 20

// scoreBatch is how many events share one reputation round trip.
const scoreBatch = 500

func cmdScore(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("score", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o pipelineFlags
	o.register(fs)
	redisAddr := fs.String("redis", "", "use the Redis at ADDR for reputation instead of memory (needs the HMAC secret of `run`: --config or FRAUDWATCH_HMAC_SECRET)")
	explain := fs.Bool("explain", false, "print a readable breakdown per event (rules with weight and evidence, the text model's top tokens, score and severity) instead of verdict JSON")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: fraudwatch score [flags] [FILE|-]\n\nScores JSON Lines events (or labelled corpus rows) offline and prints one verdict JSON per event.\nBad lines are reported on stderr with their line number; the rest are still scored; exit status 2 if any line was bad.\n\nFlags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 1 {
		fs.Usage()
		return exitError{2}
	}
	in := stdin
	name := "stdin"
	if fs.NArg() == 1 && fs.Arg(0) != "-" {
		f, err := os.Open(fs.Arg(0))
		if err != nil {
			return err
		}
		defer f.Close()
		in, name = f, fs.Arg(0)
	}

	settings, err := o.settings()
	if err != nil {
		return err
	}
	if *redisAddr == "" && settings.hmacSecret == "" {
		// In-memory reputation lives as long as this process: any key will do.
		key := make([]byte, 32)
		_, _ = rand.Read(key)
		settings.hmacSecret = string(key)
	}
	if *redisAddr != "" {
		settings.redis.Addrs = []string{*redisAddr}
	}
	// Offline scoring replays history: the clock is the latest event time
	// seen, so old corpora keep their time windows instead of being
	// clamped to today.
	clock := &replayClock{}
	settings.now = clock.Now
	p, err := newPipeline(ctx, settings, *redisAddr != "")
	if err != nil {
		return err
	}
	defer p.Close()

	w := bufio.NewWriter(stdout)
	defer w.Flush()
	emit := verdictJSON(w)
	if *explain {
		emit = explainer(w, p.extractor, p.engine.Rules())
	}
	bad, err := scoreStream(ctx, p.engine, p.decode, clock, in, name, emit, stderr)
	if err != nil {
		return err
	}
	if bad > 0 {
		fmt.Fprintf(stderr, "score: %d bad line(s) in %s\n", bad, name)
		return exitError{2}
	}
	return nil
}

// verdictJSON emits one verdict JSON line per event.
func verdictJSON(w io.Writer) func(*detector.Scored) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return func(s *detector.Scored) error { return enc.Encode(s.Verdict) }
}

// scoreStream reads JSON Lines from in and emits each good line's result,
// in input order. It returns the number of bad lines.
func scoreStream(ctx context.Context, eng *detector.Engine, opts models.DecodeOptions, clock *replayClock, in io.Reader, name string, emit func(*detector.Scored) error, errOut io.Writer) (int, error) {
	br := bufio.NewReaderSize(in, 64*1024)

	bad, line := 0, 0
	batch := make([]models.Event, 0, scoreBatch)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		for i := range batch {
			clock.Advance(batch[i].TS)
		}
		scored, err := eng.Score(ctx, batch)
		if err != nil {
			return err
		}
		for i := range scored {
			s := &scored[i]
			if s.Err != nil {
				bad++
				fmt.Fprintf(errOut, "%s: event %q: %v\n", name, s.Event.ID, s.Err)
				continue
			}
			if err := emit(s); err != nil {
				return err
			}
		}
		batch = batch[:0]
		return nil
	}
	for {
		raw, tooLong, err := readLine(br, maxLineBytes)
		if err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return bad, fmt.Errorf("reading %s: %w", name, err)
		}
		line++
		if tooLong {
			bad++
			fmt.Fprintf(errOut, "%s:%d: line longer than %d bytes; skipped (is the input JSON Lines?)\n", name, line, maxLineBytes)
			continue
		}
		if len(bytes.TrimSpace(raw)) == 0 {
			continue
		}
		ev, err := decodeLine(raw, opts)
		if err != nil {
			bad++
			fmt.Fprintf(errOut, "%s:%d: %v\n", name, line, err)
			continue
		}
		batch = append(batch, ev)
		if len(batch) == scoreBatch {
			if err := flush(); err != nil {
				return bad, err
			}
		}
	}
	return bad, flush()
}

// readLine returns the next line of br without its line ending, or io.EOF
// after the last one. A line over max bytes is read to its end and
// dropped (tooLong), so that one oversized line costs only itself.
func readLine(br *bufio.Reader, max int) (line []byte, tooLong bool, err error) {
	for {
		chunk, err := br.ReadSlice('\n')
		if !tooLong {
			if len(line)+len(chunk) > max+2 { // +2: the line ending is not counted
				tooLong, line = true, nil
			} else {
				line = append(line, chunk...)
			}
		}
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case err == nil:
		case errors.Is(err, io.EOF) && (len(line) > 0 || tooLong):
		default:
			return nil, false, err
		}
		line = bytes.TrimSuffix(bytes.TrimSuffix(line, []byte("\n")), []byte("\r"))
		if len(line) > max {
			return nil, true, nil
		}
		return line, tooLong, nil
	}
}

// decodeLine accepts both forms of DESIGN.md: an event, or a labelled
// corpus row (which may lack kind, ts and to).
func decodeLine(raw []byte, opts models.DecodeOptions) (models.Event, error) {
	var probe struct {
		Label *json.RawMessage `json:"label"`
	}
	if json.Unmarshal(raw, &probe) == nil && probe.Label != nil {
		row, err := models.DecodeCorpusRow(raw, opts)
		return row.Event, err
	}
	return models.DecodeEvent(raw, opts)
}

// replayClock is the clock of offline scoring: the latest event time seen
// so far, or the wall clock before any event carried a time.
type replayClock struct {
	latest time.Time
}

// Advance moves the clock forward to ts; it never goes back.
func (c *replayClock) Advance(ts time.Time) {
	if ts.After(c.latest) {
		c.latest = ts
	}
}

// Now returns the clock's time.
func (c *replayClock) Now() time.Time {
	if c.latest.IsZero() {
		return time.Now()
	}
	return c.latest
}
