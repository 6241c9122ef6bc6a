// CoreDNS with only the plugins the test node's Corefile uses (modelops/testing/node.py). The
// upstream command links every plugin CoreDNS ships, cloud DNS providers and their SDKs included,
// which more than doubles a first build; this is the way CoreDNS documents for a custom set.
package main

import (
	"github.com/coredns/coredns/core/dnsserver"
	_ "github.com/coredns/coredns/plugin/bind"
	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/ready"
	"github.com/coredns/coredns/coremain"
)

func init() {
	// In the order of CoreDNS's plugin.cfg: the order plugins see a query.
	dnsserver.Directives = []string{"bind", "ready", "errors", "cache", "kubernetes"}
}

func main() {
	coremain.Run()
}
