package conformance

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/kvbench/kvbench/impls"
)

// The data cases share one cluster; each writes only keys under its own
// prefix, so a scan's range holds no other case's keys.

func caseGetAfterPut(t *testing.T, h *harness, c impls.Cluster) {
	cl := h.client(t, c, 0)
	v1, v2 := h.val("first"), h.val("second")
	h.put(t, cl, "gap/k", v1, impls.Absent)
	h.get(t, cl, "gap/k", v1, impls.Present)
	h.put(t, cl, "gap/k", v2, impls.Present) // overwrite
	h.get(t, cl, "gap/k", v2, impls.Present)
	// Another client sees the same value.
	h.get(t, h.client(t, c, 1), "gap/k", v2, impls.Present)
}

func caseGetAbsent(t *testing.T, h *harness, c impls.Cluster) {
	cl := h.client(t, c, 0)
	h.get(t, cl, "abs/never-written", "", impls.Absent)
	h.put(t, cl, "abs/neighbour", h.val("x"), impls.Absent) // a neighbour does not make it present
	h.get(t, cl, "abs/never-written", "", impls.Absent)
}

// caseFound checks Found for each mutating kind, Present or Absent where the
// protocol says and Unknown where it does not.
func caseFound(t *testing.T, h *harness, c impls.Cluster) {
	cl := h.client(t, c, 0)
	h.put(t, cl, "fnd/k", h.val("1"), impls.Absent)
	h.put(t, cl, "fnd/k", h.val("2"), impls.Present)
	if !h.s.Impl.Supports(impls.Delete) {
		return
	}
	h.expect(t, cl, impls.Request{Kind: impls.Delete, Key: "fnd/k"}, impls.Response{Found: h.found(impls.Delete, impls.Present)})
	h.expect(t, cl, impls.Request{Kind: impls.Delete, Key: "fnd/k"}, impls.Response{Found: h.found(impls.Delete, impls.Absent)})
	h.put(t, cl, "fnd/k", h.val("3"), impls.Absent) // absent again after the delete
	h.expect(t, cl, impls.Request{Kind: impls.Delete, Key: "fnd/never"}, impls.Response{Found: h.found(impls.Delete, impls.Absent)})
}

func caseSwap(t *testing.T, h *harness, c impls.Cluster) {
	if !h.s.Impl.Supports(impls.Swap) {
		t.Skipf("%s lists no Swap (the unsupported case checks it refuses one)", h.s.Name)
	}
	cl := h.client(t, c, 0)
	v1, v2, v3 := h.val("one"), h.val("two"), h.val("three")
	swap := func(v string, want impls.Response) {
		t.Helper()
		h.expect(t, cl, impls.Request{Kind: impls.Swap, Key: "swp/k", Value: v}, want)
	}
	swap(v1, impls.Response{Found: impls.Absent})
	h.get(t, cl, "swp/k", v1, impls.Present)
	swap(v2, impls.Response{Found: impls.Present, Value: v1})
	swap(v2, impls.Response{Found: impls.Present, Value: v2}) // same value again
	h.get(t, cl, "swp/k", v2, impls.Present)
	h.put(t, cl, "swp/k", v3, impls.Present)
	swap(v1, impls.Response{Found: impls.Present, Value: v3}) // sees a put's value
	if h.s.Impl.Supports(impls.Delete) {
		h.expect(t, cl, impls.Request{Kind: impls.Delete, Key: "swp/k"}, impls.Response{Found: h.found(impls.Delete, impls.Present)})
		swap(v2, impls.Response{Found: impls.Absent}) // nothing to return after a delete
		h.get(t, cl, "swp/k", v2, impls.Present)
	}
}

