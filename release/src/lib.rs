//! What the builder and the agent must agree on byte for byte: the ed25519 key files and signatures
//! (in libostree's own ed25519 layout), and the release feed document.
//!
//! Nothing here touches libostree or the network, so the agent can verify a feed in its small resident
//! process and the builder can sign with the same code.

pub mod feed;
pub mod keys;
