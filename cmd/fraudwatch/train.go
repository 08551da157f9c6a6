package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"fraudwatch/features"
	"fraudwatch/features/textmodel"
	"fraudwatch/models"
)

// stringList is a repeatable string flag (--data A --data B).
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

func cmdTrain(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("train", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var data stringList
	fs.Var(&data, "data", "labelled corpus `FILE` (JSON Lines; repeat for several); positive = spam or scam")
	out := fs.String("out", "", "write the model to `PATH` (\"-\": standard output)")
	p := textmodel.DefaultParams()
	fs.Uint64Var(&p.Seed, "seed", p.Seed, "seed of the training order; the same data and seed give the same file")
	fs.StringVar(&p.Algorithm, "algorithm", p.Algorithm, "logreg or naive_bayes")
	fs.IntVar(&p.MinDocs, "min-docs", p.MinDocs, "keep features found in at least `N` rows")
	fs.IntVar(&p.Epochs, "epochs", p.Epochs, "logreg: passes over the data")
	fs.Float64Var(&p.L2, "l2", p.L2, "logreg: L2 penalty")
	fs.Float64Var(&p.MinWeight, "min-weight", p.MinWeight, "drop features whose |weight| is below this")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: fraudwatch train --data FILE [--data FILE ...] --out PATH [--seed N]\n\nLearns the text model from labelled corpus rows and writes it as versioned JSON.\nThe same files (in the same order) and flags give the same bytes.\n\nFlags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if len(data) == 0 || *out == "" || fs.NArg() > 0 {
		fs.Usage()
		return exitError{2}
	}
	x, err := features.NewExtractor(features.Config{NoModel: true})
	if err != nil {
		return err
	}
	m, err := trainFiles(x, data, p)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := m.Write(&buf); err != nil {
		return err
	}
	if *out == "-" {
		_, err = stdout.Write(buf.Bytes())
		return err
	}
	if err := os.WriteFile(*out, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("writing model: %w", err)
	}
	t := m.Training()
	fmt.Fprintf(stderr, "train: %s: %d rows (%d positive), %d of %d features kept, version %s\n", *out, t.Docs, t.Positives, m.Len(), t.Vocabulary, m.Version())
	return nil
}

// trainFiles reads every row of the files, in order, and trains a model.
// A bad row stops training: a model must not silently miss data.
func trainFiles(x *features.Extractor, paths []string, p textmodel.Params) (*textmodel.Model, error) {
	var examples []textmodel.Example
	var files []textmodel.TrainingFile
	for _, path := range paths {
		tf := textmodel.TrainingFile{Name: filepath.Base(path), Rows: map[string]int{}}
		sum, bad, err := readCorpus(path, models.DecodeOptions{}, nil, func(line int, row models.LabeledEvent) error {
			tf.Rows[string(row.Label)]++
			examples = append(examples, textmodel.Example{Doc: x.ModelDoc(row.Text), Positive: row.Label.Positive()})
			return nil
		})
		if err != nil {
			return nil, err
		}
		if bad > 0 {
			return nil, fmt.Errorf("%s: %d bad row(s); fix them before training", path, bad)
		}
		tf.SHA256 = sum
		files = append(files, tf)
	}
	return textmodel.Train(examples, files, p)
}

// readCorpus streams the labelled rows of path to fn in file order and
// returns the SHA-256 of the whole file and the number of bad lines, each
// reported to errOut (nil: not reported) as "path:line: reason". Memory
// does not grow with the file.
func readCorpus(path string, opts models.DecodeOptions, errOut io.Writer, fn func(line int, row models.LabeledEvent) error) (sha string, bad int, err error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	br := bufio.NewReaderSize(io.TeeReader(f, h), 64*1024)
	for line := 1; ; line++ {
		raw, tooLong, err := readLine(br, maxLineBytes)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return "", bad, fmt.Errorf("reading %s: %w", path, err)
		}
		if tooLong {
			bad++
			if errOut != nil {
				fmt.Fprintf(errOut, "%s:%d: line longer than %d bytes; skipped\n", path, line, maxLineBytes)
			}
			continue
		}
		if len(bytes.TrimSpace(raw)) == 0 {
			continue
		}
		row, err := models.DecodeCorpusRow(raw, opts)
		if err != nil {
			bad++
			if errOut != nil {
				fmt.Fprintf(errOut, "%s:%d: %v\n", path, line, err)
			} else if bad == 1 {
				return "", bad, fmt.Errorf("%s:%d: %w", path, line, err)
			}
			continue
		}
		if err := fn(line, row); err != nil {
			return "", bad, err
		}
	}
	return hex.EncodeToString(h.Sum(nil)), bad, nil
}