func caseDelete(t *testing.T, h *harness, c impls.Cluster) {
	if !h.s.Impl.Supports(impls.Delete) {
		t.Skipf("%s lists no Delete (the unsupported case checks it refuses one)", h.s.Name)
	}
	cl := h.client(t, c, 0)
	h.put(t, cl, "del/k", h.val("v"), impls.Absent)
	h.put(t, cl, "del/other", h.val("w"), impls.Absent)
	h.expect(t, cl, impls.Request{Kind: impls.Delete, Key: "del/k"}, impls.Response{Found: h.found(impls.Delete, impls.Present)})
	h.get(t, cl, "del/k", "", impls.Absent)
	h.get(t, h.client(t, c, 1), "del/k", "", impls.Absent)
	h.get(t, cl, "del/other", h.val("w"), impls.Present) // only the named key goes
	h.put(t, cl, "del/k", h.val("again"), impls.Absent)
	h.get(t, cl, "del/k", h.val("again"), impls.Present)
}

// caseScan: both ends inclusive, sorted, keys just outside either end and
// deleted keys excluded.
func caseScan(t *testing.T, h *harness, c impls.Cluster) {
	if !h.s.Impl.Supports(impls.Scan) {
		t.Skipf("%s lists no Scan (the unsupported case checks it refuses one)", h.s.Name)
	}
	cl := h.client(t, c, 0)
	vals := map[string]string{}
	// Written out of order; "scn/b" and "scn/d" are the range's ends,
	// "scn/az" and "scn/d0" lie just outside them.
	for _, k := range []string{"scn/d", "scn/a", "scn/c", "scn/e", "scn/b0", "scn/az", "scn/b", "scn/d0"} {
		vals[k] = h.val("v-" + k)
		h.put(t, cl, k, vals[k], impls.Absent)
	}
	scan := func(lo, hi string, keys ...string) {
		t.Helper()
		want := impls.Response{}
		for _, k := range keys {
			want.Pairs = append(want.Pairs, impls.Pair{Key: k, Value: vals[k]})
		}
		h.expect(t, cl, impls.Request{Kind: impls.Scan, Key: lo, End: hi}, want)
	}
	scan("scn/b", "scn/d", "scn/b", "scn/b0", "scn/c", "scn/d")
	scan("scn/c", "scn/c", "scn/c") // a one-key range
	scan("scn/c0", "scn/c9")        // a range with no key
	scan("scn/", "scn/~", "scn/a", "scn/az", "scn/b", "scn/b0", "scn/c", "scn/d", "scn/d0", "scn/e")
	if h.s.Impl.Supports(impls.Delete) {
		h.expect(t, cl, impls.Request{Kind: impls.Delete, Key: "scn/c"}, impls.Response{Found: h.found(impls.Delete, impls.Present)})
		scan("scn/b", "scn/d", "scn/b", "scn/b0", "scn/d")
	}
	vals["scn/b"] = h.val("updated")
	h.put(t, cl, "scn/b", vals["scn/b"], impls.Present)
	scan("scn/b", "scn/b", "scn/b")
}

// sample is a request of each kind, for the unsupported case.
func (h *harness) sample(k impls.Kind) impls.Request {
	switch k {
	case impls.Put, impls.Swap:
		return impls.Request{Kind: k, Key: "uns/" + k.String(), Value: h.val("v")}
	case impls.Scan:
		return impls.Request{Kind: k, Key: "uns/", End: "uns/~"}
	default:
		return impls.Request{Kind: k, Key: "uns/" + k.String()}
	}
}

