use super::process::ProcessStats;
use super::*;

fn has_line(text: &str, line: &str) -> bool {
    text.lines().any(|l| l == line)
}

#[test]
fn encodes_upstream_names_labels_and_values() {
    let m = SchedulerMetrics::new();
    m.observe_attempt(AttemptResult::Scheduled, "x", 0.005);
    m.profile("x")
        .observe_attempt(AttemptResult::Unschedulable, 0.5);
    m.profile("x")
        .observe_extension_point("Filter", "Success", 0.00005);
    m.observe_algorithm_duration(0.002);
    m.set_pending(Queue::Backoff, 3);
    m.observe_pod_scheduled(2, 1.5);
    m.observe_pod_scheduled(40, 9.0);
    m.inc_queue_incoming(Queue::Active, "PodAdd", 2);
    m.observe_preemption(3);
    m.set_leader(true);
    let text = m.encode();

    for line in [
        r#"scheduler_schedule_attempts_total{result="scheduled",profile="x"} 1"#,
        r#"scheduler_schedule_attempts_total{result="unschedulable",profile="x"} 1"#,
        r#"scheduler_schedule_attempts_total{result="error",profile="x"} 0"#,
        r#"scheduler_scheduling_attempt_duration_seconds_bucket{le="0.004",result="scheduled",profile="x"} 0"#,
        r#"scheduler_scheduling_attempt_duration_seconds_bucket{le="0.008",result="scheduled",profile="x"} 1"#,
        r#"scheduler_scheduling_attempt_duration_seconds_bucket{le="16.384",result="scheduled",profile="x"} 1"#,
        r#"scheduler_scheduling_attempt_duration_seconds_count{result="scheduled",profile="x"} 1"#,
        "scheduler_scheduling_algorithm_duration_seconds_count 1",
        r#"scheduler_pending_pods{queue="backoff"} 3"#,
        r#"scheduler_pending_pods{queue="gated"} 0"#,
        r#"scheduler_pod_scheduling_sli_duration_seconds_count{attempts="2"} 1"#,
        r#"scheduler_pod_scheduling_sli_duration_seconds_count{attempts="15+"} 1"#,
        r#"scheduler_pod_scheduling_attempts_bucket{le="16.0"} 1"#,
        r#"scheduler_pod_scheduling_attempts_count 2"#,
        r#"scheduler_framework_extension_point_duration_seconds_bucket{le="0.0001",extension_point="Filter",status="Success",profile="x"} 1"#,
        r#"scheduler_queue_incoming_pods_total{queue="active",event="PodAdd"} 2"#,
        "scheduler_preemption_attempts_total 1",
        r#"scheduler_preemption_victims_bucket{le="2.0"} 0"#,
        r#"scheduler_preemption_victims_bucket{le="4.0"} 1"#,
        r#"scheduler_preemption_victims_bucket{le="64.0"} 1"#,
        r#"leader_election_master_status{name="kube-scheduler"} 1"#,
        "# TYPE scheduler_schedule_attempts counter",
        "# TYPE scheduler_pending_pods gauge",
        "# TYPE process_cpu_seconds counter",
    ] {
        assert!(has_line(&text, line), "missing {line:?} in\n{text}");
    }
    assert!(text.ends_with("# EOF\n"));
    assert!(
        text.lines()
            .any(|l| l.starts_with("process_resident_memory_bytes "))
    );
    assert!(
        text.lines()
            .any(|l| l.starts_with("process_start_time_seconds "))
    );
    assert!(
        text.lines()
            .any(|l| l.starts_with("process_cpu_seconds_total "))
    );
    // `_total` must not be doubled by registering counters with the suffix.
    assert!(!text.contains("_total_total"));
    assert!(!text.contains(".."), "help texts end in one period");

    m.set_leader(false);
    assert!(has_line(
        &m.encode(),
        r#"leader_election_master_status{name="kube-scheduler"} 0"#
    ));
}

#[test]
fn upstream_bucket_counts() {
    // Histograms without labels are encoded even when empty.
    let text = SchedulerMetrics::new().encode();
    let buckets = |name: &str| {
        text.lines()
            .filter(|l| l.starts_with(&format!("{name}_bucket")))
            .count()
    };
    // exponential(0.001, 2, 15), (1, 2, 5), (1, 2, 7) plus the +Inf bucket.
    assert_eq!(
        buckets("scheduler_scheduling_algorithm_duration_seconds"),
        16
    );
    assert_eq!(buckets("scheduler_pod_scheduling_attempts"), 6);
    assert_eq!(buckets("scheduler_preemption_victims"), 8);
}

#[test]
fn parses_proc_stat() {
    let stat = "42 (sched (x) y) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 8 0 1000 123456789 5000 18446744073709551615";
    let status = "Name:\tsched\nVmRSS:\t   2048 kB\n";
    let proc_stat = "cpu  1 2 3\nbtime 1700000000\n";
    let s = ProcessStats::parse(stat, status, proc_stat).expect("parses");
    assert_eq!(s.cpu_seconds, 3.0);
    assert_eq!(s.resident_memory_bytes, 2048.0 * 1024.0);
    assert_eq!(s.virtual_memory_bytes, 123456789.0);
    assert_eq!(s.start_time_seconds, 1700000010.0);
}

#[test]
fn plugin_queue_cache_and_binding_metrics() {
    let m = SchedulerMetrics::new();
    m.observe_plugin("NodeResourcesFit", "Filter", "Unschedulable", 0.00002);
    m.set_unschedulable_pods(&[
        (("default-scheduler".into(), "NodeResourcesFit"), 2),
        (("default-scheduler".into(), "TaintToleration"), 1),
    ]);
    m.set_cache_size(5, 7, 1);
    m.set_binding_tasks(3);
    let text = m.encode();
    for line in [
        r#"scheduler_plugin_execution_duration_seconds_bucket{le="0.00001",plugin="NodeResourcesFit",extension_point="Filter",status="Unschedulable"} 0"#,
        r#"scheduler_plugin_execution_duration_seconds_count{plugin="NodeResourcesFit",extension_point="Filter",status="Unschedulable"} 1"#,
        r#"scheduler_unschedulable_pods{plugin="NodeResourcesFit",profile="default-scheduler"} 2"#,
        r#"scheduler_unschedulable_pods{plugin="TaintToleration",profile="default-scheduler"} 1"#,
        r#"scheduler_cache_size{type="nodes"} 5"#,
        r#"scheduler_cache_size{type="pods"} 7"#,
        r#"scheduler_cache_size{type="assumed_pods"} 1"#,
        r#"scheduler_goroutines{operation="binding"} 3"#,
        "# TYPE scheduler_unschedulable_pods gauge",
        "# TYPE scheduler_plugin_execution_duration_seconds histogram",
    ] {
        assert!(has_line(&text, line), "missing {line:?} in\n{text}");
    }
    // exponential(0.00001, 1.5, 20) plus +Inf.
    let buckets = text
        .lines()
        .filter(|l| l.starts_with("scheduler_plugin_execution_duration_seconds_bucket{"))
        .count();
    assert_eq!(buckets, 21);
    // A plugin no unschedulable pod names any more drops to 0.
    m.set_unschedulable_pods(&[(("default-scheduler".into(), "NodeResourcesFit"), 1)]);
    let text = m.encode();
    assert!(has_line(
        &text,
        r#"scheduler_unschedulable_pods{plugin="TaintToleration",profile="default-scheduler"} 0"#
    ));
    assert!(has_line(
        &text,
        r#"scheduler_unschedulable_pods{plugin="NodeResourcesFit",profile="default-scheduler"} 1"#
    ));
}
