package scenarios

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/kvbench/kvbench/impls"
	"github.com/kvbench/kvbench/results"
)

// notificationObserver is the optional Cluster capability behind `fuzz
// --subscribe` (istkvs's JobCluster has it): sessions that keep keys
// subscribed from epoch on; the returned function stops them and checks
// what they were told against the history and fault windows, one line per
// violation.
type notificationObserver interface {
	ObserveNotifications(keys []string, epoch time.Time) (func(events []results.Event, faults []results.Fault) (summary string, problems []string), error)
}

// NotificationsFile holds a fuzz --subscribe run's notification violations.
const NotificationsFile = "notifications.txt"

// observeNotifications starts the observer when o.Subscribe asks for it;
// nil when it does not.
func observeNotifications(o FuzzOptions, c impls.Cluster, keys []string, epoch time.Time) (func([]results.Event, []results.Fault) (string, []string), error) {
	if !o.Subscribe {
		return nil, nil
	}
	obs, ok := c.(notificationObserver)
	if !ok {
		return nil, fmt.Errorf("--subscribe: %s has no key subscriptions (istkvs has)", o.Target.Name())
	}
	stop, err := obs.ObserveNotifications(keys, epoch)
	if err != nil {
		return nil, fmt.Errorf("--subscribe: %w", err)
	}
	return stop, nil
}

// foldNotifications records what was checked (run.json's options) and
// makes notification violations part of the verdict: any is a violation
// (the check allows for crashes), with the first as witness and all in
// notifications.txt.
func foldNotifications(dir string, run *results.Run, summary string, problems []string) {
	run.Options["subscribe"] = summary
	if len(problems) == 0 || run.Check == nil {
		return
	}
	_ = os.WriteFile(filepath.Join(dir, NotificationsFile), []byte(strings.Join(problems, "\n")+"\n"), 0o644)
	detail := fmt.Sprintf("notifications: %s (%d problems, see %s)", problems[0], len(problems), NotificationsFile)
	if run.Check.Verdict != results.VerdictOK && run.Check.Detail != "" {
		detail += "; " + run.Check.Detail
	}
	run.Check.Verdict, run.Check.Detail = results.VerdictViolation, detail
}
