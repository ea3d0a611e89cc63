package reconcile

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/store"
)

// Reads through the Client see what its transactions wrote: objects
// created, updated, removed without their last state (store.Remove), and
// a key removed and created again in one transaction.
func TestClientReadsItsOwnWrites(t *testing.T) {
	e := newEnv(t, withScheme(widgetScheme(t)), withControllers(func(m *Manager) error {
		return m.Add(Controller{Name: "widget", For: "Widget", Owns: []string{"Gadget"},
			Reconciler: ReconcilerFunc(func(context.Context, Request) (Result, error) { return Result{}, nil })})
	}))
	c := e.m.Client()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	key := func(name string) objects.Key { return objects.Key{Namespace: "default", Name: name} }
	newGadget := func(name, color string) *gadget {
		g := &gadget{ObjectMeta: objects.ObjectMeta{Namespace: "default", Name: name}}
		g.Spec.Color = color
		return g
	}
	colors := func() map[string]string {
		gs, err := List[*gadget](ctx, c, store.ListOptions{Namespace: "default"})
		require.NoError(t, err)
		out := map[string]string{}
		for _, g := range gs {
			out[g.Name] = g.Spec.Color
		}
		return out
	}

	var firstB string
	require.NoError(t, c.Txn(ctx, func(tx store.Tx) error {
		for _, name := range []string{"a", "b", "c"} {
			g := newGadget(name, "")
			if err := c.AdmitCreate(tx, g); err != nil {
				return err
			}
			if err := tx.Create(g); err != nil {
				return err
			}
		}
		a, err := tx.Get("Gadget", key("a"))
		if err != nil {
			return err
		}
		a.(*gadget).Spec.Color = "red"
		if err := tx.Update(a); err != nil {
			return err
		}
		b, err := tx.Get("Gadget", key("b"))
		if err != nil {
			return err
		}
		firstB = b.GetObjectMeta().UID
		if err := store.Remove(tx, "Gadget", key("b"), store.DeleteOptions{}); err != nil {
			return err
		}
		return tx.Create(newGadget("b", "blue"))
	}))
	require.Equal(t, map[string]string{"a": "red", "b": "blue", "c": ""}, colors())
	b, err := Get[*gadget](ctx, c, key("b"))
	require.NoError(t, err)
	require.NotEqual(t, firstB, b.UID, "b is the one created again")

	require.NoError(t, c.Txn(ctx, func(tx store.Tx) error {
		return store.Remove(tx, "Gadget", key("c"), store.DeleteOptions{})
	}))
	_, err = c.Get(ctx, "Gadget", key("c"))
	require.ErrorIs(t, err, store.ErrNotFound)
	require.Equal(t, map[string]string{"a": "red", "b": "blue"}, colors())
}
