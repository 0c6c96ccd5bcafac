//! What depends on the chain or the asset: the form of a deposit address on each known
//! chain, and how many decimal places an amount of each known asset can carry.
//!
//! Addresses are checked for their form (prefix, alphabet, length) and normalized to one
//! spelling; checksums (EIP-55, Base58Check, bech32) are not verified, so a mistyped
//! address of the right form passes. A chain not listed here takes any 1-128 visible ASCII
//! characters.

use rust_decimal::Decimal;

use super::visible_ascii;
use crate::{Error, Result};

/// EVM chains: a transaction hash is `0x` and 64 hex digits, an address `0x` and 40.
pub const EVM_CHAINS: &[&str] = &[
    "arbitrum",
    "avalanche",
    "base",
    "bsc",
    "ethereum",
    "ethereum-classic",
    "optimism",
    "polygon",
];

/// Chains whose transaction ids are bare hex: stored lowercase without any `0x`.
pub const BARE_HEX_CHAINS: &[&str] = &["bitcoin", "bitcoin-cash", "dogecoin", "litecoin", "tron"];

/// Chains whose transaction hashes are in a case-sensitive encoding (base58).
pub const BASE58_CHAINS: &[&str] = &["near", "solana"];

/// Every chain the Store records: each has one spelling of its transaction hashes and its
/// addresses, so that one transaction or one address cannot be recorded twice. A chain not
/// listed is refused (an unlisted chain would have no canonical hash, and an alias such as
/// `eth` for `ethereum` would record one transaction twice).
pub fn supported_chains() -> impl Iterator<Item = &'static str> {
    EVM_CHAINS
        .iter()
        .chain(BARE_HEX_CHAINS)
        .chain(BASE58_CHAINS)
        .copied()
}

/// `chain` when it is supported ([`supported_chains`]), lowercased.
///
/// # Errors
/// [`Error::Invalid`] on `chain`, listing the supported ones.
pub fn supported(chain: &str) -> Result<String> {
    let lower = chain.trim().to_ascii_lowercase();
    if supported_chains().any(|known| known == lower) {
        return Ok(lower);
    }
    let mut all: Vec<&str> = supported_chains().collect();
    all.sort_unstable();
    Err(Error::invalid(
        "chain",
        format!("must be one of the supported chains: {}", all.join(", ")),
    ))
}

/// Tokens whose decimal places differ on one chain from the asset's usual ones (USDT and
/// USDC carry 18 on BNB Smart Chain, 6 elsewhere).
pub const CHAIN_DECIMALS: &[(&str, &str, u32)] = &[("bsc", "USDC", 18), ("bsc", "USDT", 18)];

/// The decimal places of well-known assets: an amount of one may carry no more. Any other
/// asset may carry up to [`MAX_SCALE`](super::MAX_SCALE); see [`CHAIN_DECIMALS`] for
/// exceptions on one chain.
pub const ASSET_DECIMALS: &[(&str, u32)] = &[
    ("AVAX", 18),
    ("BCH", 8),
    ("BNB", 18),
    ("BTC", 8),
    ("DAI", 18),
    ("DOGE", 8),
    ("ETH", 18),
    ("EURC", 6),
    ("LTC", 8),
    ("MATIC", 18),
    ("POL", 18),
    ("SOL", 9),
    ("TRX", 6),
    ("USDC", 6),
    ("USDT", 6),
    ("WBTC", 8),
    ("WETH", 18),
];

const BASE58: &str = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
const BECH32: &str = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";

/// The decimal places an amount of `asset` (normalized) may carry on `chain`, or, without a
/// chain (a debit of a balance that deposits on every chain fed), on any chain.
pub fn decimals(chain: Option<&str>, asset: &str) -> u32 {
    let usual = ASSET_DECIMALS
        .iter()
        .find(|(code, _)| *code == asset)
        .map_or(super::MAX_SCALE, |(_, places)| *places);
    CHAIN_DECIMALS
        .iter()
        .filter(|(on, code, _)| *code == asset && chain.is_none_or(|chain| chain == *on))
        .map(|(_, _, places)| *places)
        .fold(usual, |most, places| {
            if chain.is_some() {
                places
            } else {
                most.max(places)
            }
        })
}

/// `amount` of `asset` on `chain` (all normalized; `None` for any chain), refused when it
/// is finer than the asset allows there (`0.0000001` USDC on ethereum: 6 decimal places).
///
/// # Errors
/// [`Error::Invalid`] on `amount`.
pub fn fits(chain: Option<&str>, asset: &str, amount: Decimal) -> Result<()> {
    let places = decimals(chain, asset);
    let scale = amount.normalize().scale();
    if scale > places {
        return Err(Error::invalid(
            "amount",
            format!("{asset} has {places} decimal places; this amount has {scale}"),
        ));
    }
    Ok(())
}

fn in_alphabet(value: &str, alphabet: &str) -> bool {
    !value.is_empty() && value.chars().all(|c| alphabet.contains(c))
}

