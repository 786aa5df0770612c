// Package memkv is seed 004: memkv, a durable key-value server speaking
// memcached's ASCII protocol, and the memcached adapter that drives it and
// any real memcached.
//
// The package owns:
//   - the server (`kvbench serve memkv`, Server): memcached 1.6's text
//     protocol with its exact response lines (protocol.go lists the few
//     deliberate differences), served by epoll event loops like
//     memcached's worker threads (loop.go; --loop go serves a goroutine per
//     connection instead), and a map split
//     into 256 shards with one RWMutex each. Reads and writes of different
//     shards never contend; the one shared lock on the write path is the
//     log buffer's, held for a copy of the record;
//   - an optional bound (--max-items, --max-bytes): when the store is over
//     it, the least recently used entry of the written shard is evicted
//     (other shards' when that one has nothing else), an approximation of
//     a global LRU; evictions are logged like deletes;
//   - durability: an append-only log with group commit (--fsync
//     always|interval|never), JSON Lines snapshots written by compaction,
//     and recovery that stops at the first torn record (log.go and
//     snapshot.go describe the formats). With --fsync always no answer,
//     read or write, leaves the server before the log records it depends
//     on are fsynced. When the log cannot be written (disk full, I/O
//     error) the server keeps running: writes are answered SERVER_ERROR,
//     reads of durable data are served, and the log retries until space
//     returns; a snapshot that fails leaves the log untouched;
//   - bounded memory per connection (conn.go): at most --conn-limit
//     connections (memcached's -c, default 1024), data blocks that grow
//     as their bytes arrive, charged with long multi-get lines to one
//     in-flight budget (--max-inflight-bytes, default 64 MiB; beyond it
//     SERVER_ERROR out of memory), large values sent from the store by
//     reference and large multi-get answers sent as they are built, so a
//     slow reader holds no copies. Replies are flushed whenever the server
//     is about to block on a read;
//   - the adapter (Dial, Client) used for memkv and for --target
//     memcached://host:port (ParseTarget, NewTargetCluster);
//   - memkv's registry entry (Impl): kinds, claims, Serve and Start.
package memkv
