// Command idealserver runs the yardstick server of package ideal: Encrypt,
// Decrypt and GenerateDataKey with encoding/json and AES-256-GCM, no
// authentication, storage or audit. Bench Trent against it with
// "trent bench --key <any>" to get the ceiling for this machine.
package main

import (
	"flag"
	"log"
	"net/http"
	"time"

	"github.com/trentkms/trent/test/bench/ideal"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:8099", "address to listen on")
	flag.Parse()
	srv := &http.Server{Addr: *listen, Handler: ideal.Handler(), ReadHeaderTimeout: 10 * time.Second}
	log.Printf("ideal server listening on http://%s (no authentication; test use only)", *listen)
	log.Fatal(srv.ListenAndServe())
}
