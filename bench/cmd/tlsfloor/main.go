// Command tlsfloor is the bench's floor for the HTTPS broker: a bare Go
// TLS server (crypto/tls and net/http defaults: TLS 1.3, HTTP/2 by ALPN)
// with the broker's certificate, answering every request with the same
// bytes and headers the broker's credential reply has, and nothing else
// (no routing, checks, limits or logs).
//
//	tlsfloor -body FILE -cert FILE -key FILE
//
// It listens on a loopback port the kernel picks, prints one line
// "ADDR=127.0.0.1:PORT", and exits when stdin closes or on SIGTERM.
package main

import (
	"crypto/tls"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	body := flag.String("body", "", "`file` whose bytes every response carries")
	certFile := flag.String("cert", "", "PEM certificate `file`")
	keyFile := flag.String("key", "", "PEM private key `file`")
	flag.Parse()
	b, err := os.ReadFile(*body)
	if err != nil {
		fmt.Fprintln(os.Stderr, "usage: tlsfloor -body FILE -cert FILE -key FILE:", err)
		os.Exit(2)
	}
	cert, err := tls.LoadX509KeyPair(*certFile, *keyFile)
	if err != nil {
		fmt.Fprintln(os.Stderr, "tlsfloor:", err)
		os.Exit(2)
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.Write(b)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, "tlsfloor:", err)
		os.Exit(1)
	}
	fmt.Printf("ADDR=%s\n", ln.Addr())
	srv := &http.Server{Handler: h, TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}}}
	go srv.ServeTLS(ln, "", "")
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, os.Interrupt)
	go func() { io.Copy(io.Discard, os.Stdin); stop <- syscall.SIGTERM }()
	<-stop
}
