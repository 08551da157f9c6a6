// Package models holds fraudwatch's domain types: the inbound event, the
// labelled corpus row, the reputation observation and snapshot, the verdict
// and the alert. It imports only the standard library, so every other
// package can depend on it and it depends on none of them.
package models
