package functions

import (
	"context"
	"net/http"

	"github.com/mssp-tools/copilot-partner-access/shared/access"
	"github.com/mssp-tools/copilot-partner-access/shared/funchost"
)

// adviceRequest is the advisor's body.
type adviceRequest struct {
	Plugins      []string `json:"plugins"`
	CapacityPlan string   `json:"capacityPlan"`
	TimeBound    *bool    `json:"timeBound"`
}

// advisor recommends an access method from the guide's matrices: all three
// methods, best first, with whether each fits and why.
func (d Deps) advisor(_ context.Context, req funchost.HTTPRequest) (funchost.HTTPResponse, error) {
	var body adviceRequest
	if err := decodeJSON(req.Body, &body); err != nil {
		return funchost.HTTPResponse{}, err
	}
	if len(body.Plugins) > 50 {
		return funchost.HTTPResponse{}, access.Invalid("too many plugins", map[string]string{"plugins": "at most 50"})
	}
	recs, err := access.Advise(access.AdviceRequest{
		Plugins: body.Plugins, CapacityPlan: body.CapacityPlan, TimeBound: body.TimeBound != nil && *body.TimeBound,
	})
	if err != nil {
		return funchost.HTTPResponse{}, err
	}
	return funchost.JSON(http.StatusOK, map[string]any{"recommendations": recs}), nil
}
