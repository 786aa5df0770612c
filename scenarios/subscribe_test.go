package scenarios

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kvbench/kvbench/impls"
	"github.com/kvbench/kvbench/results"
)

type plainCluster struct{}

func (plainCluster) NewClient(context.Context, int) (impls.Client, error) { return nil, nil }
func (plainCluster) Nodes() []impls.Node                                  { return nil }
func (plainCluster) Close() error                                         { return nil }

type observingCluster struct {
	plainCluster
	problems []string
}

func (c observingCluster) ObserveNotifications([]string, time.Time) (func([]results.Event, []results.Fault) (string, []string), error) {
	return func([]results.Event, []results.Fault) (string, []string) { return "3 notifications", c.problems }, nil
}

func TestSubscribeFolding(t *testing.T) {
	o := FuzzOptions{Target: Target{Impl: "memkv"}, Subscribe: true}
	if _, err := observeNotifications(o, plainCluster{}, nil, time.Now()); err == nil || !strings.Contains(err.Error(), "--subscribe") {
		t.Errorf("a store without subscriptions: %v", err)
	}
	if stop, err := observeNotifications(FuzzOptions{}, plainCluster{}, nil, time.Now()); stop != nil || err != nil {
		t.Error("observer started without --subscribe")
	}
	for _, c := range []struct {
		problems []string
		before   string
		want     string
	}{
		{nil, results.VerdictOK, results.VerdictOK},
		{[]string{"session 0, key a: lost"}, results.VerdictOK, results.VerdictViolation},
		{[]string{"session 0, key a: lost"}, results.VerdictExpected, results.VerdictViolation},
	} {
		dir := t.TempDir()
		stop, err := observeNotifications(o, observingCluster{problems: c.problems}, nil, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		sum, problems := stop(nil, nil)
		run := &results.Run{Options: map[string]string{}, Check: &results.Check{Verdict: c.before, Detail: "crash"}}
		foldNotifications(dir, run, sum, problems)
		b, _ := os.ReadFile(filepath.Join(dir, NotificationsFile))
		if run.Check.Verdict != c.want || run.Options["subscribe"] != "3 notifications" || (len(c.problems) > 0) != (len(b) > 0) {
			t.Errorf("%v from %s: %+v, file %q", c.problems, c.before, run.Check, b)
		}
		if len(c.problems) > 0 && !strings.HasPrefix(run.Check.Detail, "notifications: session 0, key a: lost (1 problems") {
			t.Errorf("detail %q", run.Check.Detail)
		}
	}
}
