package memkv

import "time"

// Group commit (FsyncAlways): the flusher's linger for company and the
// accounting it decides on (wal.active, wal.waiters).

// waiter is a goroutine in waitWritten, waiting for the log up to pos.
type waiter struct {
	pos      int64
	released bool // publish covered pos and took it off waitList
}

// maxLinger bounds how long a group commit waits for more records.
const maxLinger = 500 * time.Microsecond

// linger is group commit's wait for company (FsyncAlways). The flusher
// took a batch of records (data, up to pos) while other connections are
// handling requests and not yet waiting for the log: one of them may be
// about to append a record, which this fsync could then cover instead of
// the next one. It waits for such records, taking each into the batch,
// while someone is still active and not waiting, for at most half an
// average fsync (and maxLinger). With one client (or every active
// connection already waiting for this batch) it does not wait at all, so
// a lone writer's latency is unchanged; under concurrency fewer fsyncs
// carry more records each, which is what saves CPU and disk time. It
// returns the grown batch, and stopping if the log is being closed.
func (w *wal) linger(data []byte, pos int64, t *time.Timer) ([]byte, int64, bool) {
	if w.active.Load() <= w.waiters.Load() {
		return data, pos, false
	}
	budget := min(time.Duration(w.syncNanos.Load()/2), maxLinger)
	if budget <= 0 {
		return data, pos, false
	}
	w.lingers.Add(1)
	deadline := time.Now().Add(budget)
	t.Reset(budget)
	w.lingering.Store(true)
	defer func() {
		w.lingering.Store(false)
		t.Stop()
	}()
	for w.active.Load() > w.waiters.Load() {
		stopping := false
		select {
		case <-w.kick:
		case <-t.C:
			return w.take(data, pos)
		case <-w.stop:
			stopping = true
		}
		data, pos, _ = w.take(data, pos)
		if stopping {
			return data, pos, true
		}
		if !time.Now().Before(deadline) {
			break
		}
	}
	return data, pos, false
}

// nudge wakes a lingering flusher to look at active and waiters again: a
// connection went idle or started waiting for the log.
func (w *wal) nudge() {
	if w.lingering.Load() {
		select {
		case w.kick <- struct{}{}:
		default:
		}
	}
}

// take appends the records buffered since data was taken to it.
func (w *wal) take(data []byte, pos int64) ([]byte, int64, bool) {
	w.mu.Lock()
	if len(w.buf) > 0 {
		data = append(data, w.buf...)
		pos = w.appended
		w.buf = w.buf[:0]
	}
	w.mu.Unlock()
	return data, pos, false
}
