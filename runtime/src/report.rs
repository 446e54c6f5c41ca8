//! A fatal error as one line: each cause once.

/// `error` and its causes joined by `: `, leaving out a cause whose text the line already
/// holds (most errors here name their source in their own message).
pub fn report(error: &(dyn std::error::Error + 'static)) -> String {
    let mut line = error.to_string();
    let mut cause = error.source();
    while let Some(c) = cause {
        let text = c.to_string();
        if !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
        cause = c.source();
    }
    line
}

#[cfg(test)]
mod tests {
    use super::report;

    #[derive(Debug, thiserror::Error)]
    #[error("failed to read cert.pem: {0}")]
    struct Named(#[source] std::io::Error);

    #[derive(Debug, thiserror::Error)]
    #[error("serving")]
    struct Plain(#[source] Named);

    #[test]
    fn each_cause_appears_once() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        assert_eq!(
            report(&Plain(Named(io))),
            "serving: failed to read cert.pem: no such file"
        );
    }
}
