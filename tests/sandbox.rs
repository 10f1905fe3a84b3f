//! The sandbox holds: every way a pack can misbehave is contained as an `error` verdict (or a
//! rejected load) with the right reason, while a good rule in the same run still passes.
//! Guests are real components built from `tests/fixtures/guests/` by the build.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use palisade::engine::{
    ArtifactCache, Engine, EngineError, EvalContext, Evaluation, Limits, Lookup, Pack,
    RuleSettings, Status, Subject,
};
use palisade::store::SledStore;
use palisade_test_fixtures as fixtures;
use serde_json::{Map, Value, json};
use time::macros::datetime;

const ACCOUNT: &str = "123456789012";

/// A short deadline keeps the runaway-loop tests quick.
fn engine() -> Engine {
    Engine::new(Limits {
        deadline: Duration::from_millis(250),
        ..Limits::default()
    })
    .expect("engine")
}

fn load(engine: &Engine, fixture: &str) -> Pack {
    engine
        .load("fixture", &fixtures::read(fixture))
        .expect("fixture loads")
}

struct Thing {
    id: String,
    doc: String,
}

fn things(docs: &[Value]) -> Vec<Thing> {
    docs.iter()
        .enumerate()
        .map(|(i, extra)| {
            let id = format!("thing-{i}");
            let mut doc = json!({"ResourceId": id, "ResourceType": "Test.Thing", "AccountId": ACCOUNT, "Region": "us-east-1"});
            doc.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
            Thing { id, doc: doc.to_string() }
        })
        .collect()
}

fn subjects(things: &[Thing]) -> Vec<Subject<'_>> {
    things
        .iter()
        .map(|t| Subject {
            id: &t.id,
            resource_type: "Test.Thing",
            account_id: ACCOUNT,
            document: &t.doc,
        })
        .collect()
}

/// Run `rules` of `pack` over `docs`; verdicts keyed by (rule id, resource index).
fn run(
    pack: &Pack,
    rules: &[&str],
    docs: &[Value],
    ctx: &EvalContext,
) -> HashMap<(String, usize), Evaluation> {
    run_with(pack, rules, docs, ctx, &RuleSettings::new())
}

fn run_with(
    pack: &Pack,
    rules: &[&str],
    docs: &[Value],
    ctx: &EvalContext,
    settings: &RuleSettings,
) -> HashMap<(String, usize), Evaluation> {
    let plan = pack
        .plan(|r| rules.contains(&r.id.as_str()), settings)
        .expect("plan");
    let things = things(docs);
    let verdicts = pack.evaluate(&plan, ctx, &subjects(&things));
    assert_eq!(
        verdicts.len(),
        rules.len() * docs.len(),
        "one verdict per pair: {verdicts:?}"
    );
    verdicts
        .into_iter()
        .map(|e| ((pack.rules()[e.rule].id.clone(), e.subject), e))
        .collect()
}

fn ctx() -> EvalContext {
    EvalContext::at(datetime!(2026-11-27 12:00 UTC))
}

fn assert_error(v: &Evaluation, needle: &str) {
    assert_eq!(v.status, Status::Error, "{v:?}");
    let message = v.message.as_deref().unwrap_or_default();
    assert!(
        message.contains(needle),
        "expected {needle:?} in {message:?}"
    );
}

fn assert_pass(v: &Evaluation) {
    assert_eq!(v.status, Status::Pass, "{v:?}");
}

fn ok_docs(n: usize) -> Vec<Value> {
    (0..n).map(|_| json!({"Ok": true})).collect()
}

#[test]
fn good_rule_passes_and_fails_on_its_own_merits() {
    let engine = engine();
    let pack = load(&engine, fixtures::SANDBOX);
    let v = run(
        &pack,
        &["Test.Good"],
        &[json!({"Ok": true}), json!({"Ok": false})],
        &ctx(),
    );
    assert_pass(&v[&("Test.Good".into(), 0)]);
    let fail = &v[&("Test.Good".into(), 1)];
    assert_eq!(fail.status, Status::Fail);
    assert_eq!(fail.message.as_deref(), Some("thing-1 is not ok"));
}

