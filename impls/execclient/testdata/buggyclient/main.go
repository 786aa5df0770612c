// Command buggyclient is a deliberately buggy MadKV stdin/stdout client for
// the bundled madkv server, used by buggy_test.go to show that kvbench fuzz
// catches each bug through exec:. Usage: buggyclient MODE ADDR, MODE one of
//
//   - correct: no bug (the control);
//   - stale: serves a GET from its own cache of the values it has read or
//     written, so it never sees other clients' writes;
//   - scanend: drops the end key from a SCAN's answer (an exclusive end);
//   - retry: "reconnects" after every third PUT and sends it again, a new
//     request the server cannot tell from the first, and reports the second
//     answer, which is always found.
package main

import (
	"bufio"
	"context"
	"fmt"
	"os"

	"github.com/kvbench/kvbench/impls"
	"github.com/kvbench/kvbench/impls/madkv"
	"github.com/kvbench/kvbench/impls/madkvline"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: buggyclient correct|stale|scanend|retry ADDR")
		os.Exit(2)
	}
	mode, addr := os.Args[1], os.Args[2]
	ctx := context.Background()
	c, err := madkv.Dial(ctx, addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer c.Close()
	cache := map[string]string{}
	puts := 0
	in := bufio.NewReaderSize(os.Stdin, 1<<20)
	out := bufio.NewWriter(os.Stdout)
	for {
		line, err := in.ReadBytes('\n')
		if err != nil {
			return
		}
		req, stop, err := madkvline.ParseRequest(line)
		if err != nil {
			continue
		}
		if stop {
			out.WriteString("STOP\n")
			out.Flush()
			return
		}
		var resp impls.Response
		if v, ok := cache[req.Key]; mode == "stale" && req.Kind == impls.Get && ok {
			resp = impls.Response{Found: impls.Present, Value: v}
		} else if resp, err = c.Do(ctx, req); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		switch {
		case mode == "stale":
			switch req.Kind {
			case impls.Get:
				if resp.Found == impls.Present {
					cache[req.Key] = resp.Value
				}
			case impls.Put, impls.Swap:
				cache[req.Key] = req.Value
			case impls.Delete:
				delete(cache, req.Key)
			}
		case mode == "scanend" && req.Kind == impls.Scan:
			if n := len(resp.Pairs); n > 0 && resp.Pairs[n-1].Key == req.End {
				resp.Pairs = resp.Pairs[:n-1]
			}
		case mode == "retry" && req.Kind == impls.Put:
			if puts++; puts%3 == 0 {
				if resp, err = c.Do(ctx, req); err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(1)
				}
			}
		}
		b, err := madkvline.FormatReply(req, resp)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		out.Write(b)
		out.Flush()
	}
}
