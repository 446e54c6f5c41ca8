//! How the scheduler's own writes (bindings and events, one of each per placed pod)
//! reach the API server: in the encoding `clientConnection.contentType` names, as
//! client-go does. kube-rs speaks JSON only; protobuf, kube-scheduler's default, costs
//! the API server less to decode and to answer. Reads and watches stay JSON.

pub mod objects;
mod post;
pub mod protobuf;

pub use post::Writer;

/// `application/vnd.kubernetes.protobuf`, `clientConnection.contentType`'s default.
pub const PROTOBUF: &str = "application/vnd.kubernetes.protobuf";
/// `application/json`.
pub const JSON: &str = "application/json";

/// The encoding of request bodies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentType {
    /// `application/json`.
    Json,
    /// `application/vnd.kubernetes.protobuf`.
    Protobuf,
}

impl ContentType {
    /// The encoding a `clientConnection.contentType` value names, if supported.
    pub fn parse(mime: &str) -> Option<ContentType> {
        match mime {
            JSON => Some(ContentType::Json),
            PROTOBUF => Some(ContentType::Protobuf),
            _ => None,
        }
    }
}
