// Package pass is the domain of walletpass: what a ticket is, what a wallet
// pass made from it is, the rules of a pass's life, and the small interfaces
// the domain needs from the outside world (stores, blob stores, signers).
//
// It imports nothing else from this repository. Adapters (storage, secutix,
// push, the HTTP layer, the workers) import it; only cmd/walletpass wires
// concrete types together.
package pass
