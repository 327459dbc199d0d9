package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/mssp-tools/copilot-partner-access/shared/config"
)

// Defaults of the host.json settings devhost honours, as the Functions host
// documents them.
const (
	defaultMaxConcurrentCalls = 16
	defaultRoutePrefix        = "api"
	// defaultFunctionTimeout applies when host.json sets none: the
	// Premium and Dedicated plans' default.
	defaultFunctionTimeout = 30 * time.Minute
)

// triggerKind is one of the three triggers devhost can drive.
type triggerKind int

const (
	queueTrigger triggerKind = iota + 1
	timerTrigger
	httpTrigger
)

func (k triggerKind) String() string {
	switch k {
	case queueTrigger:
		return "serviceBusTrigger"
	case timerTrigger:
		return "timerTrigger"
	case httpTrigger:
		return "httpTrigger"
	}
	return "unknown"
}

// function is one function of the app, as its function.json declares it.
type function struct {
	// name is the folder name: the function's name and the path the
	// handler serves it on.
	name string
	kind triggerKind
	// binding is the trigger binding's name: the key of Data in the
	// invocation ("msg", "timer", "req").
	binding string

	// queue is the serviceBusTrigger's queue, %NAME% resolved.
	queue string

	// scheduleText is the timerTrigger's NCRONTAB, %NAME% resolved, and
	// schedule its parsed form.
	scheduleText string
	schedule     cron.Schedule
	runOnStartup bool

	// methods are the httpTrigger's methods in upper case; nil accepts any.
	methods   []string
	route     *route
	authLevel string
	// output is the http output binding's name: "res", or "$return" when
	// the handler answers through ReturnValue.
	output string
}

// app is what devhost serves: the host.json settings it honours and the
// enabled functions beside it.
type app struct {
	root string
	// executable, arguments and workingDir come from
	// customHandler.description, paths resolved against root.
	executable string
	arguments  []string
	workingDir string
	// functionTimeout bounds one invocation; 0 means no limit.
	functionTimeout time.Duration
	maxConcurrent   int
	routePrefix     string
	functions       []*function // sorted by name
	// disabled lists functions that function.json or an
	// AzureWebJobs.<name>.Disabled setting turned off.
	disabled []string
}

// hostJSON is the part of host.json devhost reads. encoding/json matches
// keys case-insensitively, as the Functions host does.
type hostJSON struct {
	Version         string   `json:"version"`
	FunctionTimeout string   `json:"functionTimeout"`
	Functions       []string `json:"functions"`
	CustomHandler   *struct {
		Description struct {
			DefaultExecutablePath string   `json:"defaultExecutablePath"`
			WorkingDirectory      string   `json:"workingDirectory"`
			Arguments             []string `json:"arguments"`
		} `json:"description"`
		EnableForwardingHTTPRequest bool `json:"enableForwardingHttpRequest"`
	} `json:"customHandler"`
	Extensions struct {
		ServiceBus struct {
			MaxConcurrentCalls *int `json:"maxConcurrentCalls"`
		} `json:"serviceBus"`
		HTTP struct {
			RoutePrefix *string `json:"routePrefix"`
		} `json:"http"`
	} `json:"extensions"`
}

// bindingJSON is one entry of a function.json's bindings, with every
// property devhost reads or must refuse.
type bindingJSON struct {
	Name              string   `json:"name"`
	Type              string   `json:"type"`
	Direction         string   `json:"direction"`
	QueueName         string   `json:"queueName"`
	TopicName         string   `json:"topicName"`
	DataType          string   `json:"dataType"`
	IsSessionsEnabled bool     `json:"isSessionsEnabled"`
	Cardinality       string   `json:"cardinality"`
	Schedule          string   `json:"schedule"`
	RunOnStartup      bool     `json:"runOnStartup"`
	AuthLevel         string   `json:"authLevel"`
	Methods           []string `json:"methods"`
	Route             *string  `json:"route"`
}

type functionJSON struct {
	Disabled bool          `json:"disabled"`
	Bindings []bindingJSON `json:"bindings"`
}

