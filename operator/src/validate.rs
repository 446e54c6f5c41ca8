//! Validation before anything is rolled out (pure): scheduler-name conflicts between
//! profiles, then the rendered configuration checked by the scheduler's own config code.

use std::collections::BTreeSet;

use ferrosched_crds::SchedulerProfile;
use ferrosched_scheduler::config as sc;

use crate::render::{Rendered, render};
use crate::{identity, scheduler_pod};

/// A configuration the scheduler accepts.
#[derive(Clone, Debug)]
pub struct Valid {
    /// The rendered document, its text and hash.
    pub rendered: Rendered,
    /// Every plugin the profile enables at some extension point.
    pub enabled_plugins: BTreeSet<String>,
}

/// Why a profile cannot be deployed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Invalid {
    /// An older profile serves the same scheduler name.
    Conflict {
        /// The scheduler name both claim.
        scheduler_name: String,
        /// The profile that keeps it.
        holder: String,
    },
    /// The spec does not make a valid configuration; one line per problem, each naming
    /// the profile field (`spec.plugins.score.enabled[0].name: unknown plugin "Foo"`).
    Config(Vec<String>),
    /// A child's name is reserved, or an object of that name exists that the profile does
    /// not control (see the `guard` module).
    NameConflict {
        /// Kind of the existing object (`object` for a reserved name).
        kind: String,
        /// Its name.
        name: String,
        /// Why the profile may not take it.
        why: String,
    },
    /// `spec.image` is outside the operator's allowlist.
    ImageNotAllowed {
        /// The image asked for.
        image: String,
        /// The allowlist in force.
        allowed: Vec<String>,
    },
    /// A fixed grant ClusterRole the profile's plugins need does not exist (the chart
    /// ships them; the operator may not create ClusterRoles).
    GrantRoleMissing {
        /// The ClusterRole's name.
        name: String,
    },
    /// The API server refused a child in a dry run; nothing was applied.
    Rejected {
        /// Kind of the child.
        kind: String,
        /// Its name.
        name: String,
        /// The API server's message (it names the field).
        message: String,
    },
}

impl Invalid {
    /// The condition reason.
    pub fn reason(&self) -> &'static str {
        use ferrosched_crds::condition_reasons as r;
        match self {
            Invalid::Conflict { .. } => r::CONFLICT,
            Invalid::Config(_) => r::INVALID_CONFIG,
            Invalid::NameConflict { .. } => r::NAME_CONFLICT,
            Invalid::ImageNotAllowed { .. } => r::IMAGE_NOT_ALLOWED,
            Invalid::GrantRoleMissing { .. } => r::GRANT_ROLE_MISSING,
            Invalid::Rejected { .. } => r::REJECTED,
        }
    }

    /// The condition and Event message.
    pub fn message(&self) -> String {
        match self {
            Invalid::Conflict {
                scheduler_name,
                holder,
            } => {
                format!(
                    "scheduler name {scheduler_name} is already served by SchedulerProfile {holder}"
                )
            }
            Invalid::Config(lines) => {
                format!("invalid scheduler configuration: {}", lines.join("; "))
            }
            Invalid::NameConflict { kind, name, why } => {
                format!(
                    "{kind} {name} cannot be managed by this profile: {why}; nothing was applied"
                )
            }
            Invalid::ImageNotAllowed { image, allowed } => format!(
                "spec.image: Forbidden: repository {:?} of image {image:?} is not in the operator's allowed images [{}]; nothing was applied",
                crate::images::repository(image),
                allowed.join(", ")
            ),
            Invalid::GrantRoleMissing { name } => format!(
                "ClusterRole {name} does not exist: the chart installs the schedulers' grant roles, and the operator may not create ClusterRoles; nothing was applied"
            ),
            Invalid::Rejected {
                kind,
                name,
                message,
            } => format!(
                "the API server refused {kind} {name} in a dry run: {message}; nothing was applied"
            ),
        }
    }
}

/// The profile among `all` that keeps `scheduler_name` when several claim it: the oldest
/// by creationTimestamp, then by name. Profiles being deleted claim nothing.
pub fn name_holder<'a>(
    all: &'a [SchedulerProfile],
    scheduler_name: &str,
) -> Option<&'a SchedulerProfile> {
    all.iter()
        .filter(|p| {
            p.metadata.deletion_timestamp.is_none() && identity::scheduler_name(p) == scheduler_name
        })
        .min_by(|a, b| {
            let key = |p: &SchedulerProfile| {
                (
                    p.metadata.creation_timestamp.clone().map(|t| t.0),
                    identity::profile_name(p).to_string(),
                )
            };
            key(a).cmp(&key(b))
        })
}

