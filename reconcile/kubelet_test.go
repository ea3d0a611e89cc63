package reconcile

import "github.com/podkit/podkit/objects"

// runKubelet plays the node agents until the test ends: every active pod
// that ready accepts (nil: every pod) is made Running and Ready as soon as
// it appears.
func (e *env) runKubelet(ready func(p *objects.Pod) bool) {
	e.runPodActions(func(p *objects.Pod) podAction {
		if ready != nil && isPodActive(p) && !ready(p) {
			return noAction
		}
		if makeReady(p, e.clock.Now()) {
			return updateStatus
		}
		return noAction
	})
}
