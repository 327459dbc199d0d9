// Package tablestore keeps grants in Azure Table Storage (aztables): the
// access.GrantStore of the app, the due index the expiry sweep reads, and
// the Rejected table that keeps bad messages whole.
//
// Layout (DESIGN section 7). The Grants table has one partition per
// customer (PartitionKey = customer tenant id) holding four kinds of rows,
// told apart by the start of the RowKey:
//
//	grant|<grant id>                          the grant (GrantId, Status, … as properties)
//	audit|<grant id>|<time>|<stamp>|<nnn>     its audit trail, in time order
//	event|<event id>                          the processed-event ledger
//	outbox|<event id>|<notification id>       notifications and promised messages, until sent
//
// so that one state change (grant + audit + ledger + outbox) is one entity
// group transaction: all of it is written or none. Ids in keys are escaped
// (see escapeKey); every row also carries the raw ids as properties.
//
// DueIndex has one partition per UTC day an action is due
// (PartitionKey = YYYY-MM-DD, RowKey = <customer>|<grant>|<stage>), so the
// sweep reads only the days up to now, whatever the number of grants.
// Rejected has one partition per function and day.
//
// Times are written in whole seconds, UTC (access.TimePrecision), but for
// the receipt time of a rejected message, which is part of its key.
//
// Errors are *access.Error whose Op names the method ("tablestore.Commit"):
// KindNotFound, KindConflict (ETag race, row already there, event already
// in the ledger), KindInvalid (input Table Storage cannot hold),
// KindTransient (throttled, unavailable, network), KindInternal (anything
// else, with context).
package tablestore

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"
	"github.com/mssp-tools/copilot-partner-access/shared/access"
	"github.com/mssp-tools/copilot-partner-access/shared/lifecycle"
)

// Names of the tables, before Options.TablePrefix.
const (
	TableGrants   = "Grants"
	TableDueIndex = "DueIndex"
	TableRejected = "Rejected"
)

// Tables lists every table the store uses; New creates the missing ones.
var Tables = []string{TableGrants, TableDueIndex, TableRejected}

// Options says where the tables are. Set ConnectionString (Azurite, or a
// storage account key), or ServiceURL with Credential (managed identity in
// Azure); ConnectionString wins when both are set.
type Options struct {
	// ConnectionString is a full storage connection string. For Azurite it
	// must name the TableEndpoint: aztables does not understand
	// "UseDevelopmentStorage=true".
	ConnectionString string
	// ServiceURL is the table service, e.g.
	// https://<account>.table.core.windows.net. A URL that carries a SAS
	// query needs no Credential.
	ServiceURL string
	// Credential authorizes requests to ServiceURL.
	Credential azcore.TokenCredential
	// TablePrefix is put before every table name, so that tests sharing
	// one Azurite do not see each other's rows. Letters and digits, starting
	// with a letter; empty in production.
	TablePrefix string
	// Transport sends the HTTP requests; nil means the SDK's default. An
	// *http.Client fits; benchmarks wrap one to count round trips.
	Transport policy.Transporter
	// Now is the clock that decides whether an outbox claim has lapsed and
	// stamps ledger rows; nil means time.Now. Pass the app's clock when
	// tests or local runs move it.
	Now func() time.Time
}

// Store is the Table Storage adapter. It is safe for concurrent use.
type Store struct {
	grants   *aztables.Client
	due      *aztables.Client
	rejected *aztables.Client
	stamps   stamper // orders audit rows of commits that carry the same time
	clock    func() time.Time
}

func (s *Store) now() time.Time { return s.clock().UTC() }

var _ lifecycle.Store = (*Store)(nil)

// New connects to the table service and creates the tables that do not
// exist yet. It returns KindInvalid for unusable options, and a translated
// storage error if a table cannot be created.
func New(ctx context.Context, opts Options) (*Store, error) {
	if opts.TablePrefix != "" && !validTableName(opts.TablePrefix+"Abc") {
		return nil, access.Errorf(access.KindInvalid, "table prefix %q: use letters and digits, starting with a letter", opts.TablePrefix)
	}
	clientOpts := &aztables.ClientOptions{}
	if opts.Transport != nil {
		clientOpts.Transport = opts.Transport
	}
	var (
		svc *aztables.ServiceClient
		err error
	)
	switch {
	case opts.ConnectionString != "":
		svc, err = aztables.NewServiceClientFromConnectionString(opts.ConnectionString, clientOpts)
	case opts.ServiceURL != "" && opts.Credential != nil:
		svc, err = aztables.NewServiceClient(opts.ServiceURL, opts.Credential, clientOpts)
	case opts.ServiceURL != "" && hasQuery(opts.ServiceURL):
		svc, err = aztables.NewServiceClientWithNoCredential(opts.ServiceURL, clientOpts)
	case opts.ServiceURL != "":
		return nil, access.Errorf(access.KindInvalid, "table service %s: no credential and no SAS in the URL", opts.ServiceURL)
	default:
		return nil, access.Errorf(access.KindInvalid, "table storage: set a connection string or a service URL")
	}
	if err != nil {
		// The SDK's message names the malformed part; it never echoes the key.
		return nil, access.WrapKind(access.KindInvalid, err, "table storage client")
	}
	// The tables are created together: start-up waits for one round trip,
	// not three (the host probes GET / until the handler is ready).
	errs := make([]error, len(Tables))
	var wg sync.WaitGroup
	for i, t := range Tables {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := opts.TablePrefix + t
			if _, err := svc.CreateTable(ctx, name, nil); err != nil {
				var re *azcore.ResponseError
				if !errors.As(err, &re) || re.ErrorCode != string(aztables.TableAlreadyExists) {
					errs[i] = translate(opNew, err, "create table %s", name)
				}
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	clock := opts.Now
	if clock == nil {
		clock = time.Now
	}
	return &Store{
		grants:   svc.NewClient(opts.TablePrefix + TableGrants),
		due:      svc.NewClient(opts.TablePrefix + TableDueIndex),
		rejected: svc.NewClient(opts.TablePrefix + TableRejected),
		clock:    clock,
	}, nil
}

func hasQuery(rawURL string) bool {
	u, err := url.Parse(rawURL)
	return err == nil && u.RawQuery != ""
}

// validTableName: 3 to 63 letters and digits, starting with a letter.
func validTableName(s string) bool {
	if len(s) < 3 || len(s) > 63 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		letter := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		if !letter && (i == 0 || c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// nonEmpty returns a KindInvalid error naming the first empty field.
func nonEmpty(what string, fields ...[2]string) error {
	for _, f := range fields {
		if strings.TrimSpace(f[1]) == "" {
			return access.Errorf(access.KindInvalid, "%s: %s is empty", what, f[0])
		}
	}
	return nil
}
