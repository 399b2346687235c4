package ecs

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestEphemeral(t *testing.T) {
	t.Parallel()
	src := newSource()
	c := testCreds()
	c.Expiration = time.Now().Add(time.Hour)
	src.Set("dev", c, nil)
	o := Options{Logger: testOptions(t, newClock(), 0).Logger}
	e, err := StartEphemeral(src, Profile{Name: "dev"}, o)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(e.URL, "http://127.0.0.1:") || !strings.HasSuffix(e.URL, "/v1/credentials/dev") {
		t.Errorf("URL = %q; want http://127.0.0.1:PORT/v1/credentials/dev", e.URL)
	}
	get := func(tok string) int {
		req, _ := http.NewRequest("GET", e.URL, nil)
		req.Header.Set("Authorization", tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := get(e.Token); got != 200 {
		t.Errorf("GET with the token = %d; want 200", got)
	}
	if got := get("WRONGWRONGWRONGWRONGWRONG0"); got != 403 {
		t.Errorf("GET with a wrong token = %d; want 403", got)
	}
	http.DefaultClient.CloseIdleConnections()
	e.Close()
	if _, err := http.Get(e.URL); err == nil {
		t.Error("the endpoint still answers after Close")
	}
}