#[test]
fn infinite_loop_hits_the_deadline_and_the_good_rule_still_passes() {
    let engine = engine();
    let pack = load(&engine, fixtures::SANDBOX);
    let v = run(&pack, &["Test.Good", "Test.Loop"], &ok_docs(3), &ctx());
    for i in 0..3 {
        assert_pass(&v[&("Test.Good".into(), i)]);
        let looped = &v[&("Test.Loop".into(), i)];
        assert_eq!(looped.status, Status::Error);
    }
    // The first resource pays the deadline; the rest are not run again for it.
    assert_error(&v[&("Test.Loop".into(), 0)], "CPU deadline of 250 ms");
    assert_error(
        &v[&("Test.Loop".into(), 2)],
        "not evaluated: the rule kept failing",
    );
}

#[test]
fn memory_bomb_fails_cleanly_at_the_memory_cap() {
    let engine = engine();
    let pack = load(&engine, fixtures::SANDBOX);
    let v = run(
        &pack,
        &["Test.MemoryBomb", "Test.Good"],
        &ok_docs(2),
        &ctx(),
    );
    assert_error(
        &v[&("Test.MemoryBomb".into(), 0)],
        &format!("bytes of memory, over the limit of {}", 64 << 20),
    );
    assert_pass(&v[&("Test.Good".into(), 1)]);
}

#[test]
fn deep_recursion_is_a_stack_overflow() {
    let engine = engine();
    let pack = load(&engine, fixtures::SANDBOX);
    let v = run(&pack, &["Test.Recursion", "Test.Good"], &ok_docs(1), &ctx());
    assert_error(&v[&("Test.Recursion".into(), 0)], "overflowed its stack");
    assert_pass(&v[&("Test.Good".into(), 0)]);
}

#[test]
fn panics_carry_the_panic_message() {
    let engine = engine();
    let pack = load(&engine, fixtures::SANDBOX);
    let v = run(&pack, &["Test.Panic", "Test.Good"], &ok_docs(2), &ctx());
    assert_error(
        &v[&("Test.Panic".into(), 0)],
        "the rule panicked: rule exploded on thing-0",
    );
    assert_pass(&v[&("Test.Good".into(), 0)]);
    assert_pass(&v[&("Test.Good".into(), 1)]);
}

#[test]
fn a_trap_on_one_resource_costs_only_that_verdict() {
    let engine = engine();
    let pack = load(&engine, fixtures::SANDBOX);
    let docs = vec![json!({}), json!({"Explode": true}), json!({}), json!({})];
    let v = run(&pack, &["Test.PanicSometimes", "Test.Good"], &docs, &ctx());
    for i in [0, 2, 3] {
        assert_pass(&v[&("Test.PanicSometimes".into(), i)]);
    }
    assert_error(
        &v[&("Test.PanicSometimes".into(), 1)],
        "exploded on thing-1",
    );
}

#[test]
fn many_failing_resources_are_isolated_one_by_one_within_the_budget() {
    let engine = engine();
    let pack = load(&engine, fixtures::SANDBOX);
    let docs: Vec<Value> = (0..40).map(|i| json!({"Explode": i % 4 == 1})).collect();
    let v = run(&pack, &["Test.PanicSometimes"], &docs, &ctx());
    for i in 0..40 {
        let verdict = &v[&("Test.PanicSometimes".into(), i)];
        if i % 4 == 1 {
            assert_error(verdict, &format!("exploded on thing-{i}"));
        } else {
            assert_pass(verdict);
        }
    }
}

#[test]
fn single_evaluations_are_contained_too() {
    let engine = engine();
    let pack = load(&engine, fixtures::SANDBOX);
    let plan = pack
        .plan(
            |r| r.id == "Test.Panic" || r.id == "Test.Good",
            &RuleSettings::new(),
        )
        .unwrap();
    let things = things(&ok_docs(1));
    let subject = subjects(&things)[0];
    let index = |id: &str| pack.rules().iter().position(|r| r.id == id).unwrap();
    let panicked = pack
        .evaluate_one(&plan, index("Test.Panic"), &ctx(), &subject)
        .unwrap();
    assert_error(&panicked, "the rule panicked: rule exploded on thing-0");
    let good = pack
        .evaluate_one(&plan, index("Test.Good"), &ctx(), &subject)
        .unwrap();
    assert_pass(&good);
    assert!(
        pack.evaluate_one(&plan, index("Test.Loop"), &ctx(), &subject)
            .is_none(),
        "not planned"
    );
    let other = Subject {
        resource_type: "Test.Other",
        ..subject
    };
    assert!(
        pack.evaluate_one(&plan, index("Test.Good"), &ctx(), &other)
            .is_none(),
        "does not apply"
    );
}

