// Command etcd is etcd's own server main (go.etcd.io/etcd/server/v3/etcdmain), built from the
// version pinned in go.mod, for scripts/test-env.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