/// Checks `profile` against the other profiles (`all` may include it) and the scheduler's
/// configuration rules; operands of a valid profile live in `namespace`.
pub fn validate(
    profile: &SchedulerProfile,
    all: &[SchedulerProfile],
    namespace: &str,
) -> Result<Valid, Invalid> {
    let scheduler_name = identity::scheduler_name(profile);
    let me = identity::profile_name(profile);
    if let Some(holder) = name_holder(all, &scheduler_name)
        && identity::profile_name(holder) != me
    {
        return Err(Invalid::Conflict {
            scheduler_name,
            holder: identity::profile_name(holder).to_string(),
        });
    }
    let mut names_ok = Vec::new();
    check_names(me, &scheduler_name, &mut names_ok);
    check_pod_fields(profile, &mut names_ok);
    if !names_ok.is_empty() {
        return Err(Invalid::Config(names_ok));
    }
    let rendered = render(profile, namespace).map_err(|ps| {
        Invalid::Config(
            ps.into_iter()
                .map(|p| format!("{}: {}", p.path, p.message))
                .collect(),
        )
    })?;
    let resolved = sc::resolve(rendered.document.clone())
        .map_err(|e| Invalid::Config(e.problems.iter().map(spec_line).collect()))?;
    let enabled_plugins = resolved
        .profiles
        .first()
        .map(|p| p.plugins.enabled_names())
        .unwrap_or_default();
    Ok(Valid {
        rendered,
        enabled_plugins,
    })
}

/// A config problem reworded with the profile's own field path: `profiles[0].plugins…`
/// becomes `spec.plugins…`, top-level fields become `spec.<field>`.
fn spec_line(problem: &sc::Problem) -> String {
    let path = problem
        .path
        .strip_prefix("profiles[0].")
        .unwrap_or(&problem.path);
    if path.is_empty() {
        problem.message.clone()
    } else {
        format!("spec.{path}: {}", problem.message)
    }
}

/// Longest profile name whose children's names stay valid (`ferrosched-<name>` must be a
/// DNS-1035 label of at most 63 characters, as Service names are).
pub const MAX_PROFILE_NAME: usize = 52;

/// The profile name must make valid child names; the scheduler name must be something a
/// pod's `spec.schedulerName` can hold (a DNS-1123 subdomain, as pod validation requires).
fn check_names(profile: &str, scheduler_name: &str, out: &mut Vec<String>) {
    if profile.len() > MAX_PROFILE_NAME || !is_dns1035_label(profile) {
        out.push(format!(
            "metadata.name: Invalid value: {profile:?}: must be a DNS-1035 label (lowercase letters, digits and '-', starting with a letter and ending with a letter or digit) of at most {MAX_PROFILE_NAME} characters, so that Service ferrosched-<name> is valid"
        ));
    }
    if !is_dns1123_subdomain(scheduler_name) {
        out.push(format!(
            "spec.schedulerName: Invalid value: {scheduler_name:?}: a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
        ));
    }
}

/// `spec.image` must not be blank, and every request and limit must be a quantity (the
/// API server would refuse the Deployment with a decoding error that names no field).
fn check_pod_fields(profile: &SchedulerProfile, out: &mut Vec<String>) {
    if profile
        .spec
        .image
        .as_deref()
        .is_some_and(|i| i.trim().is_empty())
    {
        out.push("spec.image: Required value: an image reference, or no spec.image for the operator's own image".to_string());
    }
    if let Some(grace) = profile.spec.termination_grace_period_seconds {
        let renew = scheduler_pod::renew_deadline_seconds(profile);
        let least = scheduler_pod::min_grace_seconds(renew);
        if grace < least {
            out.push(format!(
                "spec.terminationGracePeriodSeconds: Invalid value: {grace}: must be at least {least} (the scheduler's bind drain of {} s plus renewDeadline {renew} s, so it can release its Lease before it is killed)",
                scheduler_pod::BIND_DRAIN_SECONDS
            ));
        }
    }
    let Some(r) = &profile.spec.resources else {
        return;
    };
    for (field, map) in [("requests", &r.requests), ("limits", &r.limits)] {
        for (name, q) in map.iter().flatten() {
            if !crate::quantity::is_valid(&q.0) {
                out.push(format!(
                    "spec.resources.{field}.{name}: Invalid value: {:?}: {}",
                    q.0,
                    crate::quantity::INVALID_MESSAGE
                ));
            }
        }
    }
}

fn is_dns1123_label(s: &str) -> bool {
    let b = s.as_bytes();
    let alnum = |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    !b.is_empty()
        && b.len() <= 63
        && b.iter().all(|c| alnum(c) || *c == b'-')
        && b.first().is_some_and(alnum)
        && b.last().is_some_and(alnum)
}

fn is_dns1123_subdomain(s: &str) -> bool {
    s.len() <= 253 && s.split('.').all(is_dns1123_label)
}

fn is_dns1035_label(s: &str) -> bool {
    is_dns1123_label(s) && s.as_bytes().first().is_some_and(u8::is_ascii_lowercase)
}

#[cfg(test)]
#[path = "validate_tests.rs"]
mod tests;
