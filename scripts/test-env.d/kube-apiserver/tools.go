//go:build tools

// Package tools records the one package this wrapper module builds, so `go mod tidy` keeps its
// dependencies: go build k8s.io/kubernetes/cmd/kube-apiserver
package tools

import _ "k8s.io/kubernetes/cmd/kube-apiserver"
