package kube

import (
	"strings"
	"testing"
)

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		kernel, kubelet string
		want            Class
		says            string
	}{
		{"3.10.0-1160.el7.x86_64", "v1.12.10", MaybeAffected, "1.8-1.13"},
		{"3.10.0-957.27.2.el7.x86_64", "v1.8.0", MaybeAffected, "1.8-1.13"},
		{"3.10.0-693.el7.x86_64", "v1.13.12-eks-c500e1", MaybeAffected, "1.8-1.13"},
		{"3.10.0-1160.el7.x86_64", "v1.7.16", NotAffected, "predates 1.8"},
		{"3.10.0-1160.el7.x86_64", "v1.14.0", Unknown, "-tags=nokmem"},
		{"3.10.0-1160.el7.x86_64", "v1.20.4+k3s1", Unknown, "-tags=nokmem"},
		{"4.19.91-26.al7.x86_64", "v1.12.10", NotAffected, "not a 3.10 kernel"},
		{"5.15.0-1019-aws", "v1.27.3", NotAffected, "not a 3.10 kernel"},
		{"3.1.0", "v1.12.0", NotAffected, "not a 3.10 kernel"},
		{"3.100.0", "v1.12.0", NotAffected, "not a 3.10 kernel"},
		{"", "v1.12.10", Unknown, "cannot be read"},
		{"3.10.0-1160.el7.x86_64", "", Unknown, "cannot be read"},
		{"3.10.0-1160.el7.x86_64", "v2.0.0", Unknown, "not a 1.x"},
	} {
		got := Classify(tc.kernel, tc.kubelet)
		if got.Class != tc.want {
			t.Errorf("Classify(%q, %q) = %s, want %s (%v)", tc.kernel, tc.kubelet, got.Class, tc.want, got.Reasons)
		}
		if len(got.Reasons) == 0 || !strings.Contains(got.Reasons[0], tc.says) {
			t.Errorf("Classify(%q, %q) reasons %q do not say %q", tc.kernel, tc.kubelet, got.Reasons, tc.says)
		}
	}
}
