//! One malloc arena. glibc gives a thread that meets contention an arena of its own (up to
//! eight per core), and memory freed into one arena is never reused by another: the
//! watchers' decoding threads and the scheduling loop each kept their own free lists. In
//! single PodAntiAffinity benchmark runs, peak RSS was 58 MiB with glibc's default and 45
//! MiB with one arena (the thread caches in front of the arena keep small allocations
//! lock-free). A `MALLOC_ARENA_MAX` set in the environment wins.

/// Caps glibc at one arena unless `MALLOC_ARENA_MAX` is set. Call before spawning threads.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
pub fn use_one_arena() {
    if std::env::var_os("MALLOC_ARENA_MAX").is_some() {
        return;
    }
    // SAFETY: mallopt only sets an allocator tunable; it takes no pointers and is called
    // from `main` before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}

/// Other allocators and platforms: nothing to do.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn use_one_arena() {}
