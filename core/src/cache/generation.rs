//! Generation counters whose values never repeat, even when a counter is lost.
//!
//! A generation names the entries written under it, so a counter that goes back to a value
//! it once had brings those entries back. A counter can vanish: evicted under memory
//! pressure, or lost in a failover (replication is asynchronous). So a missing counter does
//! not count from 0: it starts at the time in microseconds since the Unix epoch, set only if
//! still absent. Every earlier value of that counter was its earlier start plus one per bump,
//! so it could repeat only if the counter had been bumped more than once per microsecond on
//! average since it started, or if the clock of the process that restarts it is behind the
//! clock of the one that started it by more than the number of bumps in between (in µs).
//! Any value below [`FLOOR`] (a counter re-created from 0 by a bare increment, or one made
//! before this rule) is moved past the present the same way before it is used.

use std::time::{SystemTime, UNIX_EPOCH};

use super::Cache;
use crate::{Error, Result};

/// The least value a counter in use holds: 10^15 µs after the Unix epoch (September 2001).
const FLOOR: i64 = 1_000_000_000_000_000;

/// The value a counter (re)starts at: now, in microseconds since the Unix epoch (at least
/// [`FLOOR`]).
fn now() -> i64 {
    let micros = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_micros());
    i64::try_from(micros).unwrap_or(i64::MAX / 2).max(FLOOR)
}

fn parse(key: &str, bytes: &[u8]) -> Result<i64> {
    std::str::from_utf8(bytes)
        .ok()
        .and_then(|text| text.parse().ok())
        .ok_or_else(|| Error::invalid("key", format!("{key} does not hold a generation")))
}

/// The characters of a server lineage kept in a key: 48 bits of a random run id.
const LINEAGE_CHARS: usize = 12;

/// Counters as read: their values, and the lineage of the server state they were read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Generations {
    /// The values, in the order of the keys.
    pub(super) values: Vec<i64>,
    /// Each distinct lineage the counters were read in (see [`Cache::get_many_in_lineage`]),
    /// shortened, joined by `.`; empty for a cache that has none. A key that embeds it is
    /// new after a restart or a failover, so a counter the server rolled back to an older value
    /// (its last bumps lost) does not bring back the entries made under that value.
    pub(super) lineage: String,
}

/// The values of the counters `keys`, in order, and their lineage: a missing counter is
/// started at [`now`] (set if absent), one below [`FLOOR`] is moved past it.
///
/// # Errors
/// As the cache calls; [`Error::Invalid`] when a key holds something else than an integer;
/// [`Error::Unavailable`] when a counter vanishes again while it is being started.
pub(super) async fn read(cache: &dyn Cache, keys: &[String]) -> Result<Generations> {
    let read = cache.get_many_in_lineage(keys).await?;
    let mut lineages: Vec<String> = Vec::new();
    let mut values = Vec::with_capacity(read.len());
    for (value, lineage) in read {
        if let Some(lineage) = lineage {
            let short: String = lineage.chars().take(LINEAGE_CHARS).collect();
            if !lineages.contains(&short) {
                lineages.push(short);
            }
        }
        values.push(value);
    }
    if values.len() != keys.len() {
        return Err(Error::backend(format!(
            "the cache answered {} values for {} keys",
            values.len(),
            keys.len()
        )));
    }
    let mut generations = Vec::with_capacity(keys.len());
    for (key, value) in keys.iter().zip(values) {
        let generation = match value {
            Some(bytes) => match parse(key, &bytes)? {
                current if current >= FLOOR => current,
                old => lift(cache, key, old).await?,
            },
            None => start(cache, key).await?,
        };
        generations.push(generation);
    }
    Ok(Generations {
        values: generations,
        lineage: lineages.join("."),
    })
}

/// Moves the counter `key` to a new generation; answers it.
///
/// # Errors
/// As [`Cache::increment`].
pub(super) async fn bump(cache: &dyn Cache, key: &str) -> Result<i64> {
    match cache.increment(key, 1, None).await? {
        current if current >= FLOOR => Ok(current),
        // Made from 0 just now (the counter was lost), or made before this rule.
        old => lift(cache, key, old).await,
    }
}

/// Adds [`now`] to a counter at `old`, below [`FLOOR`]: past every value it had.
async fn lift(cache: &dyn Cache, key: &str, old: i64) -> Result<i64> {
    tracing::debug!(
        key,
        old,
        "generation counter below the floor; moved past the present"
    );
    cache.increment(key, now(), None).await
}

/// Starts the missing counter `key` at [`now`], unless another caller started it first.
async fn start(cache: &dyn Cache, key: &str) -> Result<i64> {
    let value = now();
    if cache
        .set_if_absent(key, value.to_string().into_bytes(), None)
        .await?
    {
        return Ok(value);
    }
    match cache.get(key).await? {
        Some(bytes) => match parse(key, &bytes)? {
            current if current >= FLOOR => Ok(current),
            old => lift(cache, key, old).await,
        },
        None => Err(Error::unavailable(
            format!("generation counter {key} vanished while it was started"),
            std::io::Error::from(std::io::ErrorKind::NotFound),
        )),
    }
}
