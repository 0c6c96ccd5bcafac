//! Idempotency records in `idempotency_keys` (migration 4), on both engines.
//!
//! Claiming a key is one statement, `INSERT ... ON CONFLICT (key) DO UPDATE ... WHERE <the
//! key is free> RETURNING claim_token`: a new key inserts; an existing one is overwritten
//! only when it is free (expired, or a running claim whose lease lapsed, for the same
//! request); the row lock of the upsert (PostgreSQL) or the database's write lock (SQLite)
//! lets one request win, whichever process it runs in. When nothing is returned the key is
//! held, and a read of the row says by what (a replay, a request in flight, another request).
//! `finish` and `abandon` act only while the row still carries the claim's token.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::ConnectionTrait;
use sea_orm::sea_query::{Condition, Expr, ExprTrait, OnConflict, Query, SimpleExpr};
use stack_core::idempotency::{
    Begun, Claim, IdempotencyKey, IdempotencyStore, RequestFingerprint, StoredResponse,
};
use stack_core::{Error, Result};
use stack_migrations::schema::IdempotencyKeys as K;
use uuid::Uuid;

use super::error::db_error;
use super::{SqlStore, rows};

const RUNNING: &str = "running";
const DONE: &str = "done";

/// How often `begin` starts over when the row it found changed before it read it.
const ATTEMPTS: usize = 3;

/// `at + span`, refusing a span no timestamp can hold.
fn after(at: DateTime<Utc>, span: Duration, what: &str) -> Result<DateTime<Utc>> {
    chrono::TimeDelta::from_std(span)
        .ok()
        .and_then(|d| at.checked_add_signed(d))
        .ok_or_else(|| Error::invalid(what, "is too long"))
}

fn col(column: K) -> Expr {
    Expr::col((K::Table, column))
}

/// The existing row may be overwritten: a done key that expired, or a running claim whose
/// lease lapsed and that either expired or is this same request (a takeover).
fn free(now: DateTime<Utc>, request: &RequestFingerprint) -> SimpleExpr {
    let done_and_expired = col(K::State).eq(DONE).and(col(K::ExpiresAt).lte(now));
    let same_request = col(K::Method)
        .eq(request.method.as_str())
        .and(col(K::Target).eq(request.target.as_str()))
        .and(col(K::Fingerprint).eq(request.body_sha256.as_str()));
    let lapsed = col(K::State)
        .eq(RUNNING)
        .and(col(K::LeaseUntil).lte(now))
        .and(col(K::ExpiresAt).lte(now).or(same_request));
    done_and_expired.or(lapsed)
}

/// One row as `begin` reads it after losing the claim.
struct Held {
    first: RequestFingerprint,
    done: bool,
    lease_until: Option<DateTime<Utc>>,
    expires_at: DateTime<Utc>,
    response: Option<StoredResponse>,
}

fn get<T: sea_orm::TryGetable>(row: &sea_orm::QueryResult, column: &str) -> Result<T> {
    row.try_get("", column)
        .map_err(|e| Error::backend(format!("reading idempotency_keys.{column}: {e}")))
}

fn held(row: &sea_orm::QueryResult) -> Result<Held> {
    let done = get::<String>(row, "state")? == DONE;
    let response = if done {
        let status: i16 = get(row, "status")?;
        Some(StoredResponse {
            status: u16::try_from(status)
                .map_err(|e| Error::backend(format!("idempotency_keys.status {status}: {e}")))?,
            content_type: get(row, "content_type")?,
            body: get(row, "body")?,
        })
    } else {
        None
    };
    Ok(Held {
        first: RequestFingerprint {
            method: get(row, "method")?,
            target: get(row, "target")?,
            body_sha256: get(row, "fingerprint")?,
        },
        done,
        lease_until: get(row, "lease_until")?,
        expires_at: get(row, "expires_at")?,
        response,
    })
}

impl SqlStore {
    /// Tries to claim `key`; the claim when this call won it.
    async fn claim(
        &self,
        key: &IdempotencyKey,
        request: &RequestFingerprint,
        lease: Duration,
        ttl: Duration,
        now: DateTime<Utc>,
    ) -> Result<Option<Claim>> {
        let token = Uuid::now_v7();
        let lease_until = after(now, lease, "api.idempotency_lock")?;
        let expires_at = after(now, ttl, "api.idempotency_ttl")?;
        let mut insert = Query::insert();
        insert
            .into_table(K::Table)
            .columns([
                K::Key,
                K::Method,
                K::Target,
                K::Fingerprint,
                K::State,
                K::ClaimToken,
                K::LeaseUntil,
                K::Status,
                K::ContentType,
                K::Body,
                K::CreatedAt,
                K::ExpiresAt,
            ])
            .values_panic([
                key.as_str().into(),
                request.method.as_str().into(),
                request.target.as_str().into(),
                request.body_sha256.as_str().into(),
                RUNNING.into(),
                token.into(),
                Some(lease_until).into(),
                Option::<i16>::None.into(),
                Option::<String>::None.into(),
                Option::<Vec<u8>>::None.into(),
                now.into(),
                expires_at.into(),
            ])
            .on_conflict(
                OnConflict::column(K::Key)
                    .update_columns([
                        K::Method,
                        K::Target,
                        K::Fingerprint,
                        K::State,
                        K::ClaimToken,
                        K::LeaseUntil,
                        K::Status,
                        K::ContentType,
                        K::Body,
                        K::CreatedAt,
                        K::ExpiresAt,
                    ])
                    .action_and_where(free(now, request))
                    .to_owned(),
            )
            .returning_col(K::ClaimToken);
        let row = self
            .connection()
            .query_one(&insert)
            .await
            .map_err(|e| db_error("claim an idempotency key", e))?;
        match row {
            Some(row) if get::<Uuid>(&row, "claim_token")? == token => Ok(Some(Claim {
                key: key.clone(),
                token,
            })),
            _ => Ok(None),
        }
    }

