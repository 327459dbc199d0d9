package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/mssp-tools/copilot-partner-access/shared/config"
)

// localSettings is the part of a local.settings.json devhost reads, in the
// shape Core Tools uses.
type localSettings struct {
	IsEncrypted bool                       `json:"IsEncrypted"`
	Values      map[string]json.RawMessage `json:"Values"`
	Host        struct {
		LocalHTTPPort int `json:"LocalHttpPort"`
	} `json:"Host"`
}

// settings is a loaded local.settings.json.
type settings struct {
	path   string
	values map[string]string
	port   int // Host.LocalHttpPort, 0 if unset
}

// loadSettings reads a local.settings.json. Values must be strings, as in
// App Service settings; numbers and booleans are taken as their JSON text,
// since Core Tools accepts them too.
func loadSettings(path string) (settings, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return settings{}, fmt.Errorf("settings: %w", err)
	}
	var ls localSettings
	if err := json.Unmarshal(b, &ls); err != nil {
		return settings{}, fmt.Errorf("settings %s: %w", path, err)
	}
	if ls.IsEncrypted {
		return settings{}, fmt.Errorf("settings %s: IsEncrypted is true: devhost reads plain values only (func settings decrypt)", path)
	}
	s := settings{path: path, values: map[string]string{}, port: ls.Host.LocalHTTPPort}
	for k, raw := range ls.Values {
		raw = bytes.TrimSpace(raw)
		switch {
		case len(raw) == 0 || string(raw) == "null":
			s.values[k] = ""
		case raw[0] == '"':
			var v string
			if err := json.Unmarshal(raw, &v); err != nil {
				return settings{}, fmt.Errorf("settings %s: Values.%s: %w", path, k, err)
			}
			s.values[k] = v
		case raw[0] == '{' || raw[0] == '[':
			return settings{}, fmt.Errorf("settings %s: Values.%s: want a string, got JSON %s", path, k, map[byte]string{'{': "object", '[': "array"}[raw[0]])
		default:
			s.values[k] = string(raw)
		}
	}
	return s, nil
}

// findSettings picks the settings file: the -settings flag if given, else
// root/local.settings.json when it exists, as Core Tools reads it. An
// explicit file that is missing is an error; an absent default is not.
func findSettings(flagPath, root string) (settings, error) {
	if flagPath != "" {
		return loadSettings(flagPath)
	}
	def := filepath.Join(root, "local.settings.json")
	if _, err := os.Stat(def); errors.Is(err, os.ErrNotExist) {
		return settings{values: map[string]string{}}, nil
	}
	return loadSettings(def)
}

// handlerEnv builds the handler's environment, the way the host builds a
// worker's: the process environment, with the settings' Values on top.
//
// The process environment is read through getenv, so that run's caller
// decides what it holds: every variable os.Environ names, plus the app's
// own variables (config.Variables) and the FUNCTIONS_* ones, which a test's
// getenv may supply without them being in the real environment. Empty
// values are left out, as App Service treats an empty setting as unset.
func handlerEnv(getenv func(string) string, s settings) map[string]string {
	env := map[string]string{}
	names := config.Variables()
	for _, kv := range os.Environ() {
		if k, _, ok := strings.Cut(kv, "="); ok && k != "" {
			names = append(names, k)
		}
	}
	for _, k := range names {
		if v := getenv(k); v != "" {
			env[k] = v
		}
	}
	for k, v := range s.values {
		if v == "" {
			delete(env, k)
			continue
		}
		env[k] = v
	}
	// The host owns these: a stale value from a settings file must not
	// point the handler at another port.
	delete(env, "FUNCTIONS_CUSTOMHANDLER_PORT")
	env["FUNCTIONS_WORKER_RUNTIME"] = "custom"
	return env
}

// environ renders env as os/exec wants it, sorted for a stable order.
func environ(env map[string]string) []string {
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	slices.Sort(out)
	return out
}
