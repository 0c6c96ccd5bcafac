//! The cache through the `Cache` trait against the raw clients, and per-user invalidation
//! (a bench binary, not a test). Every figure has its baseline from the same run:
//!
//! 1. get and set ops/s, single key and 16-key batches: `MemoryCache` against moka used
//!    directly, `RedisCache` against redis-rs used directly (a multiplexed connection, `GET`,
//!    `SET`, `MGET`), on a Redis this bench starts for itself; three rounds, alternating;
//! 2. invalidating one user's keys among 1,000,000 in that Redis: one generation increment
//!    against `delete_pattern` (SCAN over every key).
//!
//! `cargo bench -p stack-tests --bench cache` (`BENCH_OPS`, `BENCH_KEYS` scale it).

#![allow(
    clippy::unwrap_used,
    clippy::print_stdout,
    reason = "a bench binary: a failure must stop it"
)]

use std::sync::Arc;
use std::time::Instant;

use stack_backends::memory::{MemoryCache, MemoryCacheOptions};
use stack_backends::redis::{RedisCache, RedisCacheOptions, RedisTarget};
use stack_core::cache::{Cache, TypedCache, UserKeys};
use stack_tests::own_redis::OwnRedis;

fn keys(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("k{i}")).collect()
}

/// ops/s of `ops` runs of `op`.
async fn rate<F, Fut>(ops: usize, mut op: F) -> f64
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let started = Instant::now();
    for i in 0..ops {
        op(i).await;
    }
    ops as f64 / started.elapsed().as_secs_f64()
}

