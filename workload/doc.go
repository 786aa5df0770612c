// Package workload generates the operations kvbench sends: YCSB core workloads
// A–F with their key distributions and property files, the CS537 gen_workload
// generator, the MadKV fuzz mix, and the text stream formats (`put k v` /
// `get k`, and MadKV stdin lines) that `kvbench gen` writes and `kvbench run -i`
// reads back.
package workload
