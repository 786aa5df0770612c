// Package memkv is seed 004: memkv, a durable key-value server speaking
// memcached's ASCII protocol, and the memcached adapter that drives it and
// any real memcached.
//
// The package owns:
//   - the server (`kvbench serve memkv`): a sharded in-memory map (one
//     RWMutex per shard, no global lock on reads or writes except the log
//     buffer append), memcached 1.6's text protocol with its exact response
//     lines, optional LRU bound on items/bytes;
//   - durability: an append-only log with group commit (--fsync
//     always|interval|never), JSON Lines snapshots written by compaction,
//     and recovery that stops at the first torn record (see log.go and
//     snapshot.go for the formats);
//   - the adapter (Dial, Client) used for memkv and for --target
//     memcached://host:port (ParseTarget, NewTargetCluster);
//   - memkv's registry entry (Impl): kinds, claims, Serve and Start.
package memkv
