package gateway_test

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/tusk-data/tusk/gateway"
	"github.com/tusk-data/tusk/gateway/gatewaytest"
)

// botocore waits for "100 Continue" even on empty bodies; the gateway must
// send it before the final status (see server.go).
func TestEmptyBodyExpectContinueGets100First(t *testing.T) {
	srv := gatewaytest.Start(t, gateway.Config{GCInterval: -1})
	if _, err := srv.Meta.CreateRepo(context.Background(), "cont", "admin"); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("PUT", srv.URL+"/cont/empty", http.NoBody)
	req.Header.Set("Expect", "100-continue")
	req.Header.Set("X-Amz-Content-Sha256", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
	req.ContentLength = 0
	err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: gatewaytest.AccessKey, SecretAccessKey: gatewaytest.SecretKey},
		req, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "s3", "us-east-1", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var sb strings.Builder
	sb.WriteString("PUT /cont/empty HTTP/1.1\r\nHost: " + srv.Addr + "\r\nContent-Length: 0\r\n")
	for k, vs := range req.Header {
		for _, v := range vs {
			sb.WriteString(k + ": " + v + "\r\n")
		}
	}
	sb.WriteString("\r\n")
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := conn.Write([]byte(sb.String())); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	first, _ := br.ReadString('\n')
	if !strings.HasPrefix(first, "HTTP/1.1 100") {
		t.Fatalf("first status line %q, want 100 Continue", first)
	}
	if blank, _ := br.ReadString('\n'); blank != "\r\n" {
		t.Fatalf("100 Continue not followed by an empty line: %q", blank)
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || resp.Header.Get("X-Amz-Version-Id") == "" {
		t.Fatalf("final status %d, version %q", resp.StatusCode, resp.Header.Get("X-Amz-Version-Id"))
	}
}
