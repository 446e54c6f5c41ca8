//! When a per-node pass is worth fanning out over the filter thread pool.

/// Nodes to evaluate below which a pass runs on the calling thread: a node costs well under
/// a microsecond, less than waking other threads (which, on a machine shared with the API
/// server, may not even be scheduled promptly).
pub const PARALLEL_THRESHOLD: usize = 1024;

/// Whether to fan `n` items out over the current rayon pool: only when it has more than one
/// thread and the work is large enough to pay for the hand-off.
pub fn fan_out(n: usize) -> bool {
    n >= PARALLEL_THRESHOLD && rayon::current_num_threads() > 1
}
