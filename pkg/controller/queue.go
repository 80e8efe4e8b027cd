// Package controller holds what the feature controllers under it share.
package controller

import (
	"context"
	"sync"
	"time"

	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"
)

// NewQueue returns a rate-limited workqueue with per-item exponential backoff
// from base to 30 s (no overall rate limit: a burst of 1000 new objects must
// not be throttled).
func NewQueue[K comparable](name string, base time.Duration) workqueue.TypedRateLimitingInterface[K] {
	return workqueue.NewTypedRateLimitingQueueWithConfig(
		workqueue.NewTypedItemExponentialFailureRateLimiter[K](base, 30*time.Second),
		workqueue.TypedRateLimitingQueueConfig[K]{Name: name})
}

// Run processes q with workers goroutines until ctx ends: each key is handed
// to syncKey; a failed key is retried with backoff, a successful one forgotten.
func Run[K comparable](ctx context.Context, q workqueue.TypedRateLimitingInterface[K], workers int, name string, syncKey func(context.Context, K) error) {
	go func() {
		<-ctx.Done()
		q.ShutDown()
	}()
	var wg sync.WaitGroup
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				key, shutdown := q.Get()
				if shutdown {
					return
				}
				if err := syncKey(ctx, key); err != nil {
					klog.ErrorS(err, "Sync failed, will retry", "controller", name, "key", key, "retries", q.NumRequeues(key))
					q.AddRateLimited(key)
				} else {
					q.Forget(key)
				}
				q.Done(key)
			}
		}()
	}
	wg.Wait()
}