    /// The row of `key`, when there is one.
    async fn held(&self, key: &IdempotencyKey) -> Result<Option<Held>> {
        let select = Query::select()
            .columns([
                K::Method,
                K::Target,
                K::Fingerprint,
                K::State,
                K::LeaseUntil,
                K::Status,
                K::ContentType,
                K::Body,
                K::ExpiresAt,
            ])
            .from(K::Table)
            .and_where(Expr::col(K::Key).eq(key.as_str()))
            .to_owned();
        let row = self
            .connection()
            .query_one(&select)
            .await
            .map_err(|e| db_error("read an idempotency key", e))?;
        row.as_ref().map(held).transpose()
    }
}

/// What a request with fingerprint `request` gets for a key whose row is `held`, at `now`;
/// `None` when the key is free for it to claim (expired, or its running claim's lease
/// lapsed).
fn answer_for(held: Held, request: &RequestFingerprint, now: DateTime<Utc>) -> Option<Begun> {
    if held.expires_at <= now && held.lease_until.is_none_or(|l| l <= now) {
        return None;
    }
    if held.first != *request {
        return Some(Begun::Mismatch { first: held.first });
    }
    if held.done
        && let Some(response) = held.response
    {
        return Some(Begun::Replay(response));
    }
    match held.lease_until {
        Some(until) if until > now => {
            let left = (until - now).to_std().unwrap_or(Duration::ZERO);
            Some(Begun::InFlight { retry_after: left })
        }
        _ => None,
    }
}

#[async_trait]
impl IdempotencyStore for SqlStore {
    async fn begin(
        &self,
        key: &IdempotencyKey,
        request: &RequestFingerprint,
        lease: Duration,
        ttl: Duration,
    ) -> Result<Begun> {
        for _ in 0..ATTEMPTS {
            // Read first: a key that is answered or still running needs no write. (On SQLite
            // a write waits for the database's one write lock, which the running request's
            // unit of work holds until it commits: a retry would wait instead of hearing
            // 409 at once.)
            if let Some(held) = self.held(key).await?
                && let Some(answer) = answer_for(held, request, rows::now())
            {
                return Ok(answer);
            }
            let now = rows::now();
            if let Some(claim) = self.claim(key, request, lease, ttl, now).await? {
                return Ok(Begun::Claimed(claim));
            }
            // Someone claimed it between the read and the claim: read it again.
        }
        // The row kept changing under us: as good as in flight.
        Ok(Begun::InFlight {
            retry_after: Duration::from_secs(1),
        })
    }

    async fn finish(&self, claim: &Claim, response: &StoredResponse) -> Result<()> {
        let update = Query::update()
            .table(K::Table)
            .values([
                (K::State, DONE.into()),
                (K::LeaseUntil, Option::<DateTime<Utc>>::None.into()),
                (
                    K::Status,
                    i16::try_from(response.status).unwrap_or(500).into(),
                ),
                (K::ContentType, response.content_type.clone().into()),
                (K::Body, response.body.clone().into()),
            ])
            .and_where(Expr::col(K::Key).eq(claim.key.as_str()))
            .and_where(Expr::col(K::ClaimToken).eq(claim.token))
            .and_where(Expr::col(K::State).eq(RUNNING))
            .to_owned();
        let done = self
            .conn()
            .await
            .exec()
            .execute(&update)
            .await
            .map_err(|e| db_error("store an idempotent response", e))?;
        if done.rows_affected() == 0 {
            return Err(Error::conflict(format!(
                "idempotency key {} is no longer held by this request (its lease lapsed and \
                 another request took it, or it expired)",
                claim.key
            )));
        }
        Ok(())
    }

    async fn abandon(&self, claim: &Claim) -> Result<()> {
        let delete = Query::delete()
            .from_table(K::Table)
            .and_where(Expr::col(K::Key).eq(claim.key.as_str()))
            .and_where(Expr::col(K::ClaimToken).eq(claim.token))
            .and_where(Expr::col(K::State).eq(RUNNING))
            .to_owned();
        self.connection()
            .execute(&delete)
            .await
            .map_err(|e| db_error("free an idempotency key", e))?;
        Ok(())
    }

    async fn purge_expired(&self, limit: u32) -> Result<u64> {
        let now = rows::now();
        let free = || {
            Condition::all().add(Expr::col(K::ExpiresAt).lte(now)).add(
                Expr::col(K::State)
                    .eq(DONE)
                    .or(Expr::col(K::LeaseUntil).lte(now)),
            )
        };
        let expired = Query::select()
            .column(K::Key)
            .from(K::Table)
            .cond_where(free())
            .limit(u64::from(limit))
            .to_owned();
        // The conditions again on the row deleted: a key claimed anew between the selection
        // and the delete (PostgreSQL re-checks only the key in the subquery) stays.
        let delete = Query::delete()
            .from_table(K::Table)
            .and_where(Expr::col(K::Key).in_subquery(expired))
            .cond_where(free())
            .to_owned();
        let done = self
            .connection()
            .execute(&delete)
            .await
            .map_err(|e| db_error("purge expired idempotency keys", e))?;
        Ok(done.rows_affected())
    }
}
