package tablestore

import (
	"testing"

	"github.com/mssp-tools/copilot-partner-access/internal/testenv"
)

// TestMain stops the Azurite that the store tests start, if they did.
func TestMain(m *testing.M) { testenv.Main(m) }
