// Package workload generates the operations kvbench sends: YCSB core workloads
// A–F with their key distributions and property files, the CS537 gen_workload
// generator, the MadKV fuzz mix, and the text stream formats (`put k v` /
// `get k`, and MadKV stdin lines) that `kvbench gen` writes and `kvbench run -i`
// reads back.
//
// Where things are:
//   - op.go: Op, OpType, Stream, Acker, SliceStream, Split (the contract
//     with the driver).
//   - ycsb.go: YCSB (NewYCSB, LoadStream, RunStream): CoreWorkload's
//     operation chooser and key choosers, and how YCSB records map onto one
//     value per key (see the YCSB type). generators.go: YCSB's number
//     generators (zipfian with fast zeta for any constant, scrambled zipfian,
//     skewed latest, hotspot, exponential, sequential, uniform) and its FNV-64
//     hash. ackcounter.go: the acknowledged insert counter shared by streams.
//     keys.go: key names, the scan index, random alphanumeric text.
//   - properties.go: Java .properties parsing, -p pairs, and the stock
//     workloads a..f embedded from ycsb/.
//   - cs537.go: GenCS537 and the CS537 text and solution formats.
//   - text.go: ReadTrace/ReadOps (auto-detecting CS537 or MadKV text),
//     WriteMadKV, AsMadKV (the MadKV runner's op mapping), WriteYCSBTrace.
//   - fuzz.go: the MadKV runner's fuzz mix, with a per-run key namespace.
//
// Randomness is always passed in: every stream draws from its own PCG source
// seeded from the caller's seed (worker i from seed+i), never from a global
// source, so the same seed gives the same operations. A Stream belongs to one
// goroutine; YCSB, Fuzz and Properties values are safe to share once built.
package workload
