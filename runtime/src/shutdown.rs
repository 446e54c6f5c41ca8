//! Termination signals: SIGTERM (the kubelet stopping a pod) and SIGINT (Ctrl-C).

use tokio_util::sync::CancellationToken;

/// SIGTERM and SIGINT, received as often as they come.
#[derive(Debug)]
pub struct Signals {
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
}

impl Signals {
    /// Starts listening; fails when the SIGTERM handler cannot be installed.
    pub fn new() -> std::io::Result<Self> {
        Ok(Signals {
            #[cfg(unix)]
            term: tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?,
        })
    }

    /// Completes on the next signal; returns its name (`SIGTERM` or `SIGINT`).
    pub async fn recv(&mut self) -> &'static str {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.term.recv() => "SIGTERM",
                _ = tokio::signal::ctrl_c() => "SIGINT",
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            "SIGINT"
        }
    }
}

/// Completes on SIGTERM or SIGINT; when the SIGTERM handler cannot be installed, on
/// SIGINT alone.
pub async fn termination() -> &'static str {
    match Signals::new() {
        Ok(mut signals) => signals.recv().await,
        Err(err) => {
            tracing::warn!(%err, "cannot listen for SIGTERM; stopping on SIGINT only");
            let _ = tokio::signal::ctrl_c().await;
            "SIGINT"
        }
    }
}

/// Cancels `token` on the first SIGTERM or SIGINT (logged), for processes that stop
/// through a [`CancellationToken`].
pub fn cancel_on_termination(token: CancellationToken) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let signal = termination().await;
        tracing::info!(signal, "termination signal received, shutting down");
        token.cancel();
    })
}
