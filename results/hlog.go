package results

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// Histogram range: latencies are recorded in nanoseconds from 1 ns to 60 s
// with 3 significant digits, so a shared-memory store's few hundred
// nanoseconds are measured, not clamped to a microsecond floor. Values
// outside are clamped to the nearest bound and counted (Run.Clamped). One
// histogram of this range takes HistogramBytes of memory (221 KB; a 1 µs
// floor took 148 KB).
const (
	MinLatency = int64(time.Nanosecond)
	MaxLatency = int64(60 * time.Second)
	SigFigs    = 3
)

// NewHistogram returns an empty latency histogram with kvbench's range.
func NewHistogram() *hdr.Histogram { return hdr.New(MinLatency, MaxLatency, SigFigs) }

// HistogramBytes returns the memory one NewHistogram takes.
func HistogramBytes() int { return NewHistogram().ByteSize() }

// Clamp returns v clamped into the histogram range and whether it was clamped.
func Clamp(v int64) (int64, bool) {
	if v < MinLatency {
		return MinLatency, true
	}
	if v > MaxLatency {
		return MaxLatency, true
	}
	return v, false
}

// UncorrectedTag is the hlog tag of an op type's uncorrected latencies
// (open loop: measured from the actual send, not the intended start).
func UncorrectedTag(op string) string { return op + ".uncorrected" }

// Summarize converts a nanosecond histogram into a microsecond summary.
func Summarize(h *hdr.Histogram) Latency {
	if h.TotalCount() == 0 {
		return Latency{}
	}
	us := func(ns int64) float64 { return float64(ns) / 1e3 }
	return Latency{
		Min:  us(h.Min()),
		Mean: math.Round(h.Mean()) / 1e3,
		P50:  us(h.ValueAtQuantile(50)),
		P90:  us(h.ValueAtQuantile(90)),
		P95:  us(h.ValueAtQuantile(95)),
		P99:  us(h.ValueAtQuantile(99)),
		P999: us(h.ValueAtQuantile(99.9)),
		Max:  us(h.Max()),
	}
}

// HlogWriter writes an HdrHistogram interval log (format 1.3, readable by
// HdrHistogram's HistogramLogProcessor). Interval timestamps are seconds since
// the run's start.
type HlogWriter struct {
	lw    *hdr.HistogramLogWriter
	start time.Time
}

// NewHlogWriter writes the log header to w and returns a writer for intervals
// relative to start.
func NewHlogWriter(w io.Writer, start time.Time) (*HlogWriter, error) {
	lw := hdr.NewHistogramLogWriter(w)
	ms := start.UnixMilli()
	if err := lw.OutputLogFormatVersion(); err != nil {
		return nil, err
	}
	if err := lw.OutputComment("kvbench latency log: one tag per op type, values in ns"); err != nil {
		return nil, err
	}
	if err := lw.OutputStartTime(ms); err != nil {
		return nil, err
	}
	if err := lw.OutputBaseTime(ms); err != nil {
		return nil, err
	}
	lw.SetBaseTime(ms)
	if err := lw.OutputLegend(); err != nil {
		return nil, err
	}
	return &HlogWriter{lw: lw, start: start}, nil
}

// Write logs h as the interval [from, to) since the start, under tag.
// It sets h's tag and timestamps.
func (w *HlogWriter) Write(tag string, from, to time.Duration, h *hdr.Histogram) error {
	base := w.start.UnixMilli()
	h.SetTag(tag)
	h.SetStartTimeMs(base + from.Milliseconds())
	h.SetEndTimeMs(base + to.Milliseconds())
	return w.lw.OutputIntervalHistogram(h)
}

// Interval is one histogram of an interval log.
type Interval struct {
	Tag        string
	Start, End time.Duration // since the run's start
	Hist       *hdr.Histogram
}

// ReadHlog reads dir/latency.hlog.
func ReadHlog(dir string) ([]Interval, error) {
	f, err := os.Open(filepath.Join(dir, HlogFile))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return DecodeHlog(f)
}

// DecodeHlog parses an interval log written by HlogWriter.
func DecodeHlog(r io.Reader) ([]Interval, error) {
	var out []Interval
	var base float64
	br := bufio.NewReaderSize(r, 1<<16)
	for n := 1; ; n++ {
		line, err := br.ReadString('\n')
		if line = strings.TrimRight(line, "\r\n"); line != "" {
			switch {
			case strings.HasPrefix(line, "#[BaseTime: "):
				if _, err := fmt.Sscanf(line, "#[BaseTime: %f", &base); err != nil {
					return nil, fmt.Errorf("%s line %d: %w", HlogFile, n, err)
				}
			case line[0] == '#' || strings.HasPrefix(line, `"StartTimestamp"`):
			default:
				iv, err := parseInterval(line)
				if err != nil {
					return nil, fmt.Errorf("%s line %d: %w", HlogFile, n, err)
				}
				out = append(out, iv)
			}
		}
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

func parseInterval(line string) (Interval, error) {
	var iv Interval
	if rest, ok := strings.CutPrefix(line, "Tag="); ok {
		tag, after, ok := strings.Cut(rest, ",")
		if !ok {
			return iv, fmt.Errorf("malformed tag")
		}
		iv.Tag, line = tag, after
	}
	f := strings.Split(line, ",")
	if len(f) != 4 {
		return iv, fmt.Errorf("want 4 fields, got %d", len(f))
	}
	var start, length float64
	if _, err := fmt.Sscanf(f[0]+" "+f[1], "%f %f", &start, &length); err != nil {
		return iv, fmt.Errorf("bad timestamps: %w", err)
	}
	h, err := hdr.Decode([]byte(f[3]))
	if err != nil {
		return iv, fmt.Errorf("bad histogram payload: %w", err)
	}
	iv.Start = time.Duration(start * float64(time.Second))
	iv.End = iv.Start + time.Duration(length*float64(time.Second))
	iv.Hist = h
	return iv, nil
}
