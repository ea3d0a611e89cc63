package objects

import "testing"

// podCase is a change to a valid pod and the field errors it must bring.
type podCase struct {
	name   string
	mutate func(p *Pod)
	want   []string
}

// runPodCases validates, for each case, testPod changed by it and defaulted.
func runPodCases(t *testing.T, cases []podCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := testPod()
			tc.mutate(p)
			p.Default()
			assertFieldErrors(t, tc.want, p.Validate())
		})
	}
}
