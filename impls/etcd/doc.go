// Package etcd is the etcd target: kvbench drives a real Raft-replicated
// store through etcd's own Go client, as an anchor beside the course stores
// (madkv stage 3 replicates the same way). etcd://host:port,... connects to a
// running cluster (with one --serve per member, kvbench starts and faults
// them); etcd:cluster:N starts N local members from Debian's etcd-server on
// loopback, reports the current leader, and lets the nemesis crash, pause
// and restart members by role (leader, follower, minority, majority).
package etcd
