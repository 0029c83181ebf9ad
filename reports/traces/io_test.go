package traces

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSpansRoundTrip(t *testing.T) {
	spans := generateFixture()[:200]
	for _, gz := range []bool{false, true} {
		var buf bytes.Buffer
		write := WriteSpans
		if gz {
			write = WriteSpansGzip
		}
		if err := write(&buf, spans); err != nil {
			t.Fatal(err)
		}
		got, err := ReadSpans(&buf)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(spans) {
			t.Fatalf("gzip=%v: %d spans back, want %d", gz, len(got), len(spans))
		}
		for i := range spans {
			if !spanEqual(got[i], spans[i]) {
				t.Fatalf("gzip=%v: span %d\ngot  %+v\nwant %+v", gz, i, got[i], spans[i])
			}
		}
	}
}

func TestReadSpansErrors(t *testing.T) {
	for _, c := range []struct{ name, in, want string }{
		{"bad json", "{\"trace_id\":\n", "line 1"},
		{"bad id", `{"trace_id":"zz"}`, "trace id"},
		{"bad kind", `{"kind":"sideways"}`, "span kind"},
		{"second line", "{}\n\n{\"span_id\":\"0102\"}", "line 3"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := ReadSpans(strings.NewReader(c.in))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("err = %v, want it to mention %q", err, c.want)
			}
		})
	}
	spans, err := ReadSpans(strings.NewReader("\n{\"service\":\"a\",\"attrs\":{\"cache.hit\":true,\"resilience.attempt\":2}}\n"))
	if err != nil || len(spans) != 1 || spans[0].Attr(AttrCacheHit) != "true" || spans[0].Attr(AttrAttempt) != "2" {
		t.Errorf("non-string attribute values: %+v %v", spans, err)
	}
}

func FuzzReadSpans(f *testing.F) {
	var buf bytes.Buffer
	_ = WriteSpans(&buf, generateFixture()[:3])
	f.Add(buf.Bytes())
	f.Add([]byte("{}\n"))
	f.Add([]byte{0x1f, 0x8b, 0, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		spans, err := ReadSpans(bytes.NewReader(b))
		if err != nil {
			return
		}
		var out bytes.Buffer
		if err := WriteSpans(&out, spans); err != nil {
			t.Fatalf("write back: %v", err)
		}
	})
}

func TestKeptAttrsConsistent(t *testing.T) {
	for _, k := range KeptAttrs {
		if !Kept(k) {
			t.Errorf("%q in KeptAttrs but not Kept", k)
		}
	}
	for _, k := range []string{"url.full", "http.request.method", "db.system", ""} {
		if Kept(k) {
			t.Errorf("%q kept", k)
		}
	}
}

// BenchmarkWriteSpans is the cost of a run directory's span file, written to disk: plain
// JSON lines against gzip, per span (the explorer writes one file per experiment).
func BenchmarkWriteSpans(b *testing.B) {
	spans := loadReal(b).spans
	for _, c := range []struct {
		name  string
		write func(io.Writer, []Span) error
	}{
		{"plain", WriteSpans},
		{"gzip", WriteSpansGzip},
	} {
		b.Run(c.name, func(b *testing.B) {
			path := filepath.Join(b.TempDir(), "spans")
			var size int64
			for b.Loop() {
				f, err := os.Create(path)
				if err != nil {
					b.Fatal(err)
				}
				if err := c.write(f, spans); err != nil {
					b.Fatal(err)
				}
				if err := f.Close(); err != nil {
					b.Fatal(err)
				}
				st, _ := os.Stat(path)
				size = st.Size()
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(spans)), "ns/span")
			b.ReportMetric(float64(size)/float64(len(spans)), "B/span")
		})
	}
}
