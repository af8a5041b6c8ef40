//go:build tools

// Package tools records the one package this wrapper module builds, so `go mod tidy` keeps its
// dependencies: go build github.com/kubeovn/kube-ovn/cmd/controller (its main dispatches on the
// binary's base name, so the binary must be called kube-ovn-controller).
package tools

import _ "github.com/kubeovn/kube-ovn/cmd/controller"
