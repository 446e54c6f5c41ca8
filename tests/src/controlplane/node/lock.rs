//! One real node per machine: its cgroup root, bridge, chains and sysctls are host-wide.
//! An exclusive `flock` on a file in `/run/lock` (released by the kernel when the holder
//! dies) serializes them; a second node waits for the first to stop. The file names the
//! holder's node dir while it runs, so the next holder can clean up after one that died
//! without tearing down (SIGKILL, abort).

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The lock file (`$FERROSCHED_NODE_LOCK` overrides it).
pub fn lock_path() -> PathBuf {
    std::env::var_os("FERROSCHED_NODE_LOCK").map_or_else(
        || PathBuf::from("/run/lock/ferrosched-real-node.lock"),
        PathBuf::from,
    )
}

/// The held lock; dropping it releases it.
#[derive(Debug)]
pub struct MachineLock {
    file: File,
}

impl MachineLock {
    /// Take the lock, waiting up to `patience` for another node to stop. Returns the lock
    /// and the node dir of a previous holder that did not release it cleanly.
    pub async fn acquire(
        owner: &Path,
        patience: Duration,
    ) -> Result<(MachineLock, Option<PathBuf>), String> {
        Self::acquire_at(&lock_path(), owner, patience).await
    }

    /// [`MachineLock::acquire`] with the lock file at `path`.
    pub async fn acquire_at(
        path: &Path,
        owner: &Path,
        patience: Duration,
    ) -> Result<(MachineLock, Option<PathBuf>), String> {
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(|e| format!("opening {}: {e}", path.display()))?;
        let started = Instant::now();
        let mut logged = false;
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(TryLockError::WouldBlock) => {
                    let holder = std::fs::read_to_string(path).unwrap_or_default();
                    if started.elapsed() >= patience {
                        return Err(format!(
                            "another real node holds {} (node dir: {}); waited {patience:?}",
                            path.display(),
                            holder.trim()
                        ));
                    }
                    if !logged {
                        tracing::warn!(lock = %path.display(), holder = holder.trim(), "another real node runs on this machine; waiting for it to stop");
                        logged = true;
                    }
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                Err(TryLockError::Error(e)) => {
                    return Err(format!("locking {}: {e}", path.display()));
                }
            }
        }
        let mut previous = String::new();
        let _ = file.read_to_string(&mut previous);
        let previous = Some(PathBuf::from(previous.trim())).filter(|p| p.is_dir());
        let write = |file: &mut File| -> std::io::Result<()> {
            file.set_len(0)?;
            file.seek(SeekFrom::Start(0))?;
            file.write_all(owner.display().to_string().as_bytes())?;
            file.sync_all()
        };
        write(&mut file).map_err(|e| format!("writing {}: {e}", path.display()))?;
        Ok((MachineLock { file }, previous))
    }

    /// Mark the machine clean (nothing for the next holder to tear down) and release.
    pub fn release_clean(self) {
        let _ = self.file.set_len(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_second_holder_waits_then_fails_naming_the_first_and_later_cleans_up_after_it() {
        let dir = std::env::temp_dir().join(format!("ferrosched-lock-{}", uuid::Uuid::new_v4()));
        let (first, second) = (dir.join("first"), dir.join("second"));
        std::fs::create_dir_all(&first).expect("mkdir");
        std::fs::create_dir_all(&second).expect("mkdir");
        let path = dir.join("node.lock");
        let (held, previous) = MachineLock::acquire_at(&path, &first, Duration::ZERO)
            .await
            .expect("free lock");
        assert_eq!(previous, None);
        let err = MachineLock::acquire_at(&path, &second, Duration::from_millis(600))
            .await
            .expect_err("held by the first");
        assert!(err.contains(&first.display().to_string()), "{err}");
        // Dropped without a clean release (a crash): the next holder is told whom to clean up after.
        drop(held);
        let (held, previous) = MachineLock::acquire_at(&path, &second, Duration::ZERO)
            .await
            .expect("released");
        assert_eq!(previous.as_deref(), Some(first.as_path()));
        held.release_clean();
        let (_held, previous) = MachineLock::acquire_at(&path, &first, Duration::ZERO)
            .await
            .expect("released");
        assert_eq!(previous, None, "a clean release leaves nothing to clean up");
        let _ = std::fs::remove_dir_all(dir);
    }
}
