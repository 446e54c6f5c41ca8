use k8s_openapi::api::core::v1::{NodeSelectorTerm, Taint, Toleration};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

use super::*;

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn label_selector_semantics() {
    assert!(!Selector::from_label_selector(None).matches(&labels(&[])));
    let all: LabelSelector = serde_json::from_str("{}").unwrap();
    assert!(Selector::from_label_selector(Some(&all)).matches(&labels(&[("a", "b")])));
    let s: LabelSelector = serde_json::from_str(
        r#"{"matchLabels":{"app":"x"},"matchExpressions":[{"key":"tier","operator":"NotIn","values":["db"]}]}"#,
    )
    .unwrap();
    let s = Selector::from_label_selector(Some(&s));
    assert!(s.matches(&labels(&[("app", "x")])));
    assert!(!s.matches(&labels(&[("app", "x"), ("tier", "db")])));
    assert!(!s.matches(&labels(&[("app", "y")])));
}

#[test]
fn node_terms() {
    let t: NodeSelectorTerm = serde_json::from_str(
        r#"{"matchExpressions":[{"key":"n","operator":"Gt","values":["5"]}],"matchFields":[{"key":"metadata.name","operator":"In","values":["a"]}]}"#,
    )
    .unwrap();
    let t = NodeTerm::new(&t);
    assert!(t.matches("a", &labels(&[("n", "6")])));
    assert!(!t.matches("b", &labels(&[("n", "6")])));
    assert!(!t.matches("a", &labels(&[("n", "5")])));
    assert!(!t.matches("a", &labels(&[("n", "x")])));
    let empty = NodeTerm::new(&NodeSelectorTerm::default());
    assert!(!empty.matches("a", &labels(&[])));
}

#[test]
fn toleration_semantics() {
    let taint = Taint {
        key: "k".into(),
        value: Some("v".into()),
        effect: "NoSchedule".into(),
        ..Default::default()
    };
    let tol = |k: &str, op: &str, v: &str, e: &str| Toleration {
        key: Some(k.into()),
        operator: Some(op.into()),
        value: Some(v.into()),
        effect: Some(e.into()),
        ..Default::default()
    };
    assert!(tolerates(&tol("k", "Equal", "v", "NoSchedule"), &taint));
    assert!(tolerates(&tol("k", "Exists", "", ""), &taint));
    assert!(tolerates(&tol("", "Exists", "", ""), &taint));
    assert!(!tolerates(&tol("k", "Equal", "w", ""), &taint));
    assert!(!tolerates(&tol("k", "Equal", "v", "NoExecute"), &taint));
    assert!(!tolerates(&tol("k", "Gt", "1", ""), &taint));
}

#[test]
fn normalize() {
    let mut s = vec![0, 5, 10];
    default_normalize(&mut s, false);
    assert_eq!(s, vec![0, 50, 100]);
    let mut s = vec![0, 1, 2];
    default_normalize(&mut s, true);
    assert_eq!(s, vec![100, 50, 0]);
    let mut s = vec![0, 0];
    default_normalize(&mut s, true);
    assert_eq!(s, vec![100, 100]);
}
