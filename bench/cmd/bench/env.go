package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/mssp-tools/copilot-partner-access/internal/testenv"
	"github.com/mssp-tools/copilot-partner-access/shared/graphsim"
)

// storage is a private Azurite with counting proxies in front of its table
// and queue endpoints. The handler publishes to storage queues named as
// the contract's (invitation-sent, …), so the benchmark never shares an
// Azurite with anyone.
type storage struct {
	az     testenv.Endpoints
	tables *countingProxy
	queues *countingProxy
}

func startStorage() (*storage, error) {
	az, err := testenv.StartPrivate()
	if err != nil {
		return nil, fmt.Errorf("azurite: %w", err)
	}
	s := &storage{az: az}
	if s.tables, err = startProxy(az.TableEndpoint, tableClassifier); err != nil {
		s.close()
		return nil, err
	}
	if s.queues, err = startProxy(az.QueueEndpoint, queueClassifier); err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

// close stops the proxies and Azurite; the next startStorage gets a fresh,
// empty one.
func (s *storage) close() {
	if s.tables != nil {
		s.tables.close()
	}
	if s.queues != nil {
		s.queues.close()
	}
	testenv.Stop()
}

// direct is Azurite's connection string.
func (s *storage) direct() string { return s.az.ConnectionString }

// proxied is a connection string whose table and queue endpoints are the
// counting proxies. The account path stays: SharedKey signs it.
func (s *storage) proxied() string {
	return "DefaultEndpointsProtocol=http;AccountName=" + testenv.AccountName + ";AccountKey=" + testenv.AccountKey +
		";BlobEndpoint=" + s.az.BlobEndpoint +
		";QueueEndpoint=" + s.queues.URL + "/" + testenv.AccountName +
		";TableEndpoint=" + s.tables.URL + "/" + testenv.AccountName + ";"
}

// graphServer serves the Graph simulator on a loopback port, in this
// process, for the handler process to call.
type graphServer struct {
	sim *graphsim.Server
	URL string
	srv *http.Server
}

func startGraph(seed graphsim.Seed) (*graphServer, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	g := &graphServer{sim: graphsim.New(seed), URL: "http://" + ln.Addr().String()}
	g.srv = &http.Server{Handler: g.sim, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = g.srv.Serve(ln) }()
	return g, nil
}

func (g *graphServer) close() { shutdown(g.srv) }

// shutdown stops srv, giving the requests it is serving 5 s to finish.
func shutdown(srv *http.Server) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(ctx)
}

// handlerEnv is the handler's configuration: tables and queues at conn,
// Graph at graphURL with unsigned tokens (the simulator's mode), mail
// notifications sent through Graph as the partner's mailbox.
func handlerEnv(conn, graphURL string) map[string]string {
	return map[string]string{
		"TABLES_CONNECTION_STRING":       conn,
		"LOCAL_QUEUES_CONNECTION_STRING": conn,
		"GRAPH_BASE_URL":                 graphURL + "/v1.0",
		"GRAPH_AUTH":                     "none",
		"PARTNER_TENANT_ID":              testenv.PartnerTenant,
		"PARTNER_SECURITY_GROUP_ID":      partnerGroup,
		"NOTIFY_MAIL_FROM":               testenv.PartnerMailbox,
	}
}
