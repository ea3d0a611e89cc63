package reconcile

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
)

// The rollout operations on a DaemonSet, as kubectl performs them: history
// lists its ControllerRevisions with their change causes, undo restores a
// revision's template (0: the previous one) and the controller rolls the
// pods back, reusing that revision; undo to the current template changes
// nothing; pause and resume are refused.
func TestDaemonSetRollback(t *testing.T) {
	e := dsEnv(t)
	readyWhenBound(e)
	e.create(newNode("n1"), newNode("n2"))
	ds := newDaemonSet("agent", "agent:1")
	ds.Annotations = map[string]string{changeCauseAnnotation: "first"}
	e.create(ds)
	e.waitFor("agent:1", dsOn("agent", "agent:1", "n1", "n2"))
	ctx := context.Background()
	key := dkey("agent")
	require.ErrorIs(t, Rollback(ctx, e.s, kindDaemonSet, key, 0), store.ErrNotFound, "no last revision to roll back to")

	e.mutate(kindDaemonSet, key, func(o objects.Object) {
		ds := o.(*objects.DaemonSet)
		ds.Annotations[changeCauseAnnotation] = "second"
		ds.Spec.Template.Spec.Containers[0].Image = "agent:2"
	})
	e.waitFor("agent:2", dsOn("agent", "agent:2", "n1", "n2"))
	e.waitFor("two revisions", dsRevisions(t, "agent", "1:agent:1", "2:agent:2"))
	hist, err := History(ctx, e.s, kindDaemonSet, key)
	require.NoError(t, err)
	require.Len(t, hist, 2)
	for i, want := range []struct {
		cause, image string
	}{{"first", "agent:1"}, {"second", "agent:2"}} {
		require.Equal(t, int64(i+1), hist[i].Number)
		require.Equal(t, want.cause, hist[i].ChangeCause)
		require.Equal(t, want.image, hist[i].Template.Spec.Containers[0].Image)
		require.Equal(t, "agent-"+templateHash(&hist[i].Template, nil), hist[i].ControllerRevision)
		require.Empty(t, hist[i].ReplicaSet)
	}

	require.ErrorIs(t, Rollback(ctx, e.s, kindDaemonSet, key, 7), store.ErrNotFound)
	require.ErrorIs(t, Rollback(ctx, e.s, kindDaemonSet, dkey("nope"), 1), store.ErrNotFound)
	var gen int64
	viewT(t, e.s, func(tx store.ReadTx) { gen = getDS(tx, "agent").Generation })
	require.NoError(t, Rollback(ctx, e.s, kindDaemonSet, key, 2), "the current template: nothing to do")
	viewT(t, e.s, func(tx store.ReadTx) { require.Equal(t, gen, getDS(tx, "agent").Generation) })

	require.NoError(t, Rollback(ctx, e.s, kindDaemonSet, key, 0))
	e.waitFor("back on agent:1", dsOn("agent", "agent:1", "n1", "n2"))
	e.waitFor("revision 1 is now 3", dsRevisions(t, "agent", "2:agent:2", "3:agent:1"))
	hist, err = History(ctx, e.s, kindDaemonSet, key)
	require.NoError(t, err)
	require.Equal(t, "first", hist[1].ChangeCause, "the revision keeps its change cause")
	viewT(t, e.s, func(tx store.ReadTx) {
		require.Equal(t, "second", getDS(tx, "agent").Annotations[changeCauseAnnotation], "undo restores the template only")
	})

	err = Pause(ctx, e.s, kindDaemonSet, key)
	require.ErrorIs(t, err, ErrNotSupported)
	require.EqualError(t, err, `daemonsets.apps "agent" pausing is not supported`)
	require.ErrorIs(t, Resume(ctx, e.s, kindDaemonSet, key), ErrNotSupported)
}

// Undo of a StatefulSet restores the template of a ControllerRevision and
// the set rolls its pods back to it.
func TestStatefulSetRollback(t *testing.T) {
	e := stsEnv(t)
	e.runPodScript(func(p *objects.Pod) bool { return makeReady(p, e.clock.Now()) })
	e.create(newStatefulSet("db", 2))
	e.waitFor("db:1", stsReady("db", 2, "db:1"))
	for _, img := range []string{"db:2", "db:3"} {
		setImageSTS(e, "db", img)
		e.waitFor(img, stsReady("db", 2, img))
	}
	ctx := context.Background()
	key := dkey("db")
	hist, err := History(ctx, e.s, kindStatefulSet, key)
	require.NoError(t, err)
	var got []string
	for _, r := range hist {
		got = append(got, fmt.Sprintf("%d:%s", r.Number, r.Template.Spec.Containers[0].Image))
	}
	require.Equal(t, []string{"1:db:1", "2:db:2", "3:db:3"}, got)

	require.NoError(t, Rollback(ctx, e.s, kindStatefulSet, key, 1))
	e.waitFor("back on db:1", stsReady("db", 2, "db:1"))
	e.waitFor("revision 1 is now 4", func(tx store.ReadTx) (bool, string) {
		got := revisionImages(t, revisionsOf(tx, getSTS(tx, "db")))
		return fmt.Sprint(got) == "[2:db:2 3:db:3 4:db:1]", fmt.Sprint(got)
	})
	viewT(t, e.s, func(tx store.ReadTx) {
		s := getSTS(tx, "db")
		require.Equal(t, hist[0].ControllerRevision, s.Status.UpdateRevision, "the revision is reused")
	})
	require.NoError(t, Rollback(ctx, e.s, kindStatefulSet, key, 0))
	e.waitFor("back on db:3", stsReady("db", 2, "db:3"))
	require.ErrorIs(t, Pause(ctx, e.s, kindStatefulSet, key), ErrNotSupported)
}

