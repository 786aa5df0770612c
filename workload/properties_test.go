package workload

import (
	"errors"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCoreWorkloadsParse(t *testing.T) {
	// The stock values of YCSB's workloads/workloada..f.
	for _, tc := range []struct {
		letter string
		want   map[string]string
	}{
		{"a", map[string]string{"readproportion": "0.5", "updateproportion": "0.5", "scanproportion": "0", "insertproportion": "0", "requestdistribution": "zipfian"}},
		{"b", map[string]string{"readproportion": "0.95", "updateproportion": "0.05", "requestdistribution": "zipfian"}},
		{"c", map[string]string{"readproportion": "1", "updateproportion": "0", "requestdistribution": "zipfian"}},
		{"d", map[string]string{"readproportion": "0.95", "insertproportion": "0.05", "requestdistribution": "latest"}},
		{"e", map[string]string{"scanproportion": "0.95", "insertproportion": "0.05", "maxscanlength": "100", "scanlengthdistribution": "uniform", "requestdistribution": "zipfian"}},
		{"f", map[string]string{"readproportion": "0.5", "readmodifywriteproportion": "0.5", "requestdistribution": "zipfian"}},
	} {
		for _, name := range []string{tc.letter, strings.ToUpper(tc.letter), "workload" + tc.letter} {
			p, err := Core(name)
			if err != nil {
				t.Fatalf("Core(%q): %v", name, err)
			}
			tc.want["recordcount"] = "1000"
			tc.want["operationcount"] = "1000"
			tc.want["workload"] = "site.ycsb.workloads.CoreWorkload"
			for k, v := range tc.want {
				if p[k] != v {
					t.Errorf("workload %s: %s=%q, want %q", name, k, p[k], v)
				}
			}
			if _, err := NewYCSB(p); err != nil {
				t.Errorf("workload %s: %v", name, err)
			}
		}
	}
	for _, bad := range []string{"", "g", "ab", "workload", "workloadz"} {
		if _, err := Core(bad); err == nil {
			t.Errorf("Core(%q) succeeded", bad)
		}
	}
}

func TestCoreReturnsFreshMaps(t *testing.T) {
	p, _ := Core("a")
	p["recordcount"] = "5"
	q, _ := Core("a")
	if q["recordcount"] != "1000" {
		t.Error("changing one Core result changed the next")
	}
}

// stockStyle mimics the layout of YCSB's stock files: a license block with
// trailing blanks, comments, blank lines and key=value lines.
const stockStyle = `# Copyright (c) 2010 Yahoo! Inc. All rights reserved.                        
#                                                                              
# Licensed under the Apache License, Version 2.0 (the "License"); you          

# Yahoo! Cloud System Benchmark
# Workload A: Update heavy workload
#                        
#   Read/update ratio: 50/50

recordcount=1000
operationcount=1000
workload=site.ycsb.workloads.CoreWorkload

readallfields=true

readproportion=0.5
updateproportion=0.5
scanproportion=0
insertproportion=0

requestdistribution=zipfian

`

func TestParseProperties(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     Properties
	}{
		{"stock layout", stockStyle, Properties{
			"recordcount": "1000", "operationcount": "1000", "workload": "site.ycsb.workloads.CoreWorkload",
			"readallfields": "true", "readproportion": "0.5", "updateproportion": "0.5",
			"scanproportion": "0", "insertproportion": "0", "requestdistribution": "zipfian",
		}},
		{"separators", "a=1\nb: 2\nc 3\nd\t4\n  e = 5  \nf:=6\ng==7\n", Properties{
			"a": "1", "b": "2", "c": "3", "d": "4", "e": "5", "f": "=6", "g": "=7",
		}},
		{"comments", "# x=1\n! y=2\n   # z=3\nk=v # not a comment\n", Properties{"k": "v # not a comment"}},
		{"empty value", "k=\nj:\n", Properties{"k": "", "j": ""}},
		{"later wins", "k=1\nk=2\n", Properties{"k": "2"}},
		{"continuation", "k=a,\\\n    b,\\\n    c\nj=\\\\\n", Properties{"k": "a,b,c", "j": `\`}},
		{"escapes", `a\=b=c\td` + "\n" + `key\ with\ space=\u0041x` + "\n", Properties{"a=b": "c\td", "key with space": "Ax"}},
		{"crlf", "a=1\r\nb=2\r\n", Properties{"a": "1", "b": "2"}},
		{"empty", "", Properties{}},
	} {
		got, err := ParseProperties(strings.NewReader(tc.in))
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if !maps.Equal(got, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestParsePropertiesRejectsMalformedLines(t *testing.T) {
	for _, tc := range []struct {
		in       string
		wantLine string
	}{
		{"a=1\nrecordcount\n", "line 2:"},
		{"a=1\n\n# c\n=5\n", "line 4:"},
		{"a=1\nb \n", "line 2:"},
		{"k=\\u00zz\n", "line 1:"},
		{"k=\\u00\n", "line 1:"},
		{"a=1\nk=x\\\n", "line 2:"},
		{": v\n", "line 1:"},
	} {
		_, err := ParseProperties(strings.NewReader(tc.in))
		if err == nil || !errors.Is(err, ErrBadProperty) || !strings.Contains(err.Error(), tc.wantLine) {
			t.Errorf("%q: error %v, want one naming %s", tc.in, err, tc.wantLine)
		}
	}
}

func TestLoadPropertyFileAndSetPair(t *testing.T) {
	path := filepath.Join(t.TempDir(), "w")
	if err := os.WriteFile(path, []byte("recordcount=77\nbad line here\nmore\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadPropertyFile(path); err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "line 3") {
		t.Errorf("error %v, want one naming the file and line 3", err)
	}
	os.WriteFile(path, []byte("recordcount=77\n"), 0o600)
	p, err := LoadPropertyFile(path)
	if err != nil || p["recordcount"] != "77" {
		t.Fatalf("got %v, %v", p, err)
	}
	if _, err := LoadPropertyFile(filepath.Join(t.TempDir(), "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	if err := p.SetPair(" operationcount = 5 "); err != nil || p["operationcount"] != "5" {
		t.Errorf("SetPair: %v %v", p, err)
	}
	for _, bad := range []string{"novalue", "=5", ""} {
		if err := p.SetPair(bad); !errors.Is(err, ErrBadProperty) {
			t.Errorf("SetPair(%q) = %v", bad, err)
		}
	}
}
