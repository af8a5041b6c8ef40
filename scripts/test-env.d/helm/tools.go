//go:build tools

// Package tools records the one package this wrapper module builds, so `go mod tidy` keeps its
// dependencies: go build helm.sh/helm/v3/cmd/helm
package tools

import _ "helm.sh/helm/v3/cmd/helm"
