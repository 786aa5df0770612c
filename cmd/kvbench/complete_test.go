package main

import (
	"bytes"
	"context"
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
