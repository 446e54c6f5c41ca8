//! The packet-filter state a node leaves: iptables chains of kubelet (`KUBE-IPTABLES-HINT`,
//! `KUBE-KUBELET-CANARY`), kube-proxy (`KUBE-SERVICES`, …) and CNI plugins (`CNI-…`), in
//! both address families, and the nft tables iptables-nft creates to hold them.

use std::collections::BTreeSet;
use std::io::Write;
use std::process::{Command, Stdio};

/// Chain name prefixes the node's components own.
pub const CHAIN_PREFIXES: &[&str] = &["KUBE-", "CNI-"];

/// The iptables front ends, IPv4 and IPv6.
const FRONT_ENDS: &[(&str, &str)] = &[
    ("iptables-save", "iptables-restore"),
    ("ip6tables-save", "ip6tables-restore"),
];

fn owned_prefix(chain: &str) -> bool {
    CHAIN_PREFIXES.iter().any(|p| chain.starts_with(p))
}

fn run(cmd: &str, args: &[&str]) -> Result<String, String> {
    let out = Command::new(cmd)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("running {cmd}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{cmd} {args:?}: {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Every chain as `<save command>/<table>/<chain>` (e.g. `iptables-save/nat/KUBE-SERVICES`).
pub fn chains() -> BTreeSet<String> {
    let mut all = BTreeSet::new();
    for (save, _) in FRONT_ENDS {
        let Ok(text) = run(save, &[]) else { continue };
        let mut table = "";
        for line in text.lines() {
            if let Some(t) = line.strip_prefix('*') {
                table = t;
            } else if let Some(decl) = line.strip_prefix(':') {
                let chain = decl.split_whitespace().next().unwrap_or_default();
                all.insert(format!("{save}/{table}/{chain}"));
            }
        }
    }
    all
}

/// The nft tables as `<family> <name>`.
pub fn nft_tables() -> BTreeSet<String> {
    run("nft", &["list", "tables"])
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.strip_prefix("table "))
        .map(str::to_owned)
        .collect()
}

/// An `iptables-restore --noflush` script removing the chains of one `*-save` dump that
/// `owned(table, chain)` selects: first flush them (which drops their jumps to each other),
/// then delete the rules of other chains that jump to them, then delete the chains. Empty
/// if there is nothing to remove.
fn removal_script(dump: &str, owned: impl Fn(&str, &str) -> bool) -> String {
    let mut script = String::new();
    let mut table: Option<&str> = None;
    let (mut flush, mut unhook, mut delete) = (Vec::new(), Vec::new(), Vec::new());
    let mut finish = |table: Option<&str>,
                      flush: &mut Vec<String>,
                      unhook: &mut Vec<String>,
                      delete: &mut Vec<String>| {
        if let Some(t) = table
            && !(flush.is_empty() && unhook.is_empty())
        {
            script.push_str(&format!("*{t}\n"));
            for l in flush.iter().chain(unhook.iter()).chain(delete.iter()) {
                script.push_str(l);
                script.push('\n');
            }
            script.push_str("COMMIT\n");
        }
        flush.clear();
        unhook.clear();
        delete.clear();
    };
    for line in dump.lines() {
        if let Some(t) = line.strip_prefix('*') {
            table = Some(t);
        } else if line == "COMMIT" {
            finish(table, &mut flush, &mut unhook, &mut delete);
            table = None;
        } else if let Some(decl) = line.strip_prefix(':') {
            let chain = decl.split_whitespace().next().unwrap_or_default();
            if owned(table.unwrap_or_default(), chain) {
                flush.push(format!(":{chain} - [0:0]"));
                delete.push(format!("-X {chain}"));
            }
        } else if let Some(rule) = line.strip_prefix("-A ") {
            let chain = rule.split_whitespace().next().unwrap_or_default();
            let words: Vec<&str> = rule.split_whitespace().collect();
            let t = table.unwrap_or_default();
            let jumps_to_owned = words
                .windows(2)
                .any(|w| (w[0] == "-j" || w[0] == "-g") && owned(t, w[1]));
            if !owned(t, chain) && jumps_to_owned {
                unhook.push(format!("-D {rule}"));
            }
        }
    }
    script
}

/// Remove every chain with an owned prefix that was not in `chains_before` (as listed by
/// [`chains`]; a chain of another Kubernetes node on this host is left alone) and the rules
/// jumping to them, in both families; then delete the nft tables that were not in
/// `tables_before` and hold no rule any more. Returns the problems met.
pub fn cleanup(chains_before: &BTreeSet<String>, tables_before: &BTreeSet<String>) -> Vec<String> {
    let mut problems = Vec::new();
    for (save, restore) in FRONT_ENDS {
        let dump = match run(save, &[]) {
            Ok(d) => d,
            Err(e) => {
                problems.push(e);
                continue;
            }
        };
        let script = removal_script(&dump, |table, chain| {
            owned_prefix(chain) && !chains_before.contains(&format!("{save}/{table}/{chain}"))
        });
        if script.is_empty() {
            continue;
        }
        tracing::debug!(%restore, %script, "removing the node's chains");
        let result = Command::new(restore)
            .arg("--noflush")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .and_then(|mut child| {
                if let Some(mut stdin) = child.stdin.take() {
                    stdin.write_all(script.as_bytes())?;
                }
                child.wait_with_output()
            });
        match result {
            Ok(out) if out.status.success() => {}
            Ok(out) => problems.push(format!(
                "{restore} --noflush: {}: {}\nscript:\n{script}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            )),
            Err(e) => problems.push(format!("running {restore}: {e}")),
        }
    }
    for table in nft_tables().difference(tables_before) {
        let args: Vec<&str> = ["list", "table"]
            .into_iter()
            .chain(table.split_whitespace())
            .collect();
        let listing = run("nft", &args).unwrap_or_default();
        // A rule line is any line inside a chain other than its header, hook and policy.
        let has_rules = listing.lines().map(str::trim).any(|l| {
            !(l.is_empty()
                || l.starts_with("table ")
                || l.starts_with("chain ")
                || l.starts_with("type ")
                || l == "}")
        });
        if has_rules {
            problems.push(format!("nft table {table} appeared and still holds rules"));
            continue;
        }
        let args: Vec<&str> = ["delete", "table"]
            .into_iter()
            .chain(table.split_whitespace())
            .collect();
        if let Err(e) = run("nft", &args) {
            problems.push(e);
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::removal_script;

    #[test]
    fn removal_script_unhooks_flushes_and_deletes_owned_chains_only() {
        let dump = "*nat\n:PREROUTING ACCEPT [0:0]\n:DOCKER - [0:0]\n:KUBE-SERVICES - [0:0]\n:KUBE-MARK-MASQ - [0:0]\n\
-A PREROUTING -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES\n\
-A PREROUTING -j DOCKER\n-A KUBE-SERVICES -j KUBE-MARK-MASQ\nCOMMIT\n*filter\n:INPUT ACCEPT [0:0]\nCOMMIT\n";
        let script = removal_script(dump, |_, chain| super::owned_prefix(chain));
        assert_eq!(
            script,
            "*nat\n:KUBE-SERVICES - [0:0]\n:KUBE-MARK-MASQ - [0:0]\n\
-D PREROUTING -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES\n\
-X KUBE-SERVICES\n-X KUBE-MARK-MASQ\nCOMMIT\n"
        );
        assert_eq!(
            removal_script("*filter\n:INPUT ACCEPT [0:0]\nCOMMIT\n", |_, c| {
                super::owned_prefix(c)
            }),
            ""
        );
        // A chain that was there before (another node's) stays, with the jumps to it.
        let keep_services =
            removal_script(dump, |_, c| super::owned_prefix(c) && c != "KUBE-SERVICES");
        assert_eq!(
            keep_services,
            "*nat\n:KUBE-MARK-MASQ - [0:0]\n-D KUBE-SERVICES -j KUBE-MARK-MASQ\n-X KUBE-MARK-MASQ\nCOMMIT\n"
        );
    }
}
