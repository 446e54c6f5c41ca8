//! `POST` of a new object in the configured encoding, reading the whole answer so the
//! connection goes back to the pool.

use http::header::{ACCEPT, CONTENT_TYPE};
use kube::client::Body;
use kube::core::Status;

use super::objects::{MAGIC, ProtoObject, envelope};
use super::protobuf::{Decoder, Value};
use super::{ContentType, JSON, PROTOBUF};

/// Creates objects through the API server.
#[derive(Clone)]
pub struct Writer {
    client: kube::Client,
    content_type: ContentType,
}

impl Writer {
    /// Writes with `client`, bodies encoded as `content_type`.
    pub fn new(client: kube::Client, content_type: ContentType) -> Self {
        Writer {
            client,
            content_type,
        }
    }

    /// `POST path` with `obj` as the body. The answer's object is not decoded: only its
    /// status, and for a failure the `Status` the API server sent (as `kube::Error::Api`).
    pub async fn create<T: ProtoObject>(&self, path: &str, obj: &T) -> Result<(), kube::Error> {
        let proto = match self.content_type {
            ContentType::Protobuf => envelope(obj)
                .inspect_err(|e| tracing::debug!(kind = T::KIND, "sent as JSON: {e}"))
                .ok(),
            ContentType::Json => None,
        };
        let (body, content_type, accept) = match proto {
            Some(body) => (
                body,
                PROTOBUF,
                "application/vnd.kubernetes.protobuf, application/json",
            ),
            None => (
                serde_json::to_vec(obj).map_err(kube::Error::SerdeError)?,
                JSON,
                JSON,
            ),
        };
        let request = http::Request::post(path)
            .header(CONTENT_TYPE, content_type)
            .header(ACCEPT, accept)
            .body(Body::from(body))
            .map_err(kube::Error::HttpError)?;
        let response = self.client.send(request).await?;
        let code = response.status();
        let answer = response.into_body().collect_bytes().await?;
        if code.is_success() {
            return Ok(());
        }
        Err(kube::Error::Api(failure(code.as_u16(), &answer).boxed()))
    }
}

/// The `Status` of a failed request: protobuf or JSON as the server chose, else the
/// body's text.
fn failure(code: u16, body: &[u8]) -> Status {
    if let Some(status) = body.strip_prefix(MAGIC).and_then(proto_status) {
        return status.with_code(code);
    }
    if let Ok(status) = serde_json::from_slice::<Status>(body) {
        return status;
    }
    Status::failure(String::from_utf8_lossy(body).trim(), "").with_code(code)
}

/// `runtime.Unknown{raw: metav1.Status{message: 3, reason: 4}}`.
fn proto_status(unknown: &[u8]) -> Option<Status> {
    let mut outer = Decoder::new(unknown);
    let mut raw = None;
    while let Some((field, value)) = outer.next_field().ok()? {
        if let (2, Value::Bytes(b)) = (field, value) {
            raw = Some(b);
        }
    }
    let mut inner = Decoder::new(raw?);
    let (mut message, mut reason) = (String::new(), String::new());
    while let Some((field, value)) = inner.next_field().ok()? {
        match (field, value) {
            (3, Value::Bytes(b)) => message = String::from_utf8_lossy(b).into_owned(),
            (4, Value::Bytes(b)) => reason = String::from_utf8_lossy(b).into_owned(),
            _ => {}
        }
    }
    Some(Status::failure(&message, &reason))
}

#[cfg(test)]
mod tests {
    use super::super::protobuf::Encoder;
    use super::*;

    #[test]
    fn a_protobuf_status_gives_its_message_reason_and_the_http_code() {
        let mut status = Encoder::new();
        status.string(2, "Failure");
        status.string(3, "pods \"p\" not found");
        status.string(4, "NotFound");
        status.message(5, |d| d.string(1, "p"));
        status.int32(6, 404);
        let mut unknown = Encoder::new();
        unknown.message(1, |tm| {
            tm.string(1, "v1");
            tm.string(2, "Status");
        });
        unknown.bytes(2, &status.finish());
        let mut body = MAGIC.to_vec();
        body.extend_from_slice(&unknown.finish());
        let s = failure(404, &body);
        assert_eq!(
            (s.code, s.message.as_str(), s.reason.as_str()),
            (404, "pods \"p\" not found", "NotFound")
        );
    }

    #[test]
    fn a_json_status_or_plain_text_is_read_too() {
        let json = br#"{"kind":"Status","apiVersion":"v1","status":"Failure","message":"conflict","reason":"Conflict","code":409}"#;
        let s = failure(409, json);
        assert_eq!((s.code, s.message.as_str()), (409, "conflict"));
        let s = failure(502, b" bad gateway\n");
        assert_eq!((s.code, s.message.as_str()), (502, "bad gateway"));
        let s = failure(500, b"k8s\0\x1a\x09truncated");
        assert_eq!(s.code, 500);
        assert!(s.message.starts_with("k8s"), "{}", s.message);
    }

    /// What a fake API server received for one `create` in `content_type`.
    async fn sent(content_type: ContentType) -> (String, String, Vec<u8>) {
        use http::{Request, Response};
        use k8s_openapi::api::core::v1::{Binding, ObjectReference};

        let (service, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
        let server = tokio::spawn(async move {
            let (req, send) = handle.next_request().await.expect("a request");
            let (parts, body) = req.into_parts();
            let header = |h| {
                let v = parts.headers.get(h).map(|v| v.to_str().unwrap_or_default());
                v.unwrap_or_default().to_string()
            };
            let (ct, accept) = (header(CONTENT_TYPE), header(ACCEPT));
            let body = body.collect_bytes().await.expect("body").to_vec();
            send.send_response(
                Response::builder()
                    .status(201)
                    .body(Body::from(Vec::new()))
                    .expect("response"),
            );
            (ct, accept, body)
        });
        let writer = Writer::new(kube::Client::new(service, "default"), content_type);
        let binding = Binding {
            target: ObjectReference {
                name: Some("n".into()),
                ..Default::default()
            },
            ..Default::default()
        };
        writer
            .create("/api/v1/namespaces/ns/pods/p/binding", &binding)
            .await
            .expect("created");
        server.await.expect("server")
    }

    #[tokio::test]
    async fn the_body_is_encoded_as_configured() {
        let (ct, accept, body) = sent(ContentType::Protobuf).await;
        assert_eq!(ct, PROTOBUF);
        assert!(accept.starts_with(PROTOBUF), "{accept}");
        assert_eq!(&body[..4], MAGIC);
        let (ct, accept, body) = sent(ContentType::Json).await;
        assert_eq!((ct.as_str(), accept.as_str()), (JSON, JSON));
        let json: serde_json::Value = serde_json::from_slice(&body).expect("JSON body");
        assert_eq!(
            (json["apiVersion"].as_str(), json["kind"].as_str()),
            (Some("v1"), Some("Binding"))
        );
        assert_eq!(json["target"]["name"], "n");
    }
}
