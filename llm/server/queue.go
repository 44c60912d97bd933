package server

import (
	"context"
	"sync/atomic"
)

// admission bounds the requests that run at once and those that wait for
// a place: a request beyond both is refused at once (503 and Retry-After)
// rather than left to time out.
type admission struct {
	slots   chan struct{}
	maxWait int64
	waiting atomic.Int64
	running atomic.Int64
}

func newAdmission(running, waiting int) *admission {
	return &admission{slots: make(chan struct{}, running), maxWait: int64(waiting)}
}

// acquire waits for a place and returns its release. It fails with a 503
// when the queue is full, and with ctx's error when ctx ends first.
func (a *admission) acquire(ctx context.Context) (func(), error) {
	select {
	case a.slots <- struct{}{}:
		return a.entered(), nil
	default:
	}
	if a.waiting.Add(1) > a.maxWait {
		a.waiting.Add(-1)
		return nil, unavailable("queue_full", "the server is busy: too many requests are waiting; retry later")
	}
	defer a.waiting.Add(-1)
	select {
	case a.slots <- struct{}{}:
		return a.entered(), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (a *admission) entered() func() {
	a.running.Add(1)
	return func() {
		a.running.Add(-1)
		<-a.slots
	}
}