// caseUnsupported: ErrUnsupported (and nothing else) for each kind the
// store does not list, never for one it lists; the client keeps working.
func caseUnsupported(t *testing.T, h *harness, c impls.Cluster) {
	cl := h.client(t, c, 0)
	for k := impls.Kind(0); k < impls.NumKinds; k++ {
		req := h.sample(k)
		_, err := try(cl, req)
		switch {
		case h.s.Impl.Supports(k) && err != nil:
			t.Errorf("%s lists %v, but %s: %s: %v", h.s.Name, k, show(req), outcome(err), err)
		case !h.s.Impl.Supports(k) && !errors.Is(err, impls.ErrUnsupported):
			t.Errorf("%s does not list %v, so %s must fail with ErrUnsupported; got %s: %v", h.s.Name, k, show(req), outcome(err), err)
		case !h.s.Impl.Supports(k) && errors.Is(err, impls.ErrUnknownOutcome):
			t.Errorf("%s: %s: ErrUnsupported must be a definite failure, not also an unknown outcome: %v", h.s.Name, show(req), err)
		}
		// Whatever the kind, the client still answers.
		h.put(t, cl, "uns/probe", h.val(k.String()), h.probeFound(k))
		h.get(t, cl, "uns/probe", h.val(k.String()), impls.Present)
	}
}

// probeFound is whether uns/probe existed before the unsupported case's
// probe after trying kind k: absent only before the first probe.
func (h *harness) probeFound(k impls.Kind) impls.Found {
	if k == 0 {
		return impls.Absent
	}
	return impls.Present
}

// valueShapes are the values the suite writes, by name. Token-only
// subjects skip those marked space.
func (h *harness) valueShapes() []struct {
	name, v string
	space   bool
} {
	maxSize := h.s.MaxValueSize
	if maxSize == 0 {
		maxSize = defaultMaxValueSize
	}
	var bin strings.Builder
	for i := 0; i < 256; i++ {
		bin.WriteByte(byte(i))
	}
	shapes := []struct {
		name, v string
		space   bool
	}{
		{"short", "v", false},
		{"empty", "", true},
		{"digits", "4294967295", false},
		{"zero", "0", false},
		{"punctuation", "a_b=c,d;e:f/g\\h\"i'j{k}[l]~" + "\x7f", false},
		{"utf-8", "héllo-世界-🙂", false},
		{"every byte", bin.String(), true},
		{"crlf inside", "line1\r\nEND\r\nline3", true},
		{"1 KiB", pattern(1 << 10), false},
		{"64 KiB", pattern(64 << 10), false},
		{"max", pattern(maxSize), false},
	}
	out := shapes[:0]
	for _, s := range shapes {
		if (s.space && h.s.TokenValues) || len(s.v) > maxSize || (h.s.NoNUL && strings.IndexByte(s.v, 0) >= 0) {
			continue
		}
		out = append(out, s)
	}
	return out
}

// pattern is n non-whitespace bytes that differ along their length, so a
// truncated or shifted value does not read back equal.
func pattern(n int) string {
	var b strings.Builder
	b.Grow(n)
	for i := 0; b.Len() < n; i++ {
		b.WriteString(strconv.Itoa(i))
		b.WriteByte('.')
	}
	return b.String()[:n]
}

// caseValues writes every value shape the store accepts and reads it back
// exactly (its canonical form, for a store that stores one).
func caseValues(t *testing.T, h *harness, c impls.Cluster) {
	cl := h.client(t, c, 0)
	for i, s := range h.valueShapes() {
		t.Run(s.name, func(t *testing.T) {
			key := fmt.Sprintf("val/%d", i)
			v := h.val(s.v)
			h.put(t, cl, key, v, impls.Absent)
			h.get(t, cl, key, v, impls.Present)
			if h.s.Impl.Supports(impls.Swap) {
				h.expect(t, cl, impls.Request{Kind: impls.Swap, Key: key, Value: h.val("next")},
					impls.Response{Found: impls.Present, Value: v})
			}
		})
	}
}

// caseKeys writes keys of several shapes; each reads back its own value.
func caseKeys(t *testing.T, h *harness, c impls.Cluster) {
	cl := h.client(t, c, 0)
	keys := []string{"key/a", "key/user6284781860667377211", "key/ü-世", "key/_=.,;:!@#$%^&*()",
		"key/" + strings.Repeat("k", 200), "key/A", "key/a0"}
	for i, k := range keys {
		h.put(t, cl, k, h.val("value-"+strconv.Itoa(i)), impls.Absent)
	}
	for i, k := range keys {
		h.get(t, cl, k, h.val("value-"+strconv.Itoa(i)), impls.Present)
	}
}

