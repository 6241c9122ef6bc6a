// The pod sandbox's only process: it holds the pod's namespaces open and does nothing else.
// Built static (CGO off) so that a `FROM scratch` image holding just this binary runs.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)
	<-signals
}
