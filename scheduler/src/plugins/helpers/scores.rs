//! Score scales and normalization.

/// Upstream's `MaxNodeScore`.
pub const MAX_NODE_SCORE: i64 = 100;

/// Upstream's `DefaultNormalizeScore`: scale to 0..=max by the highest score, optionally reversed.
pub fn default_normalize(scores: &mut [i64], reverse: bool) {
    let max = scores.iter().copied().max().unwrap_or(0).max(0);
    if max == 0 {
        if reverse {
            scores.iter_mut().for_each(|s| *s = MAX_NODE_SCORE);
        }
        return;
    }
    for s in scores.iter_mut() {
        // In i128 when the product overflows (raw scores of any size, issue #20).
        let v = s.checked_mul(MAX_NODE_SCORE).map_or_else(
            || {
                let v = i128::from(*s) * i128::from(MAX_NODE_SCORE) / i128::from(max);
                i64::try_from(v).unwrap_or(i64::MIN)
            },
            |p| p / max,
        );
        *s = if reverse {
            MAX_NODE_SCORE.saturating_sub(v)
        } else {
            v
        };
    }
}
