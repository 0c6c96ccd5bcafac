//! The states of the rail's records as documented enums, the same in both versions.

use poem_openapi::Enum;
use stack_core::store;

macro_rules! wire_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
        #[oai(rename_all = "snake_case")]
        pub enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl From<store::$name> for $name {
            fn from(value: store::$name) -> Self {
                match value {
                    $(store::$name::$variant => Self::$variant),+
                }
            }
        }

        impl From<$name> for store::$name {
            fn from(value: $name) -> Self {
                match value {
                    $($name::$variant => Self::$variant),+
                }
            }
        }
    };
}

wire_enum!(
    /// Whether a user may move money.
    UserStatus {
        /// May move money.
        Active,
        /// Blocked by an operator.
        Suspended,
    }
);

wire_enum!(
    /// Whether a wallet accepts deposits.
    WalletStatus {
        /// Accepts deposits.
        Active,
        /// Retired.
        Disabled,
    }
);

wire_enum!(
    /// A deposit's life: recorded, then confirmed (credited) or failed.
    DepositStatus {
        /// Seen on chain, not yet final.
        Pending,
        /// Final and credited.
        Confirmed,
        /// Will never be credited.
        Failed,
    }
);

wire_enum!(
    /// The direction of a ledger entry.
    EntryKind {
        /// Money in.
        Credit,
        /// Money out.
        Debit,
    }
);

wire_enum!(
    /// Where a user is in onboarding: `started` → `kyc_submitted` → `kyc_approved` or
    /// `kyc_rejected` (which may submit again) → `completed` (from `kyc_approved`).
    OnboardingStatus {
        /// Started; details being collected.
        Started,
        /// Identity documents submitted.
        KycSubmitted,
        /// Identity verified.
        KycApproved,
        /// Identity refused; the user may submit again.
        KycRejected,
        /// Done; the user may move money.
        Completed,
    }
);
