// Command httpfloor is the bench's floor for the credential endpoints: a
// bare net/http server answering every request with the same bytes the
// endpoint serves, and nothing else (no routing, checks, timeouts or logs).
//
//	httpfloor -body FILE [-listeners N] [-cpu-profile FILE]
//
// It listens on N loopback ports the kernel picks, prints one line
// "ADDR=127.0.0.1:PORT" for each, and exits when stdin closes or on
// SIGTERM, having written its CPU profile (runtime/pprof) if asked: the
// bench compares it with the daemon's under the same load.
package main

import (
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
)

func main() {
	body := flag.String("body", "", "`file` whose bytes every response carries")
	n := flag.Int("listeners", 1, "how many loopback listeners")
	profile := flag.String("cpu-profile", "", "write a CPU profile of the whole run to `file`")
	flag.Parse()
	b, err := os.ReadFile(*body)
	if err != nil || *n < 1 || *n > 100 {
		fmt.Fprintln(os.Stderr, "usage: httpfloor -body FILE [-listeners N] [-cpu-profile FILE]:", err)
		os.Exit(2)
	}
	if *profile != "" {
		f, err := os.Create(*profile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "httpfloor:", err)
			os.Exit(1)
		}
		defer func() { pprof.StopCPUProfile(); f.Close() }()
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(b)
	})
	for range *n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			fmt.Fprintln(os.Stderr, "httpfloor:", err)
			os.Exit(1)
		}
		fmt.Printf("ADDR=%s\n", ln.Addr())
		go http.Serve(ln, h)
	}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, os.Interrupt)
	go func() { io.Copy(io.Discard, os.Stdin); stop <- syscall.SIGTERM }()
	<-stop
}
