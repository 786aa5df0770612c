// Package execclient is the exec:'<command>' target: it drives any client
// binary that speaks MadKV's stdin/stdout protocol (package madkvline), one
// process per simulated client, e.g.
//
//	kvbench run  --target exec:'kvbench client memkv 127.0.0.1:11311' --workload a -n 4
//	kvbench fuzz --target exec:'./client 127.0.0.1:3777' --serve './server 127.0.0.1:3777' --crash
//
// The package owns:
//   - Target, the registry entry: its Impl lists all five kinds (the client
//     may answer any; a kind it lacks is answered "ERROR unsupported", i.e.
//     impls.ErrUnsupported) and a window of one (the protocol is synchronous;
//     use -n for concurrency);
//   - the client processes: `/bin/sh -c 'exec <command>'` (a first word
//     "kvbench" is the running kvbench binary), each in its own process
//     group, killed with kvbench (Pdeathsig), with KVBENCH_CLIENT_ID (0-based)
//     and KVBENCH_CLIENTS in its environment and its stderr sent to the run's
//     server log. Per-op latency is the round trip through the pipes;
//   - the --serve processes (impls/proc, one process group each), exposed as
//     Nodes with role "server" so the nemesis can crash and pause them. One is
//     ready once it is alive and a process of its group listens on a TCP
//     socket or has bound a UDP socket (read from /proc), so a server that
//     cannot bind because something else holds its port never passes
//     readiness; one that exits first fails Open with the tail of its output.
//
// # Failures
//
// Every error of Do is an *Error naming the client (id and pid) and wrapping
// the cause, which names the request and, for a bad reply, the line:
//   - a request the protocol cannot carry (whitespace in a key) is never
//     sent: madkvline.ErrUnrepresentable, a definite failure;
//   - an ERROR reply keeps the process: its class says unsupported, failed,
//     rejected or unknown (madkvline.ClientError);
//   - a malformed reply (madkvline.ReplyError) puts the stream out of step,
//     so the process is killed and a new one is started on the next Do. The
//     error wraps madkvline.ErrMalformed, and impls.ErrUnknownOutcome too for
//     PUT, SWAP and DELETE, which the client may have executed before
//     printing nonsense; a GET or SCAN changed nothing, so it is a definite
//     failure the checker drops;
//   - no reply within TargetEnv.OpTimeout (default 10 s), the client's exit,
//     or ctx ending mid-request: impls.ErrUnknownOutcome, with the exit
//     status and the tail of the client's stderr where there is one; the
//     process is killed and restarted on the next Do, and the run goes on;
//   - a client process that exited while idle is restarted before the next
//     request is written, so no request is lost to it; a request that could
//     not be written at all (the pipe was already closed) is a definite
//     failure.
//
// Close sends STOP, waits up to 2 s for the echo and for the exit, then
// kills the process group.
package execclient
