//! The reference service's job handlers, registered by type for `stack worker` and the
//! workers of `stack serve`.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use stack_core::page::{MAX_LIMIT, PageRequest};
use stack_core::queue::TypedJob;
use stack_core::store::{AuditFilter, NewAuditLog, Store};
use stack_core::worker::{Handlers, JobContext, JobError};
use uuid::Uuid;

/// The job that confirms a deposit once its chain confirms it: type `rail.confirm_deposit`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfirmDeposit {
    /// The deposit to confirm.
    pub deposit_id: Uuid,
}

impl TypedJob for ConfirmDeposit {
    const TYPE: &'static str = "rail.confirm_deposit";
}

/// The type of [`ConfirmDeposit`] jobs (the same as its [`TypedJob::TYPE`]).
pub const CONFIRM_DEPOSIT: &str = ConfirmDeposit::TYPE;

/// The job that notifies a deposit's owner once the deposit is confirmed and credited
/// (enqueued by `POST /deposits/{id}/confirm`): type `rail.deposit_confirmed`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DepositConfirmed {
    /// The confirmed deposit.
    pub deposit_id: Uuid,
}

impl TypedJob for DepositConfirmed {
    const TYPE: &'static str = "rail.deposit_confirmed";
}

/// The type of [`DepositConfirmed`] jobs (the same as its [`TypedJob::TYPE`]).
pub const DEPOSIT_CONFIRMED: &str = DepositConfirmed::TYPE;

/// The audit action a [`DepositConfirmed`] job records: the notice its owner was sent.
pub const DEPOSIT_NOTIFIED: &str = "deposit.notified";

/// Every handler of the rail service, over `store`.
///
/// `rail.confirm_deposit` credits a pending deposit (balance, ledger entry and audit log in
/// one transaction). It is safe to run twice: a confirmed deposit is not credited again, so a
/// job that runs again after its worker died cannot double-credit. An unknown or failed
/// deposit is a permanent failure; a database that does not answer is retried.
///
/// `rail.deposit_confirmed` notifies the owner of a confirmed deposit: see [`notify`].
pub fn handlers(store: Arc<dyn Store>) -> Handlers {
    let notify_store = Arc::clone(&store);
    Handlers::new()
        .register_job_fn(move |job: ConfirmDeposit, _: JobContext| {
            let store = Arc::clone(&store);
            async move {
                store
                    .confirm_deposit(job.deposit_id)
                    .await
                    .map(drop)
                    .map_err(JobError::from)
            }
        })
        .register_job_fn(move |job: DepositConfirmed, _: JobContext| {
            let store = Arc::clone(&notify_store);
            async move { notify(store.as_ref(), job.deposit_id).await }
        })
}

/// Notifies the owner of confirmed deposit `deposit_id`. No delivery channel (email,
/// webhook) is built yet, so the notice is what a user and an operator can see of it: an
/// audit log `deposit.notified` about the owner, whose subject is the deposit and whose
/// detail names the asset, the amount and the channel (`log`), listed by
/// `GET /api/v2/audit-logs?action=deposit.notified`; and an info log line. A job that runs
/// again (its worker died after recording) finds the notice and records none; a deposit that
/// is unknown or not confirmed is a permanent failure (dead-lettered, visible in the admin
/// API), a database that does not answer is retried.
///
/// # Errors
/// As described: permanent for a deposit that cannot be notified, retryable otherwise.
pub async fn notify(store: &dyn Store, deposit_id: Uuid) -> Result<(), JobError> {
    let deposit = store.deposit(deposit_id).await.map_err(JobError::from)?;
    let Some(confirmed_at) = deposit.confirmed_at else {
        return Err(JobError::permanent(format!(
            "deposit {deposit_id} is {:?}, not confirmed: nothing to notify",
            deposit.status
        )));
    };
    if already_notified(store, deposit.user_id, deposit_id, confirmed_at).await? {
        tracing::info!(%deposit_id, "deposit owner already notified");
        return Ok(());
    }
    let detail = serde_json::json!({
        "asset": deposit.asset,
        "amount": deposit.amount.to_string(),
        "channel": "log",
    });
    store
        .record_audit_log(NewAuditLog {
            user_id: Some(deposit.user_id),
            action: DEPOSIT_NOTIFIED.into(),
            subject_id: deposit_id,
            detail,
        })
        .await
        .map_err(JobError::from)?;
    tracing::info!(
        deposit_id = %deposit.id,
        user_id = %deposit.user_id,
        asset = %deposit.asset,
        amount = %deposit.amount,
        "deposit confirmed: owner notified"
    );
    Ok(())
}

/// Whether a `deposit.notified` log about `deposit_id` exists (written after the deposit
/// was confirmed, which bounds the search).
async fn already_notified(
    store: &dyn Store,
    user_id: Uuid,
    deposit_id: Uuid,
    confirmed_at: DateTime<Utc>,
) -> Result<bool, JobError> {
    let filter = AuditFilter {
        user_id: Some(user_id),
        action: Some(DEPOSIT_NOTIFIED.into()),
        created_from: Some(confirmed_at),
        created_to: None,
    };
    let mut number = 1;
    loop {
        let request = PageRequest::new(number, MAX_LIMIT).map_err(JobError::from)?;
        let page = store
            .list_audit_logs(&filter, request)
            .await
            .map_err(JobError::from)?;
        if page.items.iter().any(|log| log.subject_id == deposit_id) {
            return Ok(true);
        }
        if !page.has_next {
            return Ok(false);
        }
        number += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `.rs` file under `dir`, recursively.
    fn sources(dir: &std::path::Path, found: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("the source folder reads") {
            let path = entry.expect("a folder entry").path();
            if path.is_dir() {
                sources(&path, found);
            } else if path.extension().is_some_and(|e| e == "rs") {
                found.push(path);
            }
        }
    }

    /// Each job type name is written once in the server's sources, in its definition: the
    /// rail's enqueue and the handlers read it from there.
    #[test]
    fn each_job_type_name_is_written_once() {
        let mut files = Vec::new();
        sources(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
            &mut files,
        );
        let text: String = files
            .iter()
            .map(|f| std::fs::read_to_string(f).expect("a source file reads"))
            .collect();
        for name in [ConfirmDeposit::TYPE, DepositConfirmed::TYPE] {
            // Split so this test's own text does not count.
            let literal = format!("{}{name}{}", '"', '"');
            assert_eq!(text.matches(&literal).count(), 1, "{literal} in server/src");
        }
    }
}
