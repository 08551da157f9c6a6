package models

import (
	"bufio"
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"testing"

	"fraudwatch/fixtures"
)

// wireSamples are the fixture records, records with every field kind and
// oddity the fast path must read or refuse, and random mutations of them:
// bytes dropped, doubled, replaced, cut off.
func wireSamples(t testing.TB) [][]byte {
	var out [][]byte
	sc := bufio.NewScanner(bytes.NewReader(fixtures.Events()))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if l := bytes.TrimSpace(sc.Bytes()); len(l) > 0 {
			out = append(out, append([]byte(nil), l...))
		}
	}
	for _, s := range []string{
		`{}`, ` { } `, `{"id":"a","id":"b"}`, `{"ID":"a"}`, `{"Kind":"call"}`, "{\"\u212aind\":\"call\"}", `{"id\u0064":"x"}`,
		`{"id":1,"kind":-0.5e+3,"ts":true,"to":null,"text":false,"media":[],"call":{}}`, `{"call":{"duration_s":12,"missed":true,"x":[1,{"y":[]}]}}`,
		`{"media":[{"type":"image","filename":"a.jpg"}],"forwarded":true}`, `{"text":"\u00e9\ud83d\ude00 \"q\" \\ \/ \b\f\n\r\t"}`,
		"{\"text\":\"bad \xff utf8\"}", "{\"t\xffext\":1}", `{"text":"\ud800"}`, `{"a":01}`, `{"a":1.}`, `{"a":.5}`, `{"a":-}`, `{"a":1e}`,
		`{"a":tru}`, `{"a":nul}`, `{"a":"x}`, `{"a":"\x"}`, `{"a":"\u12"}`, `{"a" 1}`, `{"a":1,}`, `{,"a":1}`, `{"a":1}x`, `{"a":1}}`,
		`{"a":[1,]}`, `{"a":[1 2]}`, `{"a":{"b"}}`, `{"a":{1:2}}`, "{\"a\":\"\t\"}", `[1]`, `{"a":1} `, "{\"a\":\n1\r}",
		`{"a":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}`,
	} {
		out = append(out, []byte(s))
	}
	r := rand.New(rand.NewPCG(7, 8))
	base := len(out)
	for range 20000 {
		b := append([]byte(nil), out[r.IntN(base)]...)
		if len(b) == 0 {
			continue
		}
		i := r.IntN(len(b))
		switch r.IntN(4) {
		case 0:
			b = append(b[:i], b[i+1:]...)
		case 1:
			b = append(b[:i:i], append([]byte{b[i]}, b[i:]...)...)
		case 2:
			const alphabet = "{}[]\":,\\ 0-.eEtfnu\xff\x01aZ"
			b[i] = alphabet[r.IntN(len(alphabet))]
		default:
			b = b[:i]
		}
		out = append(out, b)
	}
	return out
}

// Whenever the fast path reads a record, encoding/json reads it too and
// gets exactly the same fields; whenever encoding/json refuses one, the
// fast path gives up.
func TestScanWireAgreesWithEncodingJSON(t *testing.T) {
	read := 0
	for _, b := range wireSamples(t) {
		var fast, ref wireEvent
		ok := scanWire(b, &fast)
		err := json.Unmarshal(b, &ref)
		if !ok {
			continue
		}
		read++
		if err != nil {
			t.Fatalf("scanWire read %q, which encoding/json refuses: %v", b, err)
		}
		if !reflect.DeepEqual(normalizeRaw(fast), normalizeRaw(ref)) {
			t.Fatalf("scanWire(%q) = %+v, encoding/json %+v", b, fast, ref)
		}
	}
	if read < 1000 {
		t.Errorf("the fast path read only %d samples", read)
	}
}

// normalizeRaw makes absent and empty raw messages compare equal as
// strings.
func normalizeRaw(w wireEvent) [10]string {
	return [10]string{string(w.ID), string(w.Kind), string(w.TS), string(w.From), string(w.FromName), string(w.To), string(w.Text), string(w.Media), string(w.Forwarded), string(w.Call)}
}

func FuzzScanWire(f *testing.F) {
	for _, b := range wireSamples(f)[:300] {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var fast, ref wireEvent
		if !scanWire(b, &fast) {
			return
		}
		if err := json.Unmarshal(b, &ref); err != nil {
			t.Fatalf("scanWire read %q, which encoding/json refuses: %v", b, err)
		}
		if normalizeRaw(fast) != normalizeRaw(ref) {
			t.Fatalf("scanWire(%q) = %+v, encoding/json %+v", b, fast, ref)
		}
	})
}
