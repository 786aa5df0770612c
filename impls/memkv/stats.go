package memkv

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"
)

// counters are the server's statistics, as `stats` names them.
type counters struct {
	currConns, totalConns                      atomic.Int64
	rejectedConns                              atomic.Uint64
	cmdGet, cmdSet, cmdFlush, cmdTouch         atomic.Uint64
	getHits, getMisses                         atomic.Uint64
	deleteHits, deleteMisses                   atomic.Uint64
	incrHits, incrMisses, decrHits, decrMisses atomic.Uint64
	casHits, casMisses, casBadval              atomic.Uint64
	touchHits, touchMisses                     atomic.Uint64
	storeTooLarge, bytesRead, bytesWritten     atomic.Uint64
}

func (st *counters) resettable() []*atomic.Uint64 {
	return []*atomic.Uint64{&st.cmdGet, &st.cmdSet, &st.cmdFlush, &st.cmdTouch, &st.getHits, &st.getMisses,
		&st.deleteHits, &st.deleteMisses, &st.incrHits, &st.incrMisses, &st.decrHits, &st.decrMisses,
		&st.casHits, &st.casMisses, &st.casBadval, &st.touchHits, &st.touchMisses, &st.storeTooLarge,
		&st.bytesRead, &st.bytesWritten}
}

// stats answers `stats`, `stats reset`, `stats settings`, and an empty
// listing for the slab-oriented subcommands memkv has no equivalent of.
func (c *conn) stats(nt int) {
	if nt == 2 {
		c.generalStats()
		return
	}
	switch string(c.toks[1]) {
	case "reset":
		for _, p := range c.srv.stats.resettable() {
			p.Store(0)
		}
		c.srv.store.evictions.Store(0)
		c.reply("RESET", 0)
	case "settings":
		s := c.srv
		c.stat("maxbytes", strconv.FormatInt(s.cfg.MaxBytes, 10))
		c.stat("item_size_max", strconv.Itoa(s.cfg.MaxValueSize))
		c.stat("evictions", onOff(s.store.bounded))
		c.stat("cas_enabled", "yes")
		c.stat("flush_enabled", "yes")
		c.stat("maxconns", strconv.Itoa(s.cfg.MaxConns))
		c.stat("max_inflight_bytes", strconv.FormatInt(s.cfg.MaxInflightBytes, 10))
		c.stat("num_shards", strconv.Itoa(len(s.store.shards)))
		c.stat("data_dir", orNull(s.cfg.DataDir))
		c.stat("fsync", s.cfg.Fsync.String())
		c.stat("compact_bytes", strconv.FormatInt(s.cfg.CompactBytes, 10))
		c.out = append(c.out, "END\r\n"...)
	case "items", "slabs", "sizes", "conns":
		c.out = append(c.out, "END\r\n"...)
	case "detail":
		switch {
		case nt >= 4 && (string(c.toks[2]) == "on" || string(c.toks[2]) == "off"):
			c.reply("OK", 0)
		case nt >= 4 && string(c.toks[2]) == "dump":
			// memkv keeps no per-prefix statistics: memcached's dump with
			// nothing collected.
			c.out = append(c.out, "END\r\n"...)
		default:
			c.reply("CLIENT_ERROR usage: stats detail on|off|dump", 0)
		}
	default:
		c.reply("ERROR", 0)
	}
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

func orNull(s string) string {
	if s == "" {
		return "NULL"
	}
	return s
}

func (c *conn) stat(name, val string) {
	c.out = append(c.out, "STAT "...)
	c.out = append(c.out, name...)
	c.out = append(c.out, ' ')
	c.out = append(c.out, val...)
	c.out = append(c.out, "\r\n"...)
}

func (c *conn) generalStats() {
	s, st := c.srv, c.srv.stats
	u := func(name string, v uint64) { c.stat(name, strconv.FormatUint(v, 10)) }
	i := func(name string, v int64) { c.stat(name, strconv.FormatInt(v, 10)) }
	now := time.Now()
	i("pid", int64(os.Getpid()))
	i("uptime", int64(now.Sub(s.started)/time.Second))
	i("time", now.Unix())
	c.stat("version", Version)
	i("pointer_size", 64)
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		c.stat("rusage_user", fmt.Sprintf("%d.%06d", ru.Utime.Sec, ru.Utime.Usec))
		c.stat("rusage_system", fmt.Sprintf("%d.%06d", ru.Stime.Sec, ru.Stime.Usec))
	}
	i("curr_connections", st.currConns.Load())
	i("max_connections", int64(s.cfg.MaxConns))
	i("total_connections", st.totalConns.Load())
	u("rejected_connections", st.rejectedConns.Load())
	u("cmd_get", st.cmdGet.Load())
	u("cmd_set", st.cmdSet.Load())
	u("cmd_flush", st.cmdFlush.Load())
	u("cmd_touch", st.cmdTouch.Load())
	u("get_hits", st.getHits.Load())
	u("get_misses", st.getMisses.Load())
	u("delete_misses", st.deleteMisses.Load())
	u("delete_hits", st.deleteHits.Load())
	u("incr_misses", st.incrMisses.Load())
	u("incr_hits", st.incrHits.Load())
	u("decr_misses", st.decrMisses.Load())
	u("decr_hits", st.decrHits.Load())
	u("cas_misses", st.casMisses.Load())
	u("cas_hits", st.casHits.Load())
	u("cas_badval", st.casBadval.Load())
	u("touch_hits", st.touchHits.Load())
	u("touch_misses", st.touchMisses.Load())
	u("store_too_large", st.storeTooLarge.Load())
	u("bytes_read", st.bytesRead.Load()+uint64(c.nread))
	u("bytes_written", st.bytesWritten.Load())
	i("limit_maxbytes", s.cfg.MaxBytes)
	i("threads", int64(runtime.GOMAXPROCS(0)))
	i("bytes", s.store.nBytes.Load())
	i("curr_items", s.store.nItems.Load())
	u("total_items", s.store.total.Load())
	u("evictions", s.store.evictions.Load())
	if w := s.wal; w != nil {
		u("log_bytes_written", w.written.Load())
		u("log_fsyncs", w.fsyncs.Load())
		u("log_records", w.records.Load())
		u("log_group_lingers", w.lingers.Load())
		u("snapshots", s.snaps.Load())
		u("log_failures", w.failures.Load())
		c.stat("log_writable", onOff(!w.failing.Load()))
	}
	c.out = append(c.out, "END\r\n"...)
}
