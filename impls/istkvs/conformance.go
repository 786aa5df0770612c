package istkvs

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// ConformanceCase is one job run alone in a fresh directory, as the
// course's runner does, with the files it must leave byte for byte.
type ConformanceCase struct {
	Name string
	Job  string            // the content of <Name>.job
	Args []string          // the two numbers after the directory
	Want map[string]string // file name -> exact content (.out and .bck)
}

// ConformanceCases are the built-in cases, modelled on the course's public
// tests (spec: "Cases modelled on the course's public tests"), plus the
// spec's sorting, DELETE and syntax rules. Every case passes the same
// numbers in both argument orders (1 1), except the backup case, run as
// `kvs dir 1 2` like the course's.
func ConformanceCases() []ConformanceCase {
	two := "WRITE [(a,anna)(b,bernardo)]\nWRITE [(d,dinis)(c,carlota)]\n"
	one := []string{"1", "1"}
	return []ConformanceCase{
		{"1", two + "READ [x,z,l,v]\nSHOW\nDELETE [c]\nREAD [c]\nSHOW\n", one, map[string]string{"1.out": "" +
			"[(l,KVSERROR)(v,KVSERROR)(x,KVSERROR)(z,KVSERROR)]\n(a, anna)\n(b, bernardo)\n(c, carlota)\n(d, dinis)\n" +
			"[(c,KVSERROR)]\n(a, anna)\n(b, bernardo)\n(d, dinis)\n"}},
		{"2", two + "DELETE [a,b,d]\nSHOW\n", one, map[string]string{"2.out": "(c, carlota)\n"}},
		{"3", strings.Repeat("WRITE [(b,beatriz)(b,bernardo)(b,bruno)(b,benicio)(b,berenice)]\n", 2) + "SHOW\n", one,
			map[string]string{"3.out": "(b, berenice)\n"}},
		{"9", "WRITE [(ola,adeus)(adeus,ola)]\nBACKUP\nSHOW\n", []string{"1", "2"},
			map[string]string{"9.out": "(adeus, ola)\n(ola, adeus)\n", "9-1.bck": "(adeus, ola)\n(ola, adeus)\n"}},
		{"read-sorted", "WRITE [(k2,b)(k10,c)(K,d)]\nREAD [k2,zz,k10,K]\n", one,
			map[string]string{"read-sorted.out": "[(K,d)(k10,c)(k2,b)(zz,KVSERROR)]\n"}},
		{"delete-missing", "WRITE [(a,1)]\nDELETE [c2,a,a,c1]\nDELETE [zz]\nSHOW\n", one,
			map[string]string{"delete-missing.out": "[(c2,KVSMISSING)(a,KVSMISSING)(c1,KVSMISSING)]\n[(zz,KVSMISSING)]\n"}},
		{"syntax", "# a comment\n\nWRITE [(a,1)] \nWRITE [(b,2)]\nbogus\nREAD [a,b]\nBACKUP\nWRITE [(c,3)]\nBACKUP\nREAD [c]", one,
			map[string]string{"syntax.out": "[(a,KVSERROR)(b,2)]\n[(c,3)]\n", "syntax-1.bck": "(b, 2)\n",
				"syntax-2.bck": "(b, 2)\n(c, 3)\n"}},
	}
}

// RunConformance runs every case with argv (a server's command line up to
// its directory argument, e.g. ["./kvs"]) as `argv... DIR N M` in a fresh
// directory, waits for it to exit (part 1), and compares every .out and
// .bck byte for byte, writing a diff for each mismatch to w. It returns how
// many cases failed.
func RunConformance(ctx context.Context, argv []string, w io.Writer) (int, error) {
	if len(argv) == 0 {
		return 0, fmt.Errorf("istkvs conformance: no command")
	}
	failed := 0
	for _, c := range ConformanceCases() {
		diff, err := runCase(ctx, argv, c)
		if err != nil {
			return failed, err
		}
		if diff != "" {
			failed++
			fmt.Fprintf(w, "--- case %s (%s DIR %s) differs:\n%s", c.Name, strings.Join(argv, " "), strings.Join(c.Args, " "), diff)
		} else {
			fmt.Fprintf(w, "ok  case %s\n", c.Name)
		}
	}
	return failed, nil
}

// caseTimeout bounds one case's server run.
const caseTimeout = 20 * time.Second

func runCase(ctx context.Context, argv []string, c ConformanceCase) (string, error) {
	dir, err := os.MkdirTemp("", "istkvs-conf-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	if err := os.WriteFile(filepath.Join(dir, c.Name+".job"), []byte(c.Job), 0o644); err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(ctx, caseTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], append(append(argv[1:len(argv):len(argv)], dir), c.Args...)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Sprintf("the server failed: %v\n%s", err, out.String()), nil
	}
	got := map[string]string{}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if n := e.Name(); strings.HasSuffix(n, ".out") || strings.HasSuffix(n, ".bck") {
			b, _ := os.ReadFile(filepath.Join(dir, n))
			got[n] = string(b)
		}
	}
	var names []string
	for n := range c.Want {
		names = append(names, n)
	}
	for n := range got {
		if _, ok := c.Want[n]; !ok {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	var diff strings.Builder
	for _, n := range names {
		want, wok := c.Want[n]
		g, gok := got[n]
		switch {
		case !gok:
			fmt.Fprintf(&diff, "%s: missing\n", n)
		case !wok:
			fmt.Fprintf(&diff, "%s: unexpected file\n", n)
		case g != want:
			fmt.Fprintf(&diff, "%s:\n%s", n, Diff(want, g))
		}
	}
	return diff.String(), nil
}
