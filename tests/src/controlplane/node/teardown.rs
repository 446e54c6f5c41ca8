//! Taking the node apart without its help: after kubelet, kube-proxy and containerd have
//! been stopped (or killed, or their test process died), remove every container, process,
//! mount, interface, chain, cgroup and file the node made, and restore the sysctls. Each
//! step runs even when an earlier one failed; the problems are returned together.
//!
//! This does not go through CRI (no StopPodSandbox, no CNI DEL): it must work when
//! containerd is gone, so it removes directly what those calls would have.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use super::config::{BRIDGE, NETWORK};
use super::host::HostState;
use super::layout::Layout;
use super::{cgroups, mounts, netfilter, procs};

/// How long killed processes and emptied cgroups get to go away.
const PATIENCE: Duration = Duration::from_secs(10);

/// Remove everything the node made; returns what could not be removed or restored.
/// Without the host state saved before the start (`None`: a node that died before saving
/// it), iptables chains, nft tables and sysctls are left alone: with nothing to compare,
/// the cleanup could remove what others made.
pub fn teardown(layout: &Layout, host: Option<&HostState>) -> Vec<String> {
    let mut problems = Vec::new();
    let sandboxes = sandbox_ids(layout);
    delete_containers(layout, &mut problems);
    let shim_sockets = shim_sockets(&layout.containerd_state);
    let left = procs::kill_all(&procs::of_dir(&layout.dir), PATIENCE);
    problems.extend(
        left.iter()
            .map(|p| format!("process {} survived SIGKILL: {:?}", p.pid, p.args)),
    );
    for sock in shim_sockets {
        let _ = std::fs::remove_file(sock);
    }
    let still_mounted = mounts::unmount_under(&layout.dir);
    let mounts_clear = still_mounted.is_empty();
    problems.extend(still_mounted);
    remove_interfaces(&mut problems);
    let unknown = HostState::default();
    match host {
        Some(host) => {
            problems.extend(netfilter::cleanup(&host.chains, &host.nft_tables));
            problems.extend(host.restore_sysctls());
        }
        None => problems.push(
            "no saved host state: iptables chains, nft tables and sysctls left as they are"
                .to_string(),
        ),
    }
    problems.extend(cgroups::remove(layout.cgroup_root, PATIENCE));
    remove_host_files(layout, host.unwrap_or(&unknown), &sandboxes);
    // Images, snapshots and pod dirs are large; logs and configs stay for the report.
    // Never remove a tree that still has something mounted in it.
    if mounts_clear {
        for dir in [
            &layout.containerd_root,
            &layout.containerd_state,
            &layout.kubelet_root,
        ] {
            if let Err(e) = std::fs::remove_dir_all(dir)
                && e.kind() != std::io::ErrorKind::NotFound
            {
                problems.push(format!("removing {}: {e}", dir.display()));
            }
        }
    }
    problems
}

fn quiet(cmd: &mut Command) -> std::io::Result<std::process::Output> {
    cmd.stdin(Stdio::null()).output()
}

