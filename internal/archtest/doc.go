// Package archtest holds no code: its test checks the direction of the
// dependencies between this module's packages (see docs/architecture.md),
// as a depguard rule set would.
package archtest