#[test]
fn once_the_isolation_budget_is_spent_the_rest_is_reported_not_run() {
    let engine = Engine::new(Limits {
        isolation_budget: Duration::ZERO,
        ..Limits::default()
    })
    .unwrap();
    let pack = load(&engine, fixtures::SANDBOX);
    let docs: Vec<Value> = (0..4).map(|i| json!({"Explode": i == 1})).collect();
    let v = run(&pack, &["Test.PanicSometimes"], &docs, &ctx());
    assert_pass(&v[&("Test.PanicSometimes".into(), 0)]);
    assert_error(
        &v[&("Test.PanicSometimes".into(), 1)],
        "exploded on thing-1",
    );
    for i in [2, 3] {
        assert_error(
            &v[&("Test.PanicSometimes".into(), i)],
            "not evaluated: the rule kept failing in this batch (last: the rule panicked: exploded on thing-1",
        );
    }
}

#[test]
fn malformed_batch_results_are_errors_for_the_pairs_they_touch() {
    let engine = engine();
    let pack = load(&engine, fixtures::BOGUS);
    // Every rule of the fixture in one run; each is asserted by name below.
    let rules: Vec<&str> = pack.rules().iter().map(|r| r.id.as_str()).collect();
    assert_eq!(rules.len(), 6);
    let v = run(&pack, &rules, &ok_docs(2), &ctx());
    for i in 0..2 {
        assert_pass(&v[&("Bogus.Good".into(), i)]);
        assert_error(
            &v[&("Bogus.OutOfRange".into(), i)],
            "which it was not asked for",
        );
        // Alone in its call, a duplicate shows as one verdict too many.
        assert_error(&v[&("Bogus.Duplicate".into(), i)], "2 verdicts for 1");
        assert_error(&v[&("Bogus.Missing".into(), i)], "no verdict");
        assert_error(
            &v[&("Bogus.GiantMessage".into(), i)],
            "over the limit of 4096 bytes",
        );
        assert_error(&v[&("Bogus.Flood".into(), i)], "verdicts for");
    }
}

#[test]
fn a_pack_cannot_reach_files_sockets_environment_or_the_real_clock() {
    let engine = engine();
    let pack = load(&engine, fixtures::SANDBOX);
    let v = run(&pack, &["Test.Escape", "Test.Clock"], &ok_docs(1), &ctx());
    let escape = &v[&("Test.Escape".into(), 0)];
    assert_eq!(escape.status, Status::Pass, "escaped: {:?}", escape.message);
    let now = datetime!(2026-11-27 12:00 UTC).unix_timestamp();
    assert_eq!(
        v[&("Test.Clock".into(), 0)].message.as_deref(),
        Some(format!("wall={now} now={now}").as_str())
    );
}

#[test]
fn log_floods_and_stdout_floods_are_capped_without_failing_the_rule() {
    let engine = engine();
    let pack = load(&engine, fixtures::SANDBOX);
    let v = run(&pack, &["Test.Chatty", "Test.Good"], &ok_docs(2), &ctx());
    assert_pass(&v[&("Test.Chatty".into(), 0)]);
    assert_pass(&v[&("Test.Good".into(), 1)]);
}

struct Accounts(HashMap<(String, String), String>);

impl Lookup for Accounts {
    fn lookup(&self, account_id: &str, resource_id: &str) -> Option<String> {
        self.0
            .get(&(account_id.to_owned(), resource_id.to_owned()))
            .cloned()
    }
}

#[test]
fn lookups_see_only_the_evaluated_resources_account() {
    let engine = engine();
    let pack = load(&engine, fixtures::SANDBOX);
    let mut known = HashMap::new();
    known.insert(
        (ACCOUNT.into(), "peer-a".into()),
        json!({"ResourceId": "peer-a"}).to_string(),
    );
    known.insert(
        ("999999999999".into(), "peer-b".into()),
        json!({"ResourceId": "peer-b"}).to_string(),
    );
    let ctx = EvalContext {
        lookup: Arc::new(Accounts(known)),
        ..ctx()
    };
    let v = run(
        &pack,
        &["Test.Lookup"],
        &[json!({"Peer": "peer-a"}), json!({"Peer": "peer-b"})],
        &ctx,
    );
    assert_eq!(
        v[&("Test.Lookup".into(), 0)].message.as_deref(),
        Some("found peer-a")
    );
    assert_eq!(
        v[&("Test.Lookup".into(), 1)].status,
        Status::Pass,
        "another account's resource is invisible"
    );
}

