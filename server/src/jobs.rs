//! The reference service's job handlers, registered by type for `stack worker`.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use stack_core::store::Store;
use stack_core::worker::{Handlers, JobContext, JobError};
use uuid::Uuid;

/// The type of the job that confirms a deposit once its chain confirms it.
pub const CONFIRM_DEPOSIT: &str = "rail.confirm_deposit";

/// The payload of [`CONFIRM_DEPOSIT`].
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfirmDeposit {
    /// The deposit to confirm.
    pub deposit_id: Uuid,
}

/// The type of the job that notifies a deposit's owner once the deposit is confirmed and
/// credited (enqueued by `POST /deposits/{id}/confirm`).
pub const DEPOSIT_CONFIRMED: &str = "rail.deposit_confirmed";

/// The payload of [`DEPOSIT_CONFIRMED`].
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DepositConfirmed {
    /// The confirmed deposit.
    pub deposit_id: Uuid,
}

/// Every handler of the rail service, over `store`.
///
/// `rail.confirm_deposit` credits a pending deposit (balance, ledger entry and audit log in
/// one transaction). It is safe to run twice: a confirmed deposit is not credited again, so a
/// job that runs again after its worker died cannot double-credit. An unknown or failed
/// deposit is a permanent failure; a database that does not answer is retried.
///
/// `rail.deposit_confirmed` notifies the owner of a confirmed deposit. Delivery (email,
/// webhook) is not built yet: the handler reads the deposit and logs the notice, so the job
/// is consumed rather than dead-lettered.
pub fn handlers(store: Arc<dyn Store>) -> Handlers {
    let notify_store = Arc::clone(&store);
    Handlers::new()
        .register_fn(
            CONFIRM_DEPOSIT,
            move |job: ConfirmDeposit, _: JobContext| {
                let store = Arc::clone(&store);
                async move {
                    store
                        .confirm_deposit(job.deposit_id)
                        .await
                        .map(drop)
                        .map_err(JobError::from)
                }
            },
        )
        .register_fn(
            DEPOSIT_CONFIRMED,
            move |job: DepositConfirmed, _: JobContext| {
                let store = Arc::clone(&notify_store);
                async move {
                    let deposit = store
                        .deposit(job.deposit_id)
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
            },
        )
}
