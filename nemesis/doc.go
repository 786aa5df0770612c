// Package nemesis owns fault injection: while the driver runs, it picks the
// nodes a fault policy names (--fault-target random|leader|follower|minority|
// majority|ROLE|NAME, or NAME,NAME,... for named nodes faulted together in
// one window) among a cluster's impls.Nodes, applies one of an
// explicit list of fault kinds (crash, pause, and the network faults that go
// through kvbench's proxy), holds it, heals it, and records each window with
// the nodes it hit on the run's clock.
package nemesis