// caseWindow keeps the store's window of requests in flight on one
// client; every answer must be its own request's.
func caseWindow(t *testing.T, h *harness, c impls.Cluster) {
	w := h.window()
	if w < 2 {
		t.Skipf("%s: MaxWindow %d, the protocol cannot pipeline", h.s.Name, h.s.Impl.MaxWindow)
	}
	cl := h.client(t, c, 2)
	const rounds = 50
	// Fixed keys every worker reads: a misrouted answer shows as a value
	// of the wrong key.
	fixed := make([]string, w)
	for i := range fixed {
		fixed[i] = h.val(strconv.Itoa(1000 + i))
		h.put(t, cl, fmt.Sprintf("win/fixed%d", i), fixed[i], impls.Absent)
	}
	var wg sync.WaitGroup
	errs := make(chan string, w*rounds)
	startLine := make(chan struct{})
	for g := range w {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-startLine
			key := fmt.Sprintf("win/own%d", g)
			for r := range rounds {
				v := h.val(strconv.Itoa(1_000_000 + g*rounds + r + 1))
				want := h.found(impls.Put, impls.FoundOf(r > 0))
				if res, err := try(cl, impls.Request{Kind: impls.Put, Key: key, Value: v}); err != nil || !sameResponse(res, impls.Response{Found: want}) {
					errs <- fmt.Sprintf("worker %d: PUT %s %s = %s, %v", g, key, v, showResponse(res), err)
					return
				}
				if res, err := try(cl, impls.Request{Kind: impls.Get, Key: key}); err != nil || !sameResponse(res, impls.Response{Found: impls.Present, Value: v}) {
					errs <- fmt.Sprintf("worker %d: GET %s = %s, %v; want %s", g, key, showResponse(res), err, v)
					return
				}
				fk := (g + r) % w
				if res, err := try(cl, impls.Request{Kind: impls.Get, Key: fmt.Sprintf("win/fixed%d", fk)}); err != nil || !sameResponse(res, impls.Response{Found: impls.Present, Value: fixed[fk]}) {
					errs <- fmt.Sprintf("worker %d: GET win/fixed%d = %s, %v; want %s", g, fk, showResponse(res), err, fixed[fk])
					return
				}
			}
		}()
	}
	close(startLine)
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Errorf("%s with %d in flight on one client: %s", h.s.Name, w, e)
	}
}

// caseClose: Close twice on a client returns without panic, and a request
// after Close fails definitely (it was never sent).
func caseClose(t *testing.T, h *harness, c impls.Cluster) {
	ctx, cancel := contextFor(opTimeout)
	defer cancel()
	cl, err := c.NewClient(ctx, 3)
	if err != nil {
		t.Fatal(err)
	}
	h.put(t, cl, "cls/k", h.val("v"), impls.Absent)
	for i := 1; i <= 2; i++ {
		func() {
			defer func() {
				if p := recover(); p != nil {
					t.Errorf("%s: Close #%d panicked: %v", h.s.Name, i, p)
				}
			}()
			if err := cl.Close(); err != nil && i == 1 {
				t.Errorf("%s: first Close: %v", h.s.Name, err)
			}
		}()
	}
	if res, err := try(cl, impls.Request{Kind: impls.Get, Key: "cls/k"}); err == nil || impls.IsUnknown(err) {
		t.Errorf("%s: GET after Close = %s, %v (%s); want a definite failure", h.s.Name, showResponse(res), err, outcome(err))
	}
	// The cluster still serves other clients, and a reopened one.
	h.get(t, h.client(t, c, 3), "cls/k", h.val("v"), impls.Present)
}
