//! The admin's static bearer token: kube-apiserver's `--token-auth-file` and the file
//! a kubeconfig's `tokenFile` points at, both readable by the owner only.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use super::Error;

/// Where [`write_admin`] put the token.
pub struct TokenFiles {
    /// kube-apiserver's `--token-auth-file` (CSV: token, user, uid, groups).
    pub auth_file: PathBuf,
    /// The bare token, for a kubeconfig's `tokenFile`.
    pub token_file: PathBuf,
}

/// A fresh random token for user `admin` in `system:masters`, written under `dir`.
pub fn write_admin(dir: &Path) -> Result<TokenFiles, Error> {
    let token = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    let files = TokenFiles {
        auth_file: dir.join("tokens.csv"),
        token_file: dir.join("admin.token"),
    };
    private_file(
        &files.auth_file,
        &format!("{token},admin,admin,\"system:masters\"\n"),
    )?;
    private_file(&files.token_file, &token)?;
    Ok(files)
}

fn private_file(path: &Path, content: &str) -> Result<(), Error> {
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .and_then(|mut f| f.write_all(content.as_bytes()))
        .map_err(|e| Error::io(format!("writing {}", path.display()), e))
}
