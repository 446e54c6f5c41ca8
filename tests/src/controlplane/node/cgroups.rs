//! The node's cgroup root: kubelet (cgroupfs driver) requires `cgroupRoot` to exist in
//! every cgroup v1 hierarchy it checks, and creates `kubepods/…` under it; runc creates the
//! containers' cgroups below those. Teardown removes the whole subtree.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Mount points of the cgroup hierarchies (v1 controllers, named ones and the v2 one).
pub fn hierarchies() -> Vec<PathBuf> {
    super::mounts::all()
        .into_iter()
        .filter(|m| matches!(m.fstype.as_str(), "cgroup" | "cgroup2"))
        .map(|m| m.point)
        .collect()
}

fn under(hierarchy: &Path, root: &str) -> PathBuf {
    hierarchy.join(root.trim_start_matches('/'))
}

/// Create `root` in every cgroup v1 hierarchy; in cpuset, give it its parent's CPUs and
/// memory nodes (a new cpuset cgroup has none, and no task could join it or its children).
pub fn create(root: &str) -> Result<(), String> {
    for h in hierarchies() {
        if h.ends_with("unified") {
            continue; // cgroup v2 in a hybrid setup: kubelet's v1 manager does not use it
        }
        let dir = under(&h, root);
        std::fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
        for file in ["cpuset.cpus", "cpuset.mems"] {
            let parent = h.join(file);
            if parent.exists() {
                let value = std::fs::read_to_string(&parent)
                    .map_err(|e| format!("reading {}: {e}", parent.display()))?;
                std::fs::write(dir.join(file), value.trim())
                    .map_err(|e| format!("writing {}/{file}: {e}", dir.display()))?;
            }
        }
    }
    Ok(())
}

/// Cgroup directories under `dir`, children before their parents.
fn subtree(dir: &Path, out: &mut Vec<PathBuf>) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                subtree(&e.path(), out);
            }
        }
    }
    out.push(dir.to_path_buf());
}

/// Remove `root` and every cgroup below it in every hierarchy, retrying for up to `patience`
/// while the last killed processes leave them. Returns the cgroups that remain.
pub fn remove(root: &str, patience: Duration) -> Vec<String> {
    let deadline = Instant::now() + patience;
    let mut left = Vec::new();
    for h in hierarchies() {
        let top = under(&h, root);
        if !top.exists() {
            continue;
        }
        let mut dirs = Vec::new();
        subtree(&top, &mut dirs);
        for d in dirs {
            loop {
                match std::fs::remove_dir(&d) {
                    Ok(()) => break,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => break,
                    Err(e) if Instant::now() >= deadline => {
                        let procs = std::fs::read_to_string(d.join("cgroup.procs"))
                            .unwrap_or_default()
                            .split_whitespace()
                            .collect::<Vec<_>>()
                            .join(",");
                        left.push(format!("{}: {e} (processes: [{procs}])", d.display()));
                        break;
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(50)),
                }
            }
        }
    }
    left
}
