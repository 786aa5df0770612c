package etcd

import (
	"context"
	"errors"
	"fmt"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/kvbench/kvbench/impls"
)

// MaxWindow is how many requests one client keeps in flight: etcd's Go
// client multiplexes them over one gRPC connection.
const MaxWindow = 64

// dialTimeout bounds connecting one client.
const dialTimeout = 5 * time.Second

// client adapts etcd's KV API to impls.Client. Every kind maps to one etcd
// request, so each is atomic and linearizable as etcd's own are:
//   - GET: a Range of one key (etcd reads are linearizable by default);
//   - PUT: a Put with the previous key-value, so Found is known;
//   - SWAP: the same Put: etcd applies it and returns the previous value in
//     one raft entry, which is exactly a swap;
//   - DELETE: a DeleteRange of one key; Deleted says whether it existed;
//   - SCAN: a Range over [Key, End] (End inclusive: the range ends before
//     End+"\x00"), sorted by key.
type client struct {
	c *clientv3.Client
}

var _ impls.Client = (*client)(nil)

// dial opens one etcd client on endpoints.
func dial(ctx context.Context, endpoints []string) (*client, error) {
	c, err := clientv3.New(clientv3.Config{
		Endpoints: endpoints, DialTimeout: dialTimeout, Logger: zap.NewNop(), Context: context.WithoutCancel(ctx),
		// Without this a client keeps retrying a down member inside one
		// request; the driver's timeout decides instead.
		AutoSyncInterval: 0,
	})
	if err != nil {
		return nil, fmt.Errorf("etcd %v: %w", endpoints, err)
	}
	return &client{c: c}, nil
}

// Do executes req. A failed read is a definite failure (it changed
// nothing); a failed write may have been committed before the answer was
// lost, so its outcome is unknown.
func (cl *client) Do(ctx context.Context, req impls.Request) (impls.Response, error) {
	switch req.Kind {
	case impls.Get:
		r, err := cl.c.Get(ctx, req.Key)
		if err != nil {
			return impls.Response{}, fmt.Errorf("etcd get: %w", err)
		}
		if len(r.Kvs) == 0 {
			return impls.Response{Found: impls.Absent}, nil
		}
		return impls.Response{Found: impls.Present, Value: string(r.Kvs[0].Value)}, nil
	case impls.Put, impls.Swap:
		r, err := cl.c.Put(ctx, req.Key, req.Value, clientv3.WithPrevKV())
		if err != nil {
			return impls.Response{}, unknown("put", err)
		}
		if r.PrevKv == nil {
			return impls.Response{Found: impls.Absent}, nil
		}
		resp := impls.Response{Found: impls.Present}
		if req.Kind == impls.Swap {
			resp.Value = string(r.PrevKv.Value)
		}
		return resp, nil
	case impls.Delete:
		r, err := cl.c.Delete(ctx, req.Key)
		if err != nil {
			return impls.Response{}, unknown("delete", err)
		}
		return impls.Response{Found: impls.FoundOf(r.Deleted > 0)}, nil
	case impls.Scan:
		r, err := cl.c.Get(ctx, req.Key, clientv3.WithRange(req.End+"\x00"),
			clientv3.WithSort(clientv3.SortByKey, clientv3.SortAscend))
		if err != nil {
			return impls.Response{}, fmt.Errorf("etcd scan: %w", err)
		}
		pairs := make([]impls.Pair, len(r.Kvs))
		for i, kv := range r.Kvs {
			pairs[i] = impls.Pair{Key: string(kv.Key), Value: string(kv.Value)}
		}
		return impls.Response{Pairs: pairs}, nil
	}
	return impls.Response{}, fmt.Errorf("etcd: %s: %w", req.Kind, impls.ErrUnsupported)
}

// unknown wraps a write's error: etcd may have committed it.
func unknown(op string, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("etcd %s: %w", op, err) // impls.IsUnknown already says so
	}
	return fmt.Errorf("etcd %s: %w: %w", op, impls.ErrUnknownOutcome, err)
}

// Close closes the client; a second Close is harmless.
func (cl *client) Close() error {
	if err := cl.c.Close(); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}
