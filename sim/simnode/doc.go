// Package simnode is a simulated CentOS 7 node with a Linux 3.10 cgroup v1
// memory controller, systemd services and a kubelet. It implements
// node.System with the real kernel's semantics, so the node procedure that
// runs on production nodes runs unchanged in tests, benchmarks and the
// simulated fleet.
//
// # What is modelled
//
//   - The memory cgroup hierarchy under Config.CgroupRoot with the 3.10
//     control files. Css ids come from 1..Config.MaxIDs (65535), lowest free
//     first; the root holds 1. rmdir of a kmem-accounted cgroup leaks its id
//     until Reboot; mkdir fails with ENOSPC when no id is free.
//   - kmem accounting: switched on by any write to memory.kmem.limit_in_bytes
//     (-1 included) while the cgroup has no tasks and no children (EBUSY
//     after), inherited by children created under an accounted parent with
//     use_hierarchy=1, never switched off. memory.kmem.slabinfo fails with
//     EIO unless the cgroup is accounted.
//   - Limits: decimal, hex (0x) or octal with K/M/G/T/P/E suffixes, -1 for
//     unlimited (read back as 9223372036854771712), rounded down to the page
//     size (300000000 reads back as 299999232); limit <= memsw limit or
//     EINVAL; a limit below current usage fails with EBUSY. No reclaim is
//     modelled: the simulator never frees memory to make a limit fit.
//   - Processes with threads and anon/file charges. cgroup.procs moves a
//     thread group, tasks moves one thread; charges move with the mm owner
//     only when the destination's move_charge_at_immigrate says so (bit 0
//     anon, bit 1 file) and only the pages charged to the cgroup the task
//     leaves; a move that would push the destination (or a hierarchical
//     ancestor that is not shared with the source) over its limit fails with
//     ENOMEM and nothing moves. rmdir reparents remaining charges; force_empty
//     drops file pages and reparents anon pages. A process that exits
//     uncharges all of its pages (page cache is not kept after exit).
//   - A forking process: every ForkEvery kernel operations it forks a child
//     into the cgroup it is in; each child exits ForkLife operations later.
//     Every call of a node.System method is one kernel operation.
//   - /proc/cgroups, /proc/self/mounts, /proc/<pid>/cgroup, /proc/<pid>/status,
//     /proc/sys/kernel/osrelease and /proc/sys/kernel/random/boot_id.
//   - An in-memory regular filesystem for every other path (journal,
//     binaries), with atomic rename and per-path try-locks.
//   - systemd units (kubelet, docker, cadvisor) through `systemctl`, the
//     kubelet binary whose content decides its version and whether it writes
//     kmem limits (KubeletBinary), kubelet pod churn (Tick), /healthz, docker
//     and `stap`. Pids are never reused (until Reboot).
//
// # stap
//
// When Config.Stap is set, running `stap ...` (any arguments) prints, as its
// last line of stdout, exactly
//
//	ids_in_use N
//
// where N is the number of memory css ids in use, leaked ones included.
//
// # Faults and crashes
//
// FailNth makes the nth operation of a kind fail with an errno. CrashAfter
// makes the next mutating operation after n more panic with a Crash value,
// the way a helper process dies mid-step; ReleaseLocks then drops its locks.
// Ops counts mutating operations: mkdir, rmdir/Remove, WriteFile (control
// files included), Rename, WriteFileAtomic (two: the temporary file, then
// the rename), systemctl start/stop/restart and docker restart.
package simnode
