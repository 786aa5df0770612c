package results

import (
	"bytes"
	"testing"
	"time"
)

func TestHlogRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	start := time.Date(2026, 11, 21, 13, 0, 0, 0, time.UTC)
	w, err := NewHlogWriter(&buf, start)
	if err != nil {
		t.Fatal(err)
	}
	for sec := 0; sec < 3; sec++ {
		h := NewHistogram()
		for i := 1; i <= 100*(sec+1); i++ {
			_ = h.RecordValue(int64(i) * 10_000) // 10 µs steps
		}
		from := time.Duration(sec) * time.Second
		if err := w.Write("READ", from, from+time.Second, h); err != nil {
			t.Fatal(err)
		}
	}
	ivs, err := DecodeHlog(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if len(ivs) != 3 {
		t.Fatalf("got %d intervals, want 3", len(ivs))
	}
	for i, iv := range ivs {
		if iv.Tag != "READ" || iv.Start != time.Duration(i)*time.Second || iv.End != iv.Start+time.Second {
			t.Errorf("interval %d: tag %q [%v, %v)", i, iv.Tag, iv.Start, iv.End)
		}
		if got, want := iv.Hist.TotalCount(), int64(100*(i+1)); got != want {
			t.Errorf("interval %d: count %d, want %d", i, got, want)
		}
	}
	if got := Summarize(ivs[0].Hist).Max; got < 999 || got > 1001 {
		t.Errorf("max = %v µs, want ~1000", got)
	}
}

func TestDecodeHlogRejectsGarbage(t *testing.T) {
	for _, in := range []string{"Tag=READ\n", "0.0,1.0,2.0\n", "0.0,1.0,2.0,notbase64!!\n"} {
		if _, err := DecodeHlog(bytes.NewBufferString(in)); err == nil {
			t.Errorf("DecodeHlog(%q): want error", in)
		}
	}
}

func TestClamp(t *testing.T) {
	for _, c := range []struct {
		in, want int64
		clamped  bool
	}{{0, MinLatency, true}, {-3, MinLatency, true}, {MinLatency, MinLatency, false}, {5, 5, false}, {350, 350, false},
		{MaxLatency + 1, MaxLatency, true}, {5000, 5000, false}} {
		got, cl := Clamp(c.in)
		if got != c.want || cl != c.clamped {
			t.Errorf("Clamp(%d) = %d, %v", c.in, got, cl)
		}
	}
}

// FuzzDecodeHlog: a corrupt or hostile latency.hlog gives an error, never a
// panic or a hang.
func FuzzDecodeHlog(f *testing.F) {
	var buf bytes.Buffer
	w, _ := NewHlogWriter(&buf, time.Unix(1_800_000_000, 0))
	h := NewHistogram()
	for i := int64(1); i < 100; i++ {
		h.RecordValue(i * 1000)
	}
	w.Write("READ", 0, time.Second, h)
	f.Add(buf.String())
	f.Add("Tag=READ,0.0,1.0,2.0,HISTFAAAAB\n")
	f.Add("#[BaseTime: x\n")
	f.Fuzz(func(t *testing.T, s string) {
		ivs, err := DecodeHlog(bytes.NewBufferString(s))
		if err == nil {
			for _, iv := range ivs {
				if iv.Hist == nil {
					t.Fatal("interval without histogram")
				}
			}
		}
	})
}

// TestSubMicrosecond: latencies of a few hundred nanoseconds (shm's) are
// recorded and summarized as measured, not clamped to a 1 µs floor.
func TestSubMicrosecond(t *testing.T) {
	h := NewHistogram()
	for _, ns := range []int64{120, 350, 351, 352, 900} {
		v, clamped := Clamp(ns)
		if clamped {
			t.Fatalf("Clamp(%d) clamped", ns)
		}
		if err := h.RecordValue(v); err != nil {
			t.Fatal(err)
		}
	}
	l := Summarize(h)
	if l.Min != 0.12 || l.P50 != 0.351 || l.Max != 0.9 {
		t.Errorf("Summarize = min %v p50 %v max %v µs, want 0.12 0.351 0.9", l.Min, l.P50, l.Max)
	}
	if b := HistogramBytes(); b <= 0 || b > 256<<10 {
		t.Errorf("HistogramBytes() = %d, want at most 256 KiB", b)
	}
}
