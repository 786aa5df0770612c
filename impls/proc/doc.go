// Package proc starts, probes, kills, pauses and restarts server processes.
//
// Every process runs in its own process group with Pdeathsig=SIGKILL, so a
// crash of kvbench cannot leave servers behind, and a crash injected by the
// nemesis (SIGKILL of the group) takes children of the server down with it.
// Start returns only after the process's readiness probe succeeds.
package proc
