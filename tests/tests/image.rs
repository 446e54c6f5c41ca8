//! The Dockerfile, checked by parsing it: a multi-stage build whose bases are build
//! arguments defaulting to the published images (hack/image.sh passes local ones), whose
//! build step is the release build, and a minimal final stage — distroless, no shell,
//! non-root numeric user, both binaries where the operator's scheduler Deployments expect
//! them, the operator as entrypoint. CI builds and runs the image itself (hack/image.sh).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use ferrosched_crds::SchedulerProfile;

/// The build step of the Dockerfile.
const BUILD: &str =
    "cargo build --release --locked --bin ferrosched-operator --bin ferrosched-scheduler";

fn read(path: &str) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    std::fs::read_to_string(root.join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Instructions (upper-cased keyword, arguments), continuation lines joined, comments
/// and parser directives dropped.
fn instructions(dockerfile: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in dockerfile.lines() {
        let trimmed = line.trim();
        if current.is_empty() && (trimmed.is_empty() || trimmed.starts_with('#')) {
            continue;
        }
        match trimmed.strip_suffix('\\') {
            Some(head) => {
                current.push_str(head);
                current.push(' ');
            }
            None => {
                current.push_str(trimmed);
                let (keyword, args) = current.split_once(' ').unwrap_or((&current, ""));
                out.push((keyword.to_ascii_uppercase(), args.trim().to_string()));
                current.clear();
            }
        }
    }
    out
}

/// The defaults of the build arguments declared before the first stage.
fn global_args(all: &[(String, String)]) -> BTreeMap<String, String> {
    all.iter()
        .take_while(|(k, _)| k != "FROM")
        .filter(|(k, _)| k == "ARG")
        .filter_map(|(_, a)| a.split_once('='))
        .map(|(name, default)| (name.to_string(), default.trim_matches('"').to_string()))
        .collect()
}

/// A stage's base with `${NAME}` replaced by the argument's default.
fn resolve(base: &str, args: &BTreeMap<String, String>) -> String {
    let mut out = base.to_string();
    for (name, default) in args {
        out = out.replace(&format!("${{{name}}}"), default);
    }
    out
}

#[test]
fn dockerfile_builds_both_binaries_into_a_minimal_non_root_image() {
    let dockerfile = read("Dockerfile");
    // A `# syntax=` directive would make BuildKit pull a frontend image (no registry is
    // reachable in CI); the engine's built-in frontend has everything used here.
    assert!(
        !dockerfile.lines().any(|l| l.starts_with("# syntax=")),
        "no syntax directive"
    );
    let all = instructions(&dockerfile);
    let stages: Vec<usize> = all
        .iter()
        .enumerate()
        .filter(|(_, (k, _))| k == "FROM")
        .map(|(i, _)| i)
        .collect();
    assert!(stages.len() >= 2, "multi-stage");
    let (build, last) = (&all[stages[0]..stages[1]], &all[stages[stages.len() - 1]..]);

    // Both bases are build arguments whose defaults are the published images.
    let args = global_args(&all);
    assert_eq!(
        args.get("BUILDER_IMAGE").map(String::as_str),
        Some("docker.io/library/rust:1.95-bookworm"),
        "{args:?}"
    );
    assert_eq!(
        args.get("RUNTIME_IMAGE").map(String::as_str),
        Some("gcr.io/distroless/cc-debian12:nonroot"),
        "{args:?}"
    );
    assert_eq!(build[0].1, "${BUILDER_IMAGE} AS build");
    assert_eq!(last[0].1, "${RUNTIME_IMAGE}");
    // The local builder base carries the same toolchain release.
    assert!(
        read("hack/images/common.sh").contains("RUST_RELEASE=1.95."),
        "hack/images/common.sh pins Rust 1.95"
    );

    // Build stage: the release build, its target directory a cache mount (warm builds
    // compile only the workspace's crates).
    let run = build
        .iter()
        .find(|(k, a)| k == "RUN" && a.contains(BUILD))
        .unwrap_or_else(|| panic!("build stage runs `{BUILD}`"));
    assert!(
        run.1.contains("--mount=type=cache,") && run.1.contains("target=/src/target"),
        "{}",
        run.1
    );

    // CI builds this file with a real engine, checks the image and saves it.
    assert!(
        read("hack/test.sh").contains("bash hack/image.sh"),
        "CI (hack/test.sh) runs hack/image.sh"
    );
    let image_sh = read("hack/image.sh");
    for needle in ["docker build", "--read-only", "65532:65532", "docker save"] {
        assert!(image_sh.contains(needle), "hack/image.sh: {needle}");
    }

    // Final stage: distroless (no shell, so no RUN), not the :debug variant.
    let base = &resolve(&last[0].1, &args);
    assert!(
        base.starts_with("gcr.io/distroless/") && !base.contains("debug"),
        "{base}"
    );
    assert!(
        !last.iter().any(|(k, _)| k == "RUN"),
        "nothing runs in the final stage"
    );

    // A numeric non-root user: the one the chart and the operator's scheduler pods use
    // (runAsNonRoot needs a numeric UID to verify).
    let users: Vec<&String> = last
        .iter()
        .filter(|(k, _)| k == "USER")
        .map(|(_, a)| a)
        .collect();
    let run_as = ferrosched_operator::children::RUN_AS;
    assert_eq!(users, [&format!("{run_as}:{run_as}")]);
    assert!(
        read("charts/ferrosched/templates/deployment.yaml")
            .contains(&format!("runAsUser: {run_as}")),
        "the chart runs the operator as {run_as}"
    );

    // Files: exactly the two binaries, from the build stage, into /usr/local/bin (on the
    // image's PATH, where the operator's `command: [ferrosched-scheduler]` finds it).
    let mut files = BTreeSet::new();
    for (k, a) in last.iter().filter(|(k, _)| k == "COPY" || k == "ADD") {
        assert_eq!(k, "COPY", "no ADD");
        let parts: Vec<&str> = a.split_whitespace().collect();
        assert_eq!(parts[0], "--from=build", "{a}");
        assert_eq!(parts[parts.len() - 1], "/usr/local/bin/", "{a}");
        for src in &parts[1..parts.len() - 1] {
            files.insert(src.rsplit('/').next().unwrap_or_default().to_string());
        }
    }
    assert_eq!(
        files,
        BTreeSet::from(["ferrosched-operator".into(), "ferrosched-scheduler".into()])
    );
    let profile = SchedulerProfile::new("p", Default::default());
    let settings = ferrosched_operator::settings::Settings {
        namespace: "ferrosched-system".into(),
        default_image: "ferrosched:test".into(),
        allowed_images: Vec::new(),
        reserved_names: Vec::new(),
        grant_role_prefix: ferrosched_operator::identity::DEFAULT_GRANT_ROLE_PREFIX.into(),
        serving_secret: None,
    };
    let (command, _) = ferrosched_operator::children::command(&profile, &settings);
    assert_eq!(command, ["ferrosched-scheduler"]);
    assert!(files.contains(&command[0]));
    // The replace-default static pod runs the same binary from the same place.
    let static_pod: serde_json::Value =
        serde_saphyr::from_str(&read("deploy/static-pod/ferrosched-scheduler.yaml"))
            .expect("the static pod manifest parses");
    assert_eq!(
        static_pod["spec"]["containers"][0]["command"][0],
        format!("/usr/local/bin/{}", command[0])
    );

    // The operator is the entrypoint, in exec form (signals reach it).
    let entrypoints: Vec<&String> = last
        .iter()
        .filter(|(k, _)| k == "ENTRYPOINT")
        .map(|(_, a)| a)
        .collect();
    assert_eq!(entrypoints, [r#"["/usr/local/bin/ferrosched-operator"]"#]);

    let ignore = read(".dockerignore");
    for path in ["target", ".git"] {
        assert!(
            ignore.lines().any(|l| l.trim() == path),
            ".dockerignore: {path}"
        );
    }
}