/// A legacy Base58 address starting with one of `leads`, 26 to 35 characters.
fn base58_address(value: &str, leads: &[char]) -> bool {
    (26..=35).contains(&value.len()) && value.starts_with(leads) && in_alphabet(value, BASE58)
}

/// A bech32 address of human-readable part `hrp` (`bc`), in one case, normalized to
/// lowercase; `None` when it is not one.
fn bech32_address(value: &str, hrp: &str) -> Option<String> {
    let lower = value.to_ascii_lowercase();
    let one_case = value == lower || value == value.to_ascii_uppercase();
    let data = lower.strip_prefix(hrp)?.strip_prefix('1')?;
    let ok = one_case && (14..=90).contains(&lower.len()) && data.len() >= 6;
    (ok && in_alphabet(data, BECH32)).then_some(lower)
}

/// A NEAR account: 64 lowercase hex digits (implicit), or a name of 2-64 characters made
/// of lowercase letters and digits separated by single `-`, `_` or `.`.
fn near_account(value: &str) -> bool {
    if !(2..=64).contains(&value.len()) {
        return false;
    }
    let separator = |b: u8| matches!(b, b'-' | b'_' | b'.');
    let bytes = value.as_bytes();
    bytes
        .iter()
        .all(|&b| b.is_ascii_lowercase() || b.is_ascii_digit() || separator(b))
        && !separator(bytes[0])
        && !separator(bytes[bytes.len() - 1])
        && !bytes.windows(2).any(|w| separator(w[0]) && separator(w[1]))
}

/// A deposit address on `chain` (already normalized by the chain check), in its one
/// spelling, so that one address cannot be two wallets:
/// - EVM chains ([`EVM_CHAINS`]): `0x` and 40 hex digits, lowercased (an EIP-55 checksum
///   spells the same address in mixed case);
/// - `bitcoin`: Base58 starting `1` or `3`, or bech32 `bc1…` (lowercased);
/// - `litecoin`: Base58 starting `L`, `M` or `3`, or bech32 `ltc1…`;
/// - `dogecoin`: Base58 starting `D`, `A` or `9`;
/// - `bitcoin-cash`: CashAddr only (`bitcoincash:` optional, `q` or `p` and 41 more
///   characters, stored lowercase with the prefix; the legacy Base58 spelling of the same
///   address is refused);
/// - `tron`: Base58, `T` and 33 more characters;
/// - `solana`: Base58, 32 to 44 characters;
/// - `near`: an account name or a 64-hex implicit account, lowercased;
/// - a chain not supported (see [`supported_chains`]): 1-128 visible ASCII characters, kept
///   as given (the chain check refuses the chain itself).
///
/// # Errors
/// [`Error::Invalid`] on `address`, saying the form the chain expects.
pub fn address(chain: &str, value: &str) -> Result<String> {
    let value = visible_ascii("address", value, 128)?;
    let (normalized, form) = match chain {
        c if EVM_CHAINS.contains(&c) => (evm(&value), "0x and 40 hex digits"),
        "bitcoin" => (
            base58_or_bech32(&value, &['1', '3'], "bc"),
            "a Base58 address starting 1 or 3, or a bech32 address starting bc1",
        ),
        "litecoin" => (
            base58_or_bech32(&value, &['L', 'M', '3'], "ltc"),
            "a Base58 address starting L, M or 3, or a bech32 address starting ltc1",
        ),
        "dogecoin" => (
            base58_address(&value, &['D', 'A', '9']).then(|| value.clone()),
            "a Base58 address starting D, A or 9",
        ),
        "bitcoin-cash" => (
            cash_address(&value),
            "a CashAddr address (bitcoincash:q… or p…; the legacy form is not taken)",
        ),
        "tron" => (
            (value.len() == 34 && base58_address(&value, &['T'])).then(|| value.clone()),
            "a Base58 address of 34 characters starting T",
        ),
        "solana" => (
            ((32..=44).contains(&value.len()) && in_alphabet(&value, BASE58))
                .then(|| value.clone()),
            "a Base58 address of 32 to 44 characters",
        ),
        "near" => {
            let lower = value.to_ascii_lowercase();
            (
                near_account(&lower).then_some(lower),
                "an account name (2-64 lowercase letters, digits, and single - _ .) or 64 hex digits",
            )
        }
        _ => (Some(value.clone()), ""),
    };
    normalized.ok_or_else(|| Error::invalid("address", format!("must be {form} on {chain}")))
}

fn evm(value: &str) -> Option<String> {
    let digits = value
        .strip_prefix("0x")
        .or_else(|| value.strip_prefix("0X"))?;
    (digits.len() == 40 && digits.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| format!("0x{}", digits.to_ascii_lowercase()))
}

fn base58_or_bech32(value: &str, leads: &[char], hrp: &str) -> Option<String> {
    if base58_address(value, leads) {
        return Some(value.to_owned());
    }
    bech32_address(value, hrp)
}

