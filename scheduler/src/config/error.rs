//! Configuration errors: a list of problems, each tied to a field path, worded the
//! way upstream's `field.Error` renders (`Invalid value: 0: must be greater than 0`).

use std::fmt;

use serde::Serialize;

/// One problem found in a configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// Field path such as `profiles[0].plugins.score.enabled[1].name`; empty when the
    /// problem concerns the document as a whole (e.g. a YAML syntax error).
    pub path: String,
    /// What is wrong, e.g. `unknown plugin "Foo"`.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// Every problem found while parsing, defaulting and validating a configuration.
/// Displays as one line per problem, `path: problem`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}", render_lines(.problems))]
pub struct ConfigError {
    /// The problems, in the order they were found.
    pub problems: Vec<Problem>,
}

impl ConfigError {
    /// A single problem.
    pub fn single(path: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigError {
            problems: vec![Problem {
                path: path.into(),
                message: message.into(),
            }],
        }
    }

    /// The problems rendered as `path: problem` lines.
    pub fn lines(&self) -> Vec<String> {
        self.problems.iter().map(ToString::to_string).collect()
    }
}

fn render_lines(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

/// A field path under construction (`profiles[0].pluginConfig[1].args`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct FieldPath(String);

impl FieldPath {
    pub(crate) fn new(root: &str) -> Self {
        FieldPath(root.to_string())
    }

    pub(crate) fn child(&self, name: &str) -> Self {
        if self.0.is_empty() {
            FieldPath(name.to_string())
        } else {
            FieldPath(format!("{}.{name}", self.0))
        }
    }

    pub(crate) fn index(&self, i: usize) -> Self {
        FieldPath(format!("{}[{i}]", self.0))
    }

    pub(crate) fn key(&self, k: &str) -> Self {
        FieldPath(format!("{}[{k}]", self.0))
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Renders a bad value the way upstream does: numbers and booleans bare, strings
/// quoted, anything else as JSON.
pub(crate) fn shown<T: Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "<unprintable>".to_string())
}

/// Collects problems.
#[derive(Debug, Default)]
pub(crate) struct Errs(pub(crate) Vec<Problem>);

impl Errs {
    pub(crate) fn push(&mut self, path: &FieldPath, message: impl Into<String>) {
        self.0.push(Problem {
            path: path.to_string(),
            message: message.into(),
        });
    }

    /// `Invalid value: <value>: <detail>`.
    pub(crate) fn invalid<T: Serialize + ?Sized>(
        &mut self,
        path: &FieldPath,
        value: &T,
        detail: &str,
    ) {
        self.push(path, format!("Invalid value: {}: {detail}", shown(value)));
    }

    /// `Required value` or `Required value: <detail>`.
    pub(crate) fn required(&mut self, path: &FieldPath, detail: &str) {
        if detail.is_empty() {
            self.push(path, "Required value");
        } else {
            self.push(path, format!("Required value: {detail}"));
        }
    }

    /// `Duplicate value: <value>`.
    pub(crate) fn duplicate<T: Serialize + ?Sized>(&mut self, path: &FieldPath, value: &T) {
        self.push(path, format!("Duplicate value: {}", shown(value)));
    }

    /// `Unsupported value: <value>: supported values: "a", "b"`.
    pub(crate) fn not_supported(&mut self, path: &FieldPath, value: &str, supported: &[&str]) {
        let list = supported.iter().map(shown).collect::<Vec<_>>().join(", ");
        self.push(
            path,
            format!(
                "Unsupported value: {}: supported values: {list}",
                shown(value)
            ),
        );
    }

    /// `Forbidden: <detail>`.
    pub(crate) fn forbidden(&mut self, path: &FieldPath, detail: &str) {
        self.push(path, format!("Forbidden: {detail}"));
    }

    pub(crate) fn into_result<T>(self, value: T) -> Result<T, ConfigError> {
        if self.0.is_empty() {
            Ok(value)
        } else {
            Err(ConfigError { problems: self.0 })
        }
    }
}
