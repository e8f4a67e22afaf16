#!/bin/sh
# A broken node helper, to prove the lab's checks catch one: every command
# answers ok, but move dumps every container process into the root cgroup
# and loses every soft limit, and nothing else is done (no mirror, no
# kubelet swap).
cmd=$1
if [ "$cmd" = move ]; then
	find /sys/fs/cgroup/memory/kubepods -name cgroup.procs | while read -r f; do
		for pid in $(cat "$f"); do
			echo "$pid" >/sys/fs/cgroup/memory/cgroup.procs 2>/dev/null
		done
		echo -1 >"${f%/cgroup.procs}/memory.soft_limit_in_bytes"
	done
fi
echo "{\"ok\":true,\"command\":\"$cmd\",\"result\":{}}"
