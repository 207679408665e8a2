package workers

import "time"

// SetJobStopTimeout shortens how long Stop waits for the periodic jobs it
// cancelled (gocron's 10 s), so that a test of a job that ignores its
// context need not wait that long. Call it before Start.
func SetJobStopTimeout(d *Dispatcher, t time.Duration) { d.jobStopTimeout = t }