struct Figures {
    name: &'static str,
    trait_ops: Vec<f64>,
    raw_ops: Vec<f64>,
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

#[tokio::main]
async fn main() {
    let ops = stack_tests::bench_setting("BENCH_OPS", 20_000);
    let value = vec![7u8; 100];
    let batch = keys(16);
    let redis = OwnRedis::start();

    let memory = MemoryCache::new(MemoryCacheOptions::default());
    let moka: moka::future::Cache<String, Arc<[u8]>> = moka::future::Cache::new(100_000);
    let cache = RedisCache::open(
        RedisTarget::Single(redis.url()),
        RedisCacheOptions::default(),
    )
    .await
    .unwrap();
    let client = redis::Client::open(redis.url()).unwrap();
    let raw = client.get_multiplexed_async_connection().await.unwrap();
    for key in &batch {
        memory.set(key, value.clone(), None).await.unwrap();
        moka.insert(key.clone(), Arc::from(value.as_slice())).await;
        cache.set(key, value.clone(), None).await.unwrap();
    }

    let mut figures = vec![
        Figures {
            name: "moka get",
            trait_ops: vec![],
            raw_ops: vec![],
        },
        Figures {
            name: "moka set",
            trait_ops: vec![],
            raw_ops: vec![],
        },
        Figures {
            name: "moka get 16 keys",
            trait_ops: vec![],
            raw_ops: vec![],
        },
        Figures {
            name: "redis get",
            trait_ops: vec![],
            raw_ops: vec![],
        },
        Figures {
            name: "redis set",
            trait_ops: vec![],
            raw_ops: vec![],
        },
        Figures {
            name: "redis get 16 keys",
            trait_ops: vec![],
            raw_ops: vec![],
        },
    ];
    for _round in 0..3 {
        let f = &mut figures;
        f[0].trait_ops.push(
            rate(ops * 10, |i| {
                let m = &memory;
                let k = &batch[i % 16];
                async move {
                    m.get(k).await.unwrap().unwrap();
                }
            })
            .await,
        );
        f[0].raw_ops.push(
            rate(ops * 10, |i| {
                let m = &moka;
                let k = &batch[i % 16];
                async move {
                    m.get(k).await.unwrap().to_vec();
                }
            })
            .await,
        );
        f[1].trait_ops.push(
            rate(ops * 10, |i| {
                let m = &memory;
                let (k, v) = (&batch[i % 16], value.clone());
                async move {
                    m.set(k, v, None).await.unwrap();
                }
            })
            .await,
        );
        f[1].raw_ops.push(
            rate(ops * 10, |i| {
                let m = &moka;
                let (k, v) = (batch[i % 16].clone(), Arc::from(value.as_slice()));
                async move {
                    m.insert(k, v).await;
                }
            })
            .await,
        );
        f[2].trait_ops.push(
            rate(ops, |_| {
                let m = &memory;
                let b = &batch;
                async move {
                    m.get_many(b).await.unwrap();
                }
            })
            .await,
        );
        f[2].raw_ops.push(
            rate(ops, |_| {
                let m = &moka;
                let b = &batch;
                async move {
                    for k in b {
                        m.get(k).await.unwrap().to_vec();
                    }
                }
            })
            .await,
        );
        f[3].trait_ops.push(
            rate(ops, |i| {
                let c = &cache;
                let k = &batch[i % 16];
                async move {
                    c.get(k).await.unwrap().unwrap();
                }
            })
            .await,
        );
        f[3].raw_ops.push(
            rate(ops, |i| {
                let mut r = raw.clone();
                let k = batch[i % 16].clone();
                async move {
                    redis::cmd("GET")
                        .arg(k)
                        .query_async::<Vec<u8>>(&mut r)
                        .await
                        .unwrap();
                }
            })
            .await,
        );
        f[4].trait_ops.push(
            rate(ops, |i| {
                let c = &cache;
                let (k, v) = (&batch[i % 16], value.clone());
                async move {
                    c.set(k, v, None).await.unwrap();
                }
            })
            .await,
        );
        f[4].raw_ops.push(
            rate(ops, |i| {
                let mut r = raw.clone();
                let (k, v) = (batch[i % 16].clone(), value.clone());
                async move {
                    redis::cmd("SET")
                        .arg(k)
                        .arg(v)
                        .query_async::<()>(&mut r)
                        .await
                        .unwrap();
                }
            })
            .await,
        );
        f[5].trait_ops.push(
            rate(ops, |_| {
                let c = &cache;
                let b = &batch;
                async move {
                    c.get_many(b).await.unwrap();
                }
            })
            .await,
        );
        f[5].raw_ops.push(
            rate(ops, |_| {
                let mut r = raw.clone();
                let b = batch.clone();
                async move {
                    redis::cmd("MGET")
                        .arg(&b)
                        .query_async::<Vec<Option<Vec<u8>>>>(&mut r)
                        .await
                        .unwrap();
                }
            })
            .await,
        );
    }
    println!(
        "\n| operation | through the trait, ops/s (median) | raw client, ops/s (median) | trait / raw |"
    );
    println!("|---|---|---|---|");
    for f in &mut figures {
        let (t, r) = (median(&mut f.trait_ops), median(&mut f.raw_ops));
        println!("| {} | {:.0} | {:.0} | {:.2} |", f.name, t, r, t / r);
    }

    // Per-user invalidation among 1,000,000 keys: 1,000 users x 1,000 keys.
    let total = stack_tests::bench_setting("BENCH_KEYS", 1_000_000);
    let per_user = 1000;
    let users: Vec<uuid::Uuid> = (0..total / per_user)
        .map(|_| uuid::Uuid::now_v7())
        .collect();
    let mut connection = raw.clone();
    let fill = Instant::now();
    for user in &users {
        let mut pipe = redis::pipe();
        for n in 0..per_user {
            pipe.cmd("SET")
                .arg(format!("{{u:{user}}}:g0.0:s:{n}"))
                .arg("v")
                .ignore();
        }
        pipe.query_async::<()>(&mut connection).await.unwrap();
    }
    println!("\nfilled {total} keys in {:?}", fill.elapsed());
    let target = users[users.len() / 2];
    let typed = TypedCache::new(Arc::new(cache.clone()) as Arc<dyn Cache>);
    let started = Instant::now();
    UserKeys::new(typed).bump(target).await.unwrap();
    let bump = started.elapsed();
    let started = Instant::now();
    let removed = cache
        .delete_pattern(&format!("{{u:{target}}}:*"))
        .await
        .unwrap();
    let scan = started.elapsed();
    assert!(
        removed >= per_user as u64,
        "the user's keys (and its generation) were found"
    );
    println!(
        "\nper-user invalidation among {total} keys: generation bump {bump:?}; SCAN + UNLINK of the user's {removed} keys {scan:?} ({:.0}x)",
        scan.as_secs_f64() / bump.as_secs_f64().max(1e-9)
    );
}
