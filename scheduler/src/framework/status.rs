//! Plugin results with upstream's codes.

use std::borrow::Cow;
use std::fmt;

/// Upstream's status codes: they separate "this node does not fit" from "something broke".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Code {
    /// The plugin ran and the pod may proceed.
    Success,
    /// Something went wrong that is not about the pod fitting (retried with backoff).
    Error,
    /// The pod does not fit now; preemption may help.
    Unschedulable,
    /// The pod does not fit and preemption cannot help on this node.
    UnschedulableAndUnresolvable,
    /// A Permit plugin asks the pod to wait.
    Wait,
    /// The plugin has nothing to do for this pod (its later points are skipped).
    Skip,
    /// The pod waits for something outside the scheduler (e.g. a PreEnqueue gate).
    Pending,
}

/// A reason: most are fixed texts, which a status then holds without allocating (a filter
/// rejects hundreds of nodes per cycle on a crowded cluster).
pub type Reason = Cow<'static, str>;

/// The reasons of a status; one reason is kept inline.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Reasons {
    None,
    One(Reason),
    Many(Vec<Reason>),
}

/// A plugin's verdict: a code, human-readable reasons, and which plugin said it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    code: Code,
    reasons: Reasons,
    plugin: &'static str,
}

impl Status {
    /// Success.
    pub const fn success() -> Self {
        Status {
            code: Code::Success,
            reasons: Reasons::None,
            plugin: "",
        }
    }

    /// A status with one reason.
    pub fn new(code: Code, reason: impl Into<Reason>) -> Self {
        Status {
            code,
            reasons: Reasons::One(reason.into()),
            plugin: "",
        }
    }

    /// A status with several reasons (in order).
    pub fn with_reasons<R: Into<Reason>>(code: Code, reasons: impl IntoIterator<Item = R>) -> Self {
        let mut all: Vec<Reason> = reasons.into_iter().map(Into::into).collect();
        let reasons = match all.len() {
            0 => Reasons::None,
            1 => Reasons::One(all.remove(0)),
            _ => Reasons::Many(all),
        };
        Status {
            code,
            reasons,
            plugin: "",
        }
    }

    /// `Unschedulable` with one reason.
    pub fn unschedulable(reason: impl Into<Reason>) -> Self {
        Self::new(Code::Unschedulable, reason)
    }

    /// `UnschedulableAndUnresolvable` with one reason.
    pub fn unresolvable(reason: impl Into<Reason>) -> Self {
        Self::new(Code::UnschedulableAndUnresolvable, reason)
    }

    /// `Error` with a message.
    pub fn error(message: impl Into<Reason>) -> Self {
        Self::new(Code::Error, message)
    }

    /// `Skip`.
    pub fn skip() -> Self {
        Status {
            code: Code::Skip,
            reasons: Reasons::None,
            plugin: "",
        }
    }

    /// Appends `reason` after the status's reasons (upstream's `AppendReason`).
    #[must_use]
    pub fn with_reason(mut self, reason: impl Into<Reason>) -> Self {
        let reason = reason.into();
        self.reasons = match std::mem::replace(&mut self.reasons, Reasons::None) {
            Reasons::None => Reasons::One(reason),
            Reasons::One(first) => Reasons::Many(vec![first, reason]),
            Reasons::Many(mut all) => {
                all.push(reason);
                Reasons::Many(all)
            }
        };
        self
    }

    /// Records which plugin produced the status.
    #[must_use]
    pub fn with_plugin(mut self, plugin: &'static str) -> Self {
        self.plugin = plugin;
        self
    }

    /// The code.
    pub fn code(&self) -> Code {
        self.code
    }

    /// The reasons, as they appear in `FailedScheduling` messages.
    pub fn reasons(&self) -> &[Reason] {
        match &self.reasons {
            Reasons::None => &[],
            Reasons::One(r) => std::slice::from_ref(r),
            Reasons::Many(rs) => rs,
        }
    }

    /// The plugin that produced it ("" when not recorded).
    pub fn plugin(&self) -> &'static str {
        self.plugin
    }

    /// Whether the code is `Success`.
    pub fn is_success(&self) -> bool {
        self.code == Code::Success
    }

    /// Whether the code is `Skip`.
    pub fn is_skip(&self) -> bool {
        self.code == Code::Skip
    }

    /// Whether the pod is rejected (`Unschedulable` or `UnschedulableAndUnresolvable`).
    pub fn is_rejected(&self) -> bool {
        matches!(
            self.code,
            Code::Unschedulable | Code::UnschedulableAndUnresolvable
        )
    }

    /// The reasons joined with ", " (upstream's `Status.Message()`).
    pub fn message(&self) -> String {
        self.reasons().join(", ")
    }

    /// The metric label of the code, as upstream writes it.
    pub fn code_label(&self) -> &'static str {
        match self.code {
            Code::Success => "Success",
            Code::Error => "Error",
            Code::Unschedulable => "Unschedulable",
            Code::UnschedulableAndUnresolvable => "UnschedulableAndUnresolvable",
            Code::Wait => "Wait",
            Code::Skip => "Skip",
            Code::Pending => "Pending",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code_label(), self.message())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_keep_their_order_and_join_as_upstreams_message() {
        let none = Status::with_reasons(Code::Unschedulable, Vec::<&'static str>::new());
        assert!(none.reasons().is_empty() && none.message().is_empty());
        let one = Status::unschedulable("node(s) had untolerated taint");
        assert_eq!(one.reasons(), ["node(s) had untolerated taint"]);
        assert_eq!(
            one,
            Status::with_reasons(Code::Unschedulable, ["node(s) had untolerated taint"]),
            "one reason compares equal however it was built"
        );
        let many = Status::with_reasons(
            Code::Unschedulable,
            vec![
                "Insufficient cpu".to_string(),
                format!("Insufficient {}", "memory"),
            ],
        );
        assert_eq!(many.message(), "Insufficient cpu, Insufficient memory");
        assert!(many.is_rejected() && !many.is_success());
    }
}
