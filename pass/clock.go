package pass

import "time"

// Clock tells the time; the zero Clock is the system's. Services take one
// so that tests can set the time.
type Clock func() time.Time

// Now returns the time of c, or time.Now when c is nil.
func (c Clock) Now() time.Time {
	if c == nil {
		return time.Now()
	}
	return c()
}
