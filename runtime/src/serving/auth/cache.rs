//! Short-lived caches of authentication and authorization results, like the caching
//! wrappers of upstream's delegating authenticator/authorizer. Errors are never cached.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;

use super::{Attributes, AuthError, Authorizer, Decision, TokenAuthenticator, UserInfo};

/// Entries kept before expired ones are swept (and, if still full, all dropped).
const MAX_ENTRIES: usize = 4096;

/// A map whose entries expire.
#[derive(Debug)]
struct TtlCache<K, V> {
    entries: Mutex<HashMap<K, (Instant, V)>>,
}

impl<K: Hash + Eq, V: Clone> TtlCache<K, V> {
    fn new() -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn get(&self, key: &K) -> Option<V> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let (expires, value) = entries.get(key)?;
        (Instant::now() < *expires).then(|| value.clone())
    }

    fn insert(&self, key: K, value: V, ttl: Duration) {
        if ttl.is_zero() {
            return;
        }
        let now = Instant::now();
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= MAX_ENTRIES {
            entries.retain(|_, (expires, _)| now < *expires);
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
        }
        entries.insert(key, (crate::deadline::after(now, ttl), value));
    }
}

/// Caches a [`TokenAuthenticator`]'s answers, keyed by a salted SHA-256 of the token so
/// tokens are never kept in memory by the cache.
pub struct CachedAuthenticator<A> {
    inner: A,
    success_ttl: Duration,
    failure_ttl: Duration,
    salt: [u8; 32],
    cache: TtlCache<Vec<u8>, Option<UserInfo>>,
}

impl<A: TokenAuthenticator> CachedAuthenticator<A> {
    /// Caches authenticated tokens for `success_ttl` and rejected ones for `failure_ttl`.
    pub fn new(inner: A, success_ttl: Duration, failure_ttl: Duration) -> Self {
        Self {
            inner,
            success_ttl,
            failure_ttl,
            salt: rand::random(),
            cache: TtlCache::new(),
        }
    }

    fn key(&self, token: &str) -> Vec<u8> {
        let sha256 = rustls::crypto::ring::cipher_suite::TLS13_AES_128_GCM_SHA256
            .tls13()
            .map(|suite| suite.common.hash_provider);
        match sha256 {
            Some(hash) => {
                let mut ctx = hash.start();
                ctx.update(&self.salt);
                ctx.update(token.as_bytes());
                ctx.finish().as_ref().to_vec()
            }
            // Unreachable with ring's TLS 1.3 suite; never fall back to the raw token.
            None => Vec::new(),
        }
    }
}

impl<A: TokenAuthenticator> TokenAuthenticator for CachedAuthenticator<A> {
    fn authenticate<'a>(
        &'a self,
        token: &'a str,
    ) -> BoxFuture<'a, Result<Option<UserInfo>, AuthError>> {
        Box::pin(async move {
            let key = self.key(token);
            if key.is_empty() {
                return self.inner.authenticate(token).await;
            }
            if let Some(hit) = self.cache.get(&key) {
                return Ok(hit);
            }
            let result = self.inner.authenticate(token).await?;
            let ttl = if result.is_some() {
                self.success_ttl
            } else {
                self.failure_ttl
            };
            self.cache.insert(key, result.clone(), ttl);
            Ok(result)
        })
    }
}

/// Caches an [`Authorizer`]'s decisions, keyed by the full request attributes.
pub struct CachedAuthorizer<Z> {
    inner: Z,
    allow_ttl: Duration,
    deny_ttl: Duration,
    cache: TtlCache<Attributes, Decision>,
}

impl<Z: Authorizer> CachedAuthorizer<Z> {
    /// Caches allowed decisions for `allow_ttl`, others for `deny_ttl`.
    pub fn new(inner: Z, allow_ttl: Duration, deny_ttl: Duration) -> Self {
        Self {
            inner,
            allow_ttl,
            deny_ttl,
            cache: TtlCache::new(),
        }
    }
}

impl<Z: Authorizer> Authorizer for CachedAuthorizer<Z> {
    fn authorize<'a>(
        &'a self,
        attributes: &'a Attributes,
    ) -> BoxFuture<'a, Result<Decision, AuthError>> {
        Box::pin(async move {
            if let Some(hit) = self.cache.get(attributes) {
                return Ok(hit);
            }
            let decision = self.inner.authorize(attributes).await?;
            let ttl = if decision == Decision::Allow {
                self.allow_ttl
            } else {
                self.deny_ttl
            };
            self.cache.insert(attributes.clone(), decision.clone(), ttl);
            Ok(decision)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Nobody;
    impl TokenAuthenticator for Nobody {
        fn authenticate<'a>(
            &'a self,
            _: &'a str,
        ) -> BoxFuture<'a, Result<Option<UserInfo>, AuthError>> {
            Box::pin(async { Ok(None) })
        }
    }

    #[test]
    fn an_endless_ttl_does_not_panic() {
        let cache = TtlCache::new();
        cache.insert("k", 1, Duration::MAX);
        assert_eq!(cache.get(&"k"), Some(1));
    }

    #[test]
    fn token_keys_are_salted_sha256() {
        let ttl = Duration::from_secs(1);
        let (a, b) = (
            CachedAuthenticator::new(Nobody, ttl, ttl),
            CachedAuthenticator::new(Nobody, ttl, ttl),
        );
        assert_eq!(a.key("secret").len(), 32);
        assert_eq!(a.key("secret"), a.key("secret"));
        assert_ne!(a.key("secret"), b.key("secret"));
        assert!(!a.key("secret").windows(6).any(|w| w == b"secret"));
    }
}
