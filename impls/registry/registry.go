// Package registry is the explicit list of the stores kvbench bundles. It is
// the only place that imports every store package; adding a store means adding
// one line to All.
package registry

import (
	"fmt"
	"sort"
	"strings"

	"github.com/kvbench/kvbench/impls"
	"github.com/kvbench/kvbench/impls/memkv"
	"github.com/kvbench/kvbench/impls/shm"
)

// All returns every bundled store, in the order `kvbench` lists them.
func All() []*impls.Impl {
	return []*impls.Impl{
		memkv.Impl(),
		shm.Impl(),
	}
}

// Lookup returns the bundled store called name.
func Lookup(name string) (*impls.Impl, error) {
	var names []string
	for _, im := range All() {
		if im.Name == name {
			return im, nil
		}
		names = append(names, im.Name)
	}
	sort.Strings(names)
	return nil, fmt.Errorf("unknown impl %q (bundled: %s)", name, strings.Join(names, ", "))
}
