//! [`Layered`]: the Store implemented once over any [`StorePolicy`].

use std::sync::Arc;

use async_trait::async_trait;
use futures::future::BoxFuture;
use uuid::Uuid;

use super::{Call, StorePolicy};
use crate::Result;
use crate::bulk::{BulkItem, BulkOutcome};
use crate::page::{Page, PageRequest};
use crate::store::{
    AuditFilter, AuditLog, AuditStore, Balance, CursorPage, CursorRequest, Deposit, DepositFilter,
    EntryFilter, LedgerEntry, MoneyStore, NewAuditLog, NewDebit, NewDeposit, NewUser, NewWallet,
    OnboardingFlow, OnboardingStatus, OnboardingStore, Recorded, Store, User, UserFilter,
    UserStore, Wallet, WalletFilter, WalletStore,
};

/// A Store whose every call goes through the policy `P`. See the [module
/// documentation](super).
#[derive(Debug, Clone)]
pub struct Layered<P> {
    policy: P,
}

impl<P: StorePolicy> Layered<P> {
    /// The Store of `policy`.
    pub fn new(policy: P) -> Self {
        Self { policy }
    }

    /// The policy, for its own status.
    pub fn policy(&self) -> &P {
        &self.policy
    }
}

/// The closure of one call: clones the captured arguments for each run, so a policy may run
/// it again on another store.
macro_rules! op {
    ([$($arg:ident),*] |$store:ident| $body:expr) => {
        &move |$store: Arc<dyn Store>| -> BoxFuture<'static, Result<_>> {
            $(let $arg = $arg.clone();)*
            Box::pin(async move { $body })
        }
    };
}

#[async_trait]
impl<P: StorePolicy> UserStore for Layered<P> {
    async fn create_user(&self, user: NewUser) -> Result<User> {
        let call = Call::write("create_user", None);
        let created = self
            .policy
            .run(call, op!([user] | s | s.create_user(user).await))
            .await?;
        self.policy.wrote(created.id);
        Ok(created)
    }

    async fn create_users(&self, users: Vec<NewUser>) -> Result<Vec<BulkItem<Uuid>>> {
        let call = Call::write("create_users", None);
        let created = self
            .policy
            .run(call, op!([users] | s | s.create_users(users).await))
            .await?;
        for item in &created {
            if let BulkOutcome::Ok(id) = item.outcome {
                self.policy.wrote(id);
            }
        }
        Ok(created)
    }

    async fn user(&self, id: Uuid) -> Result<User> {
        let call = Call::read("user", Some(id));
        self.policy.run(call, op!([] | s | s.user(id).await)).await
    }

    async fn list_users(&self, filter: &UserFilter, page: PageRequest) -> Result<Page<User>> {
        let filter = filter.clone();
        let call = Call::read("list_users", None);
        self.policy
            .run(call, op!([filter] | s | s.list_users(&filter, page).await))
            .await
    }

    async fn scan_users(
        &self,
        filter: &UserFilter,
        request: CursorRequest,
    ) -> Result<CursorPage<User>> {
        let filter = filter.clone();
        let call = Call::read("scan_users", None);
        self.policy
            .run(
                call,
                op!([filter, request] | s | s.scan_users(&filter, request).await),
            )
            .await
    }
}

#[async_trait]
impl<P: StorePolicy> WalletStore for Layered<P> {
    async fn create_wallet(&self, wallet: NewWallet) -> Result<Wallet> {
        let call = Call::write("create_wallet", Some(wallet.user_id));
        let created = self
            .policy
            .run(call, op!([wallet] | s | s.create_wallet(wallet).await))
            .await?;
        self.policy.wrote(created.id);
        self.policy.wrote(created.user_id);
        Ok(created)
    }

    async fn wallet(&self, id: Uuid) -> Result<Wallet> {
        let call = Call::read("wallet", Some(id));
        self.policy
            .run(call, op!([] | s | s.wallet(id).await))
            .await
    }

    async fn list_wallets(&self, filter: &WalletFilter, page: PageRequest) -> Result<Page<Wallet>> {
        let filter = filter.clone();
        let call = Call::read("list_wallets", filter.user_id);
        self.policy
            .run(
                call,
                op!([filter] | s | s.list_wallets(&filter, page).await),
            )
            .await
    }
}

#[async_trait]
impl<P: StorePolicy> MoneyStore for Layered<P> {
    async fn record_deposit(&self, deposit: NewDeposit) -> Result<Recorded> {
        let call = Call::write("record_deposit", Some(deposit.user_id));
        let recorded = self
            .policy
            .run(call, op!([deposit] | s | s.record_deposit(deposit).await))
            .await?;
        self.policy.wrote(recorded.deposit().id);
        self.policy.wrote(recorded.deposit().user_id);
        Ok(recorded)
    }

    async fn record_deposits(&self, deposits: Vec<NewDeposit>) -> Result<Vec<BulkItem<Uuid>>> {
        let call = Call::write("record_deposits", None);
        let users: Vec<Uuid> = deposits.iter().map(|d| d.user_id).collect();
        let recorded = self
            .policy
            .run(
                call,
                op!([deposits] | s | s.record_deposits(deposits).await),
            )
            .await?;
        // Read-your-writes covers each deposit recorded and its user, as for one deposit.
        for item in &recorded {
            if let BulkOutcome::Ok(id) = item.outcome {
                self.policy.wrote(id);
                if let Some(user) = users.get(item.index) {
                    self.policy.wrote(*user);
                }
            }
        }
        Ok(recorded)
    }

