//! Users, wallets and onboarding.

use stack_core::ErrorKind;
use stack_core::page::PageRequest;
use stack_core::store::{
    AuditFilter, NewAuditLog, NewUser, NewWallet, OnboardingStatus, UserFilter,
};
use uuid::Uuid;

use super::{StoreFactory, user};

/// A user reads back as created (email normalized); a second user with the same email,
/// in any case, is a Conflict; an unknown id is NotFound.
pub async fn users_round_trip_and_emails_are_unique(factory: StoreFactory) {
    let store = factory().await;
    let created = store
        .create_user(NewUser {
            email: "Ana@Example.com".into(),
            phone: Some("+14155550100".into()),
            full_name: "Ana".into(),
        })
        .await
        .unwrap();
    assert_eq!(created.email, "ana@example.com");
    assert_eq!(store.user(created.id).await.unwrap(), created);
    let again = store
        .create_user(NewUser {
            email: "ANA@example.com".into(),
            phone: None,
            full_name: "Other".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(again.kind(), ErrorKind::Conflict, "{again}");
    assert_eq!(
        store.user(Uuid::now_v7()).await.unwrap_err().kind(),
        ErrorKind::NotFound
    );
    let audit = store
        .list_audit_logs(
            &AuditFilter {
                user_id: Some(created.id),
                ..AuditFilter::default()
            },
            PageRequest::default(),
        )
        .await
        .unwrap();
    assert_eq!(
        audit
            .items
            .iter()
            .map(|a| a.action.as_str())
            .collect::<Vec<_>>(),
        ["user.created"]
    );
}

/// Bad inputs are `Invalid` naming the field, and nothing is written.
pub async fn bad_input_is_refused_by_field_and_changes_nothing(factory: StoreFactory) {
    let store = factory().await;
    let before = store
        .list_users(&UserFilter::default(), PageRequest::default())
        .await
        .unwrap()
        .total_items;
    for (user, field) in [
        (
            NewUser {
                email: "no-at-sign".into(),
                phone: None,
                full_name: "A".into(),
            },
            "email",
        ),
        (
            NewUser {
                email: "a@b.co".into(),
                phone: Some("12".into()),
                full_name: "A".into(),
            },
            "phone",
        ),
        (
            NewUser {
                email: "a@b.co".into(),
                phone: None,
                full_name: " ".into(),
            },
            "full_name",
        ),
    ] {
        let err = store.create_user(user).await.unwrap_err();
        assert!(
            matches!(&err, stack_core::Error::Invalid { field: f, .. } if f == field),
            "{err}"
        );
    }
    let after = store
        .list_users(&UserFilter::default(), PageRequest::default())
        .await
        .unwrap()
        .total_items;
    assert_eq!(before, after);
    let owner = user(store.as_ref()).await;
    let err = store
        .create_wallet(NewWallet {
            user_id: owner.id,
            chain: "eth chain".into(),
            address: "0x1".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Invalid, "{err}");
}

/// A wallet needs an existing user; (chain, address) is unique.
pub async fn wallets_need_a_user_and_a_free_address(factory: StoreFactory) {
    let store = factory().await;
    let owner = user(store.as_ref()).await;
    let address = format!("0x0000000A{}", uuid::Uuid::new_v4().simple());
    let wallet = store
        .create_wallet(NewWallet {
            user_id: owner.id,
            chain: "Ethereum".into(),
            address: address.clone(),
        })
        .await
        .unwrap();
    assert_eq!(wallet.chain, "ethereum");
    assert_eq!(
        wallet.address,
        address.to_ascii_lowercase(),
        "EVM addresses are lowercased"
    );
    assert_eq!(store.wallet(wallet.id).await.unwrap(), wallet);
    let taken = store
        .create_wallet(NewWallet {
            user_id: owner.id,
            chain: "ethereum".into(),
            address: address.to_ascii_uppercase().replacen("0X", "0x", 1),
        })
        .await
        .unwrap_err();
    assert_eq!(
        taken.kind(),
        ErrorKind::Conflict,
        "one address in another case: {taken}"
    );
    let nobody = store
        .create_wallet(NewWallet {
            user_id: Uuid::now_v7(),
            chain: "ethereum".into(),
            address: format!("0x{}", "d".repeat(40)),
        })
        .await
        .unwrap_err();
    assert_eq!(nobody.kind(), ErrorKind::NotFound, "{nobody}");
}

/// Onboarding starts once per user and moves only through valid transitions; an invalid one
/// names both states and changes nothing.
pub async fn onboarding_moves_only_through_valid_transitions(factory: StoreFactory) {
    let store = factory().await;
    let someone = user(store.as_ref()).await;
    let flow = store.start_onboarding(someone.id).await.unwrap();
    assert_eq!(flow.status, OnboardingStatus::Started);
    assert_eq!(
        store.start_onboarding(someone.id).await.unwrap_err().kind(),
        ErrorKind::Conflict
    );
    let err = store
        .advance_onboarding(someone.id, OnboardingStatus::Completed)
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("from started to completed"),
        "{err}"
    );
    assert_eq!(
        store.onboarding(someone.id).await.unwrap().status,
        OnboardingStatus::Started
    );
    for to in [
        OnboardingStatus::KycSubmitted,
        OnboardingStatus::KycRejected,
        OnboardingStatus::KycSubmitted,
        OnboardingStatus::KycApproved,
        OnboardingStatus::Completed,
    ] {
        assert_eq!(
            store
                .advance_onboarding(someone.id, to)
                .await
                .unwrap()
                .status,
            to
        );
    }
    let audit = store
        .list_audit_logs(
            &AuditFilter {
                user_id: Some(someone.id),
                action: Some("onboarding.moved".into()),
                ..AuditFilter::default()
            },
            PageRequest::default(),
        )
        .await
        .unwrap();
    assert_eq!(audit.total_items, 5);
    assert_eq!(
        store
            .advance_onboarding(Uuid::now_v7(), OnboardingStatus::KycSubmitted)
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::NotFound
    );
}

/// An operator's action is audited with no user; a user id, when given, must name a user;
/// a bad action is refused and writes nothing.
pub async fn operator_actions_are_audited_without_a_user(factory: StoreFactory) {
    let store = factory().await;
    let job = Uuid::now_v7();
    let written = store
        .record_audit_log(NewAuditLog {
            user_id: None,
            action: "job.replayed".into(),
            subject_id: job,
            detail: serde_json::json!({ "actor": "admin" }),
        })
        .await
        .unwrap();
    assert_eq!(written.user_id, None);
    let by_action = |action: &str| AuditFilter {
        action: Some(action.into()),
        ..AuditFilter::default()
    };
    let listed = store
        .list_audit_logs(&by_action("job.replayed"), PageRequest::default())
        .await
        .unwrap();
    assert_eq!(listed.items, [written]);
    assert_eq!(listed.items[0].subject_id, job);
    let unknown = store
        .record_audit_log(NewAuditLog {
            user_id: Some(Uuid::now_v7()),
            action: "job.replayed".into(),
            subject_id: job,
            detail: serde_json::Value::Null,
        })
        .await
        .unwrap_err();
    assert_eq!(unknown.kind(), ErrorKind::NotFound, "{unknown}");
    let bad = store
        .record_audit_log(NewAuditLog {
            user_id: None,
            action: "Job Replayed".into(),
            subject_id: job,
            detail: serde_json::Value::Null,
        })
        .await
        .unwrap_err();
    assert_eq!(bad.kind(), ErrorKind::Invalid, "{bad}");
    let all = store
        .list_audit_logs(&AuditFilter::default(), PageRequest::default())
        .await
        .unwrap();
    assert_eq!(all.total_items, 1, "nothing else was written");
}
