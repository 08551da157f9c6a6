package kafkaio

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"fraudwatch/detector/triage"
	"fraudwatch/models"
)

func TestFeedbackWriterWritesVerdictsKeyedBySender(t *testing.T) {
	const topic = "fraud.feedback"
	brokers := newCluster(t, topic)
	w, err := NewFeedbackWriter(WriterConfig{Connection: Connection{Brokers: brokers}, Topic: topic, Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if w.w.RequiredAcks != kafka.RequireAll {
		t.Errorf("RequiredAcks = %v, want RequireAll", w.w.RequiredAcks)
	}
	ts := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	recs := []models.FeedbackRecord{
		{ID: "tfb_1", AlertID: "fa_1", SenderHash: "v1:00000000000000000000000000000001", Verdict: "fraud", Analyst: "soc-anna", TS: ts},
		{ID: "tfb_2", AlertID: "fa_2", SenderHash: "v1:00000000000000000000000000000001", Verdict: "fraud", Analyst: "soc-anna", TS: ts},
		{ID: "tfb_3", AlertID: "fa_3", Verdict: "unsure", Analyst: "soc-boris", TS: ts},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := w.WriteFeedback(ctx, recs); err != nil {
		t.Fatal(err)
	}
	msgs, err := ReadTopic(ctx, Connection{Brokers: brokers}, topic, len(recs))
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != len(recs) {
		t.Fatalf("read %d records back, want %d", len(msgs), len(recs))
	}
	got := map[string]models.FeedbackRecord{}
	partitionOf := map[string]int{}
	for _, m := range msgs {
		r, err := models.DecodeFeedback(m.Value)
		if err != nil {
			t.Fatalf("run would dead-letter %s: %v", m.Value, err)
		}
		if string(m.Key) != r.SenderHash {
			t.Errorf("record %s keyed %q, want its sender hash %q", r.ID, m.Key, r.SenderHash)
		}
		got[r.ID] = r
		partitionOf[r.ID] = m.Partition
	}
	for _, want := range recs {
		if g := got[want.ID]; g.AlertID != want.AlertID || g.Verdict != want.Verdict || !g.TS.Equal(want.TS) {
			t.Errorf("record %s read back as %+v", want.ID, g)
		}
	}
	if partitionOf["tfb_1"] != partitionOf["tfb_2"] {
		t.Error("one sender's verdicts landed on two partitions: their order is lost")
	}
}

func TestFeedbackWriterReportsAMissingTopic(t *testing.T) {
	brokers := newCluster(t)
	w, err := NewFeedbackWriter(WriterConfig{Connection: Connection{Brokers: brokers}, Topic: "no.such.topic", Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	err = w.WriteFeedback(ctx, []models.FeedbackRecord{{ID: "x", AlertID: "fa_x", Verdict: "fraud"}})
	if err == nil || !strings.Contains(err.Error(), `writing 1 feedback records to "no.such.topic"`) {
		t.Errorf("WriteFeedback to a missing topic = %v, want a wrapped error", err)
	}
}

func TestNotificationWriterWritesRaisedIncidents(t *testing.T) {
	const topic = "fraud.incidents"
	brokers := newCluster(t, topic)
	w, err := NewNotificationWriter(WriterConfig{Connection: Connection{Brokers: brokers}, Topic: topic, Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	inc := models.Incident{ID: "inc_1", Severity: models.SeverityHigh, Status: models.StatusOpen, AlertCount: 3}
	if err := w.Notify(ctx, []triage.Notification{{Incident: inc, Reason: "new"}}); err != nil {
		t.Fatal(err)
	}
	msgs, err := ReadTopic(ctx, Connection{Brokers: brokers}, topic, 1)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Reason   string          `json:"reason"`
		Incident models.Incident `json:"incident"`
	}
	if err := json.Unmarshal(msgs[0].Value, &got); err != nil {
		t.Fatal(err)
	}
	if string(msgs[0].Key) != "inc_1" || got.Reason != "new" || got.Incident.ID != "inc_1" || got.Incident.AlertCount != 3 {
		t.Fatalf("notification %s keyed %q", msgs[0].Value, msgs[0].Key)
	}
}