/// A CashAddr address, with its `bitcoincash:` prefix, lowercase. The legacy Base58 form
/// of the same address is refused: two spellings of one address could be two wallets.
fn cash_address(value: &str) -> Option<String> {
    let lower = value.to_ascii_lowercase();
    let one_case = value == lower || value == value.to_ascii_uppercase();
    let payload = lower.strip_prefix("bitcoincash:").unwrap_or(&lower);
    let ok = one_case
        && payload.len() == 42
        && payload.starts_with(['q', 'p'])
        && in_alphabet(payload, BECH32);
    ok.then(|| format!("bitcoincash:{payload}"))
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;

    fn ok(chain: &str, value: &str) -> String {
        address(chain, value).unwrap_or_else(|e| panic!("{chain} {value}: {e}"))
    }

    fn bad(chain: &str, value: &str) {
        assert!(address(chain, value).is_err(), "{chain} accepted {value}");
    }

    #[test]
    fn each_chain_takes_its_own_form_in_one_spelling() {
        let evm = "0x52908400098527886E0F7030069857D2E4169EE7";
        assert_eq!(ok("ethereum", evm), evm.to_ascii_lowercase());
        bad("base", "52908400098527886E0F7030069857D2E4169EE7");
        bad("polygon", "0x52908400098527886E0F7030069857D2E4169EE");

        ok("bitcoin", "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2");
        ok("bitcoin", "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy");
        let segwit = "BC1QAR0SRRR7XFKVY5L643LYDNW9RE59GTZZWF5MDQ";
        assert_eq!(ok("bitcoin", segwit), segwit.to_ascii_lowercase());
        bad("bitcoin", "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzWf5mdq");
        bad("bitcoin", "0BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2");
        bad("bitcoin", "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN0");
        bad("bitcoin", "tb1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq");

        ok("litecoin", "LaMT348PWRnrqeeWArpwQPbuanpXDZGEUz");
        ok("litecoin", "ltc1qg82ddugzdjn87aqs4uwqrhl7ezvm3hm9e8tmvx");
        bad("litecoin", "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2");
        ok("dogecoin", "DH5yaieqoZN36fDVciNyRueRGvGLR3mr7L");
        bad("dogecoin", "LaMT348PWRnrqeeWArpwQPbuanpXDZGEUz");

        let cash = "bitcoincash:qpm2qsznhks23z7629mms6s4cwef74vcwvy22gdx6a";
        assert_eq!(ok("bitcoin-cash", cash), cash);
        assert_eq!(ok("bitcoin-cash", &cash[12..]), cash, "the prefix is added");
        bad(
            "bitcoin-cash",
            "bitcoincash:xpm2qsznhks23z7629mms6s4cwef74vcwvy22gdx6a",
        );

        ok("tron", "TLa2f6VPqDgRE67v1736s7bJ8Ray5wYjU7");
        bad("tron", "ALa2f6VPqDgRE67v1736s7bJ8Ray5wYjU7");
        ok("solana", "7EcDhSYGxXyscszYEp35KHN8vvw3svAuLKTzXwCFLtV");
        bad("solana", "0EcDhSYGxXyscszYEp35KHN8vvw3svAuLKTzXwCFLtV");
        bad("solana", "short");

        assert_eq!(ok("near", "Alice.Near"), "alice.near");
        ok("near", &"a1".repeat(32));
        bad("near", "alice..near");
        bad("near", ".alice");
        bad("near", "a");

        assert_eq!(ok("somechain", "Any-Thing_1"), "Any-Thing_1");
        bad("somechain", "has space");
        bad("bitcoin", "");
    }

    #[test]
    fn an_amount_carries_no_more_places_than_its_asset_on_its_chain() {
        let dec = |s| Decimal::from_str(s).unwrap();
        let eth = Some("ethereum");
        assert!(fits(eth, "USDC", dec("1.123456")).is_ok());
        assert!(
            fits(eth, "USDC", dec("1.1234560000")).is_ok(),
            "trailing zeros are not places"
        );
        let err = fits(eth, "USDC", dec("1.1234567")).unwrap_err();
        assert!(
            err.to_string().contains("USDC has 6 decimal places"),
            "{err}"
        );
        assert!(fits(Some("bsc"), "USDT", dec("1.000000000000000001")).is_ok());
        assert!(
            fits(None, "USDT", dec("1.000000000000000001")).is_ok(),
            "a debit: any chain"
        );
        assert!(fits(Some("bitcoin"), "BTC", dec("0.00000001")).is_ok());
        assert!(fits(Some("bitcoin"), "BTC", dec("0.000000001")).is_err());
        assert!(fits(None, "BTC", dec("0.000000001")).is_err());
        assert!(fits(eth, "ETH", dec("0.000000000000000001")).is_ok());
        assert!(
            fits(eth, "XYZ", dec("0.000000000000000001")).is_ok(),
            "unknown: MAX_SCALE"
        );
    }

    #[test]
    fn only_supported_chains_are_taken() {
        assert_eq!(supported(" Ethereum ").unwrap(), "ethereum");
        for alias in ["eth", "fantom", "somechain", ""] {
            let err = supported(alias).unwrap_err();
            assert!(err.to_string().contains("bitcoin, bitcoin-cash"), "{err}");
        }
    }
}
