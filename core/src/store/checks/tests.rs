//! The checks' own tests.

use super::*;
use std::str::FromStr;

#[test]
fn amounts_are_positive_exact_and_bounded() {
    assert_eq!(
        amount(Decimal::from_str("1.50").unwrap())
            .unwrap()
            .to_string(),
        "1.5"
    );
    assert!(amount(Decimal::ZERO).is_err());
    assert!(amount(Decimal::from_str("-1").unwrap()).is_err());
    assert!(amount(Decimal::from_str("0.0000000000000000001").unwrap()).is_err());
    assert!(amount(Decimal::from_str("100000000000000000000").unwrap()).is_err());
}

#[test]
fn hex_hashes_have_one_spelling_and_case_sensitive_ones_are_kept() {
    assert_eq!(tx_hash("ethereum", "0xABCdef01").unwrap(), "0xabcdef01");
    assert_eq!(tx_hash("ethereum", "0XABCDEF01").unwrap(), "0xabcdef01");
    assert_eq!(tx_hash("ethereum", "ABCdef01").unwrap(), "0xabcdef01");
    assert_eq!(tx_hash("bitcoin", "ABCDEF").unwrap(), "abcdef");
    assert_eq!(tx_hash("bitcoin", "0xABCDEF").unwrap(), "abcdef");
    assert_eq!(tx_hash("somechain", "DEADBEEF").unwrap(), "deadbeef");
    assert_eq!(tx_hash("somechain", "0XDEAD").unwrap(), "0xdead");
    assert_eq!(tx_hash("somechain", "Tx-Id-Z").unwrap(), "Tx-Id-Z");
    assert_eq!(tx_hash("solana", "ABCDEF").unwrap(), "ABCDEF");
    assert_eq!(tx_hash("solana", "5VERv8NMvz").unwrap(), "5VERv8NMvz");
    let err = tx_hash("ethereum", "0xnothex").unwrap_err();
    assert!(
        matches!(&err, Error::Invalid { field, .. } if field == "tx_hash"),
        "{err}"
    );
    assert!(tx_hash("ethereum", "0x").is_err());
    assert!(tx_hash("bitcoin", "0x").is_err());
    assert!(tx_hash("ethereum", "").is_err());
}

#[test]
fn users_are_normalized_or_refused_by_field() {
    let user = NewUser {
        email: " Ana@Example.COM ".into(),
        phone: Some("+14155550100".into()),
        full_name: "Ana".into(),
    };
    assert_eq!(user.checked().unwrap().email, "ana@example.com");
    let bad = NewUser {
        email: "nope".into(),
        ..user.clone()
    };
    assert!(matches!(bad.checked(), Err(Error::Invalid { field, .. }) if field == "email"));
    let bad = NewUser {
        phone: Some("555".into()),
        ..user
    };
    assert!(matches!(bad.checked(), Err(Error::Invalid { field, .. }) if field == "phone"));
}

#[test]
fn evm_addresses_have_one_spelling() {
    let evm = "0xAbCdEf0123456789aBcDeF0123456789ABCDEF01";
    assert_eq!(address("ethereum", evm).unwrap(), evm.to_ascii_lowercase());
    assert!(address("ethereum", "0xabc").is_err());
    assert!(address("polygon", "abcdef0123456789abcdef0123456789abcdef01").is_err());
    let segwit = "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq";
    assert_eq!(address("bitcoin", segwit).unwrap(), segwit);
    assert!(address("bitcoin", "bc1 q").is_err());
}

#[test]
fn every_bad_field_is_reported() {
    let user = NewUser {
        email: "nope".into(),
        phone: Some("555".into()),
        full_name: " ".into(),
    };
    let fields: Vec<String> = user
        .checked_all()
        .unwrap_err()
        .into_iter()
        .map(|e| match e {
            Error::Invalid { field, .. } => field,
            other => other.to_string(),
        })
        .collect();
    assert_eq!(fields, ["email", "phone", "full_name"]);
    let deposit = NewDeposit {
        user_id: uuid::Uuid::now_v7(),
        chain: "Ethereum!".into(),
        tx_hash: String::new(),
        output_index: 0,
        asset: "x".into(),
        amount: Decimal::ZERO,
    };
    assert_eq!(deposit.checked_all().unwrap_err().len(), 4);
}
