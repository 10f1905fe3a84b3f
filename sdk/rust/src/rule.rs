//! What a rule is: its metadata, its check function, and what the check returns.
//! Nothing here talks to the host; that is `context.rs` and `runtime.rs`.

use std::fmt;

use crate::{Ctx, Resource};

/// How bad a failure of a rule is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

/// The kind of value an operator may set for a [`Setting`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SettingKind {
    Boolean,
    Integer,
    Number,
    Text,
    TextList,
    TextMap,
}

/// An operator-tunable parameter of a rule, with its default as JSON text.
#[derive(Debug, Clone, Copy)]
pub struct Setting {
    pub name: &'static str,
    pub description: &'static str,
    pub kind: SettingKind,
    /// JSON text of the default, e.g. `"90"` or `r#"["t3.micro"]"#`.
    pub default_json: &'static str,
}

impl Setting {
    /// A setting named `name` of `kind` whose default is the JSON text `default_json`.
    pub const fn new(
        name: &'static str,
        kind: SettingKind,
        default_json: &'static str,
        description: &'static str,
    ) -> Self {
        Self {
            name,
            description,
            kind,
            default_json,
        }
    }
}

/// A rule's check: reads the resource (and, through `ctx`, the time, settings and other
/// resources) and decides. Returning `Err` yields an `error` outcome carrying the message.
pub type Check = fn(&Resource<'_>, &Ctx<'_>) -> Result<Verdict>;

/// One rule of a pack. Build it with [`Rule::new`] and the `const` builder methods so a pack's
/// rule list can be a `static`.
#[derive(Clone, Copy)]
pub struct Rule {
    pub id: &'static str,
    pub title: &'static str,
    pub severity: Severity,
    pub resource_types: &'static [&'static str],
    pub description: &'static str,
    pub remediation: &'static str,
    pub references: &'static [&'static str],
    pub compliance: &'static [&'static str],
    pub settings: &'static [Setting],
    pub default_enabled: bool,
    pub check: Check,
}

impl Rule {
    /// A rule enabled by default, with no description, remediation, references, compliance tags
    /// or settings yet.
    pub const fn new(
        id: &'static str,
        title: &'static str,
        severity: Severity,
        resource_types: &'static [&'static str],
        check: Check,
    ) -> Self {
        Self {
            id,
            title,
            severity,
            resource_types,
            description: "",
            remediation: "",
            references: &[],
            compliance: &[],
            settings: &[],
            default_enabled: true,
            check,
        }
    }

    pub const fn description(mut self, text: &'static str) -> Self {
        self.description = text;
        self
    }

    pub const fn remediation(mut self, text: &'static str) -> Self {
        self.remediation = text;
        self
    }

    pub const fn references(mut self, urls: &'static [&'static str]) -> Self {
        self.references = urls;
        self
    }

    /// Compliance controls as `FRAMEWORK:CONTROL`, e.g. `CIS-AWS-7.0:2.12`.
    pub const fn compliance(mut self, controls: &'static [&'static str]) -> Self {
        self.compliance = controls;
        self
    }

    pub const fn settings(mut self, settings: &'static [Setting]) -> Self {
        self.settings = settings;
        self
    }

    /// The rule runs only where an operator enables it.
    pub const fn disabled_by_default(mut self) -> Self {
        self.default_enabled = false;
        self
    }

    /// Whether the rule applies to documents of `resource_type`.
    pub fn applies_to(&self, resource_type: &str) -> bool {
        self.resource_types.contains(&resource_type)
    }
}

impl fmt::Debug for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rule")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// A rule's decision on a resource it could evaluate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The resource complies.
    Pass,
    /// The resource does not comply; the message names the offending element.
    Fail(String),
}

impl Verdict {
    /// A failure with `message`.
    pub fn fail(message: impl Into<String>) -> Self {
        Self::Fail(message.into())
    }

    /// Pass when `failures` is empty, else fail with the failures joined by `; `.
    pub fn from_failures(failures: Vec<String>) -> Self {
        if failures.is_empty() {
            Self::Pass
        } else {
            Self::Fail(failures.join("; "))
        }
    }
}

/// Why a rule could not decide. Becomes an `error` outcome; never a pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    message: String,
}

impl Error {
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }

    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

// Like anyhow: any standard error converts, so `?` works on serde, IAM, CIDR and time errors.
// `Error` itself deliberately does not implement `std::error::Error` to keep this impl coherent.
impl<E: std::error::Error> From<E> for Error {
    fn from(err: E) -> Self {
        Self::new(err.to_string())
    }
}

/// The result of a check.
pub type Result<T, E = Error> = std::result::Result<T, E>;
