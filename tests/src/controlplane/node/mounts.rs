//! The mount table (`/proc/self/mountinfo`), and unmounting what the node mounted: overlay
//! root filesystems, `/dev/shm` of sandboxes, network namespaces, kubelet's volume tmpfs.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// One mount.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Mount {
    /// Where it is mounted.
    pub point: PathBuf,
    /// Its filesystem type.
    pub fstype: String,
}

/// Every mount of this process's mount namespace, in mount order.
pub fn all() -> Vec<Mount> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    text.lines()
        .filter_map(|line| {
            // `id parent major:minor root mount_point options... - fstype source options`
            let (left, right) = line.split_once(" - ")?;
            Some(Mount {
                point: PathBuf::from(unescape(left.split_whitespace().nth(4)?)),
                fstype: right.split_whitespace().next()?.to_owned(),
            })
        })
        .collect()
}

/// mountinfo escapes space, tab, newline and backslash as `\ooo` octal.
pub fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\'
            && i + 3 < bytes.len()
            && bytes[i + 1..i + 4]
                .iter()
                .all(|b| (b'0'..=b'7').contains(b))
        {
            out.push(
                (bytes[i + 1] - b'0') * 64 + (bytes[i + 2] - b'0') * 8 + (bytes[i + 3] - b'0'),
            );
            i += 4;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Mount points at or below `dir`, most recent first (the order to unmount them in).
pub fn under(dir: &Path) -> Vec<PathBuf> {
    let mut points: Vec<PathBuf> = all()
        .into_iter()
        .map(|m| m.point)
        .filter(|p| p.starts_with(dir))
        .collect();
    points.reverse();
    points
}

/// Unmount everything at or below `dir`: plainly, then lazily if busy. Returns the mount
/// points still there afterwards.
pub fn unmount_under(dir: &Path) -> Vec<String> {
    for point in under(dir) {
        let plain = Command::new("umount")
            .arg(&point)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        if !plain.is_ok_and(|s| s.success()) && under(dir).contains(&point) {
            tracing::warn!(point = %point.display(), "busy; unmounting lazily");
            let _ = Command::new("umount")
                .arg("-l")
                .arg(&point)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
    under(dir)
        .into_iter()
        .map(|p| format!("still mounted: {}", p.display()))
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn unescapes_mountinfo_octal() {
        assert_eq!(super::unescape(r"/a\040b\134c"), r"/a b\c");
        assert_eq!(super::unescape(r"/plain\04"), r"/plain\04");
    }
}
