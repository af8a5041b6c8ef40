//go:build tools

// Package main also records etcdctl (built with `go build go.etcd.io/etcd/etcdctl/v3`) so
// `go mod tidy` keeps its dependencies.
package main

import _ "go.etcd.io/etcd/etcdctl/v3"