// functionName is what the Functions host accepts as a function name.
var functionName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]{0,127}$`)

// cronParser reads the six-field NCRONTAB of timer triggers:
// {second} {minute} {hour} {day} {month} {day-of-week}.
var cronParser = cron.NewParser(cron.Second | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow)

// loadApp reads root/host.json and every root/functions/*/function.json,
// resolving %NAME% in binding properties from env (the handler's
// environment). It refuses, with every problem found at once, what devhost
// cannot run the way the Functions host would: better a clear error at
// start than a function that silently never fires.
func loadApp(root string, env map[string]string) (*app, error) {
	b, err := os.ReadFile(filepath.Join(root, "host.json"))
	if err != nil {
		return nil, fmt.Errorf("read host.json: %w (is -root the app folder?)", err)
	}
	var h hostJSON
	if err := json.Unmarshal(b, &h); err != nil {
		return nil, fmt.Errorf("host.json: %w", err)
	}
	a := &app{root: root, maxConcurrent: defaultMaxConcurrentCalls, routePrefix: defaultRoutePrefix, functionTimeout: defaultFunctionTimeout}
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	if h.Version != "2.0" {
		bad("host.json: version %q, want \"2.0\"", h.Version)
	}
	if h.CustomHandler == nil || h.CustomHandler.Description.DefaultExecutablePath == "" {
		bad("host.json: customHandler.description.defaultExecutablePath is missing: devhost runs custom handlers only")
	} else {
		d := h.CustomHandler.Description
		a.executable = resolvePath(root, d.DefaultExecutablePath)
		a.arguments = d.Arguments
		a.workingDir = root
		if d.WorkingDirectory != "" {
			a.workingDir = resolvePath(root, d.WorkingDirectory)
		}
		if h.CustomHandler.EnableForwardingHTTPRequest {
			bad("host.json: customHandler.enableForwardingHttpRequest is true: devhost sends HTTP requests in the invocation envelope only, as the app's contract requires")
		}
	}
	if h.FunctionTimeout != "" {
		if a.functionTimeout, err = parseTimeSpan(h.FunctionTimeout); err != nil {
			bad("host.json: functionTimeout: %v", err)
		}
	}
	if n := h.Extensions.ServiceBus.MaxConcurrentCalls; n != nil {
		if *n < 1 {
			bad("host.json: extensions.serviceBus.maxConcurrentCalls is %d, want at least 1", *n)
		}
		a.maxConcurrent = *n
	}
	if p := h.Extensions.HTTP.RoutePrefix; p != nil {
		a.routePrefix = strings.Trim(*p, "/")
	}

	dirs, err := os.ReadDir(filepath.Join(root, "functions"))
	if err != nil {
		return nil, fmt.Errorf("read the functions folder: %w", err)
	}
	for _, d := range dirs {
		if !d.IsDir() {
			continue
		}
		name := d.Name()
		path := filepath.Join(root, "functions", name, "function.json")
		b, err := os.ReadFile(path)
		if errors.Is(err, os.ErrNotExist) {
			continue // a folder of Go code or data, not a function
		}
		if err != nil {
			bad("%v", err)
			continue
		}
		if h.Functions != nil && !slices.ContainsFunc(h.Functions, func(s string) bool { return strings.EqualFold(s, name) }) {
			a.disabled = append(a.disabled, name)
			continue
		}
		fn, disabled, err := parseFunction(name, b, env)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if disabled {
			a.disabled = append(a.disabled, name)
			continue
		}
		a.functions = append(a.functions, fn)
	}
	if len(a.functions) == 0 && len(errs) == 0 {
		bad("no enabled function under %s", filepath.Join(root, "functions"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	sort.Slice(a.functions, func(i, j int) bool { return a.functions[i].name < a.functions[j].name })
	return a, nil
}

// parseFunction reads one function.json. disabled is true when the
// function is turned off, in which case nothing else is checked, as the
// host does not load it either.
func parseFunction(name string, b []byte, env map[string]string) (fn *function, disabled bool, err error) {
	fail := func(format string, args ...any) (*function, bool, error) {
		return nil, false, fmt.Errorf("function %s: "+format, append([]any{name}, args...)...)
	}
	if !functionName.MatchString(name) {
		return fail("the folder name is not a valid function name (a letter, then letters, digits, '-' and '_')")
	}
	var fj functionJSON
	if err := json.Unmarshal(b, &fj); err != nil {
		return fail("function.json: %v", err)
	}
	if fj.Disabled || isTrue(env["AzureWebJobs."+name+".Disabled"]) {
		return nil, true, nil
	}

	fn = &function{name: name}
	var trigger *bindingJSON
	var httpOut []string
	for i := range fj.Bindings {
		bj := &fj.Bindings[i]
		typ := strings.ToLower(bj.Type)
		dir := strings.ToLower(bj.Direction)
		switch {
		case strings.HasSuffix(typ, "trigger"):
			if trigger != nil {
				return fail("more than one trigger binding (%s and %s)", trigger.Type, bj.Type)
			}
			trigger = bj
		case typ == "http" && dir == "out":
			httpOut = append(httpOut, bj.Name)
		default:
			return fail("binding %q of type %q (direction %q) is not supported by devhost: it drives serviceBusTrigger, timerTrigger and httpTrigger with an http output only", bj.Name, bj.Type, bj.Direction)
		}
	}
	if trigger == nil {
		return fail("no trigger binding")
	}
	if trigger.Name == "" {
		return fail("the %s binding has no name", trigger.Type)
	}
	if d := strings.ToLower(trigger.Direction); d != "" && d != "in" {
		return fail("the %s binding has direction %q, want \"in\"", trigger.Type, trigger.Direction)
	}
	fn.binding = trigger.Name
	typ := strings.ToLower(trigger.Type)
	if typ != "httptrigger" && len(httpOut) > 0 {
		return fail("an http output binding needs an httpTrigger, not a %s", trigger.Type)
	}

	switch typ {
	case "servicebustrigger":
		fn.kind = queueTrigger
		switch {
		case trigger.TopicName != "":
			return fail("serviceBusTrigger on topic %q: devhost stands storage queues in for Service Bus queues only", trigger.TopicName)
		case trigger.IsSessionsEnabled:
			return fail("serviceBusTrigger with isSessionsEnabled: sessions are not supported by devhost")
		case strings.EqualFold(trigger.Cardinality, "many"):
			return fail("serviceBusTrigger with cardinality \"many\": batches are not supported by devhost")
		case !strings.EqualFold(trigger.DataType, "binary"):
			return fail("serviceBusTrigger dataType %q: devhost supports \"binary\" only, the app's contract (the body arrives as base64 of its exact bytes)", trigger.DataType)
		}
		if fn.queue, err = resolve(trigger.QueueName, env); err != nil {
			return fail("queueName: %v", err)
		}
		if fn.queue == "" {
			return fail("serviceBusTrigger without a queueName")
		}
	case "timertrigger":
		fn.kind = timerTrigger
		if fn.scheduleText, err = resolve(trigger.Schedule, env); err != nil {
			return fail("schedule: %v", err)
		}
		if fn.schedule, err = parseSchedule(fn.scheduleText); err != nil {
			return fail("schedule: %v", err)
		}
		fn.runOnStartup = trigger.RunOnStartup
	case "httptrigger":
		fn.kind = httpTrigger
		if len(httpOut) != 1 {
			return fail("an httpTrigger needs exactly one http output binding, found %d", len(httpOut))
		}
		fn.output = httpOut[0]
		fn.authLevel = strings.ToLower(trigger.AuthLevel)
		switch fn.authLevel {
		case "":
			fn.authLevel = "function"
		case "anonymous", "function", "admin":
		default:
			return fail("authLevel %q, want anonymous, function or admin", trigger.AuthLevel)
		}
		for _, m := range trigger.Methods {
			m = strings.ToUpper(strings.TrimSpace(m))
			if !validMethod(m) {
				return fail("method %q is not an HTTP method", m)
			}
			if !slices.Contains(fn.methods, m) {
				fn.methods = append(fn.methods, m)
			}
		}
		template := name // the host's default route is the function's name
		if trigger.Route != nil {
			template = *trigger.Route
		}
		if fn.route, err = parseRoute(template); err != nil {
			return fail("route: %v", err)
		}
	default:
		return fail("trigger type %q is not supported by devhost: it drives serviceBusTrigger, timerTrigger and httpTrigger", trigger.Type)
	}
	return fn, false, nil
}

// parseSchedule reads a six-field NCRONTAB. A TimeSpan schedule
// ("01:00:00"), which the host also accepts on dedicated plans, is refused
// with a hint, because the contract uses NCRONTAB.
func parseSchedule(s string) (cron.Schedule, error) {
	if strings.TrimSpace(s) == "" {
		return nil, errors.New("empty")
	}
	if _, err := parseTimeSpan(s); err == nil && s != "-1" {
		return nil, fmt.Errorf("%q is a TimeSpan: devhost supports NCRONTAB expressions only, e.g. \"0 0 * * * *\"", s)
	}
	if n := len(strings.Fields(s)); n != 6 {
		return nil, fmt.Errorf("%q has %d fields, want the six of NCRONTAB: {second} {minute} {hour} {day} {month} {day-of-week}", s, n)
	}
	sched, err := cronParser.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("%q: %v", s, err)
	}
	return sched, nil
}

// placeholder matches a %NAME% app setting reference in a binding property.
var placeholder = regexp.MustCompile(`%([^%]+)%`)

// resolve replaces each %NAME% in s with the setting NAME from env, as the
// host does. A setting the environment lacks takes the app's own default
// (from shared/config, so that devhost and the handler agree, e.g.
// EXPIRY_SWEEP_SCHEDULE's "0 0 * * * *"); one with no default is an error.
func resolve(s string, env map[string]string) (string, error) {
	var missing []string
	out := placeholder.ReplaceAllStringFunc(s, func(m string) string {
		name := m[1 : len(m)-1]
		if v := env[name]; v != "" {
			return v
		}
		if v, ok := appDefault(name); ok {
			return v
		}
		missing = append(missing, name)
		return m
	})
	if len(missing) > 0 {
		return "", fmt.Errorf("%%%s%% does not resolve: set %s in the handler's environment (-settings or the process environment)", missing[0], missing[0])
	}
	return out, nil
}

// appDefault returns the default the app's configuration gives the
// variable name (the default tags of config.Config).
func appDefault(name string) (string, bool) { return config.Default(name) }

// timeSpan is .NET's TimeSpan text: [d.]hh:mm:ss[.fffffff].
var timeSpan = regexp.MustCompile(`^(?:(\d+)\.)?(\d{1,2}):(\d{1,2}):(\d{1,2})(?:\.(\d{1,7}))?$`)

// parseTimeSpan reads host.json's functionTimeout; "-1" means no limit (0).
func parseTimeSpan(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "-1" {
		return 0, nil
	}
	m := timeSpan.FindStringSubmatch(s)
	if m == nil {
		return 0, fmt.Errorf("%q is not a TimeSpan such as \"00:05:00\"", s)
	}
	num := func(v string) int64 { n, _ := strconv.ParseInt(v, 10, 64); return n }
	h, mi, sec := num(m[2]), num(m[3]), num(m[4])
	if h > 23 || mi > 59 || sec > 59 {
		return 0, fmt.Errorf("%q is not a TimeSpan such as \"00:05:00\"", s)
	}
	d := time.Duration(num(m[1]))*24*time.Hour + time.Duration(h)*time.Hour + time.Duration(mi)*time.Minute + time.Duration(sec)*time.Second
	if m[5] != "" {
		frac := m[5] + strings.Repeat("0", 7-len(m[5])) // ticks of 100 ns
		d += time.Duration(num(frac)) * 100
	}
	return d, nil
}

// validMethod accepts the methods an httpTrigger may list.
func validMethod(m string) bool {
	switch m {
	case "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE":
		return true
	}
	return false
}

func resolvePath(root, p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(root, p)
}

// isTrue reads a boolean app setting the way the host does.
func isTrue(s string) bool {
	b, err := strconv.ParseBool(strings.TrimSpace(s))
	return err == nil && b
}

// byKind returns the functions with a trigger of kind k.
func (a *app) byKind(k triggerKind) []*function {
	var out []*function
	for _, fn := range a.functions {
		if fn.kind == k {
			out = append(out, fn)
		}
	}
	return out
}

// lookup returns the function called name, ignoring case as the host does.
func (a *app) lookup(name string) *function {
	for _, fn := range a.functions {
		if strings.EqualFold(fn.name, name) {
			return fn
		}
	}
	return nil
}
