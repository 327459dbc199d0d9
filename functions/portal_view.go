package functions

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"math"
	"time"

	"github.com/mssp-tools/copilot-partner-access/shared/access"
	"github.com/mssp-tools/copilot-partner-access/shared/funchost"
)

//go:embed portalui/*.html portalui/portal.css
var portalUI embed.FS

var portalTemplates = template.Must(template.New("portal").Funcs(template.FuncMap{
	"f1": func(x float64) string { return fmt.Sprintf("%.1f", x) },
}).ParseFS(portalUI, "portalui/*.html"))

// pageBase is what every page shows: who is signed in and as what.
type pageBase struct {
	Title    string
	Base     string
	Who      string
	Role     string
	Tenant   string
	Operator bool
}

type filters struct{ Customer, Status, Within string }

type statusCount struct {
	Status string
	N      int
}

type grantRow struct {
	ID, Customer, Method, Status, Ticket, URL, Principal, Reason string
	// HowItEnds says who ends the access, where the method needs saying.
	HowItEnds   string
	Roles       []string
	Expires     time.Time
	ExpiresText string
	DaysLeft    int
}

type auditRow struct{ At, Action, Detail string }

type formAction struct{ Name, URL, Token string }

type listPage struct {
	pageBase
	Filters   filters
	Counts    []statusCount
	Grants    []grantRow
	Timeline  timelineView
	Truncated bool
}

type grantPage struct {
	pageBase
	Grant    grantRow
	Timeline timelineView
	Trail    []auditRow
	Actions  []formAction
	Notice   string
}

type errorPage struct {
	pageBase
	Detail string
}

// The timeline's drawing: a label column, then the bars from today (left)
// to each grant's end, over a horizon of at least timelineMinDays.
const (
	timelineWidth   = 720
	timelineLabel   = 210
	timelineRight   = 16
	timelineTop     = 26
	timelineRowH    = 24
	timelineMinDays = 30
)

type timelineView struct {
	Width, Height int
	TodayX        float64
	Days          int
	Rows          []timelineRow
	Ticks         []timelineTick
}

type timelineRow struct {
	ID, Label, URL, Status, Expires string
	Y, TextY                        int
	X0, X1, W                       float64
	Marks                           []timelineMark
}

type timelineMark struct {
	X      float64
	Y1, Y2 int
	Days   int
}

type timelineTick struct {
	X     float64
	Label string
}

// timeline draws the live grants that have an end: each a bar from now to
// its end, with its notice days marked, and a line at today.
func timeline(rows []grantRow, now time.Time, notices []int) timelineView {
	var live []grantRow
	horizon := float64(timelineMinDays)
	for _, r := range rows {
		if (r.Status != string(access.StatusActive) && r.Status != string(access.StatusPending)) || !r.Expires.After(now) {
			continue
		}
		live = append(live, r)
		horizon = math.Max(horizon, math.Ceil(r.Expires.Sub(now).Hours()/24))
	}
	span := float64(timelineWidth - timelineLabel - timelineRight)
	x := func(days float64) float64 { return timelineLabel + span*days/horizon }
	v := timelineView{Width: timelineWidth, Height: timelineTop + timelineRowH*len(live) + 8, TodayX: x(0), Days: int(horizon)}
	step := niceStep(horizon)
	// The first tick is today's line; a tick too near the right edge has
	// no room for its date.
	for d := step; d <= horizon && x(d) < timelineWidth-timelineRight-24; d += step {
		v.Ticks = append(v.Ticks, timelineTick{X: x(d), Label: now.Add(time.Duration(d) * access.Day).Format("Jan 2")})
	}
	for i, r := range live {
		left := r.Expires.Sub(now).Hours() / 24
		tr := timelineRow{ID: r.ID, Label: shortLabel(r), URL: r.URL, Status: r.Status, Expires: r.Expires.UTC().Format(time.RFC3339),
			Y: timelineTop + i*timelineRowH + 4, TextY: timelineTop + i*timelineRowH + 17, X0: x(0), X1: x(left), W: x(left) - x(0)}
		for _, n := range notices {
			if n > 0 && float64(n) < left {
				tr.Marks = append(tr.Marks, timelineMark{X: x(left - float64(n)), Y1: tr.Y - 2, Y2: tr.Y + 18, Days: n})
			}
		}
		v.Rows = append(v.Rows, tr)
	}
	return v
}

// niceStep is the spacing of the date ticks: about six across.
func niceStep(horizon float64) float64 {
	for _, s := range []float64{7, 14, 30, 60, 90, 180, 365} {
		if horizon/s <= 7 {
			return s
		}
	}
	return 730
}

func shortLabel(r grantRow) string {
	id := r.ID
	if len(id) > 18 {
		id = id[:18] + "…"
	}
	c := r.Customer
	if len(c) > 8 {
		c = c[:8]
	}
	return id + " · " + c
}

// renderPage renders one of the portal's templates as a complete answer.
func renderPage(status int, name string, data any) funchost.HTTPResponse {
	var b bytes.Buffer
	if err := portalTemplates.ExecuteTemplate(&b, name, data); err != nil {
		return funchost.Problem(500, "Internal error", "the page could not be rendered", nil)
	}
	return funchost.HTTPResponse{StatusCode: status, Headers: pageHeaders("text/html; charset=utf-8"), Body: b.Bytes()}
}

// stylesheet is GET portal/portal.css: the one stylesheet, public like any
// static file (it tells nothing of any grant).
func stylesheet() funchost.HTTPResponse {
	css, _ := portalUI.ReadFile("portalui/portal.css")
	h := pageHeaders("text/css; charset=utf-8")
	h["Cache-Control"] = "public, max-age=3600"
	return funchost.HTTPResponse{StatusCode: 200, Headers: h, Body: css}
}

func pageHeaders(contentType string) map[string]string {
	return map[string]string{
		"Content-Type":            contentType,
		"Cache-Control":           "no-store",
		"X-Content-Type-Options":  "nosniff",
		"X-Frame-Options":         "DENY",
		"Referrer-Policy":         "same-origin",
		"Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
	}
}
