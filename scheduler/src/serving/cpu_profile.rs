//! `/debug/pprof/profile`: a CPU profile of this process in Go's pprof format, so the
//! same `go tool pprof https://<scheduler>:10259/debug/pprof/profile?seconds=30` that
//! works against kube-scheduler works here.
//!
//! Sampling is pprof-rs's (SIGPROF at [`FREQUENCY`] Hz, stacks resolved to symbols); the
//! encoding of the `perftools.profiles.Profile` message is ours, on the project's
//! protobuf writer: sample types `samples/count` and `cpu/nanoseconds`, one function and
//! one location per symbol, each sample labelled with its thread, as Go's CPU profiles
//! are read.

use std::time::{Duration, SystemTime};

use rustc_hash::FxHashMap;

use crate::wire::protobuf::Encoder;

/// Samples per second, as Go's CPU profiler.
pub const FREQUENCY: i32 = 100;
/// Go's default `seconds`.
pub const DEFAULT_SECONDS: u64 = 30;
/// The longest profile served (a longer one would outlive any client's patience and
/// hold the only profiler).
pub const MAX_SECONDS: u64 = 300;

/// Why no profile was made.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    /// `seconds` out of range.
    #[error("seconds must be between 1 and {MAX_SECONDS}, got {0}")]
    Seconds(u64),
    /// Another profile is running, or the profiler could not start or report.
    #[error("could not enable CPU profiling: {0}")]
    Profiler(String),
}

/// The `seconds` query parameter as Go reads it: absent or 0 means 30.
pub fn seconds_from_query(query: Option<&str>) -> Result<u64, ProfileError> {
    let raw = query
        .unwrap_or("")
        .split('&')
        .find_map(|kv| kv.strip_prefix("seconds="))
        .unwrap_or("");
    let seconds = if raw.is_empty() {
        DEFAULT_SECONDS
    } else {
        raw.parse::<u64>().map_err(|_| ProfileError::Seconds(0))?
    };
    match seconds {
        0 => Ok(DEFAULT_SECONDS),
        s if s > MAX_SECONDS => Err(ProfileError::Seconds(s)),
        s => Ok(s),
    }
}

/// Samples this process for `duration` (blocking the calling thread) and returns the
/// encoded profile.
pub fn collect(duration: Duration) -> Result<Vec<u8>, ProfileError> {
    let guard = pprof::ProfilerGuardBuilder::default()
        .frequency(FREQUENCY)
        // Unwinding through these from a signal handler can deadlock (pprof-rs's advice).
        .blocklist(&["libc", "libgcc", "pthread", "vdso"])
        .build()
        .map_err(|e| ProfileError::Profiler(e.to_string()))?;
    std::thread::sleep(duration);
    let report = guard
        .report()
        .build()
        .map_err(|e| ProfileError::Profiler(e.to_string()))?;
    let samples = report.data.iter().map(|(frames, count)| Sample {
        thread: frames.thread_name_or_id(),
        // Leaf first, as pprof wants its locations.
        stack: frames
            .frames
            .iter()
            .flatten()
            .map(|s| Frame {
                name: s.name(),
                system_name: s.sys_name().into_owned(),
                filename: s.filename().into_owned(),
                line: i64::from(s.lineno()),
            })
            .collect(),
        count: i64::try_from(*count).unwrap_or(i64::MAX),
    });
    Ok(encode(
        samples,
        report.timing.start_time,
        report.timing.duration,
        report.timing.frequency,
    ))
}

/// One resolved stack frame.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Frame {
    /// Demangled function name.
    pub name: String,
    /// Raw (mangled) symbol name.
    pub system_name: String,
    /// Source file, when known.
    pub filename: String,
    /// Source line, 0 when unknown.
    pub line: i64,
}

/// One stack seen `count` times on `thread`.
#[derive(Debug, Clone)]
pub struct Sample {
    /// Thread name (or id).
    pub thread: String,
    /// Frames, leaf first.
    pub stack: Vec<Frame>,
    /// Times seen.
    pub count: i64,
}

