//! The states of the rail's records, each stored as its lowercase name, and the transitions
//! onboarding allows.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

macro_rules! state_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl $name {
            /// Every state, in declaration order.
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            /// The stored name.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text),+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = Error;

            fn from_str(s: &str) -> Result<Self> {
                match s {
                    $($text => Ok(Self::$variant),)+
                    other => Err(Error::invalid(
                        stringify!($name),
                        format!("`{other}` is not one of: {}", [$($text),+].join(", ")),
                    )),
                }
            }
        }
    };
}

state_enum!(
    /// Whether a user may move money.
    UserStatus {
        /// May move money.
        Active => "active",
        /// Blocked by an operator.
        Suspended => "suspended",
    }
);

state_enum!(
    /// Whether a wallet accepts deposits.
    WalletStatus {
        /// Accepts deposits.
        Active => "active",
        /// Retired.
        Disabled => "disabled",
    }
);

state_enum!(
    /// A deposit's life: recorded, then confirmed (credited) or failed.
    DepositStatus {
        /// Seen on chain, not yet final.
        Pending => "pending",
        /// Final and credited.
        Confirmed => "confirmed",
        /// Will never be credited.
        Failed => "failed",
    }
);

state_enum!(
    /// The direction of a ledger entry.
    EntryKind {
        /// Money in.
        Credit => "credit",
        /// Money out.
        Debit => "debit",
    }
);

state_enum!(
    /// Where a user is in onboarding.
    OnboardingStatus {
        /// Started; details being collected.
        Started => "started",
        /// Identity documents submitted.
        KycSubmitted => "kyc_submitted",
        /// Identity verified.
        KycApproved => "kyc_approved",
        /// Identity refused; the user may submit again.
        KycRejected => "kyc_rejected",
        /// Done; the user may move money.
        Completed => "completed",
    }
);

impl OnboardingStatus {
    /// Whether a flow may move from `self` to `to`.
    pub fn can_move_to(self, to: Self) -> bool {
        use OnboardingStatus::{Completed, KycApproved, KycRejected, KycSubmitted, Started};
        matches!(
            (self, to),
            (Started, KycSubmitted)
                | (KycSubmitted, KycApproved | KycRejected)
                | (KycRejected, KycSubmitted)
                | (KycApproved, Completed)
        )
    }

    /// Checks a move; the error names both states.
    ///
    /// # Errors
    /// [`Error::Invalid`] on `status` when the move is not allowed.
    pub fn check_move(self, to: Self) -> Result<()> {
        if self.can_move_to(to) {
            Ok(())
        } else {
            Err(Error::invalid(
                "status",
                format!("onboarding cannot move from {self} to {to}"),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_round_trip_and_refuse_strangers() {
        for s in OnboardingStatus::ALL {
            assert_eq!(s.as_str().parse::<OnboardingStatus>().unwrap(), *s);
        }
        assert!("Pending".parse::<DepositStatus>().is_err());
    }

    #[test]
    fn onboarding_moves_only_forward_through_kyc() {
        use OnboardingStatus::*;
        assert!(Started.can_move_to(KycSubmitted));
        assert!(KycRejected.can_move_to(KycSubmitted));
        assert!(!Started.can_move_to(Completed));
        assert!(!Completed.can_move_to(Started));
        let err = Started.check_move(Completed).unwrap_err().to_string();
        assert!(err.contains("from started to completed"), "{err}");
    }
}
