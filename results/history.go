package results

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/kvbench/kvbench/impls"
)

// Outcome classifies how an operation ended.
type Outcome string

// The outcomes of an operation.
const (
	OK      Outcome = "ok"      // completed; Resp holds what the store said
	Fail    Outcome = "fail"    // definitely failed; the store is unchanged
	Unknown Outcome = "unknown" // may or may not have taken effect
)

// Event is one operation in a recorded history (one line of history.jsonl).
// Call and Return are nanoseconds since the run's start on one monotonic clock.
type Event struct {
	Client  int            `json:"client"`
	Req     impls.Request  `json:"req"`
	Resp    impls.Response `json:"resp"`
	Call    int64          `json:"call"`
	Return  int64          `json:"ret"`
	Outcome Outcome        `json:"outcome"`
	Err     string         `json:"err,omitempty"`
}

// WriteHistory writes events to dir/history.jsonl atomically.
func WriteHistory(dir string, events []Event) error {
	path := filepath.Join(dir, HistoryFile)
	f, err := CreateTemp(dir, "."+HistoryFile+".tmp*")
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<16)
	enc := json.NewEncoder(w)
	for i := range events {
		if err = enc.Encode(&events[i]); err != nil {
			break
		}
	}
	if err == nil {
		err = w.Flush()
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// ReadHistory reads dir/history.jsonl.
func ReadHistory(dir string) ([]Event, error) {
	f, err := os.Open(filepath.Join(dir, HistoryFile))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return DecodeHistory(f)
}

// DecodeHistory decodes JSON-lines events from r, reporting the line of the
// first malformed one.
func DecodeHistory(r io.Reader) ([]Event, error) {
	var events []Event
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	for line := 1; sc.Scan(); line++ {
		b := sc.Bytes()
		if len(b) == 0 {
			continue
		}
		var e Event
		if err := json.Unmarshal(b, &e); err != nil {
			return nil, fmt.Errorf("%s line %d: %w", HistoryFile, line, err)
		}
		switch e.Outcome {
		case OK, Fail, Unknown:
		default:
			return nil, fmt.Errorf("%s line %d: bad outcome %q", HistoryFile, line, e.Outcome)
		}
		events = append(events, e)
	}
	return events, sc.Err()
}