/// The string table: index 0 is the empty string, as pprof requires.
#[derive(Default)]
struct Strings {
    table: Vec<String>,
    index: FxHashMap<String, i64>,
}

impl Strings {
    fn new() -> Self {
        let mut s = Strings::default();
        s.id("");
        s
    }

    fn id(&mut self, s: &str) -> i64 {
        if let Some(&i) = self.index.get(s) {
            return i;
        }
        let i = self.table.len() as i64;
        self.table.push(s.to_string());
        self.index.insert(s.to_string(), i);
        i
    }
}

/// Encodes `samples` as a `perftools.profiles.Profile` (uncompressed; `go tool pprof`
/// reads it as it reads Go's gzipped ones).
pub fn encode(
    samples: impl IntoIterator<Item = Sample>,
    start: SystemTime,
    duration: Duration,
    frequency: i32,
) -> Vec<u8> {
    let mut strings = Strings::new();
    let mut functions: FxHashMap<Frame, u64> = FxHashMap::default();
    let mut function_list: Vec<(u64, i64, i64, i64, i64)> = Vec::new();
    let period = 1_000_000_000 / i64::from(frequency.max(1));
    let mut encoded_samples = Vec::new();
    for sample in samples {
        let locations: Vec<u64> = sample
            .stack
            .iter()
            .map(|f| {
                if let Some(&id) = functions.get(f) {
                    return id;
                }
                let id = function_list.len() as u64 + 1;
                function_list.push((
                    id,
                    strings.id(&f.name),
                    strings.id(&f.system_name),
                    strings.id(&f.filename),
                    f.line,
                ));
                functions.insert(f.clone(), id);
                id
            })
            .collect();
        let thread = strings.id(&sample.thread);
        encoded_samples.push((locations, sample.count, thread));
    }
    let (samples_id, count_id) = (strings.id("samples"), strings.id("count"));
    let (cpu_id, ns_id) = (strings.id("cpu"), strings.id("nanoseconds"));
    let thread_key = strings.id("thread");

    let mut e = Encoder::new();
    // 1: sample_type
    for (ty, unit) in [(samples_id, count_id), (cpu_id, ns_id)] {
        e.message(1, |v| {
            v.int64(1, ty);
            v.int64(2, unit);
        });
    }
    // 2: sample
    for (locations, count, thread) in &encoded_samples {
        e.message(2, |s| {
            for id in locations {
                s.int64(1, *id as i64);
            }
            s.int64(2, *count);
            s.int64(2, count.saturating_mul(period));
            s.message(3, |l| {
                l.int64(1, thread_key);
                l.int64(2, *thread);
            });
        });
    }
    // 4: location (one per function, its single line)
    for &(id, _, _, _, line) in &function_list {
        e.message(4, |l| {
            l.int64(1, id as i64);
            l.message(4, |ln| {
                ln.int64(1, id as i64);
                ln.int64(2, line);
            });
        });
    }
    // 5: function
    for &(id, name, system_name, filename, _) in &function_list {
        e.message(5, |f| {
            f.int64(1, id as i64);
            f.int64(2, name);
            f.int64(3, system_name);
            f.int64(4, filename);
        });
    }
    // 6: string_table
    for s in &strings.table {
        e.string(6, s);
    }
    let nanos = |d: Duration| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX);
    // 9: time_nanos, 10: duration_nanos, 11: period_type, 12: period
    e.int64(
        9,
        start
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(nanos)
            .unwrap_or(0),
    );
    e.int64(10, nanos(duration));
    e.message(11, |v| {
        v.int64(1, cpu_id);
        v.int64(2, ns_id);
    });
    e.int64(12, period);
    e.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::protobuf::{Decoder, Value};

    fn frame(name: &str, line: i64) -> Frame {
        Frame {
            name: name.into(),
            system_name: format!("_ZN{name}"),
            filename: "src/lib.rs".into(),
            line,
        }
    }

    /// The message's fields, in order, with length-delimited bodies kept whole.
    fn fields(buf: &[u8]) -> Vec<(u32, Value<'_>)> {
        let mut d = Decoder::new(buf);
        let mut out = Vec::new();
        while let Some(f) = d.next_field().expect("well-formed") {
            out.push(f);
        }
        out
    }

    #[test]
    fn a_profile_is_encoded_as_pprof_reads_it() {
        let samples = vec![
            Sample {
                thread: "scheduling".into(),
                stack: vec![frame("leaf", 10), frame("main", 1)],
                count: 3,
            },
            Sample {
                thread: "filter-0".into(),
                stack: vec![frame("other", 5), frame("main", 1)],
                count: 1,
            },
        ];
        let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1);
        let buf = encode(samples, start, Duration::from_secs(2), 100);
        let all = fields(&buf);
        let strings: Vec<String> = all
            .iter()
            .filter(|(n, _)| *n == 6)
            .map(|(_, v)| match v {
                Value::Bytes(b) => String::from_utf8(b.to_vec()).expect("utf-8"),
                other => panic!("string table entry {other:?}"),
            })
            .collect();
        assert_eq!(strings[0], "", "index 0 is the empty string");
        let s = |i: u64| strings[i as usize].as_str();
        // Sample types: samples/count, cpu/nanoseconds.
        let types: Vec<(u64, u64)> = all
            .iter()
            .filter(|(n, _)| *n == 1)
            .map(|(_, v)| match v {
                Value::Bytes(b) => {
                    let f = fields(b);
                    (varint(&f[0].1), varint(&f[1].1))
                }
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(
            types
                .iter()
                .map(|(t, u)| (s(*t), s(*u)))
                .collect::<Vec<_>>(),
            [("samples", "count"), ("cpu", "nanoseconds")]
        );
        // Two samples; "main" is one function shared by both; values are count and count * 10ms.
        let samples: Vec<(Vec<u64>, Vec<u64>)> = all
            .iter()
            .filter(|(n, _)| *n == 2)
            .map(|(_, v)| match v {
                Value::Bytes(b) => {
                    let f = fields(b);
                    let of = |n: u32| {
                        f.iter()
                            .filter(|(k, _)| *k == n)
                            .map(|(_, v)| varint(v))
                            .collect()
                    };
                    (of(1), of(2))
                }
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(samples.len(), 2);
        assert_eq!(samples[0], (vec![1, 2], vec![3, 30_000_000]));
        assert_eq!(samples[1], (vec![3, 2], vec![1, 10_000_000]));
        assert_eq!(all.iter().filter(|(n, _)| *n == 5).count(), 3, "functions");
        assert_eq!(all.iter().filter(|(n, _)| *n == 4).count(), 3, "locations");
        let scalar = |n: u32| all.iter().find(|(k, _)| *k == n).map(|(_, v)| varint(v));
        assert_eq!(scalar(9), Some(1_000_000_000));
        assert_eq!(scalar(10), Some(2_000_000_000));
        assert_eq!(scalar(12), Some(10_000_000));
    }

    fn varint(v: &Value<'_>) -> u64 {
        match v {
            Value::Varint(x) => *x,
            other => panic!("not a varint: {other:?}"),
        }
    }

    #[test]
    fn seconds_follow_gos_defaults_and_are_bounded() {
        assert_eq!(seconds_from_query(None).ok(), Some(30));
        assert_eq!(seconds_from_query(Some("seconds=0")).ok(), Some(30));
        assert_eq!(seconds_from_query(Some("debug=1&seconds=5")).ok(), Some(5));
        assert!(seconds_from_query(Some("seconds=301")).is_err());
        assert!(seconds_from_query(Some("seconds=-1")).is_err());
    }
}