/// `runc delete --force` every container in the node's runc root: it SIGKILLs the
/// container's processes (each container has its own PID namespace, so its init's death
/// takes the rest) and removes its cgroups and state.
fn delete_containers(layout: &Layout, problems: &mut Vec<String>) {
    let root = layout.runc_k8s_root();
    if !root.is_dir() {
        return;
    }
    let list = quiet(
        Command::new("runc")
            .arg("--root")
            .arg(&root)
            .args(["list", "-q"]),
    );
    let ids = match list {
        Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout).into_owned(),
        Ok(out) => {
            problems.push(format!(
                "runc list: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
            return;
        }
        Err(e) => {
            problems.push(format!("running runc: {e}"));
            return;
        }
    };
    for id in ids.split_whitespace() {
        let out = quiet(
            Command::new("runc")
                .arg("--root")
                .arg(&root)
                .args(["delete", "--force", id]),
        );
        match out {
            Ok(o) if o.status.success() => tracing::debug!(%id, "container deleted"),
            Ok(o) => problems.push(format!(
                "runc delete --force {id}: {}",
                String::from_utf8_lossy(&o.stderr).trim()
            )),
            Err(e) => problems.push(format!("running runc: {e}")),
        }
    }
}

/// The sockets of the node's shims: each shim bundle
/// (`<state>/io.containerd.runtime.v2.task/<ns>/<id>`) records its `address`, a socket
/// under the host-wide `/run/containerd/s` that a killed shim leaves behind.
fn shim_sockets(state: &Path) -> Vec<PathBuf> {
    let tasks = state.join("io.containerd.runtime.v2.task");
    let mut sockets = Vec::new();
    for ns in std::fs::read_dir(tasks).into_iter().flatten().flatten() {
        for bundle in std::fs::read_dir(ns.path()).into_iter().flatten().flatten() {
            if let Ok(address) = std::fs::read_to_string(bundle.path().join("address")) {
                let path = address.trim().trim_start_matches("unix://");
                if path.starts_with("/run/containerd/s/") {
                    sockets.push(PathBuf::from(path));
                }
            }
        }
    }
    sockets
}

/// Interface names attached to `master` (the pods' veth ends on the bridge).
fn ports_of(master: &str) -> Vec<String> {
    let out = quiet(Command::new("ip").args(["-j", "link", "show", "master", master]));
    let Ok(out) = out else { return Vec::new() };
    serde_json::from_slice::<serde_json::Value>(&out.stdout)
        .ok()
        .and_then(|v| v.as_array().cloned())
        .unwrap_or_default()
        .iter()
        .filter_map(|l| Some(l.get("ifname")?.as_str()?.to_owned()))
        .collect()
}

/// Delete the pods' veth ends left on the bridge, then the bridge. (A veth also goes when
/// its pod's network namespace is freed; deleting it here does not wait for that.)
fn remove_interfaces(problems: &mut Vec<String>) {
    if !Path::new("/sys/class/net").join(BRIDGE).exists() {
        return;
    }
    for name in ports_of(BRIDGE).into_iter().chain([BRIDGE.to_owned()]) {
        let out = quiet(Command::new("ip").args(["link", "delete", &name]));
        let gone = !Path::new("/sys/class/net").join(&name).exists();
        if !gone {
            let detail = out
                .map(|o| String::from_utf8_lossy(&o.stderr).trim().to_owned())
                .unwrap_or_else(|e| e.to_string());
            problems.push(format!("deleting interface {name}: {detail}"));
        }
    }
}

/// Ids of the node's pod sandboxes (CRI keeps a dir for each in its root) and containers.
fn sandbox_ids(layout: &Layout) -> Vec<String> {
    let cri = layout
        .containerd_root
        .join("io.containerd.grpc.v1.cri/sandboxes");
    let runc = layout.runc_k8s_root();
    [cri, runc]
        .iter()
        .flat_map(|dir| std::fs::read_dir(dir).into_iter().flatten().flatten())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

/// Host files outside the node's dir: kubelet's links in `/var/log/containers` to our
/// pod logs, its device-plugin socket (made after `host-state.json`), libcni's cached
/// results of our sandboxes (`<network>-<sandbox id>-<interface>`, the `cni-loopback`
/// network's included); then the host directories that were absent before start, if
/// nothing else is in them now.
fn remove_host_files(layout: &Layout, host: &HostState, sandboxes: &[String]) {
    for entry in std::fs::read_dir("/var/log/containers")
        .into_iter()
        .flatten()
        .flatten()
    {
        let path = entry.path();
        if std::fs::read_link(&path).is_ok_and(|t| t.starts_with(&layout.dir)) {
            let _ = std::fs::remove_file(&path);
        }
    }
    let prefix = format!("{NETWORK}-");
    for entry in std::fs::read_dir("/var/lib/cni/results")
        .into_iter()
        .flatten()
        .flatten()
    {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with(&prefix) || sandboxes.iter().any(|id| name.contains(&format!("-{id}-")))
        {
            let _ = std::fs::remove_file(entry.path());
        }
    }
    let started = std::fs::metadata(&layout.host_state).and_then(|m| m.modified());
    if let Ok(started) = started {
        for entry in std::fs::read_dir("/var/lib/kubelet/device-plugins")
            .into_iter()
            .flatten()
            .flatten()
        {
            let made_by_us = entry
                .metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|t| t >= started);
            if made_by_us && entry.file_type().is_ok_and(|t| !t.is_dir()) {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
    for path in host.absent_paths.iter().rev() {
        match std::fs::remove_dir(path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            // Another program may have put something there meanwhile (a docker engine's
            // shims also use /run/containerd/s): not ours to remove.
            Err(e) => tracing::warn!(
                path = %path.display(),
                error = %e,
                "absent before the node started, not empty now; left in place"
            ),
        }
    }
}
