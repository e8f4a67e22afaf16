// Package workflows holds the Temporal workflows of kmemfix: the
// remediation of one node (NodeWorkflow) and the fleet rollout
// (RolloutWorkflow, which also runs surveys). Register both with Register;
// names, the task queue, IDs, queries, updates and search attributes are in
// names.go.
//
// # The node workflow
//
// ensure-helper, inspect, then (when inspect says affected, or finds a
// remediation in progress) stage-kubelet, stop-kubelet, snapshot, mirror,
// move, COMMIT, rebuild, start-kubelet, restart-cadvisor, verify, finish.
//
//   - Saga: each step registers its compensation before it runs
//     (stop-kubelet: restore-kubelet; snapshot: close-journal; mirror and
//     move: restore). On a failure or a cancel before the commit point they
//     run in reverse on a disconnected context. Every compensation runs even
//     if an earlier one failed: a running kubelet matters more than a tidy
//     tree, and the mirror keeps each container's limit. Any failed
//     compensation makes the outcome failed-needs-attention, with the
//     node's state and the commands to finish by hand.
//   - Commit point: from the moment commit is scheduled, the steps run on a
//     disconnected context: neither a workflow cancel nor the budget can
//     stop them; a forward step that finally fails gives
//     failed-needs-attention. Kubelet is brought back all the same: a node
//     whose kubelet stays down past the eviction timeout loses its pods,
//     which is worse than a half-finished tree whose processes all keep
//     their limits in the mirror. The replacement build is started first,
//     then the original; only if both fail does the result say "kubelet is
//     STOPPED".
//   - Kubelet-down budget (NodeSettings.KubeletDownBudget, default 3m, under
//     the 5m eviction timeout): a timer started at stop-kubelet races the
//     steps. Before the commit point it cancels the running step
//     (WaitForCancellation: the compensation never races it) and the saga
//     rolls back; after it, the overrun is only recorded and the workflow
//     finishes forward.
//   - Reboot (the helper answers "rebooted" because the boot id changed):
//     no compensation (the tree is gone); kubelet is started and checked
//     without the old boot id; outcome rebooted.
//   - Dry-run: inspect only, the plan as data (NodeResult.Plan).
//   - Outcomes: remediated, skipped-not-affected, skipped-unknown-headroom,
//     needs-reboot, unsupported, unreachable (nothing changed: transport
//     failure), failed-rolled-back, failed-needs-attention, rebooted,
//     planned (dry-run). NodeResult.KubeletRunning is false only with
//     failed-needs-attention, whose reasons say "kubelet is STOPPED".
//
// # The rollout workflow
//
//   - Waves are cumulative targets in inventory order ([1, 10, "5%",
//     "25%", "100%"]: the first node, then up to 10, 5% of the fleet, ...),
//     ending with "100%". A wave is a sliding window of child node
//     workflows (RolloutInput.Concurrency per wave, capped at MaxInFlight);
//     a wave starts when the previous one is done, soaked and gated.
//   - Failure budget per wave (count, or percent of the wave rounded down):
//     failed-rolled-back, failed-needs-attention and rebooted count;
//     unreachable counts only with FailureBudget.CountUnreachable (nothing
//     was changed on such a node). Exceeding it pauses the rollout (it never
//     aborts by itself); so does a failing health gate. The reason is in
//     the KmemfixRolloutState / KmemfixPauseReason search attributes, the
//     current details and the progress query. Resume acknowledges the
//     failures so far: the budget counts anew from there.
//   - Updates: pause(reason), resume, abort(reason), skip(node not started
//     yet), retry(failed nodes; empty = every rolled-back, unreachable,
//     rebooted or busy node; a failed-needs-attention node only by name).
//     Retried nodes run in the current wave, after a resume if paused.
//     Abort stops starting nodes; nodes in flight finish their own
//     procedure (rolled back or finished forward, as their own logic
//     decides); the rollout then ends "aborted". Cancelling the rollout
//     workflow instead cancels the nodes in flight too: before their commit
//     point they roll back, after it they finish forward.
//   - Children: workflow ID NodeWorkflowID(node) (survey:
//     NodeSurveyWorkflowID), reuse policy ALLOW_DUPLICATE: while one run
//     of a node is open, another rollout's start fails and the node is
//     reported busy; a finished node can run again, and a remediated node
//     is skipped cheaply (inspect: not affected, kubelet is the
//     replacement). ParentClosePolicy ABANDON: terminating or continuing the
//     rollout never kills a node mid-procedure.
//   - History: after NodesPerRun node starts (default 500, about 2,500
//     parent events) or when the server suggests it, the rollout stops
//     starting, drains its children and update handlers, and continues as
//     new carrying RolloutState (outcomes, pause, abort, retry queue,
//     budget baselines). Controls are updates, not signals, so there is no
//     signal channel to drain. The carried state grows with the inventory
//     (about 100 bytes a node): split inventories beyond ~10,000 nodes.
//   - Maintenance window: a daily UTC window (MaintenanceWindow); no node
//     starts outside it, the rollout waits for the next opening.
//   - Survey (Mode "survey"): every node runs the node workflow in dry-run
//     in one wave; Progress.Fleet has the counts per verdict, the
//     unreachable nodes and the headroom per node. It never pauses.
package workflows
