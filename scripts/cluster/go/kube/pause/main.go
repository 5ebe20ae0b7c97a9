// Command pause is the pod sandbox's process: it holds the pod's namespaces open and exits on
// SIGINT/SIGTERM. No pause image can be pulled here, so the cluster builds this one.
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
