package main

import (
	"bytes"
	"context"
	"strconv"
	"strings"
	"testing"
)

// TestCompletion: the shell completes every name a user types, not only
// flag names.
func TestCompletion(t *testing.T) {
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"run", "--impl", ""}, []string{"memkv\t", "shm\t"}},
		{[]string{"fuzz", "--impl", ""}, []string{"memkv\t"}},
		{[]string{"run", "--target", ""}, []string{"memcached://\t", "exec:\t"}},
		{[]string{"run", "--workload", ""}, []string{"a\tupdate heavy", "e\tshort ranges"}},
		{[]string{"fuzz", "--workload", ""}, []string{"f\tread-modify-write"}},
		{[]string{"serve", ""}, []string{"memkv\t", "shm\t"}},
		{[]string{"client", ""}, []string{"memkv\t"}},
		{[]string{"scenario", "run", ""}, []string{"quick\n", "full\n", "madkv-p1\n"}},
		{[]string{"scenario", "run", "--store", ""}, []string{"memkv\t", "all\t"}},
		{[]string{"run", "-p", ""}, []string{"readproportion=\n", "requestdistribution=\n"}},
		{[]string{"fuzz", "--fault-target", ""}, []string{"leader\n", "minority\n"}},
		{[]string{"report", "--format", ""}, []string{"png\n", "svg\n"}},
	} {
		var out, errb bytes.Buffer
		if err := run(context.Background(), append([]string{"__complete"}, c.args...), &out, &errb); err != nil {
			t.Fatalf("%v: %v", c.args, err)
		}
		for _, w := range c.want {
			if !strings.Contains(out.String(), w) {
				t.Errorf("completing %q: no %q in\n%s", c.args, w, out.String())
			}
		}
	}
}

// TestRootHelpCountsStores: the root help's store count and names come from
// the registry, so they stay true as stores are added.
func TestRootHelpCountsStores(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"--help"}, &out, &out); err != nil {
		t.Fatal(err)
	}
	names := implNames()
	want := "kvbench bundles " + strconv.Itoa(len(names)) + " course key-value stores (" + strings.Join(names, ", ") + ")"
	if !strings.Contains(out.String(), want) {
		t.Errorf("help lacks %q:\n%s", want, out.String())
	}
}
