//! The two objects the scheduler creates on every placement, `Binding` and
//! events.k8s.io/v1 `Event`, in Kubernetes' protobuf encoding (field numbers from
//! `k8s.io/api` and `k8s.io/apimachinery`'s `generated.proto`), wrapped in the
//! `runtime.Unknown` envelope behind the `k8s\0` prefix that kube-apiserver expects.

use k8s_openapi::api::core::v1::{Binding, ObjectReference};
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};

use super::protobuf::Encoder;

/// The magic prefix of a protobuf-encoded Kubernetes object.
pub const MAGIC: &[u8; 4] = b"k8s\0";

/// A field this encoder does not write was set: the caller falls back to JSON rather
/// than lose it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0} has no protobuf encoding here")]
pub struct Unsupported(pub &'static str);

/// An object that can be written as protobuf.
pub trait ProtoObject: serde::Serialize {
    /// `apiVersion` of the envelope.
    const API_VERSION: &'static str;
    /// `kind` of the envelope.
    const KIND: &'static str;
    /// Writes the object's own fields.
    fn encode(&self, e: &mut Encoder) -> Result<(), Unsupported>;
}

/// `k8s\0` + `runtime.Unknown{typeMeta, raw}` around `obj`.
pub fn envelope<T: ProtoObject>(obj: &T) -> Result<Vec<u8>, Unsupported> {
    let mut raw = Encoder::new();
    obj.encode(&mut raw)?;
    let mut unknown = Encoder::new();
    unknown.message(1, |tm| {
        tm.string(1, T::API_VERSION);
        tm.string(2, T::KIND);
    });
    unknown.bytes(2, &raw.finish());
    let mut out = MAGIC.to_vec();
    out.extend_from_slice(&unknown.finish());
    Ok(out)
}

fn object_meta(e: &mut Encoder, m: &ObjectMeta) -> Result<(), Unsupported> {
    let unsupported = [
        (m.owner_references.is_some(), "metadata.ownerReferences"),
        (m.finalizers.is_some(), "metadata.finalizers"),
        (m.managed_fields.is_some(), "metadata.managedFields"),
        (m.creation_timestamp.is_some(), "metadata.creationTimestamp"),
        (m.deletion_timestamp.is_some(), "metadata.deletionTimestamp"),
        (
            m.deletion_grace_period_seconds.is_some(),
            "metadata.deletionGracePeriodSeconds",
        ),
        (m.generation.is_some(), "metadata.generation"),
        (m.self_link.is_some(), "metadata.selfLink"),
    ];
    if let Some((_, field)) = unsupported.iter().find(|(set, _)| *set) {
        return Err(Unsupported(field));
    }
    e.opt_string(1, m.name.as_deref());
    e.opt_string(2, m.generate_name.as_deref());
    e.opt_string(3, m.namespace.as_deref());
    e.opt_string(5, m.uid.as_deref());
    e.opt_string(6, m.resource_version.as_deref());
    for (field, map) in [(11, &m.labels), (12, &m.annotations)] {
        for (k, v) in map.iter().flatten() {
            e.message(field, |entry| {
                entry.string(1, k);
                entry.string(2, v);
            });
        }
    }
    Ok(())
}

fn object_reference(e: &mut Encoder, r: &ObjectReference) {
    e.opt_string(1, r.kind.as_deref());
    e.opt_string(2, r.namespace.as_deref());
    e.opt_string(3, r.name.as_deref());
    e.opt_string(4, r.uid.as_deref());
    e.opt_string(5, r.api_version.as_deref());
    e.opt_string(6, r.resource_version.as_deref());
    e.opt_string(7, r.field_path.as_deref());
}

/// `seconds` since the epoch and non-negative `nanos`, as Go's `MicroTime` writes them.
fn micro_time(e: &mut Encoder, t: &MicroTime) {
    let ns = t.0.as_nanosecond();
    let seconds = ns.div_euclid(1_000_000_000);
    // Microsecond precision, as the API keeps it.
    let nanos = ns.rem_euclid(1_000_000_000) / 1_000 * 1_000;
    e.int64(1, seconds as i64);
    e.int32(2, nanos as i32);
}

impl ProtoObject for Binding {
    const API_VERSION: &'static str = "v1";
    const KIND: &'static str = "Binding";

    fn encode(&self, e: &mut Encoder) -> Result<(), Unsupported> {
        let mut meta = Ok(());
        e.message(1, |m| meta = object_meta(m, &self.metadata));
        meta?;
        e.message(2, |r| object_reference(r, &self.target));
        Ok(())
    }
}

impl ProtoObject for Event {
    const API_VERSION: &'static str = "events.k8s.io/v1";
    const KIND: &'static str = "Event";

    fn encode(&self, e: &mut Encoder) -> Result<(), Unsupported> {
        let unsupported = [
            (self.series.is_some(), "series"),
            (self.deprecated_source.is_some(), "deprecatedSource"),
            (
                self.deprecated_first_timestamp.is_some(),
                "deprecatedFirstTimestamp",
            ),
            (
                self.deprecated_last_timestamp.is_some(),
                "deprecatedLastTimestamp",
            ),
            (self.deprecated_count.is_some(), "deprecatedCount"),
        ];
        if let Some((_, field)) = unsupported.iter().find(|(set, _)| *set) {
            return Err(Unsupported(field));
        }
        let mut meta = Ok(());
        e.message(1, |m| meta = object_meta(m, &self.metadata));
        meta?;
        if let Some(t) = &self.event_time {
            e.message(2, |m| micro_time(m, t));
        }
        e.opt_string(4, self.reporting_controller.as_deref());
        e.opt_string(5, self.reporting_instance.as_deref());
        e.opt_string(6, self.action.as_deref());
        e.opt_string(7, self.reason.as_deref());
        if let Some(r) = &self.regarding {
            e.message(8, |m| object_reference(m, r));
        }
        if let Some(r) = &self.related {
            e.message(9, |m| object_reference(m, r));
        }
        e.opt_string(10, self.note.as_deref());
        e.opt_string(11, self.type_.as_deref());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::super::protobuf::{Decoder, Value};
    use super::*;

    /// Every field of a message as (number, value), nested messages left as bytes.
    fn fields(buf: &[u8]) -> Vec<(u32, Value<'_>)> {
        let mut d = Decoder::new(buf);
        let mut out = Vec::new();
        while let Some(f) = d.next_field().expect("well-formed") {
            out.push(f);
        }
        out
    }

    fn bytes<'a>(fs: &[(u32, Value<'a>)], n: u32) -> &'a [u8] {
        match fs.iter().find(|(f, _)| *f == n) {
            Some((_, Value::Bytes(b))) => b,
            other => panic!("field {n}: {other:?}"),
        }
    }

    fn text<'a>(fs: &[(u32, Value<'a>)], n: u32) -> &'a str {
        std::str::from_utf8(bytes(fs, n)).expect("utf-8")
    }

    fn unwrap_envelope(buf: &[u8]) -> (String, String, Vec<u8>) {
        assert_eq!(&buf[..4], MAGIC);
        let unknown = fields(&buf[4..]);
        let tm = fields(bytes(&unknown, 1));
        (
            text(&tm, 1).to_string(),
            text(&tm, 2).to_string(),
            bytes(&unknown, 2).to_vec(),
        )
    }

    #[test]
    fn a_binding_carries_the_pod_and_the_node_under_their_field_numbers() {
        let b = Binding {
            metadata: ObjectMeta {
                name: Some("p".into()),
                namespace: Some("ns".into()),
                uid: Some("u-1".into()),
                ..Default::default()
            },
            target: ObjectReference {
                kind: Some("Node".into()),
                name: Some("n-7".into()),
                ..Default::default()
            },
        };
        let (api_version, kind, raw) = unwrap_envelope(&envelope(&b).expect("encodes"));
        assert_eq!((api_version.as_str(), kind.as_str()), ("v1", "Binding"));
        let top = fields(&raw);
        let meta = fields(bytes(&top, 1));
        assert_eq!(
            (text(&meta, 1), text(&meta, 3), text(&meta, 5)),
            ("p", "ns", "u-1")
        );
        let target = fields(bytes(&top, 2));
        assert_eq!((text(&target, 1), text(&target, 3)), ("Node", "n-7"));
        assert_eq!(target.len(), 2, "unset fields are not written");
    }

    #[test]
    fn an_event_carries_every_field_the_scheduler_sets() {
        let t = jiff::Timestamp::from_nanosecond(1_700_000_000_123_456_789).expect("time");
        let ev = Event {
            metadata: ObjectMeta {
                name: Some("p.17".into()),
                namespace: Some("ns".into()),
                labels: Some(BTreeMap::from([("a".to_string(), "b".to_string())])),
                ..Default::default()
            },
            event_time: Some(MicroTime(t)),
            reporting_controller: Some("default-scheduler".into()),
            reporting_instance: Some("default-scheduler-h".into()),
            action: Some("Binding".into()),
            reason: Some("Scheduled".into()),
            regarding: Some(ObjectReference {
                kind: Some("Pod".into()),
                api_version: Some("v1".into()),
                name: Some("p".into()),
                ..Default::default()
            }),
            related: Some(ObjectReference {
                name: Some("q".into()),
                ..Default::default()
            }),
            note: Some("Successfully assigned ns/p to n".into()),
            type_: Some("Normal".into()),
            ..Default::default()
        };
        let (api_version, kind, raw) = unwrap_envelope(&envelope(&ev).expect("encodes"));
        assert_eq!(
            (api_version.as_str(), kind.as_str()),
            ("events.k8s.io/v1", "Event")
        );
        let top = fields(&raw);
        let meta = fields(bytes(&top, 1));
        assert_eq!((text(&meta, 1), text(&meta, 3)), ("p.17", "ns"));
        let label = fields(bytes(&meta, 11));
        assert_eq!((text(&label, 1), text(&label, 2)), ("a", "b"));
        let time = fields(bytes(&top, 2));
        assert_eq!(
            time,
            vec![
                (1, Value::Varint(1_700_000_000)),
                (2, Value::Varint(123_456_000))
            ]
        );
        let strings: Vec<&str> = (4..=7).chain(10..=11).map(|n| text(&top, n)).collect();
        assert_eq!(
            strings,
            [
                "default-scheduler",
                "default-scheduler-h",
                "Binding",
                "Scheduled",
                "Successfully assigned ns/p to n",
                "Normal"
            ]
        );
        let regarding = fields(bytes(&top, 8));
        assert_eq!(
            (
                text(&regarding, 1),
                text(&regarding, 3),
                text(&regarding, 5)
            ),
            ("Pod", "p", "v1")
        );
        assert_eq!(text(&fields(bytes(&top, 9)), 3), "q");
    }

    #[test]
    fn fields_without_an_encoding_are_refused_not_dropped() {
        let ev = Event {
            deprecated_count: Some(2),
            ..Default::default()
        };
        assert_eq!(envelope(&ev), Err(Unsupported("deprecatedCount")));
        let b = Binding {
            metadata: ObjectMeta {
                finalizers: Some(vec!["f".into()]),
                ..Default::default()
            },
            ..Default::default()
        };
        assert_eq!(envelope(&b), Err(Unsupported("metadata.finalizers")));
    }
}
