// Command probe checks, from inside a pod, that the API server is reachable through the
// `kubernetes` Service with the pod's ServiceAccount credentials: it GETs /version until
// the answer is 200 (printing every attempt), then sleeps until SIGINT or SIGTERM.
package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

const saDir = "/var/run/secrets/kubernetes.io/serviceaccount"

func main() {
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)

	host, port := os.Getenv("KUBERNETES_SERVICE_HOST"), os.Getenv("KUBERNETES_SERVICE_PORT")
	if host == "" || port == "" {
		fmt.Println("probe: KUBERNETES_SERVICE_HOST/PORT not set")
		os.Exit(1)
	}
	url := "https://" + net.JoinHostPort(host, port) + "/version"
	for attempt := 1; ; attempt++ {
		status, body, err := get(url)
		switch {
		case err != nil:
			fmt.Printf("probe: attempt %d: GET %s: %v\n", attempt, url, err)
		default:
			fmt.Printf("probe: attempt %d: GET %s: status %d: %s\n", attempt, url, status, oneLine(body))
		}
		if status == http.StatusOK {
			break
		}
		select {
		case <-stop:
			os.Exit(1)
		case <-time.After(time.Second):
		}
	}
	sig := <-stop
	fmt.Printf("probe: stopping on %v\n", sig)
}

// get performs one authenticated GET, reading the credentials afresh (the token rotates).
func get(url string) (int, string, error) {
	token, err := os.ReadFile(saDir + "/token")
	if err != nil {
		return 0, "", err
	}
	caPEM, err := os.ReadFile(saDir + "/ca.crt")
	if err != nil {
		return 0, "", err
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(caPEM) {
		return 0, "", fmt.Errorf("no certificate in %s/ca.crt", saDir)
	}
	client := &http.Client{
		Timeout:   5 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}},
	}
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(token)))
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return resp.StatusCode, string(body), err
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
