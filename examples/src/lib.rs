//! Runnable examples of embedding STACK live beside this crate: see `examples/*.rs`.
