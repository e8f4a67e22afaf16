package kube

import (
	"errors"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// Permanent reports whether retrying a Cordon or Uncordon that failed with
// err cannot help: the node does not exist, or the credentials lack the
// right (fix the RBAC: get and update on nodes), or the request is invalid.
// Activities map it to a non-retryable error; anything else (API server
// unreachable, conflicts beyond the retries, throttling) is worth a retry.
func Permanent(err error) bool {
	return errors.Is(err, ErrNodeNotFound) || apierrors.IsNotFound(err) ||
		apierrors.IsForbidden(err) || apierrors.IsUnauthorized(err) ||
		apierrors.IsInvalid(err) || apierrors.IsBadRequest(err)
}
