// Package impls owns the vocabulary every part of kvbench shares: the operation
// kinds, requests and responses, the Client interface adapters implement, the
// errors that tell a definite failure from an unknown outcome, and the Impl and
// Cluster types that describe how a bundled store or external target is started.
//
// The explicit list of bundled stores lives in impls/registry, which imports the
// store packages; the store packages import this one for the vocabulary.
package impls
