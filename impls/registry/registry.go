// Package registry is the explicit list of what kvbench can drive: the stores
// it bundles and the schemes of external targets. It is the only place that
// imports every store package; adding a store or a scheme means adding one
// line to All or Targets.
package registry

import (
	"fmt"
	"sort"
	"strings"

	"github.com/kvbench/kvbench/impls"
	"github.com/kvbench/kvbench/impls/dkvs"
	"github.com/kvbench/kvbench/impls/etcd"
	"github.com/kvbench/kvbench/impls/execclient"
	"github.com/kvbench/kvbench/impls/istkvs"
	"github.com/kvbench/kvbench/impls/madkv"
	"github.com/kvbench/kvbench/impls/memkv"
	"github.com/kvbench/kvbench/impls/shm"
)

// All returns every bundled store, in the order `kvbench` lists them.
func All() []*impls.Impl {
	return []*impls.Impl{
		memkv.Impl(),
		shm.Impl(),
		madkv.Impl(),
		istkvs.Impl(),
		dkvs.Impl(),
	}
}

// Targets returns every external target scheme, in the order `kvbench
// targets` lists them.
func Targets() []impls.Target {
	return []impls.Target{
		memkv.Target(),
		execclient.Target(),
		shm.Target(),
		dkvs.Target(),
		etcd.Target(),
		istkvs.Target(),
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

// LookupTarget returns the target scheme of url ("memcached://h:p",
// "exec:'cmd'", "shm:FILE") and what follows its colon.
func LookupTarget(url string) (impls.Target, string, error) {
	scheme, rest, ok := strings.Cut(url, ":")
	var schemes []string
	for _, t := range Targets() {
		if ok && t.Scheme == scheme {
			return t, rest, nil
		}
		schemes = append(schemes, t.Scheme+":")
	}
	return impls.Target{}, "", fmt.Errorf("target %q: unknown scheme (known: %s; see kvbench targets)", url, strings.Join(schemes, ", "))
}
