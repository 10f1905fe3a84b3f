//! Write Palisade policy packs in Rust.
//!
//! A pack is a list of [`Rule`]s and nothing else:
//!
//! ```
//! use palisade_sdk::{Ctx, Resource, Result, Rule, Severity, Verdict};
//!
//! fn versioning(res: &Resource, _ctx: &Ctx) -> Result<Verdict> {
//!     res.require_collected(&["Versioning"])?;
//!     Ok(match res.get(&["Versioning"])?.and_then(|v| v.as_str()) {
//!         Some("Enabled") => Verdict::Pass,
//!         other => Verdict::fail(format!("versioning is {}", other.unwrap_or("not configured"))),
//!     })
//! }
//!
//! pub static RULES: &[Rule] = &[Rule::new(
//!     "AWS.S3.Bucket.Versioning",
//!     "S3 bucket has versioning enabled",
//!     Severity::Low,
//!     &["AWS.S3.Bucket"],
//!     versioning,
//! )];
//!
//! palisade_sdk::export_pack!(RULES);
//! # fn main() {}
//! ```
//!
//! Built with `cargo build --target wasm32-wasip2 --release` this is a component implementing the
//! `palisade:policy/pack` world (see `wit/policy.wit`). Built natively, the same rules run through
//! [`runtime`], which is how pack unit tests and the engine benchmark call them.
//!
//! Helpers every cloud-security rule needs live beside: [`deep_get`] for nested fields, [`iam`]
//! for policy documents, [`net`] for CIDRs and port ranges, [`time`] for timestamps and ages.

// The generated export macro names this crate by path, also from inside it.
extern crate self as palisade_sdk;

pub mod cases;
mod context;
pub mod iam;
mod json;
pub mod net;
mod resource;
mod rule;
pub mod runtime;
pub mod s3;
mod scan;
pub mod time;

pub use context::{Ctx, Host, LogLevel};
pub use json::{deep_get, deep_walk, get_array, get_bool, get_i64, get_object, get_str};
pub use resource::Resource;
pub use rule::{Error, Result, Rule, Setting, SettingKind, Severity, Verdict};
pub use serde_json::{Value, json};

/// Bindings generated from `wit/policy.wit`. Packs do not use these directly: [`export_pack!`]
/// wires a rule list to them.
#[doc(hidden)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "palisade:policy/pack",
        pub_export_macro: true,
        export_macro_name: "__export_pack_bindings",
        default_bindings_module: "palisade_sdk::bindings",
        runtime_path: "palisade_sdk::__wit_bindgen::rt",
    });
}

#[doc(hidden)]
pub use wit_bindgen as __wit_bindgen;

/// The WIT records as Rust types, for code that drives a pack natively (tests, benchmarks).
pub mod wit {
    pub use crate::bindings::palisade::policy::types::{
        Instant, Outcome, RuleInfo, RuleRequest, Setting, SettingKind, Severity, Status, Verdict,
    };
}

/// Exports a rule list as the pack component's `palisade:policy/rules` interface.
///
/// Takes an expression of type `&'static [Rule]`. Expands to nothing on non-wasm targets, so the
/// same crate also builds natively for unit tests.
#[macro_export]
macro_rules! export_pack {
    ($rules:expr) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            use $crate::bindings::exports::palisade::policy::rules as __rules;
            use $crate::wit as __wit;

            struct __PalisadePack;

            impl __rules::Guest for __PalisadePack {
                fn describe() -> ::std::vec::Vec<__wit::RuleInfo> {
                    $crate::runtime::describe($rules)
                }

                fn evaluate(
                    rule: __wit::RuleRequest,
                    resource_type: ::std::string::String,
                    document: ::std::string::String,
                ) -> __wit::Verdict {
                    $crate::runtime::evaluate(
                        $rules,
                        &rule,
                        &resource_type,
                        &document,
                        &$crate::runtime::ImportedHost,
                    )
                }

                fn evaluate_batch(
                    rules: ::std::vec::Vec<__wit::RuleRequest>,
                    resource_type: ::std::string::String,
                    documents: ::std::vec::Vec<::std::string::String>,
                ) -> ::std::vec::Vec<__wit::Outcome> {
                    $crate::runtime::evaluate_batch(
                        $rules,
                        &rules,
                        &resource_type,
                        &documents,
                        &$crate::runtime::ImportedHost,
                    )
                }
            }

            $crate::bindings::__export_pack_bindings!(__PalisadePack);
        };
    };
}
