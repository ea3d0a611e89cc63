package objects

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLeaseValidate(t *testing.T) {
	cases := []struct {
		name string
		spec LeaseSpec
		want []string
	}{
		{"empty", LeaseSpec{}, nil},
		{"valid", LeaseSpec{HolderIdentity: ptrTo("n1"), LeaseDurationSeconds: ptrTo[int32](40), LeaseTransitions: ptrTo[int32](0)}, nil},
		{"zero duration", LeaseSpec{LeaseDurationSeconds: ptrTo[int32](0)},
			[]string{"spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0"}},
		{"negative transitions", LeaseSpec{LeaseTransitions: ptrTo[int32](-1)},
			[]string{"spec.leaseTransitions: Invalid value: -1: must be greater than or equal to 0"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l := &Lease{ObjectMeta: ObjectMeta{Name: "n1", Namespace: NamespaceNodeLease}, Spec: c.spec}
			var got []string
			for _, e := range l.Validate() {
				got = append(got, e.Error())
			}
			assert.Equal(t, c.want, got)
		})
	}
}

func TestLeaseManifest(t *testing.T) {
	obj := decodeManifest(t, `
apiVersion: coordination.k8s.io/v1
kind: Lease
metadata:
  name: node-1
  namespace: kube-node-lease
spec:
  holderIdentity: node-1
  leaseDurationSeconds: 40
  acquireTime: "2024-05-01T10:00:00.000000Z"
  renewTime: "2024-05-01T10:00:30.123456Z"
  leaseTransitions: 2
`)
	l := obj.(*Lease)
	assert.Equal(t, 123456*time.Microsecond, time.Duration(l.Spec.RenewTime.Nanosecond()))
	require.NoError(t, validateThroughScheme(l))
	jsonRoundTrip(t, l)
}
