package istkvs

import "context"

// RunBatchWithBugs is RunBatch on a server with deliberate defects, for
// the external tests that show the checkers catch them.
func RunBatchWithBugs(ctx context.Context, dir string, threads, backups int, splitRead bool) (BatchResult, error) {
	return runBatch(ctx, Config{Dir: dir, Threads: threads, Backups: backups, bugs: bugs{splitRead: splitRead}})
}
