// Package madkvline speaks MadKV's client stdin/stdout protocol (the UW-Madison
// CS 739 runner's contract, ../shared/specs/madkv.md) in both directions:
//
//   - the client side, for `kvbench client NAME`: Serve reads request lines,
//     executes each on an impls.Client and writes the replies;
//   - the runner side, for the exec: target: AppendRequest writes a request
//     line and ReplyReader reads and checks the reply.
//
// # Lines
//
// A request is one line; tokens are separated by any run of ASCII whitespace
// (space, tab, CR, VT, FF); blank lines are skipped. Keys and values are any
// non-empty run of non-whitespace bytes; lines may be up to MaxLine bytes
// (64 MiB), so 1 MiB values are fine.
//
//	PUT k v      ->  PUT k found | PUT k not_found
//	SWAP k v     ->  SWAP k old  | SWAP k null
//	GET k        ->  GET k v     | GET k null
//	DELETE k     ->  DELETE k found | DELETE k not_found
//	SCAN k1 k2   ->  SCAN k1 k2 BEGIN, one "  k v" line per present key, SCAN END
//	STOP         ->  STOP, then the client exits
//
// Request kinds are accepted in any case; replies are written and read in
// upper case.
//
// # What the protocol cannot say, and kvbench's extensions
//
//   - A value that is literally "null" cannot be told from "not found": a GET
//     or SWAP reply "null" always reads back as Absent. kvbench's fuzzer never
//     writes it.
//   - A scan entry with key "SCAN" and value "END" would be read as the end of
//     the scan (the runner recognizes the end as the trimmed line "SCAN END"):
//     AppendReply refuses to write it (ErrUnrepresentable).
//   - A store whose protocol does not say whether a PUT or DELETE found the
//     key (memcached's set, shm's put) is answered "PUT k unknown"; ReplyReader
//     reads it as Found Unknown. The course's runner does not know this token
//     and cannot read it as found or not_found, which is the truth: such a
//     store cannot answer its question. (`kvbench client memkv` executes PUT
//     as a swap so it always knows, unless run with --put set.)
//
// # Errors
//
// An operation that fails is answered with one line
//
//	ERROR <class> <message>
//
// class "unsupported" (the store has no such operation; nothing happened),
// "failed" (it certainly did not happen), "unknown" (it may have happened:
// the connection broke mid-request, a timeout), or "malformed" (the request
// line could not be parsed; nothing happened). ServeLog also writes the
// message to stderr. No valid reply starts with "ERROR", so a runner cannot
// mistake it for success: a strict runner such as the course's cannot parse
// it as any reply, and ReplyReader returns a *ClientError wrapping
// impls.ErrUnsupported, ErrFailed, impls.ErrUnknownOutcome or ErrRejected
// respectively. The client keeps serving after an ERROR reply.
package madkvline