    async fn confirm_deposit(&self, id: Uuid) -> Result<Deposit> {
        let call = Call::write("confirm_deposit", Some(id));
        let confirmed = self
            .policy
            .run(call, op!([] | s | s.confirm_deposit(id).await))
            .await?;
        self.policy.wrote(confirmed.id);
        self.policy.wrote(confirmed.user_id);
        Ok(confirmed)
    }

    async fn deposit(&self, id: Uuid) -> Result<Deposit> {
        let call = Call::read("deposit", Some(id));
        self.policy
            .run(call, op!([] | s | s.deposit(id).await))
            .await
    }

    async fn list_deposits(
        &self,
        filter: &DepositFilter,
        page: PageRequest,
    ) -> Result<Page<Deposit>> {
        let filter = filter.clone();
        let call = Call::read("list_deposits", filter.user_id);
        self.policy
            .run(
                call,
                op!([filter] | s | s.list_deposits(&filter, page).await),
            )
            .await
    }

    async fn scan_deposits(
        &self,
        filter: &DepositFilter,
        request: CursorRequest,
    ) -> Result<CursorPage<Deposit>> {
        let filter = filter.clone();
        let call = Call::read("scan_deposits", filter.user_id);
        self.policy
            .run(
                call,
                op!([filter, request] | s | s.scan_deposits(&filter, request).await),
            )
            .await
    }

    async fn debit(&self, debit: NewDebit) -> Result<LedgerEntry> {
        let call = Call::write("debit", Some(debit.user_id));
        let user = debit.user_id;
        let entry = self
            .policy
            .run(call, op!([debit] | s | s.debit(debit).await))
            .await?;
        self.policy.wrote(user);
        Ok(entry)
    }

    async fn balances(&self, user_id: Uuid) -> Result<Vec<Balance>> {
        // Balances are read in order to decide on money: always current.
        let call = Call::fresh("balances", Some(user_id));
        self.policy
            .run(call, op!([] | s | s.balances(user_id).await))
            .await
    }

    async fn list_entries(
        &self,
        filter: &EntryFilter,
        page: PageRequest,
    ) -> Result<Page<LedgerEntry>> {
        let filter = filter.clone();
        let call = Call::read("list_entries", filter.user_id);
        self.policy
            .run(
                call,
                op!([filter] | s | s.list_entries(&filter, page).await),
            )
            .await
    }

    async fn scan_entries(
        &self,
        filter: &EntryFilter,
        request: CursorRequest,
    ) -> Result<CursorPage<LedgerEntry>> {
        let filter = filter.clone();
        let call = Call::read("scan_entries", filter.user_id);
        self.policy
            .run(
                call,
                op!([filter, request] | s | s.scan_entries(&filter, request).await),
            )
            .await
    }
}

#[async_trait]
impl<P: StorePolicy> OnboardingStore for Layered<P> {
    async fn start_onboarding(&self, user_id: Uuid) -> Result<OnboardingFlow> {
        let call = Call::write("start_onboarding", Some(user_id));
        let flow = self
            .policy
            .run(call, op!([] | s | s.start_onboarding(user_id).await))
            .await?;
        self.policy.wrote(user_id);
        Ok(flow)
    }

    async fn advance_onboarding(
        &self,
        user_id: Uuid,
        to: OnboardingStatus,
    ) -> Result<OnboardingFlow> {
        let call = Call::write("advance_onboarding", Some(user_id));
        let flow = self
            .policy
            .run(call, op!([] | s | s.advance_onboarding(user_id, to).await))
            .await?;
        self.policy.wrote(user_id);
        Ok(flow)
    }

    async fn onboarding(&self, user_id: Uuid) -> Result<OnboardingFlow> {
        let call = Call::read("onboarding", Some(user_id));
        self.policy
            .run(call, op!([] | s | s.onboarding(user_id).await))
            .await
    }

    async fn onboarding_flow(&self, id: Uuid) -> Result<OnboardingFlow> {
        let call = Call::fresh("onboarding_flow", None);
        self.policy
            .run(call, op!([] | s | s.onboarding_flow(id).await))
            .await
    }
}

#[async_trait]
impl<P: StorePolicy> AuditStore for Layered<P> {
    async fn record_audit_log(&self, entry: NewAuditLog) -> Result<AuditLog> {
        let call = Call::write("record_audit_log", entry.user_id);
        let written = self
            .policy
            .run(call, op!([entry] | s | s.record_audit_log(entry).await))
            .await?;
        if let Some(user) = written.user_id {
            self.policy.wrote(user);
        }
        Ok(written)
    }

    async fn list_audit_logs(
        &self,
        filter: &AuditFilter,
        page: PageRequest,
    ) -> Result<Page<AuditLog>> {
        let filter = filter.clone();
        let call = Call::read("list_audit_logs", filter.user_id);
        self.policy
            .run(
                call,
                op!([filter] | s | s.list_audit_logs(&filter, page).await),
            )
            .await
    }

    async fn scan_audit_logs(
        &self,
        filter: &AuditFilter,
        request: CursorRequest,
    ) -> Result<CursorPage<AuditLog>> {
        let filter = filter.clone();
        let call = Call::read("scan_audit_logs", filter.user_id);
        self.policy
            .run(
                call,
                op!([filter, request] | s | s.scan_audit_logs(&filter, request).await),
            )
            .await
    }
}

#[async_trait]
impl<P: StorePolicy> Store for Layered<P> {
    fn name(&self) -> &'static str {
        self.policy.engine()
    }

    async fn health(&self) -> Result<()> {
        self.policy.health().await
    }
}