// Restart stamps the template of a DaemonSet or a StatefulSet, which
// replaces every pod with the image unchanged.
func TestRolloutRestart(t *testing.T) {
	at := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	uids := func(tx store.ReadTx) map[string]bool {
		out := map[string]bool{}
		for _, p := range podsWhere(tx, nil) {
			out[p.UID] = true
		}
		return out
	}
	replaced := func(old map[string]bool) func(tx store.ReadTx) bool {
		return func(tx store.ReadTx) bool {
			for uid := range uids(tx) {
				if old[uid] {
					return false
				}
			}
			return true
		}
	}

	t.Run("DaemonSet", func(t *testing.T) {
		e := dsEnv(t)
		readyWhenBound(e)
		e.create(newNode("n1"), newNode("n2"))
		e.create(newDaemonSet("agent", "agent:1"))
		e.waitFor("agent:1", dsOn("agent", "agent:1", "n1", "n2"))
		var old map[string]bool
		viewT(t, e.s, func(tx store.ReadTx) { old = uids(tx) })
		require.NoError(t, Restart(context.Background(), e.s, kindDaemonSet, dkey("agent"), at))
		e.waitFor("new pods", func(tx store.ReadTx) (bool, string) {
			ok, seen := dsOn("agent", "agent:1", "n1", "n2")(tx)
			return ok && replaced(old)(tx), seen
		})
		viewT(t, e.s, func(tx store.ReadTx) {
			require.Equal(t, "2025-01-02T03:04:05Z", getDS(tx, "agent").Spec.Template.Annotations[RestartedAtAnnotation])
			require.Len(t, revisionsOf(tx, getDS(tx, "agent")), 2, "a restart is a revision")
		})
	})
	t.Run("StatefulSet", func(t *testing.T) {
		e := stsEnv(t)
		e.runPodScript(func(p *objects.Pod) bool { return makeReady(p, e.clock.Now()) })
		e.create(newStatefulSet("db", 2))
		e.waitFor("db:1", stsReady("db", 2, "db:1"))
		var old map[string]bool
		viewT(t, e.s, func(tx store.ReadTx) { old = uids(tx) })
		require.NoError(t, Restart(context.Background(), e.s, kindStatefulSet, dkey("db"), at))
		e.waitFor("new pods", func(tx store.ReadTx) (bool, string) {
			ok, seen := stsReady("db", 2, "db:1")(tx)
			return ok && replaced(old)(tx), seen
		})
		viewT(t, e.s, func(tx store.ReadTx) {
			require.Equal(t, "2025-01-02T03:04:05Z", getSTS(tx, "db").Spec.Template.Annotations[RestartedAtAnnotation])
		})
	})
}

// Kinds without rollouts are refused with kubectl's words; a missing
// workload is not found.
func TestRolloutUnsupported(t *testing.T) {
	s := newStoreForTest(t)
	ctx := context.Background()
	key := dkey("x")
	for name, err := range map[string]error{
		"rollback": Rollback(ctx, s, kindPod, key, 0),
		"history": func() error {
			_, err := History(ctx, s, "Job", key)
			return err
		}(),
		"restart": Restart(ctx, s, kindPod, key, time.Now()),
		"pause":   Pause(ctx, s, kindStatefulSet, key),
		"resume":  Resume(ctx, s, kindPod, key),
	} {
		require.ErrorIs(t, err, ErrNotSupported, name)
	}
	require.ErrorContains(t, Rollback(ctx, s, kindPod, key, 0), `no rollbacker has been implemented for "Pod"`)
	require.EqualError(t, Restart(ctx, s, kindPod, key, time.Now()), `Pod "x" restarting is not supported`)
	for _, kind := range []string{kindDeployment, kindDaemonSet, kindStatefulSet} {
		require.ErrorIs(t, Restart(ctx, s, kind, key, time.Now()), store.ErrNotFound, kind)
		_, err := History(ctx, s, kind, key)
		require.ErrorIs(t, err, store.ErrNotFound, kind)
	}
}