#[test]
fn state_left_in_a_reused_instance_never_becomes_an_error() {
    // One resource per call, so the instance is reused call after call and the leak (12 MiB a
    // call against a 64 MiB cap) exhausts it; every verdict must still be a pass.
    let engine = Engine::new(Limits {
        batch_size: 1,
        ..Limits::default()
    })
    .unwrap();
    let pack = load(&engine, fixtures::SANDBOX);
    let v = run(&pack, &["Test.Leak"], &ok_docs(12), &ctx());
    for i in 0..12 {
        let verdict = &v[&("Test.Leak".into(), i)];
        assert_pass(verdict);
    }
}

#[test]
fn each_account_and_type_is_evaluated_in_its_own_calls() {
    let engine = engine();
    let pack = load(&engine, fixtures::SANDBOX);
    let mut known = HashMap::new();
    known.insert(
        ("111111111111".into(), "peer".into()),
        json!({"ResourceId": "peer-of-1"}).to_string(),
    );
    known.insert(
        ("222222222222".into(), "peer".into()),
        json!({"ResourceId": "peer-of-2"}).to_string(),
    );
    let ctx = EvalContext {
        lookup: Arc::new(Accounts(known)),
        ..ctx()
    };
    let docs: Vec<(String, String)> = [
        "111111111111",
        "222222222222",
        "111111111111",
        "333333333333",
    ]
    .iter()
    .enumerate()
    .map(|(i, account)| (format!("t{i}"), account.to_string()))
    .collect();
    let texts: Vec<String> = docs
        .iter()
        .map(|(id, _)| json!({"ResourceId": id, "Peer": "peer"}).to_string())
        .collect();
    let mut subjects: Vec<Subject<'_>> = docs
        .iter()
        .zip(&texts)
        .map(|((id, account), text)| Subject {
            id,
            resource_type: "Test.Thing",
            account_id: account,
            document: text,
        })
        .collect();
    // A resource of a type no planned rule covers gets no verdict at all.
    subjects.push(Subject {
        resource_type: "Test.Other",
        ..subjects[0]
    });
    let plan = pack
        .plan(|r| r.id == "Test.Lookup", &RuleSettings::new())
        .unwrap();
    let verdicts = pack.evaluate(&plan, &ctx, &subjects);
    let messages: Vec<(usize, Option<&str>)> = verdicts
        .iter()
        .map(|v| (v.subject, v.message.as_deref()))
        .collect();
    assert_eq!(
        messages,
        [
            (0, Some("found peer-of-1")),
            (1, Some("found peer-of-2")),
            (2, Some("found peer-of-1")),
            (3, None)
        ],
        "results come back in input order whatever the grouping"
    );
}

#[test]
fn settings_reach_the_rule_and_bad_settings_are_refused_up_front() {
    let engine = engine();
    let pack = load(&engine, fixtures::SANDBOX);
    let v = run(&pack, &["Test.Setting"], &ok_docs(1), &ctx());
    assert_eq!(
        v[&("Test.Setting".into(), 0)].message.as_deref(),
        Some("limit=7")
    );
    let mut settings = RuleSettings::new();
    let values: Map<String, Value> = serde_json::from_value(json!({"limit": 12})).unwrap();
    settings.insert("Test.Setting".into(), values);
    let v = run_with(&pack, &["Test.Setting"], &ok_docs(1), &ctx(), &settings);
    assert_eq!(
        v[&("Test.Setting".into(), 0)].message.as_deref(),
        Some("limit=12")
    );
    settings.insert(
        "Test.Setting".into(),
        serde_json::from_value(json!({"limit": "twelve"})).unwrap(),
    );
    let err = pack
        .plan(|r| r.id == "Test.Setting", &settings)
        .unwrap_err();
    assert!(matches!(err, EngineError::Settings { .. }), "{err}");
    assert!(err.to_string().contains("must be an integer"), "{err}");
}

