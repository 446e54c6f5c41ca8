//! The Helm chart and the plain manifests rendered from it: the pinned `helm` and
//! `kubectl` binaries (built by `hack/build-control-plane.sh`), rendering, and comparing
//! rendered objects with what a cluster holds.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::controlplane::ControlPlaneOptions;

/// Release name the tests and `hack/render-manifests.sh` use.
pub const RELEASE: &str = "ferrosched";
/// Namespace of the release and of the plain manifests.
pub const NAMESPACE: &str = "ferrosched-system";

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `charts/ferrosched`.
pub fn chart_dir() -> PathBuf {
    repo().join("charts/ferrosched")
}

/// A binary of the pinned toolchain (`helm`, `kubectl`), next to the control plane's.
pub fn tool(name: &str) -> PathBuf {
    ControlPlaneOptions::default_bin_dir().join(name)
}

/// The value sets every check runs over: the defaults, then each `ci/*-values.yaml` of
/// the chart (name, extra `helm` arguments).
pub fn value_sets() -> anyhow::Result<Vec<(String, Vec<String>)>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(chart_dir().join("ci"))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().ends_with("-values.yaml"))
        .collect();
    files.sort();
    let mut sets = vec![("default".to_string(), Vec::new())];
    for f in files {
        let name = f
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .trim_end_matches("-values.yaml")
            .to_string();
        sets.push((name, vec!["-f".into(), f.display().to_string()]));
    }
    Ok(sets)
}

/// Runs `bin args`; stdout on success, else an error with the exit status and stderr.
pub fn run(bin: &Path, args: &[String], env: &[(&str, &Path)]) -> anyhow::Result<String> {
    anyhow::ensure!(
        bin.is_file(),
        "{} not found: run hack/build-control-plane.sh",
        bin.display()
    );
    let mut cmd = Command::new(bin);
    cmd.args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output()?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        anyhow::bail!(
            "{} {} failed ({}): {}{}",
            bin.display(),
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr),
            stdout
        );
    }
    Ok(stdout)
}

/// `helm <args>` with its cache, config and data under `home` (not the user's).
pub fn helm(args: &[String], home: &Path) -> anyhow::Result<String> {
    run(
        &tool("helm"),
        args,
        &[
            ("HELM_CACHE_HOME", &home.join("cache")),
            ("HELM_CONFIG_HOME", &home.join("config")),
            ("HELM_DATA_HOME", &home.join("data")),
        ],
    )
}

/// `helm template` of the release in [`NAMESPACE`] with `extra` arguments (value files,
/// `--set`, `--include-crds`).
pub fn template(extra: &[String], home: &Path) -> anyhow::Result<String> {
    let mut args = vec![
        "template".to_string(),
        RELEASE.into(),
        chart_dir().display().to_string(),
        format!("--namespace={NAMESPACE}"),
    ];
    args.extend_from_slice(extra);
    helm(&args, home)
}

/// The documents of a multi-document YAML stream as JSON values (empty ones dropped).
pub fn documents(yaml: &str) -> anyhow::Result<Vec<Value>> {
    let docs: Vec<Value> = serde_saphyr::from_multiple(yaml)?;
    Ok(docs.into_iter().filter(|d| !d.is_null()).collect())
}

/// `kind/namespace/name` of an object, for messages.
pub fn id(obj: &Value) -> String {
    let m = &obj["metadata"];
    format!(
        "{}/{}/{}",
        obj["kind"].as_str().unwrap_or_default(),
        m["namespace"].as_str().unwrap_or("-"),
        m["name"].as_str().unwrap_or_default()
    )
}

/// Where `want` is not contained in `have`: every key of a rendered object must be
/// present in the live one with the same value (the API server adds defaults and status);
/// lists must have the same length. Numbers compare by value, quantities as written.
pub fn subset_mismatch(want: &Value, have: &Value, path: &str) -> Option<String> {
    match (want, have) {
        (Value::Object(w), Value::Object(h)) => w.iter().find_map(|(k, v)| match h.get(k) {
            Some(hv) => subset_mismatch(v, hv, &format!("{path}.{k}")),
            None if v.is_null() => None,
            None => Some(format!("{path}.{k} missing")),
        }),
        (Value::Array(w), Value::Array(h)) if w.len() == h.len() => w
            .iter()
            .zip(h)
            .enumerate()
            .find_map(|(i, (a, b))| subset_mismatch(a, b, &format!("{path}[{i}]"))),
        (Value::Number(a), Value::Number(b)) if a.as_f64() == b.as_f64() => None,
        (w, h) if w == h => None,
        (w, h) => Some(format!("{path}: rendered {w}, live {h}")),
    }
}

/// Checks that every rendered object exists live (`kubectl get -f`) and contains what was
/// rendered; returns how many objects were compared.
pub fn assert_live_matches(
    rendered_file: &Path,
    kubeconfig: &Path,
    rendered: &[Value],
) -> anyhow::Result<usize> {
    let out = run(
        &tool("kubectl"),
        &[
            format!("--kubeconfig={}", kubeconfig.display()),
            "get".into(),
            "-f".into(),
            rendered_file.display().to_string(),
            "-o".into(),
            "json".into(),
        ],
        &[],
    )?;
    let list: Value = serde_json::from_str(&out)?;
    let live = list["items"].as_array().cloned().unwrap_or_default();
    anyhow::ensure!(
        live.len() == rendered.len(),
        "{} live objects for {} rendered",
        live.len(),
        rendered.len()
    );
    for want in rendered {
        let have = live
            .iter()
            .find(|h| id(h) == id(want))
            .ok_or_else(|| anyhow::anyhow!("{} not found live", id(want)))?;
        if let Some(m) = subset_mismatch(want, have, "") {
            anyhow::bail!("{} differs from its rendering: {m}", id(want));
        }
    }
    Ok(rendered.len())
}
