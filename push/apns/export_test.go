package apns

// MaxAnswer is maxAnswer, for the tests of package apns_test.
const MaxAnswer = maxAnswer

// MaxReason is maxReason, for the tests of package apns_test.
const MaxReason = maxReason

// EarliestTimestamp is earliestTimestamp, for the tests of package apns_test.
var EarliestTimestamp = earliestTimestamp