#[test]
fn unknown_imports_are_rejected_at_load_naming_the_import() {
    let err = engine()
        .load("exfil", &fixtures::read(fixtures::UNKNOWN_IMPORT))
        .unwrap_err();
    assert!(matches!(err, EngineError::Imports(_)), "{err}");
    assert!(
        err.to_string().contains("fixture:unknown/exfiltrate"),
        "{err}"
    );
}

#[test]
fn a_rejected_pack_leaves_loaded_packs_working() {
    let engine = engine();
    let good = load(&engine, fixtures::SANDBOX);
    for bad in [fixtures::UNKNOWN_IMPORT, fixtures::WRONG_WORLD] {
        assert!(engine.load("bad", &fixtures::read(bad)).is_err());
    }
    let v = run(&good, &["Test.Good"], &ok_docs(1), &ctx());
    assert_pass(&v[&("Test.Good".into(), 0)]);
    // Loading the same module again reuses this engine's compilation.
    let again = load(&engine, fixtures::SANDBOX);
    assert!(again.compiled_from_cache());
    assert_eq!(again.digest(), good.digest());
}

#[test]
fn a_component_of_another_world_is_rejected_at_load() {
    let err = engine()
        .load("greeter", &fixtures::read(fixtures::WRONG_WORLD))
        .unwrap_err();
    assert!(matches!(err, EngineError::Exports(_)), "{err}");
    assert!(err.to_string().contains("palisade:policy/rules"), "{err}");
}

#[test]
fn non_components_are_rejected_with_a_clear_reason() {
    let engine = engine();
    let core_module = b"\0asm\x01\0\0\0";
    assert!(matches!(
        engine.load("m", core_module),
        Err(EngineError::CoreModule)
    ));
    assert!(matches!(
        engine.load("m", b"#!/bin/sh\necho hi\n"),
        Err(EngineError::NotWasm)
    ));
    assert!(matches!(engine.load("m", b""), Err(EngineError::NotWasm)));
    let sandbox = fixtures::read(fixtures::SANDBOX);
    let truncated = &sandbox[..sandbox.len() / 2];
    assert!(matches!(
        engine.load("m", truncated),
        Err(EngineError::Invalid(_))
    ));
    let small = Engine::new(Limits {
        max_module_bytes: 1000,
        ..Limits::default()
    })
    .unwrap();
    assert!(matches!(
        small.load("m", &sandbox),
        Err(EngineError::TooLarge { .. })
    ));
}

#[test]
fn compiled_packs_are_cached_and_a_tampered_artefact_is_never_loaded() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("artifact.key");
    let wasm = fixtures::read(fixtures::SANDBOX);
    let store: Arc<SledStore> = Arc::new(SledStore::open(&dir.path().join("store")).unwrap());
    let cached_engine = |store: Arc<SledStore>| {
        Engine::with_cache(Limits::default(), ArtifactCache::open(store, &key).unwrap()).unwrap()
    };

    let first = cached_engine(store.clone()).load("sandbox", &wasm).unwrap();
    assert!(!first.compiled_from_cache());
    let second = cached_engine(store.clone()).load("sandbox", &wasm).unwrap();
    assert!(second.compiled_from_cache());
    let v = run(&second, &["Test.Good"], &ok_docs(1), &ctx());
    assert_pass(&v[&("Test.Good".into(), 0)]);

    // Flip one byte of every cached artefact: the MAC check must refuse it, and the pack is
    // compiled afresh rather than run from forged native code.
    use palisade::store::Store as _;
    let keys = store.artifact_keys().unwrap();
    assert_eq!(keys.len(), 1);
    let mut entry = store.get_artifact(&keys[0]).unwrap().unwrap();
    let last = entry.len() - 1;
    entry[last] ^= 0xff;
    store.put_artifact(&keys[0], &entry).unwrap();
    let third = cached_engine(store.clone()).load("sandbox", &wasm).unwrap();
    assert!(!third.compiled_from_cache());

    // A cache written under another key is not trusted either.
    std::fs::remove_file(&key).unwrap();
    let fourth = cached_engine(store).load("sandbox", &wasm).unwrap();
    assert!(!fourth.compiled_from_cache());
}
