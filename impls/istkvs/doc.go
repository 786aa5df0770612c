// Package istkvs is seed 001: IST-KVS, the Lisbon operating-systems
// course's store (spec: shared/specs/istkvs.md), and the adapters that
// drive it and anyone's ./kvs.
//
// The package owns:
//   - the job syntax (parse.go: ParseLine, strict; format.go: the byte-exact
//     outputs and their parsers);
//   - the table (table.go): a B-tree behind a readers-writer lock, so every
//     command is atomic, and whose lazy copy-on-write Clone makes a backup's
//     snapshot O(1): writers wait only for the clone, never for the file;
//   - the server (server.go, `kvbench serve istkvs`): job discovery (`.job`
//     files, `.out` beside them, backups `<name up to '.'>-<n>.bck`),
//     max_threads job workers, at most max_backups backups at once (a
//     further BACKUP waits for a slot, then snapshots). Part 1 exits when
//     every job and backup is done; part 2 (a register fifo) and --watch
//     keep running and run every `.job` that appears. New files are found
//     with inotify's IN_CLOSE_WRITE and IN_MOVED_TO (watch.go says why not
//     fsnotify), with a rescan on overflow and every 2 s as a safety net; a
//     job version is run once;
//   - sessions (session.go): the register fifo (0600), a host goroutine
//     feeding a bounded buffer (a channel of S slots) served by S manager
//     goroutines, the binary protocol with raw result bytes, at most 10
//     subscriptions per session, notifications written by the writing
//     job's goroutine under the table's write lock (so in apply order; a
//     WRITE notifies each key's final value once), SIGUSR1 dropping every
//     session. Pipes are opened non-blocking and live in Go's poller, so a
//     client that dies or never opens its pipes costs a manager at most 5 s
//     and a writer at most NotifyTimeout (1 s), never the server;
//   - the client (client.go): Session (Connect, Subscribe, Unsubscribe,
//     Disconnect, Notifications) and `kvbench client istkvs ID FIFO`;
//   - the job adapter (adapter.go): JobCluster turns each request into a
//     one-command job file (written aside, renamed in) followed by
//     `READ [kvbench-end]`, whose output line marks the .out complete;
//     Impl.Start runs `kvbench serve istkvs --fifo ... DIR`.
package istkvs
