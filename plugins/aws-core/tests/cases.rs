//! Table-driven tests of the aws-core rules: every case of `cases.json` is a realistic resource
//! document (the resource model's shapes) with the verdict the rule must reach on it.
//!
//! All cases run before anything is asserted, so one run lists every case that disagrees.

use palisade_aws_core::RULES;
use palisade_sdk::cases::CaseTable;

fn table() -> CaseTable {
    CaseTable::load(
        RULES,
        concat!(env!("CARGO_MANIFEST_DIR"), "/tests/cases.json"),
    )
}

#[test]
fn every_case_gets_its_expected_verdict() {
    table().assert_verdicts();
}

#[test]
fn case_names_are_unique() {
    table().assert_unique_names();
}

#[test]
fn every_rule_has_a_passing_and_a_failing_case() {
    table().assert_each_rule_passes_and_fails();
}
