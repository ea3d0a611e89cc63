package reconcile_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/podkit/podkit/objects"
	"github.com/podkit/podkit/reconcile"
	"github.com/podkit/podkit/store"
	"github.com/podkit/podkit/store/memdb"
)

// labeller is a host's controller: it labels every ConfigMap it sees.
type labeller struct{ c *reconcile.Client }

func (l *labeller) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	cm, err := reconcile.Get[*objects.ConfigMap](ctx, l.c, req.Key())
	if errors.Is(err, store.ErrNotFound) {
		return reconcile.Result{}, nil // deleted meanwhile: nothing to do
	}
	if err != nil {
		return reconcile.Result{}, err
	}
	if cm.Labels["seen"] == "yes" {
		return reconcile.Result{}, nil
	}
	if cm.Labels == nil {
		cm.Labels = map[string]string{}
	}
	cm.Labels["seen"] = "yes"
	return reconcile.Result{}, l.c.Update(ctx, cm)
}

func Example() {
	st, _ := memdb.New()
	defer st.Close()
	m, _ := reconcile.NewManager(st)
	_ = reconcile.AddBuiltins(m)
	_ = m.Add(reconcile.Controller{Name: "labeller", For: "ConfigMap", Reconciler: &labeller{c: m.Client()}})

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- m.Run(ctx) }()

	_ = st.Update(ctx, func(tx store.Tx) error {
		if err := tx.Create(&objects.Namespace{ObjectMeta: objects.ObjectMeta{Name: "default"}}); err != nil {
			return err
		}
		return tx.Create(&objects.ConfigMap{ObjectMeta: objects.ObjectMeta{Namespace: "default", Name: "settings"}})
	})
	// Wait until the controller has labelled it, re-reading on each commit.
	wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
	defer wcancel()
	for wctx.Err() == nil {
		var (
			cm  objects.Object
			rev int64
		)
		_ = st.View(wctx, func(tx store.ReadTx) error {
			cm, _ = tx.Get("ConfigMap", objects.Key{Namespace: "default", Name: "settings"})
			rev = tx.Revision()
			return nil
		})
		if cm != nil && cm.GetObjectMeta().Labels["seen"] == "yes" {
			fmt.Println("labelled")
			break
		}
		w, err := st.Watch(wctx, store.WatchOptions{Kind: "ConfigMap", Revision: rev})
		if err != nil {
			break
		}
		<-w.Events()
		w.Stop()
	}
	cancel()
	fmt.Println(<-done)
	// Output:
	// labelled
	// <nil>
}
