package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"fraudwatch/detector/kafkaio"
)

func TestProduceStopsAtAnOversizedLineAfterSendingWhatCameBefore(t *testing.T) {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "in"))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	file := filepath.Join(t.TempDir(), "events.jsonl")
	input := scoreLine("a", "one") + "\n" + scoreLine("b", "two") + "\n" + scoreLine("huge", strings.Repeat("я", maxLineBytes)) + "\n"
	if err := os.WriteFile(file, []byte(input), 0o600); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	code := dispatch(context.Background(), []string{"produce", "--brokers", strings.Join(cluster.ListenAddrs(), ","), "--topic", "in", file}, nil, &stdout, &stderr)
	if code != 1 || !strings.Contains(stderr.String(), "line 3: longer than") || !strings.Contains(stderr.String(), "2 records produced before it") {
		t.Errorf("exit status %d, stderr %q; want 1 naming line 3 and the 2 records sent", code, stderr.String())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	msgs, err := kafkaio.ReadTopic(ctx, kafkaio.Connection{Brokers: cluster.ListenAddrs()}, "in", 2)
	if err != nil {
		t.Fatalf("the lines before the oversized one were not produced: %v", err)
	}
	if len(msgs) != 2 {
		t.Errorf("%d records on the topic, want 2", len(msgs))
	}
}
