package kafkaio

import (
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/segmentio/kafka-go"
)

func TestFailedWriteLeavesOnlyWhatFailed(t *testing.T) {
	items := []string{"a", "b", "c", "d"}
	partial := fmt.Errorf("kafkaio: writing 4 alerts: %w",
		&partialWriteError{failed: []bool{false, true, false, true}, err: kafka.WriteErrors{nil, errors.New("refused"), nil, errors.New("refused")}})
	cases := []struct {
		name string
		err  error
		want []string
	}{
		{"a write that names its failed messages leaves just those", partial, []string{"b", "d"}},
		{"a write that says nothing leaves everything", errors.New("broker down"), items},
		{"a write that names messages of another slice leaves everything", &partialWriteError{failed: []bool{true}}, items},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, left := splitWritten(items, tc.err); !reflect.DeepEqual(left, tc.want) {
				t.Errorf("left to write: %q, want %q", left, tc.want)
			}
		})
	}
}

func TestWrittenSetForgetsTheOldestBeyondItsSize(t *testing.T) {
	s := newWrittenSet(2)
	id := func(s string) string { return s }
	add(s, []string{"a", "b"}, id)
	add(s, []string{"b", "c"}, id) // b is already there; c pushes a out
	if got := unwritten(s, []string{"a", "b", "c", "d"}, id); !reflect.DeepEqual(got, []string{"a", "d"}) {
		t.Errorf("unwritten = %q, want [a d]", got)
	}
}
