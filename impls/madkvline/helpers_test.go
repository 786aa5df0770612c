package madkvline

import (
	"bufio"
	"context"
	"errors"
	"io"
	"sort"

	"github.com/kvbench/kvbench/impls"
)

// mapClient is an in-memory store that answers every kind exactly, except
// the keys listed in fail, whose requests fail with that error.
type mapClient struct {
	m    map[string]string
	fail map[string]error
	// unknownFound makes Put and Delete answer Found Unknown (memcached-like).
	unknownFound bool
}

var _ impls.Client = (*mapClient)(nil)

func newMapClient() *mapClient {
	return &mapClient{m: map[string]string{}, fail: map[string]error{}}
}

func (c *mapClient) Do(ctx context.Context, req impls.Request) (impls.Response, error) {
	if err := c.fail[req.Key]; err != nil {
		return impls.Response{}, err
	}
	old, ok := c.m[req.Key]
	switch req.Kind {
	case impls.Get:
		return impls.Response{Found: impls.FoundOf(ok), Value: old}, nil
	case impls.Put:
		c.m[req.Key] = req.Value
		if c.unknownFound {
			return impls.Response{}, nil
		}
		return impls.Response{Found: impls.FoundOf(ok)}, nil
	case impls.Swap:
		c.m[req.Key] = req.Value
		return impls.Response{Found: impls.FoundOf(ok), Value: old}, nil
	case impls.Delete:
		delete(c.m, req.Key)
		if c.unknownFound {
			return impls.Response{}, nil
		}
		return impls.Response{Found: impls.FoundOf(ok)}, nil
	case impls.Scan:
		var resp impls.Response
		for k, v := range c.m {
			if req.Key <= k && k <= req.End {
				resp.Pairs = append(resp.Pairs, impls.Pair{Key: k, Value: v})
			}
		}
		sort.Slice(resp.Pairs, func(i, j int) bool { return resp.Pairs[i].Key < resp.Pairs[j].Key })
		return resp, nil
	}
	return impls.Response{}, errors.New("bad kind")
}

func (c *mapClient) Close() error { return nil }

func newBufReader(r io.Reader, size int) *bufio.Reader { return bufio.NewReaderSize(r, size) }
